"""The numba backend's row-wise kernels (layer_norm's normalize) against the NumPy reference, and
``pow`` with PyTorch's special scalar exponents on every backend against PyTorch."""
import math
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import backends

SPECIAL = [2, 3, 0.5, -0.5, -1, -2, 2.0, 3.0, -1.0, -2.0, 0, 1, 2.5]
VALUES = [-0.0, 0.0, -1.5, 2.0, float("inf"), float("-inf"), float("nan"), 1e-30, 1e30, -3.0,
          0.1, 7.3, 1e-20, -1e20]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("exponent", SPECIAL)
def test_pow_special_exponents_match_torch(backend, dtype, exponent):
    """x ** e for the exponents PyTorch computes as products, sqrt and reciprocals: the same
    values bit for bit (x*x*x, not pow's rounding; rsqrt's -inf for -0.0), incl. zeros, infs,
    NaN; 0-d tensors too."""
    x = torch.tensor(VALUES, dtype=getattr(torch, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in (x, x[3]):
            want = torch.pow(t, exponent).numpy()
            got = tl.pow(tl.tensor(t.numpy()), exponent)
            assert got.dtype == getattr(tl, dtype) and tuple(got.shape) == tuple(t.shape)
            got = got.numpy()
            if exponent == 0.5:  # (PyTorch's own sqrt may differ from NumPy's by an ulp)
                np.testing.assert_allclose(got, want, rtol=2e-7 if dtype == "float32" else 3e-16)
            else:
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(np.signbit(got[~np.isnan(got)]),
                                              np.signbit(want[~np.isnan(want)]))


def test_pow_special_exponent_gradient(backend):
    x = tl.tensor([0.5, 2.0, 3.0], dtype=tl.float64, requires_grad=True)
    for e in (3, -2, -0.5):
        assert tl.autograd.gradcheck(lambda t: t ** e, (x,))


# -- layer_norm: normalize and normalize_backward over the trailing axes ------------------------
def _reference():
    return backends.get("numpy")


NORM_CASES = [((33, 40), 1), ((5, 3, 4), 2), ((1, 7), 1), ((7, 1), 1), ((2, 3, 4), 1), ((6,), 1),
              ((0, 5), 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k", NORM_CASES)
@pytest.mark.parametrize("params", ["none", "weight", "both"])
def test_normalize_matches_reference(nb, dtype, shape, k, params):
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal(shape) + 1).astype(dtype)
    ps = shape[len(shape) - k:]
    axes = tuple(range(len(shape) - k, len(shape)))
    w = rng.standard_normal(ps).astype(dtype) if params != "none" else None
    b = rng.standard_normal(ps).astype(dtype) if params == "both" else None
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    got, want = nb.normalize(x, axes, 1e-5, w, b), _reference().normalize(x, axes, 1e-5, w, b)
    for u, v in zip(got, want):
        assert u.shape == v.shape and u.dtype == v.dtype
        np.testing.assert_allclose(u, v, **tol)
    g = rng.standard_normal(shape).astype(dtype)
    rstd = (1 / np.sqrt(want[3] + 1e-5)).astype(dtype)
    got = nb.normalize_backward(g, want[1], rstd, w, axes)
    want = _reference().normalize_backward(g, want[1], rstd, w, axes)
    for i, (u, v) in enumerate(zip(got, want)):
        assert u.shape == v.shape and u.dtype == v.dtype
        # (the column sums gw, gb: the kernel's are float64 sums, the reference's float32)
        np.testing.assert_allclose(u, v, **(tol if i == 0 else dict(rtol=1e-5, atol=1e-4)))


def test_normalize_propagates_nan_and_inf(nb):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    x[1, 2], x[2, 0] = np.nan, np.inf
    y, xhat, mean, var = nb.normalize(x, (1,), 1e-5)
    want = _reference().normalize(x, (1,), 1e-5)
    for u, v in zip((y, xhat, mean, var), want):
        np.testing.assert_array_equal(np.isnan(u), np.isnan(v))
    assert np.isfinite(y[0]).all() and np.isnan(y[1]).all() and np.isnan(y[2]).all()


def test_normalize_falls_back_off_its_path(nb):
    """batch_norm's axes, a broadcast weight, non-contiguous input: the reference's results."""
    x = np.random.default_rng(1).standard_normal((4, 3, 5)).astype(np.float32)
    for args in [(x, (0, 2), 1e-5, np.ones((1, 3, 1), np.float32)), (x[:, :, ::2], (2,), 1e-5),
                 (x, (2,), 1e-5, np.ones((3, 5), np.float32))]:
        for u, v in zip(nb.normalize(*args), _reference().normalize(*args)):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_forward_backward_match_torch(backend, affine):
    """F.layer_norm's output and its three gradients (the fused backward) against torch, float64
    and float32, and the create_graph path (second order) still differentiable."""
    rng = np.random.default_rng(2)
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
        x, g = (rng.standard_normal((2, 6, 8)).astype(dtype) for _ in range(2))
        w, b = rng.standard_normal(8).astype(dtype), rng.standard_normal(8).astype(dtype)
        outs = []
        for lib in (tl, torch):
            xs = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
            y = lib.nn.functional.layer_norm(xs[0], (8,), *(xs[1:] if affine else ()))
            y.backward(lib.tensor(g))
            outs.append([y.detach().numpy()] + [t.grad.numpy() for t in xs[:3 if affine else 1]])
        for u, v in zip(*outs):
            np.testing.assert_allclose(u, v, rtol=tol, atol=tol)
    x = tl.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    w = tl.tensor(rng.standard_normal(5), requires_grad=True)
    assert tl.autograd.gradgradcheck(lambda x, w: tl.nn.functional.layer_norm(x, (5,), w), (x, w))


# -- sum over leading axes: the column sums ------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axes", [((600, 17), (0,)), ((9, 40, 33), (0, 1)),
                                        ((3, 4096, 3), (0,)), ((2, 5, 16), (0,)), ((40, 8), (0,))])
def test_sum_leading_axes_matches_reference(nb, monkeypatch, dtype, shape, axes):
    """Equal to NumPy's sum bit for bit (both add the rows in order), keepdim or not, NaN and
    infinities in place; within float32 rounding of the float64 sum (n * eps * sum |x|)."""
    monkeypatch.setattr(nb, "SUM_MIN", 1)
    rng = np.random.default_rng(6)
    x = (3 * rng.standard_normal(shape) + 1).astype(dtype)
    for keepdims in (False, True):
        got, want = nb.sum(x, axes, keepdims), _reference().sum(x, axes, keepdims)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    for axis in (0, -len(shape)):  # an int axis, negative too
        np.testing.assert_array_equal(nb.sum(x, axis), _reference().sum(x, axis))
    n = math.prod(shape[a] for a in axes)
    exact = x.astype(np.float64).sum(axes)
    bound = n * np.finfo(dtype).eps * np.abs(x.astype(np.float64)).sum(axes)
    assert (np.abs(nb.sum(x, axes) - exact) <= bound).all()
    x.reshape(-1)[[1, 2, 5]] = [np.nan, np.inf, -np.inf]
    x.reshape(-1)[-1] = -0.0
    np.testing.assert_array_equal(nb.sum(x, axes), _reference().sum(x, axes))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (inf - inf in the reference)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axes", [((7, 3000), (1,)), ((5, 6, 300), (1, 2)), ((300, 3), (1,)),
                                        ((2, 2048), (1,))])
def test_sum_trailing_axes_within_the_error_bound(nb, monkeypatch, dtype, shape, axes):
    """Row sums (chunks of 1024 in the dtype, vectorized, then float64): within a chunk's
    error bound of the float64 sum, and NumPy's (pairwise) within rounding; NaN and infinities
    as the reference's."""
    monkeypatch.setattr(nb, "SUM_MIN", 1)
    rng = np.random.default_rng(10)
    x = (3 * rng.standard_normal(shape) + 1).astype(dtype)
    for keepdims in (False, True):
        got, want = nb.sum(x, axes, keepdims), _reference().sum(x, axes, keepdims)
        assert got.dtype == want.dtype and got.shape == want.shape
    for axis in (-1, len(shape) - 1, (-1,)):  # an int axis, negative too
        np.testing.assert_allclose(nb.sum(x, axis), _reference().sum(x, axis), rtol=1e-5)
    x64 = x.astype(np.float64)
    n = min(math.prod(shape[a] for a in axes), 1100)
    bound = n * np.finfo(dtype).eps * np.abs(x64).sum(axes)
    assert (np.abs(nb.sum(x, axes) - x64.sum(axes)) <= bound).all()
    np.testing.assert_allclose(nb.sum(x, axes), _reference().sum(x, axes), rtol=0,
                               atol=2 * bound.max())
    x[0].reshape(-1)[:2] = [np.nan, 1.0]
    x[1].reshape(-1)[:2] = [np.inf, -np.inf]
    x[-1].reshape(-1)[-1] = -np.inf
    got, want = nb.sum(x, axes), _reference().sum(x, axes)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got) * np.sign(got), np.isinf(want) * np.sign(want))


def test_sum_torch_and_fallbacks(backend):
    """x.sum(0) / mean over leading dims against torch; other axes, views, ints: the reference."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 40)).astype(np.float32)
    for f in (lambda lib, t: t.sum(0), lambda lib, t: t.mean((0,), keepdim=True),
              lambda lib, t: t.sum(-1, keepdim=True),
              lambda lib, t: t.reshape(30, 10, 40).mean((1, 2)),
              lambda lib, t: t[:, ::2].sum(0), lambda lib, t: t.sum(1),
              lambda lib, t: (t * 100).to(lib.int32).sum(0)):
        got, want = (f(lib, lib.tensor(x)).numpy() for lib in (tl, torch))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    t = tl.tensor(x, requires_grad=True)
    t.sum(0).backward(tl.ones(40))
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(x))


# -- index_add with one index array: embedding's backward -----------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ishape,shape", [((4, 9), (7, 33)), ((40,), (5,)), ((3,), (6, 2, 3)),
                                          ((1,), (1, 17))])
def test_index_add_rows_matches_reference_bitwise(nb, dtype, ishape, shape):
    """Repeated (and negative) indices summed in index order, as np.add.at: equal bit for bit,
    NaN/inf rows included; an index out of range raises the reference's IndexError."""
    rng = np.random.default_rng(8)
    idx = rng.integers(-shape[0], shape[0], ishape)
    values = rng.standard_normal(ishape + shape[1:]).astype(dtype)
    values.reshape(-1)[:2] = [np.inf, np.nan]
    for index in ((idx,), idx, (idx.astype(np.int32),)):
        got = nb.index_add(shape, np.dtype(dtype), index, values)
        want = _reference().index_add(shape, np.dtype(dtype), index, values)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    idx.reshape(-1)[-1] = shape[0]
    with pytest.raises(IndexError):
        nb.index_add(shape, np.dtype(dtype), (idx,), values)


@pytest.mark.parametrize("axis", [1, 2])
def test_index_add_along_an_axis_matches_reference_bitwise(nb, axis):
    """Full slices and one index array (x[:, idx], x[:, :, idx]'s gradient; repeats, negative
    indices, a non-contiguous values array); an Ellipsis or two arrays: the reference's path."""
    rng = np.random.default_rng(11)
    shape = (3, 5, 6, 20)
    idx = rng.integers(-shape[axis], shape[axis], (2, 4))
    values = rng.standard_normal(shape[:axis] + idx.shape + shape[axis + 1:]).astype(np.float32)
    index = (slice(None),) * axis + (idx,)
    for v in (values, np.asfortranarray(values)):
        got = nb.index_add(shape, np.dtype(np.float32), index, v)
        want = _reference().index_add(shape, np.dtype(np.float32), index, v)
        np.testing.assert_array_equal(got, want)
    for index in ((Ellipsis, idx % 6, slice(None)), (idx[0] % 3, idx[1] % 5)):
        v = _reference().getitem(np.ones(shape, np.float32), index)
        np.testing.assert_array_equal(nb.index_add(shape, np.dtype(np.float32), index, v),
                                      _reference().index_add(shape, np.dtype(np.float32),
                                                             index, v))


def test_embedding_gradient_matches_torch(backend):
    """F.embedding's weight gradient (repeated indices, padding_idx) against torch."""
    rng = np.random.default_rng(9)
    idx = rng.integers(0, 11, (6, 5))
    w, g = rng.standard_normal((11, 8)), rng.standard_normal((6, 5, 8))
    for dtype in ("float32", "float64"):
        for pad in (None, 3):
            grads = []
            for lib in (tl, torch):
                t = lib.tensor(w.astype(dtype), requires_grad=True)
                lib.nn.functional.embedding(lib.tensor(idx), t, padding_idx=pad).backward(
                    lib.tensor(g.astype(dtype)))
                grads.append(t.grad.numpy())
            np.testing.assert_allclose(*grads, rtol=1e-6, atol=1e-6)


# -- amax/amin's gradient: extreme_grad ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axes", [((5, 7), (1,)), ((3, 4, 5), (1, 2)), ((1, 1), (1,)),
                                        ((6,), (0,)), ((3, 4, 5), (0, 1, 2)), ((4, 5), (0,))])
def test_extreme_grad_matches_reference_bitwise(nb, dtype, shape, axes):
    """Ties share the gradient; an inf upstream gradient gives NaN beside the hits (g * 0), a
    negative one -0.0 there, as the reference's g * hit / count."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, shape).astype(dtype)
    y = _reference().amax(x, axes, True)
    g = rng.standard_normal(y.shape).astype(dtype)
    g.reshape(-1)[0] = np.inf
    if g.size > 1:
        g.reshape(-1)[1] = -3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = nb.extreme_grad(g, x, y, axes), _reference().extreme_grad(g, x, y, axes)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_gradient_matches_torch(backend, op):
    """Ties, NaN in the input, dims given negative and as tuples, keepdim; and create_graph."""
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, np.nan, 1.0, 2.0], [-1.0, -1.0, -1.0, -1.0]])
    for dim, keepdim in [(-1, False), (1, True), ((0, 1), False), (0, False)]:
        grads = []
        for lib in (tl, torch):
            t = lib.tensor(x, requires_grad=True)
            y = getattr(t, op)(dim, keepdim)
            y.backward(lib.ones_like(y) * 2)
            grads.append(t.grad.numpy())
        np.testing.assert_array_equal(*grads)
    t = tl.tensor(x[:1], requires_grad=True)
    (g,) = tl.autograd.grad(t.amax(-1).sum() * t.sum(), t, create_graph=True)
    assert g.requires_grad


# -- softmax / log_softmax backward: softmax_backward ----------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 5), (1, 1), (6,), (2, 1000)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_backward_matches_reference(nb, dtype, shape, log):
    rng = np.random.default_rng(4)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    ref = _reference()
    y = ref.log_softmax(x, -1) if log else ref.softmax(x, -1)
    g = rng.standard_normal(shape).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    got, want = nb.softmax_backward(g, y, -1, log), ref.softmax_backward(g, y, -1, log)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol)
    # another axis, and a non-contiguous gradient: the reference's path
    if len(shape) > 1:
        np.testing.assert_array_equal(nb.softmax_backward(g.T, y.T, 0, log),
                                      ref.softmax_backward(g.T, y.T, 0, log))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gradient_matches_torch(backend, name):
    """Any dim, float32/float64, against torch; create_graph keeps the tensor-op backward."""
    rng = np.random.default_rng(5)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        x, g = (rng.standard_normal((3, 4, 5)).astype(dtype) for _ in range(2))
        for dim in (-1, 0, 1):
            grads = []
            for lib in (tl, torch):
                t = lib.tensor(x, requires_grad=True)
                getattr(t, name)(dim).backward(lib.tensor(g))
                grads.append(t.grad.numpy())
            np.testing.assert_allclose(*grads, rtol=tol, atol=tol)
    t = tl.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    assert tl.autograd.gradgradcheck(lambda t: getattr(t, name)(-1), (t,))
