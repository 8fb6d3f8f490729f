"""Regression tests for the defects a differential fuzz against PyTorch found: silently lost
updates and gradients, wrong values and dtypes at edges, crashes where PyTorch gives a result,
and unclear messages.  Each is checked on every backend against PyTorch (the oracle)."""
import math

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import A, N, Const, check_op, check_second_order, to_np

NAN, INF = float("nan"), float("inf")


# -- augmented assignment is in place ------------------------------------------------------------
def _polynomial_fit(lib, steps, device=None):
    """PyTorch's "Learning PyTorch with Examples" autograd script (y = sin(x) by a cubic), with
    its manual update ``a -= learning_rate * a.grad`` under no_grad."""
    x = lib.linspace(-math.pi, math.pi, 2000, dtype=lib.float64)
    y = lib.sin(x)
    params = [lib.tensor(v, dtype=lib.float64, requires_grad=True)
              for v in (0.3, -0.2, 0.1, 0.05)]
    a, b, c, d = params
    ref = a
    losses = []
    for _ in range(steps):
        loss = (a + b * x + c * x ** 2 + d * x ** 3 - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with lib.no_grad():
            a -= 1e-6 * a.grad
            b -= 1e-6 * b.grad
            c -= 1e-6 * c.grad
            d -= 1e-6 * d.grad
            a.grad = b.grad = c.grad = d.grad = None
    assert a is ref  # the name still holds the leaf: the update happened in place
    return losses


def test_tutorial_manual_update_trains_as_torch(backend):
    got, expected = _polynomial_fit(tl, 50), _polynomial_fit(torch, 50)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert got[-1] < got[0] / 2  # it trains


def test_module_parameters_update_in_place(backend):
    tl.manual_seed(0)
    model = tl.nn.Linear(3, 1)
    w_before = to_np(model.weight).copy()
    model(tl.randn(4, 3, device=backend.device)).sum().backward()
    with tl.no_grad():
        for p in model.parameters():
            p -= 0.5 * p.grad
    np.testing.assert_allclose(to_np(model.weight), w_before - 0.5 * to_np(model.weight.grad),
                               rtol=1e-6)


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**="])
def test_augmented_assignment_on_a_leaf_that_requires_grad(backend, op):
    w = tl.ones(3, device=backend.device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        exec(f"w {op} 2.0")
    assert to_np(w).tolist() == [1.0, 1.0, 1.0]  # the refused op changed nothing
    with tl.no_grad():
        ref = w
        exec(f"w {op} 2.0")
    assert w is ref and w.requires_grad and w.is_leaf


INPLACE_SEQUENCES = {  # each on a non-leaf v = w * 2 (and u, a second leaf), as torch records it
    "add": lambda v, u: v.__iadd__(u),
    "sub_alpha": lambda v, u: v.sub_(u, alpha=3),
    "mul_self_needed": lambda v, u: v.__imul__(u),
    "div": lambda v, u: v.__itruediv__(u + 3.0),
    "pow": lambda v, u: v.__ipow__(2),
    "mul_then_exp": lambda v, u: v.mul_(u).exp_(),
    "chain": lambda v, u: v.add_(u.sigmoid()).clamp_(-0.5, 0.5).tanh_(),
    "masked_fill": lambda v, u: v.masked_fill_(u > 0, 0.5),
    "copy": lambda v, u: v.copy_(u * 3),
    "fill_then_add": lambda v, u: v.fill_(2.0).add_(u),
}


@pytest.mark.parametrize("name", list(INPLACE_SEQUENCES))
def test_inplace_on_a_non_leaf_is_recorded_as_torch(backend, name):
    seq = INPLACE_SEQUENCES[name]
    rng = np.random.default_rng(0)
    w0, u0, g = (rng.standard_normal(4) for _ in range(3))
    results = {}
    for lib in (tl, torch):
        w, u = (lib.tensor(a, requires_grad=True) for a in (w0, u0))
        v = w * 2
        out = seq(v, u)
        assert out is v
        v.backward(lib.tensor(g))
        results[lib] = [to_np(v)] + [to_np(t.grad) if t.grad is not None else np.zeros(4)
                                     for t in (w, u)]
    for a, e in zip(results[tl], results[torch]):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_inplace_with_an_operand_that_requires_grad(backend):
    """A plain buffer that takes a value requiring grad joins the graph, as torch."""
    x = tl.tensor([1.0, 2.0], device=backend.device, requires_grad=True)
    buf = tl.zeros(2, device=backend.device)
    buf += x * 3
    assert buf.requires_grad
    (buf * buf).sum().backward()
    np.testing.assert_allclose(to_np(x.grad), 18 * to_np(x.detach()))


def test_inplace_on_a_view_while_a_gradient_flows_is_recorded_as_torch(backend):
    """A view of a computed tensor changed in place: the base's history takes the change
    (PyTorch's CopySlices), and views taken before it see it too."""
    def run(lib, **kw):
        w = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True, **kw)
        x = lib.tensor([0.5, -1.0], requires_grad=True, **kw)
        v = w * 2
        early = v[2:]
        u = v[1:3]
        u *= x  # through the view: v and early change too
        u += 1
        loss = (v * lib.tensor([1.0, 2.0, 3.0, 4.0], **kw)).sum() + (early ** 2).sum()
        loss.backward()
        return v.detach(), w.grad, x.grad
    ours, theirs = run(tl, device=backend.device), run(torch)
    for a, b in zip(ours, theirs):
        assert np.allclose(to_np(a), b.numpy())
    w = tl.ones(4, device=backend.device, requires_grad=True)
    v = w * 2
    u = v[1:3]
    with tl.no_grad():  # no gradient flows: the storage (and the base) change
        u += 1
    assert to_np(v).tolist() == [2.0, 3.0, 3.0, 2.0]


def test_inplace_saved_value_is_detected(backend):
    w = tl.ones(3, device=backend.device, requires_grad=True)
    v = w * 2
    y = v.exp()  # saves its output
    v.add_(1)  # v shares nothing with y: allowed
    z = y * 1.0
    y.mul_(2)  # y's own backward (exp) saved y: the version check catches it
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_keeps_shape_and_dtype(backend):
    i = tl.tensor([1, 2], device=backend.device)
    with pytest.raises(RuntimeError, match="add_: cannot update int64"):
        i += 1.5
    with pytest.raises(RuntimeError, match="div_: result type float32 can't be cast"):
        i /= 2
    f = tl.ones(3, device=backend.device)
    with pytest.raises(RuntimeError, match="shape"):
        f += tl.ones(2, 3, device=backend.device)
    with pytest.raises(RuntimeError, match="exp_: result type float32 can't be cast"):
        i.exp_()
    assert to_np(i).tolist() == [1, 2] and to_np(f).tolist() == [1.0, 1.0, 1.0]
    d = tl.ones(2, dtype=tl.float64, device=backend.device)
    d += tl.ones(2, device=backend.device)  # float32 into float64: fine, as torch
    i.copy_(tl.tensor([2.7, -1.2], device=backend.device))  # copy_ converts, as torch
    assert to_np(d).tolist() == [2.0, 2.0] and to_np(i).tolist() == [2, -1]


# -- gradients -----------------------------------------------------------------------------------
def test_second_derivative_through_relu(backend):
    x = tl.tensor([1.0], device=backend.device, requires_grad=True)
    (g,) = tl.autograd.grad((x.relu() ** 2).sum(), x, create_graph=True)
    g.sum().backward()
    assert to_np(x.grad).tolist() == [2.0]


def test_hessian_vector_product_through_linear_relu_linear(backend):
    """Every parameter's Hessian-vector product, the first layer's included, against torch."""
    check_second_order(lambda lib, x, w1, w2: lib.nn.functional.linear(
        lib.relu(lib.nn.functional.linear(x, w1)), w2).pow(2).sum(), N(4, 3), N(5, 3), N(2, 5),
        gradgradcheck=False)


def test_second_order_relu_composite(backend):
    check_second_order(lambda lib, a: a.relu() * a.tanh(), N(3, 4))


GRADIENT_EDGE_CASES = [
    ("zero_base_number", lambda lib, x: 0 ** x, A([0.0, 1.0, 2.0, -2.0])),
    ("zero_base_float", lambda lib, x: 0.0 ** x, A([0.0, 1.0, 2.0])),
    ("zero_base_tensor", lambda lib, a, x: a ** x, A([0.0, 0.0, 2.0]), A([0.0, 1.5, -1.0])),
    ("std_constant_slice", lambda lib, x: x.std(1), A([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])),
    ("std_constant_all", lambda lib, x: x.std(), A([2.0, 2.0, 2.0])),
    ("var_correction_above_n_dim", lambda lib, x: x.var(0, correction=2), A([[5.0, 1.0]])),
    ("var_correction_n_dim", lambda lib, x: x.var(1, correction=3), A([[1.0, 2.0, 3.0]])),
    ("var_correction_n_all", lambda lib, x: x.var(correction=3), A([1.0, 2.0, 3.0])),
    ("std_correction_above_n", lambda lib, x: x.std(correction=4), A([1.0, 2.0, 3.0])),
    ("relu_nan", lambda lib, x: x.relu(), A([NAN, 1.0, -1.0, 0.0])),
    ("maximum_nan", lambda lib, a, b: lib.maximum(a, b), A([NAN, 1.0, NAN, 2.0]),
     A([1.0, NAN, NAN, 2.0])),
    ("minimum_nan", lambda lib, a, b: lib.minimum(a, b), A([NAN, 1.0, NAN, 2.0]),
     A([1.0, NAN, NAN, 2.0])),
    ("abs_nan", lambda lib, x: x.abs(), A([NAN, -1.0, 0.0])),
    ("sign_nan", lambda lib, x: x.sign() * x, A([NAN, -1.0, 0.0])),
    ("clamp_nan", lambda lib, x: x.clamp(0.0, 0.5), A([NAN, 0.25, 1.0])),
]


@pytest.mark.filterwarnings("ignore")  # NumPy's and torch's warnings about inf and NaN
@pytest.mark.parametrize("fn, args", [pytest.param(c[1], c[2:], id=c[0])
                                      for c in GRADIENT_EDGE_CASES])
def test_gradient_edges_as_torch(backend, fn, args):
    check_op(fn, *args, gradcheck=False)


# -- values and dtypes ---------------------------------------------------------------------------
VALUE_CASES = [
    ("int_pow_negative_tensor", lambda lib: lib.tensor([2, 1, 0, -1, -1, 3])
     ** lib.tensor([-1, -1, -1, -1, -2, 0])),
    ("int_pow_tensor", lambda lib: lib.tensor([2, -3]) ** lib.tensor([3, 2])),
    ("number_pow_int_tensor", lambda lib: 2 ** lib.tensor([3, 0, -1])),
    ("bool_square", lambda lib: lib.tensor([True, False]).square()),
    ("bool_pow_int", lambda lib: lib.tensor([True, False]) ** 2),
    ("clamp_int_float_bound", lambda lib: lib.tensor([1, 5]).clamp(max=2.5)),
    ("clamp_int_int_bounds", lambda lib: lib.tensor([1, 5]).clamp(2, 3)),
    ("sign_bool", lambda lib: lib.tensor([True, False]).sign()),
    ("amax_empty_rows", lambda lib: lib.zeros(0, 3).amax(1)),
    ("amin_empty_keepdim", lambda lib: lib.zeros(0, 3).amin(1, keepdim=True)),
    ("max_empty_rows", lambda lib: lib.zeros(0, 3).max(1)),
    ("argmax_empty_rows", lambda lib: lib.zeros(0, 3).argmax(1)),
    ("max_0d_dim", lambda lib: lib.tensor(1.5).max(0)),
    ("min_0d_dim_keepdim", lambda lib: lib.tensor(1.5).min(-1, keepdim=True)),
    ("softmax_empty", lambda lib: lib.zeros(0, 3).softmax(1)),
    ("softmax_empty_dim", lambda lib: lib.zeros(0, 3).softmax(0)),
    ("log_softmax_empty", lambda lib: lib.zeros(0, 3).log_softmax(0)),
    ("logsumexp_empty_rows", lambda lib: lib.zeros(0, 3).logsumexp(1)),
    ("logsumexp_empty_dim", lambda lib: lib.zeros(0, 3).logsumexp(0)),
    ("logsumexp_empty_all", lambda lib: lib.zeros(2, 0).logsumexp((0, 1))),
]


@pytest.mark.parametrize("fn", [pytest.param(c[1], id=c[0]) for c in VALUE_CASES])
def test_values_and_dtypes_as_torch(backend, fn):
    with tl.use_backend(backend.name):
        got, expected = fn(tl), fn(torch)
    got = tuple(got) if isinstance(got, tuple) else (got,)
    expected = tuple(expected) if isinstance(expected, tuple) else (expected,)
    for a, e in zip(got, expected, strict=True):
        a, e = to_np(a), to_np(e)
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_array_equal(a, e)


ERROR_CASES = [
    ("amax_empty_all", lambda lib: lib.zeros(0, 3).amax(), RuntimeError, "amax"),
    ("amax_empty_dim", lambda lib: lib.zeros(0, 3).amax(0), IndexError, "amax"),
    ("max_empty_dim", lambda lib: lib.zeros(0, 3).max(0), IndexError, "max"),
    ("argmax_empty_dim", lambda lib: lib.zeros(0, 3).argmax(0), IndexError, "argmax"),
    ("gather_negative", lambda lib: lib.ones(2, 2).gather(1, lib.tensor([[-1], [0]])),
     RuntimeError, "gather: index -1 is out of bounds for dimension 1 with size 2"),
    ("gather_too_large", lambda lib: lib.ones(2, 2).gather(0, lib.tensor([[0, 2]])),
     RuntimeError, "gather: index 2 is out of bounds for dimension 0 with size 2"),
    ("int_pow_negative_number", lambda lib: lib.tensor([2, 1]) ** -1, RuntimeError,
     r"pow: integers to negative integer powers are not allowed \(int64\[2\].*\.float\(\)"),
    ("bool_pow_bool", lambda lib: lib.tensor([True]) ** lib.tensor([True]),
     NotImplementedError, "pow: not implemented for bool"),
    ("ragged_list", lambda lib: lib.tensor([[1, 2], [3]]), ValueError,
     "tensor: expected sequence of length 2 at dim 1 \\(got 1\\)"),
    ("ragged_deep", lambda lib: lib.tensor([[[1], [2]], [[3], [4, 5]]]), ValueError,
     "tensor: expected sequence of length 1 at dim 2 \\(got 2\\)"),
    ("expand_new_dim_minus_1", lambda lib: lib.zeros(3).expand(-1, 3), RuntimeError,
     r"expand: size -1 at dim 0 of target \[-1, 3\].*new leading dimension"),
]


@pytest.mark.parametrize("fn, error, message", [pytest.param(*c[1:], id=c[0])
                                                for c in ERROR_CASES])
def test_errors_as_torch_in_our_words(backend, fn, error, message):
    with pytest.raises(error):
        fn(torch)
    with tl.use_backend(backend.name), pytest.raises(error, match=message):
        fn(tl)


# -- max_pool2d at -inf and padding --------------------------------------------------------------
POOL_CASES = [  # (input plane, kernel, stride, padding, dilation, ceil_mode)
    ([[-INF, -INF], [-INF, -INF]], 2, 2, 1, 1, False),
    ([[-INF, 3.0], [-INF, -INF]], 2, 1, 1, 1, False),
    ([[-INF, -INF, -INF], [-INF, -INF, -INF], [-INF, -INF, -INF]], 2, 2, 0, 1, True),
    ([[1.0, -INF, 2.0], [2.0, 2.0, -INF], [-INF, -INF, -INF]], 3, 2, 1, 2, True),
    ([[0.5, 0.5], [0.5, 0.5]], 2, 1, 1, 1, False),
]


@pytest.mark.parametrize("plane, k, s, p, d, ceil", POOL_CASES)
def test_max_pool2d_minus_inf_and_padding_as_torch(backend, plane, k, s, p, d, ceil):
    x = np.array(plane)[None, None].repeat(2, 1)
    g = np.random.default_rng(0).standard_normal(
        torch.nn.functional.max_pool2d(torch.tensor(x), k, s, p, d, ceil).shape)
    res = {}
    for lib in (tl, torch):
        t = lib.tensor(x, requires_grad=True)
        y, i = lib.nn.functional.max_pool2d(t, k, s, p, d, ceil, return_indices=True)
        y.backward(lib.tensor(g))
        res[lib] = to_np(y), to_np(i), to_np(t.grad)
    for a, e in zip(res[tl], res[torch]):
        np.testing.assert_array_equal(a, e)


def test_max_pool2d_window_entirely_in_the_padding(backend):
    """A dilated window can miss the plane; its value is -inf, its index -1, and neither the
    backward nor the double backward sends it anywhere (torch's index lies outside the plane)."""
    x = tl.tensor(np.arange(3.0).reshape(1, 1, 3, 1), device=backend.device, requires_grad=True)
    y, i = tl.nn.functional.max_pool2d(x, 2, 2, 1, 2, ceil_mode=True, return_indices=True)
    assert to_np(y).ravel().tolist() == [-INF, -INF]
    assert to_np(i).ravel().tolist() == [-1, -1]
    (g,) = tl.autograd.grad(y.sum(), x, create_graph=True)
    assert to_np(g).ravel().tolist() == [0.0, 0.0, 0.0]
    v = tl.ones(g.shape, device=backend.device, requires_grad=True)
    (gg,) = tl.autograd.grad((g * v).sum(), v)
    assert to_np(gg).ravel().tolist() == [0.0, 0.0, 0.0]


# -- assignment into a tensor on the tape: setitem and copy_ carry gradients ---------------------
def _dev(lib, backend):
    return {"device": backend.device} if lib is tl else {}


@pytest.mark.parametrize("index, vshape", [
    ((0,), None), ((slice(1, None),), (1,)), ((slice(None), 1), (1,)), (([0, 2],), (2, 1)),
    ((np.array([True, False, True]),), None), ((Ellipsis, 0), ()),
])
def test_setitem_into_a_clone_sends_gradients_as_torch(backend, index, vshape):
    x = np.arange(9.0).reshape(3, 3)
    w = np.random.default_rng(1).standard_normal((3, 3))
    res = {}
    for lib in (tl, torch):
        a = lib.tensor(x, requires_grad=True, **_dev(lib, backend))
        idx = tuple(lib.tensor(i, **_dev(lib, backend)) if isinstance(i, np.ndarray) else i
                    for i in index)
        v = 5.0 if vshape is None else lib.tensor(np.full(vshape, 7.0), requires_grad=True,
                                                  **_dev(lib, backend))
        c = a.clone()
        version = c._version if lib is torch else c._version[0]
        c[idx] = v
        assert (c._version if lib is torch else c._version[0]) > version
        (c * lib.tensor(w, **_dev(lib, backend))).sum().backward()
        res[lib] = (to_np(c.detach()), to_np(a.grad),
                    None if vshape is None else to_np(v.grad))
    for got, want in zip(res[tl], res[torch]):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want)


def test_setitem_value_that_requires_grad_into_a_plain_tensor(backend):
    """Only the value requires grad: the tensor joins the tape; second order works."""
    res = {}
    for lib in (tl, torch):
        v = lib.tensor([2.0, 3.0], requires_grad=True, **_dev(lib, backend))
        c = lib.zeros(2, 2, dtype=lib.float64, **_dev(lib, backend))
        c[1] = v * v
        assert c.requires_grad
        (g,) = lib.autograd.grad(c.sum() * 2, v, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), v)
        res[lib] = to_np(g.detach()), to_np(gg)
    for got, want in zip(res[tl], res[torch]):
        np.testing.assert_allclose(got, want)


def test_setitem_without_gradient_writes_directly(backend):
    a = tl.zeros(3, device=backend.device)
    data = a._data
    a[1] = 4.0
    assert a._data is data and a.grad_fn is None and to_np(a).tolist() == [0.0, 4.0, 0.0]
    leaf = tl.zeros(2, device=backend.device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[0] = 1.0


@pytest.mark.parametrize("src_shape, src_dtype", [((2,), "float64"), ((1,), "float32"),
                                                  ((2, 2), "float32")])
def test_copy_into_a_clone_sends_gradients_as_torch(backend, src_shape, src_dtype):
    res = {}
    for lib in (tl, torch):
        a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, **_dev(lib, backend))
        s = lib.tensor(np.arange(1.0, 1 + np.prod(src_shape)).reshape(src_shape),
                       dtype=getattr(lib, src_dtype), requires_grad=True, **_dev(lib, backend))
        c = a.clone()
        assert c.copy_(s) is c
        (c * lib.tensor([[1.0, 2.0], [3.0, 5.0]], **_dev(lib, backend))).sum().backward()
        assert s.grad.dtype == s.dtype
        res[lib] = to_np(c.detach()), to_np(a.grad), to_np(s.grad)
    for got, want in zip(res[tl], res[torch]):
        np.testing.assert_allclose(got, want)


def test_copy_of_a_float_into_a_bool_tensor_carries_no_gradient(backend):
    c = tl.zeros(2, dtype=tl.bool, device=backend.device)
    c.copy_(tl.tensor([2.0, 0.0], device=backend.device, requires_grad=True))
    assert not c.requires_grad and to_np(c).tolist() == [True, False]


# -- indexing and shape edges as torch -------------------------------------------------------------
def test_empty_list_index_and_non_positive_step(backend):
    for lib in (tl, torch):
        y = lib.arange(3.0, **_dev(lib, backend))[[]]
        assert tuple(y.shape) == (0,) and str(y.dtype).endswith("float32")
        for step, message in ((-1, "step must be greater than zero"),
                              (0, "slice step cannot be zero")):
            with pytest.raises(ValueError, match=message):
                lib.arange(3.0, **_dev(lib, backend))[::step]
    with pytest.raises(ValueError, match="index: step"):
        tl.arange(3.0, device=backend.device)[::-1]
    with pytest.raises(ValueError, match="setitem: step"):
        tl.zeros(3, device=backend.device)[::-1] = 1.0


@pytest.mark.parametrize("value", [1.5, 3, 0, True, False])
def test_0d_contiguous_and_nonzero(backend, value):
    for lib in (tl, torch):
        t = lib.tensor(value, **_dev(lib, backend))
        assert tuple(t.contiguous().shape) == ()
        nz = t.nonzero()
        assert tuple(nz.shape) == ((1, 0) if value else (0, 0))
        assert str(nz.dtype).endswith("int64")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 7])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_chunk_and_split_sizes_as_torch(backend, n, k):
    for shape, dim in (((n,), 0), ((2, n), 1)):
        t, r = tl.zeros(shape, device=backend.device), torch.zeros(shape)
        assert [x.shape for x in t.chunk(k, dim)] == [tuple(x.shape) for x in r.chunk(k, dim)]
        assert [x.shape for x in t.split(k, dim)] == [tuple(x.shape) for x in r.split(k, dim)]
    for lib in (tl, torch):
        with pytest.raises(RuntimeError):
            lib.zeros(3).chunk(0)
        with pytest.raises(RuntimeError):
            lib.zeros(3).split(0)
    assert [x.shape for x in tl.zeros(0, device=backend.device).split(0)] == [(0,)]


@pytest.mark.parametrize("shape", [(-1,), (6,), (3, 2), (2, 3), (3, 2, 1), (1, 3, 2)])
def test_view_refuses_a_copy_as_torch(backend, shape):
    for lib in (tl, torch):
        a = lib.arange(6.0, **_dev(lib, backend)).reshape(2, 3).T
        try:
            want = torch.arange(6.0).reshape(2, 3).T.view(shape)
        except RuntimeError:
            with pytest.raises(RuntimeError, match="view size is not compatible.*reshape"):
                a.view(shape)
            with pytest.raises(RuntimeError, match="view size is not compatible"):
                a.view_as(lib.zeros(shape if -1 not in shape else (6,)))
            assert to_np(a.reshape(shape)).tolist() == \
                torch.arange(6.0).reshape(2, 3).T.reshape(shape).tolist()
            continue
        v = a.view(shape)
        assert to_np(v).tolist() == want.tolist()
        if lib is tl:  # a view: it shares the storage and the version counter
            assert np.shares_memory(tl.backends.get_backend().to_host(v._data),
                                    tl.backends.get_backend().to_host(a._data)) or \
                backend.name == "cupy"
            assert v._version is a._version


def test_view_of_a_bad_size_names_the_op(backend):
    with pytest.raises(RuntimeError, match="view: shape \\[4\\] is invalid"):
        tl.arange(6.0, device=backend.device).view(4)


MIXED_INDICES = [(-1, slice(-3, 2), [-1]), (0, slice(None), [0, 2]), ([0], 0, [1]),
                 (Ellipsis, 1, [0, 1]), (slice(None), 1, [0, 1]), (1, [True, False, True], 2),
                 (None, 0, slice(None), [1])]


@pytest.mark.parametrize("index", MIXED_INDICES, ids=str)
def test_integer_indices_apply_before_advanced_ones_as_torch(backend, index):
    """NumPy counts an int as an advanced index (x[0, :, [1]] is (1, n) there); PyTorch selects
    with it first (n, 1).  Reading, its gradient and writing all follow PyTorch."""
    a = np.arange(24.0).reshape(2, 3, 4)
    g = np.random.default_rng(0).standard_normal(torch.tensor(a)[index].shape)
    res = {}
    for lib in (tl, torch):
        t = lib.tensor(a, requires_grad=True)
        y = t[index]
        y.backward(lib.tensor(g))
        w = lib.tensor(a)
        w[index] = -1.0
        res[lib] = to_np(y), to_np(t.grad), to_np(w)
    for got, expected in zip(res[tl], res[torch]):
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
