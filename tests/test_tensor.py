"""Tensor state and non-differentiable API: creation, dtypes, conversion, in-place, comparisons."""
import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import assert_close, to_np

TORCH_DTYPE = {np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32,
               np.dtype(np.float64): torch.float64, np.dtype(np.int32): torch.int32,
               np.dtype(np.int64): torch.int64, np.dtype(np.bool_): torch.bool}


def test_dtype_objects_are_numpy_dtypes():
    pairs = [(tl.float16, np.float16), (tl.float32, np.float32), (tl.float64, np.float64),
             (tl.int32, np.int32), (tl.int64, np.int64), (tl.bool, np.bool_)]
    for ours, theirs in pairs:
        assert isinstance(ours, np.dtype)
        assert ours == np.dtype(theirs)


# ----------------------------------------------------------------------------- creation
@pytest.mark.parametrize("data, dtype", [
    ([1.0, 2.0], tl.float32), (3.5, tl.float32), ([[1, 2], [3, 4]], tl.int64), (7, tl.int64),
    ([True, False], tl.bool), (True, tl.bool), ([1, 2.5], tl.float32),
])
def test_tensor_default_dtypes(backend, data, dtype):
    t = tl.tensor(data, device=backend.device)
    assert t.dtype == dtype
    assert t.device == backend.device
    expected = np.array(data, dtype=dtype)
    assert t.shape == expected.shape
    out = to_np(t)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("np_dtype", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                      np.bool_])
def test_numpy_array_keeps_dtype(backend, np_dtype):
    a = np.array([[0, 1, 2], [3, 4, 5]]).astype(np_dtype)
    for t in (tl.tensor(a, device=backend.device), tl.from_numpy(a)):
        assert t.dtype == np.dtype(np_dtype)
        out = to_np(t)
        assert out.dtype == np.dtype(np_dtype)
        np.testing.assert_array_equal(out, a)


def test_tensor_dtype_argument_converts(backend):
    t = tl.tensor([1.7, -2.2], dtype=tl.float64, device=backend.device)
    assert t.dtype == tl.float64
    np.testing.assert_array_equal(to_np(t), [1.7, -2.2])
    i = tl.tensor([1.7, -2.2], dtype=tl.int64, device=backend.device)
    np.testing.assert_array_equal(to_np(i), torch.tensor([1.7, -2.2]).to(torch.int64).numpy())


def test_tensor_copies_its_input(backend):
    a = np.array([1.0, 2.0])
    t = tl.tensor(a, device=backend.device)
    a[0] = 100.0
    assert to_np(t)[0] == 1.0


def test_from_numpy_shares_memory_on_cpu(backend):
    if backend.device != "cpu":
        pytest.skip("from_numpy shares memory only with host-array backends")
    a = np.array([1.0, 2.0, 3.0])
    t = tl.from_numpy(a)
    a[1] = 42.0
    assert t.numpy()[1] == 42.0


def test_requires_grad_flag_on_creation(backend):
    t = tl.tensor([1.0, 2.0], device=backend.device, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None
    u = tl.tensor([1.0, 2.0], device=backend.device)
    assert not u.requires_grad
    assert u.requires_grad_() is u and u.requires_grad


@pytest.mark.parametrize("name, args, kwargs", [
    ("zeros", ((2, 3),), {}), ("zeros", (2, 3), {}), ("ones", ((4,),), {}),
    ("ones", (2, 1, 3), {"dtype": tl.float64}), ("zeros", ((2,),), {"dtype": tl.int64}),
    ("full", ((2, 2), 3.5), {}), ("full", ((3,), 7), {}), ("full", ((2,), 1.5), {"dtype": tl.float64}),
    ("arange", (5,), {}), ("arange", (1, 10, 3), {}), ("arange", (0, 1, 0.25), {}),
    ("arange", (-2.0, 2.0), {"dtype": tl.float64}),
    ("linspace", (0, 1, 5), {}), ("linspace", (-1.0, 2.0, 7), {"dtype": tl.float64}),
    ("eye", (3,), {}), ("eye", (2, 3), {}),
])
def test_creation_functions_match_torch(backend, name, args, kwargs):
    t = getattr(tl, name)(*args, device=backend.device, **kwargs)
    tkw = {k: TORCH_DTYPE[v] for k, v in kwargs.items()}
    e = getattr(torch, name)(*args, **tkw)
    assert t.device == backend.device
    assert_close(t, e, rtol=1e-6, atol=1e-7, what=name)


def test_empty_shape_and_dtype(backend):
    t = tl.empty(2, 3, device=backend.device)
    assert t.shape == (2, 3) and t.dtype == tl.float32
    u = tl.empty((4,), dtype=tl.int64, device=backend.device)
    assert u.shape == (4,) and u.dtype == tl.int64


@pytest.mark.parametrize("name, extra", [("zeros_like", ()), ("ones_like", ()),
                                         ("full_like", (2,))])
def test_like_functions(backend, name, extra):
    for src in (tl.tensor([[1.5, 2.0, 3.0]], dtype=tl.float64, device=backend.device),
                tl.tensor([4, 5], device=backend.device)):
        t = getattr(tl, name)(src, *extra)
        e = getattr(torch, name)(torch.from_numpy(to_np(src)), *extra)
        assert t.device == backend.device
        assert_close(t, e, rtol=0, atol=0, what=name)
    t = tl.zeros_like(tl.tensor([1, 2], device=backend.device), dtype=tl.float32)
    assert t.dtype == tl.float32


def test_random_functions(backend):
    r = tl.rand(200, 3, device=backend.device)
    assert r.shape == (200, 3) and r.dtype == tl.float32
    a = to_np(r)
    assert a.min() >= 0.0 and a.max() < 1.0 and 0.4 < a.mean() < 0.6
    n = to_np(tl.randn((4000,), device=backend.device))
    assert n.dtype == np.float32
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1
    assert tl.randn(3, dtype=tl.float64, device=backend.device).dtype == tl.float64
    k = tl.randint(2, 7, (300,), device=backend.device)
    assert k.dtype == tl.int64 and k.shape == (300,)
    ka = to_np(k)
    assert ka.min() >= 2 and ka.max() <= 6 and set(ka.tolist()) == {2, 3, 4, 5, 6}


@pytest.mark.parametrize("name, args", [("rand", (5, 2)), ("randn", (7,)),
                                        ("randint", (0, 100, (9,)))])
def test_manual_seed_reproducible(backend, name, args):
    fn = getattr(tl, name)
    tl.manual_seed(1234)
    a = to_np(fn(*args, device=backend.device))
    b = to_np(fn(*args, device=backend.device))
    tl.manual_seed(1234)
    c = to_np(fn(*args, device=backend.device))
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b), "two successive draws should differ"
    tl.manual_seed(4321)
    assert not np.array_equal(to_np(fn(*args, device=backend.device)), a)


# ----------------------------------------------------------------------------- type promotion
PROMOTION = [
    ("f32*pyfloat", lambda a: a * 2.5, [np.float32]),
    ("pyfloat*f32", lambda a: 2.5 * a, [np.float32]),
    ("f32+pyint", lambda a: a + 2, [np.float32]),
    ("i64*pyfloat", lambda a: a * 2.5, [np.int64]),
    ("pyfloat-i32", lambda a: 2.5 - a, [np.int32]),
    ("i64+pyint", lambda a: a + 2, [np.int64]),
    ("i32*pyint", lambda a: a * 3, [np.int32]),
    ("i32+i64", lambda a, b: a + b, [np.int32, np.int64]),
    ("f32+f64", lambda a, b: a + b, [np.float32, np.float64]),
    ("f16+f32", lambda a, b: a + b, [np.float16, np.float32]),
    ("f16*pyfloat", lambda a: a * 2.0, [np.float16]),
    ("f32*i64", lambda a, b: a * b, [np.float32, np.int64]),
    ("f32+0d_f64", lambda a, b: a + b, [np.float32, (np.float64, ())]),
    ("0d_f64+f32", lambda a, b: a + b, [(np.float64, ()), np.float32]),
    ("i32+0d_i64", lambda a, b: a + b, [np.int32, (np.int64, ())]),
    ("i64+0d_f64", lambda a, b: a + b, [np.int64, (np.float64, ())]),
    ("i64/i64", lambda a, b: a / b, [np.int64, np.int64]),
    ("i64/pyint", lambda a: a / 2, [np.int64]),
    ("bool*pyfloat", lambda a: a * 2.5, [np.bool_]),
    ("bool+i64", lambda a, b: a + b, [np.bool_, np.int64]),
    ("i64**pyint", lambda a: a ** 2, [np.int64]),
    ("f32**pyint", lambda a: a ** 2, [np.float32]),
    ("maximum_i64_f32", lambda a, b: a.maximum(b), [np.int64, np.float32]),
    ("where_f32_f64", None, [np.float32, np.float64]),
    ("where_i64_pyfloat", "where_scalar", [np.int64]),
    ("maximum_f32_0d_f64", lambda a, b: a.maximum(b), [np.float32, (np.float64, ())]),
    ("f16+pyint", lambda a: a + 1, [np.float16]),
    ("rpow_pyint_i64", lambda a: 2 ** a, [np.int64]),
    ("sum_i32", lambda a: a.sum(), [np.int32]),
    ("sum_bool", lambda a: a.sum(), [np.bool_]),
    ("sum_dim_i64", lambda a: a.sum(dim=0), [np.int64]),
    ("max_i32", lambda a: a.max(), [np.int32]),
    ("abs_i32", lambda a: a.abs(), [np.int32]),
    ("neg_i32", lambda a: -a, [np.int32]),
    ("relu_i64", lambda a: a.relu(), [np.int64]),
    ("exp_i64", lambda a: a.exp(), [np.int64]),
    ("sqrt_i32", lambda a: a.sqrt(), [np.int32]),
    ("tanh_i64", lambda a: a.tanh(), [np.int64]),
    ("sigmoid_bool", lambda a: a.sigmoid(), [np.bool_]),
]


@pytest.mark.parametrize("fn, specs", [pytest.param(f, s, id=i) for i, f, s in PROMOTION])
def test_type_promotion_matches_torch(backend, fn, specs):
    if fn is None:  # where(cond, f32, f64)
        def fn(a, b):
            lib = tl if isinstance(a, tl.Tensor) else torch
            return lib.where(a > 1, a, b)
    elif fn == "where_scalar":  # where(cond, i64, 2.5)
        def fn(a):
            lib = tl if isinstance(a, tl.Tensor) else torch
            return lib.where(a > 1, a, 2.5)
    arrays = []
    for s in specs:
        dtype, shape = s if isinstance(s, tuple) else (s, (3,))
        arrays.append(np.resize(np.array([1, 2, 3]), shape).astype(dtype))
    out = fn(*[tl.tensor(a, device=backend.device) for a in arrays])
    e = fn(*[torch.from_numpy(a) for a in arrays])
    assert_close(out, e, rtol=1e-3, atol=1e-3, what="promotion")


# ----------------------------------------------------------------------------- repr and conversion
@pytest.mark.parametrize("data, kwargs", [
    ([1.0, 2.0], {"requires_grad": True}), ([1.0, 2.0], {}), (3.0, {}), ([1, 2], {}),
    ([True, False], {}), ([[1.0, 2.0], [3.0, 4.0]], {}), ([1.5, -2.25], {}),
    (2.5, {"requires_grad": True}),
])
def test_repr_matches_torch(data, kwargs):
    assert repr(tl.tensor(data, **kwargs)) == repr(torch.tensor(data, **kwargs))


def test_repr_mentions_non_default_dtype():
    r = repr(tl.tensor([1.0, 2.0], dtype=tl.float64))
    assert r.startswith("tensor([1., 2.]") and "float64" in r


def test_item_tolist_numpy(backend):
    f = tl.tensor([[1.5, 2.0], [3.0, -4.25]], device=backend.device)
    assert f.tolist() == [[1.5, 2.0], [3.0, -4.25]]
    s = f[1, 1].item()
    assert type(s) is float and s == -4.25
    i = tl.tensor([3, 4], device=backend.device)
    assert type(i[0].item()) is int and i[1].item() == 4
    assert i.tolist() == [3, 4] and type(i.tolist()[0]) is int
    assert type(tl.tensor(True, device=backend.device).item()) is bool
    assert tl.tensor(2.5, device=backend.device).tolist() == 2.5
    a = f.detach().cpu().numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (2, 2)
    with pytest.raises((ValueError, RuntimeError)):
        f.item()


def test_shape_queries(backend):
    x = tl.zeros(2, 3, 4, device=backend.device)
    assert x.shape == (2, 3, 4) and tuple(x.size()) == (2, 3, 4)
    assert x.size(1) == 3 and x.size(-1) == 4
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    s = tl.tensor(1.0, device=backend.device)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1


def test_index_out_of_bounds_raises_index_error(backend):
    x = tl.zeros(3, 4, device=backend.device)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(IndexError):
        x[:, -5]
    with pytest.raises(IndexError):
        x[tl.tensor([0, 5], device=backend.device)]


def test_array_protocol_and_dlpack_with_numpy(backend):
    t = tl.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tl.float64, device=backend.device)
    back = tl.from_dlpack(t)
    assert back.dtype == tl.float64
    np.testing.assert_array_equal(to_np(back), [[1.0, 2.0], [3.0, 4.0]])
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    u = tl.from_dlpack(a)
    assert u.dtype == tl.int32
    np.testing.assert_array_equal(to_np(u), a)
    if backend.device != "cpu":
        return
    np.testing.assert_array_equal(np.asarray(t), [[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t).dtype == np.float64
    n = np.from_dlpack(t)
    assert n.dtype == np.float64
    np.testing.assert_array_equal(n, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(torch.from_dlpack(t).numpy(), n)
    np.testing.assert_array_equal(to_np(tl.from_dlpack(torch.arange(4))), [0, 1, 2, 3])


def test_detach_and_clone(backend):
    x = tl.tensor([1.0, 2.0], device=backend.device, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    np.testing.assert_array_equal(to_np(d), [1.0, 2.0])
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and c.grad_fn is not None
    (c * tl.tensor([3.0, 5.0], device=backend.device)).backward(
        tl.ones(2, device=backend.device))
    np.testing.assert_array_equal(to_np(x.grad), [3.0, 5.0])
    with tl.no_grad():
        c2 = x.clone()
        c2.add_(1.0)
    np.testing.assert_array_equal(to_np(x), [1.0, 2.0])  # clone owns its memory


def test_to_dtype_and_device(backend):
    x = tl.tensor([1.7, -1.7, 2.5], device=backend.device, requires_grad=True)
    y = x.to(tl.float64)
    assert y.dtype == tl.float64 and y.device == backend.device
    np.testing.assert_array_equal(to_np(y), np.array([1.7, -1.7, 2.5], np.float32).astype(np.float64))
    g = np.array([1.0, 2.0, 3.0])
    y.backward(tl.tensor(g, device=backend.device))
    assert x.grad.dtype == tl.float32
    np.testing.assert_array_equal(to_np(x.grad), g.astype(np.float32))
    i = x.detach().to(tl.int64)
    np.testing.assert_array_equal(to_np(i), [1, -1, 2])
    assert x.to(backend.device).device == backend.device
    c = x.cpu()
    assert c.device == "cpu"
    np.testing.assert_array_equal(c.detach().numpy(), np.float32([1.7, -1.7, 2.5]))
    assert x.to(dtype=tl.float16).dtype == tl.float16


# ----------------------------------------------------------------------------- in-place
def test_inplace_ops_values_and_return_self(backend):
    dev = backend.device
    x = tl.tensor([[1.0, 2.0], [3.0, 4.0]], device=dev)
    assert x.add_(1.5) is x
    np.testing.assert_array_equal(to_np(x), [[2.5, 3.5], [4.5, 5.5]])
    assert x.mul_(tl.tensor([2.0, -1.0], device=dev)) is x
    np.testing.assert_array_equal(to_np(x), [[5.0, -3.5], [9.0, -5.5]])
    assert x.sub_(tl.tensor([[1.0], [2.0]], device=dev)) is x
    np.testing.assert_array_equal(to_np(x), [[4.0, -4.5], [7.0, -7.5]])
    assert x.copy_(tl.tensor([9.0, 8.0], device=dev)) is x
    np.testing.assert_array_equal(to_np(x), [[9.0, 8.0], [9.0, 8.0]])
    assert x.fill_(0.25) is x
    np.testing.assert_array_equal(to_np(x), np.full((2, 2), 0.25))
    assert x.zero_() is x
    np.testing.assert_array_equal(to_np(x), np.zeros((2, 2)))
    assert x.dtype == tl.float32


def test_inplace_on_leaf_under_no_grad_keeps_leaf(backend):
    w = tl.tensor([1.0, 2.0], device=backend.device, requires_grad=True)
    with tl.no_grad():
        w.sub_(tl.tensor([0.5, 0.5], device=backend.device))
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    (w * w).backward(tl.ones(2, device=backend.device))
    np.testing.assert_array_equal(to_np(w.grad), [1.0, 3.0])


INPLACE = {
    "add_": lambda t: t.add_(1.0),
    "mul_": lambda t: t.mul_(2.0),
    "sub_": lambda t: t.sub_(1.0),
    "zero_": lambda t: t.zero_(),
    "copy_": lambda t: t.copy_(tl.ones(3, device=t.device)),
    "fill_": lambda t: t.fill_(3.0),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_modification_of_saved_tensor_raises(backend, name):
    w = tl.tensor([1.0, 2.0, 3.0], device=backend.device, requires_grad=True)
    y = w * w  # saves w for backward
    with tl.no_grad():
        INPLACE[name](w)
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as info:
        y.backward(tl.ones(3, device=backend.device))
    msg = str(info.value)
    assert name in msg or "mul" in msg.lower(), f"message names no op: {msg}"


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_through_detached_alias_raises(backend, name):
    w = tl.tensor([1.0, 2.0, 3.0], device=backend.device, requires_grad=True)
    y = w * w  # saves w
    INPLACE[name](w.detach())  # detach shares data and version counter with w
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(tl.ones(3, device=backend.device))


# ----------------------------------------------------------------------------- comparisons
@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparisons(backend, op):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 1.0])
    f = eval(f"lambda x, y: x {op} y")
    ta = tl.tensor(a, device=backend.device, requires_grad=True)
    for other, expected in [(tl.tensor(b, device=backend.device), f(a, b)), (2.0, f(a, 2.0)),
                            (tl.tensor(2.0, dtype=tl.float64, device=backend.device), f(a, 2.0))]:
        r = f(ta, other)
        assert r.dtype == tl.bool and not r.requires_grad
        np.testing.assert_array_equal(to_np(r), expected)
    r = f(2.0, ta)  # reflected
    np.testing.assert_array_equal(to_np(r), f(2.0, a))


def test_eq_function_and_method(backend):
    a = tl.tensor([1, 2, 3], device=backend.device)
    b = tl.tensor([1, 0, 3], device=backend.device)
    np.testing.assert_array_equal(to_np(tl.eq(a, b)), [True, False, True])
    np.testing.assert_array_equal(to_np(a.eq(2)), [False, True, False])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(backend, name, rng):
    x = rng.standard_normal((3, 4, 5))
    t, e = tl.tensor(x, device=backend.device), torch.from_numpy(x)
    for kwargs in ({}, {"dim": 1}, {"dim": -1}, {"dim": 0, "keepdim": True}):
        assert_close(getattr(t, name)(**kwargs), getattr(e, name)(**kwargs), 0, 0, str(kwargs))
        assert_close(getattr(tl, name)(t, **kwargs), getattr(torch, name)(e, **kwargs), 0, 0,
                     f"function {kwargs}")


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any(backend, name):
    cases = [np.array([[True, False], [True, True]]), np.array([[0.0, 1.0], [2.0, 3.0]]),
             np.array([[False, False], [False, False]]), np.array([[1, 2], [3, 4]])]
    for x in cases:
        t, e = tl.tensor(x, device=backend.device), torch.from_numpy(x)
        for kwargs in ({}, {"dim": 0}, {"dim": -1}, {"dim": 1, "keepdim": True}):
            assert_close(getattr(t, name)(**kwargs), getattr(e, name)(**kwargs), 0, 0,
                         f"{x.dtype} {kwargs}")
        assert_close(getattr(tl, name)(t), getattr(torch, name)(e), 0, 0, "function")
