"""Sorting and selection ops (tensorlite/ops/sorting.py) where the fuzz cannot reach: ties on
long dims (the documented tie rule), named results, keyword forms, large inputs against torch,
float64 gradcheck and second order, error types and messages, and the primitives on the CuPy
host stand-in."""
import types

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite.autograd import gradcheck
from helpers import tl_tensor, to_np
from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)

NAN, INF = float("nan"), float("inf")


def _both(arr, requires_grad=False):
    return (tl_tensor(arr, requires_grad),
            torch.from_numpy(arr.copy()).requires_grad_(requires_grad))


def _eq(a, e):
    a, e = to_np(a), to_np(e)
    assert a.shape == e.shape and a.dtype == e.dtype, (a.shape, a.dtype, e.shape, e.dtype)
    np.testing.assert_array_equal(a, e)


def _stable(x, descending, axis=-1):
    """The stable sort order of a NumPy array (descending: ties still in index order)."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    return n - 1 - np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)


def _ties(rng, shape, dtype=np.float64, nan=True):
    x = rng.integers(0, 3, shape).astype(dtype)
    if nan and x.dtype.kind == "f":
        x[rng.random(shape) < 0.15] = NAN
    return x


# -- sort: stable with ties and NaN, on long dims too ---------------------------------------------
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
def test_sort_with_ties_is_torchs_stable_sort(backend, rng, descending, dtype):
    x = _ties(rng, (5, 40), dtype) if dtype != np.bool_ else rng.random((5, 40)) < 0.5
    for dim in (1, 0, -1):
        a, e = _both(x)
        got, want = tl.sort(a, dim=dim, descending=descending, stable=True), \
            torch.sort(e, dim=dim, descending=descending, stable=True)
        _eq(got.values, want.values)
        _eq(got.indices, want.indices)
        # stable=False gives the same order (torch's own is unspecified beyond 16 elements)
        _eq(tl.sort(a, dim, descending).indices, want.indices)
        _eq(tl.argsort(a, dim, descending), want.indices)


def test_sort_stable_false_matches_torch_up_to_16_elements(backend, rng):
    x = _ties(rng, (50, 16))
    a, e = _both(x)
    for descending in (False, True):
        _eq(a.sort(descending=descending).indices, e.sort(descending=descending).indices)


def test_sort_nan_is_largest_and_ties_keep_index_order(backend):
    a = tl_tensor(np.array([1.0, NAN, 0.0, NAN, 1.0, -INF, -0.0]))
    assert tl.sort(a).indices.tolist() == [5, 2, 6, 0, 4, 1, 3]
    assert tl.sort(a, descending=True).indices.tolist() == [1, 3, 0, 4, 2, 6, 5]


def test_results_are_named_tuples(backend):
    a = tl_tensor(np.array([[3.0, 1.0, 2.0]]))
    for r, name in ((tl.sort(a), "sort"), (a.topk(2), "topk"), (a.kthvalue(1), "kthvalue")):
        assert type(r).__name__ == name and r._fields == ("values", "indices")
        values, indices = r
        assert values is r.values and indices is r.indices and r[0] is values
        assert indices.dtype == tl.int64


# -- topk and kthvalue: the tie rule, and torch's indices where it has no choice ---------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_topk_is_torchs_with_ties_and_nan(backend, rng, dtype):
    # n >= 64 k takes torch's partial_sort path, else nth_element (+ sort of k - 1 > 16)
    for n in (1, 3, 4, 9, 17, 40, 130):
        x = _ties(rng, (4, n, 2), dtype)
        a, e = _both(x)
        for k in sorted({0, 1, 2, 3, n // 2, n - 1, n} & set(range(n + 1))):
            for largest in (True, False):
                got = tl.topk(a, k, 1, largest=largest)
                want = torch.topk(e, k, 1, largest=largest)
                _eq(got.values, want.values)
                _eq(got.indices, want.indices)
                # unsorted: torch's own order where a tie decides (all rows here), its set always
                got = a.topk(k, dim=1, largest=largest, sorted=False)
                want = e.topk(k, dim=1, largest=largest, sorted=False)
                _eq(got.indices.sort(1).values, want.indices.sort(1).values)


def test_topk_unsorted_rows_with_ties_come_in_torchs_order(backend, rng):
    x = rng.integers(0, 3, (50, 30)).astype(np.float64)  # every row has ties at its top
    a, e = _both(x)
    for k in (1, 5, 29):
        _eq(a.topk(k, sorted=False).indices, e.topk(k, sorted=False).indices)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_kthvalue_is_torchs_with_ties_and_nan(backend, rng, dtype):
    for n in (1, 2, 3, 5, 17, 40):
        x = _ties(rng, (6, n, 2), dtype)
        a, e = _both(x)
        for k in sorted({1, 2, n // 2 + 1, n} & set(range(1, n + 1))):
            for keepdim in (False, True):
                got, want = tl.kthvalue(a, k, 1, keepdim), torch.kthvalue(e, k, 1, keepdim)
                _eq(got.values, want.values)
                _eq(got.indices, want.indices)


def test_int_arguments_take_numpy_ints_and_0d_tensors(backend):
    x = np.array([[4.0, 1.0, 3.0], [0.0, 2.0, 2.0]])
    a, e = _both(x)
    _eq(a.topk(np.int64(2)).indices, e.topk(np.int64(2)).indices)
    _eq(tl.kthvalue(a, tl.tensor(2)).indices, torch.kthvalue(e, torch.tensor(2)).indices)
    _eq(tl.histc(a, np.int32(4)), torch.histc(e, np.int32(4)))
    i = tl_tensor(np.array([1, 1, 3]))
    assert tl.bincount(i, minlength=np.int64(6)).tolist() == [0, 2, 0, 1, 0, 0]


# -- gradients ----------------------------------------------------------------------------------
def test_values_gradients_pass_gradcheck(backend, rng):
    x = tl_tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert gradcheck(lambda t: tl.sort(t, 1, True).values, (x,))
    assert gradcheck(lambda t: tl.sort(t, 0).values, (x,))
    assert gradcheck(lambda t: t.topk(2, dim=0, largest=False).values, (x,))
    assert gradcheck(lambda t: t.kthvalue(3, 1, keepdim=True).values, (x,))
    assert gradcheck(lambda t: tl.msort(t), (x,))


def test_values_gradients_match_torch_with_ties(backend, rng):
    x = _ties(rng, (4, 6), nan=False)
    g = rng.standard_normal((4, 6))
    a, e = _both(x, requires_grad=True)
    (tl.sort(a, 1, True).values * tl_tensor(g)).sum().backward()
    (torch.sort(e, 1, True).values * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(to_np(a.grad), to_np(e.grad))


def test_second_order_through_sort_and_topk(backend, rng):
    x = rng.standard_normal((3, 4))
    v = rng.standard_normal((3, 4))
    u = rng.standard_normal((3, 4))
    out = {}
    for lib, mk in ((tl, lambda arr: tl_tensor(arr, True)),
                    (torch, lambda arr: torch.from_numpy(arr.copy()).requires_grad_())):
        xt, vt = mk(x), mk(v)
        y = lib.sort(xt, 1).values * xt  # nonlinear in x: d2/dx2 != 0
        y = y + xt.topk(2, 1).values.sum()
        (gx,) = lib.autograd.grad(y, xt, vt, create_graph=True)
        uu = lib.tensor(u) if lib is torch else tl_tensor(u)
        g2 = lib.autograd.grad((gx * uu).sum(), (xt, vt))
        out[lib.__name__] = [to_np(t) for t in g2]
    for a, e in zip(out["tensorlite"], out["torch"]):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


def test_integer_and_index_outputs_carry_no_gradient(backend):
    a = tl_tensor(np.array([2.0, 1.0, 2.0]), requires_grad=True)
    assert not tl.sort(a).indices.requires_grad and not tl.argsort(a).requires_grad
    assert not tl.unique(a).requires_grad
    assert not tl.histc(a, 3).requires_grad
    assert not tl.searchsorted(a.detach(), a).requires_grad


# -- unique, unique_consecutive -----------------------------------------------------------------
@pytest.mark.parametrize("fn", ["unique", "unique_consecutive"])
def test_unique_against_torch_on_larger_inputs(backend, rng, fn):
    for x in (rng.integers(-3, 4, (30, 4)), _ties(rng, (25, 3)), rng.random((40,)) < 0.3,
              np.repeat(rng.integers(0, 3, (10, 2)), 3, axis=0)):
        a, e = _both(x)
        for dim in (None, 0, 1, -1) if x.ndim == 2 else (None, 0):
            kw = dict(return_inverse=True, return_counts=True, dim=dim)
            got, want = getattr(tl, fn)(a, **kw), getattr(torch, fn)(e, **kw)
            nan = np.isnan(x.astype(float))
            _eq(got[0], want[0])
            _eq(got[2], want[2])
            if fn == "unique" and dim is None and nan.sum() > 1 and x.size > 16:
                # each NaN is a value of its own; which NaN slot an element maps to follows
                # torch's unstable std::sort beyond 16 elements: the NaNs get the NaN slots
                inv, tinv = to_np(got[1]), to_np(want[1])
                np.testing.assert_array_equal(inv[~nan], tinv[~nan])
                assert sorted(inv[nan]) == sorted(tinv[nan])
            else:
                _eq(got[1], want[1])


def test_unique_forms_and_results(backend):
    a = tl_tensor(np.array([[1, 3], [3, 1], [1, 3]]))
    out = a.unique()
    assert isinstance(out, tl.Tensor) and out.tolist() == [1, 3]
    values, inverse = tl.unique(a, return_inverse=True)
    assert inverse.shape == (3, 2) and inverse.tolist() == [[0, 1], [1, 0], [0, 1]]
    values, counts = tl.unique(a, sorted=False, return_counts=True, dim=0)
    assert values.tolist() == [[1, 3], [3, 1]] and counts.tolist() == [2, 1]
    v, i, c = a.unique_consecutive(return_inverse=True, return_counts=True, dim=0)
    assert v.tolist() == [[1, 3], [3, 1], [1, 3]] and i.tolist() == [0, 1, 2]
    assert c.tolist() == [1, 1, 1] and c.dtype == tl.int64 and i.dtype == tl.int64


def test_unique_dim_orders_slices_with_nan_as_torch(backend, rng):
    # torch sorts the slices by a lexicographic < under which NaN is neither smaller nor larger
    # (std::sort, unstable beyond 16 slices): replayed, so values, inverse and counts match
    for n in (2, 5, 16, 17, 40):
        x = _ties(rng, (n, 3))
        a, e = _both(x)
        for dim in (0, 1):
            got = tl.unique(a, dim=dim, return_inverse=True, return_counts=True)
            want = torch.unique(e, dim=dim, return_inverse=True, return_counts=True)
            for g, w in zip(got, want):
                _eq(g, w)


# -- counting ------------------------------------------------------------------------------------
def test_bincount_and_histc_against_torch_on_larger_inputs(backend, rng):
    x = rng.integers(0, 50, 1000)
    w32 = rng.standard_normal(1000).astype(np.float32)
    a, e = _both(x)
    _eq(tl.bincount(a), torch.bincount(e))
    _eq(a.bincount(minlength=80), e.bincount(minlength=80))
    got = tl.bincount(a, weights=tl_tensor(w32))
    want = torch.bincount(e, weights=torch.from_numpy(w32))
    assert got.dtype == tl.float32
    np.testing.assert_allclose(to_np(got), to_np(want), rtol=1e-5, atol=1e-5)
    assert tl.bincount(a, tl_tensor(x)).dtype == tl.float64
    for dtype in (np.float32, np.float64):
        # values on and near the bin edges: the bin is computed in the input's dtype, as torch
        v = np.concatenate([rng.uniform(-2, 2, 3000), np.linspace(-1, 1, 101)]).astype(dtype)
        a, e = _both(v)
        for bins, lo, hi in ((10, -1, 1), (7, 0, 0), (100, -0.3, 0.7), (3, 0.1, 0.1)):
            got = tl.histc(a, bins=bins, min=lo, max=hi)
            want = torch.histc(e, bins=bins, min=lo, max=hi)
            _eq(got, want)


def test_histc_of_one_value_widens_the_range_as_torch(backend):
    # a range of one value is widened by 1 each side, and at least to the next values of the
    # dtype: 1e30 - 1 == 1e30, so the value lands in the middle bin, as torch's
    for dtype in (np.float64, np.float32):
        for v in ([1e30, 1e30], [1e20], [3.0], [0.0], []):
            for bins in (1, 2, 3, 4, 7):
                a, e = _both(np.array(v, dtype=dtype))
                _eq(tl.histc(a, bins), torch.histc(e, bins))
                _eq(a.histc(bins, min=5, max=5), e.histc(bins, min=5, max=5))


# -- searching -----------------------------------------------------------------------------------
def test_searchsorted_and_bucketize_against_torch(backend, rng):
    seq = np.sort(np.concatenate([rng.integers(0, 20, 60).astype(float), [NAN, NAN]]))
    vals = np.concatenate([rng.integers(-2, 23, 202) + rng.choice([0, 0.5], 202),
                           [NAN, INF, -INF]]).reshape(5, 41)
    (s, ts), (v, tv) = _both(seq), _both(vals)
    for kw in ({}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}):
        _eq(tl.searchsorted(s, v, **kw), torch.searchsorted(ts, tv, **kw))
    for right in (False, True):
        b = np.unique(rng.integers(0, 20, 10)).astype(float)
        (bb, tb) = _both(b)
        _eq(tl.bucketize(v, bb, right=right), torch.bucketize(tv, tb, right=right))
        _eq(tl.bucketize(v, bb, out_int32=True, right=right),
            torch.bucketize(tv, tb, out_int32=True, right=right))
    # one sequence per row, and a sorter that sorts an unsorted sequence
    rows = np.sort(rng.integers(0, 9, (5, 12)), axis=1)
    (r, tr) = _both(rows)
    _eq(tl.searchsorted(r, v, right=True), torch.searchsorted(tr, tv, right=True))
    unsorted = rng.permutation(seq[:-2])
    order = np.argsort(unsorted, kind="stable")
    (u, tu), (o, to) = _both(unsorted), _both(order)
    _eq(tl.searchsorted(u, v, sorter=o), torch.searchsorted(tu, tv, sorter=to))
    # numbers and mixed dtypes promote as torch
    ints = tl_tensor(np.array([1, 2, 3]))
    assert tl.searchsorted(ints, 2.5).tolist() == 2 and tl.searchsorted(ints, True).tolist() == 0
    assert tl.bucketize(2.0, s).shape == ()


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, words", [
    (lambda a, i: tl.topk(a, 4), RuntimeError, "topk: selected index k = 4 out of range"),
    (lambda a, i: a.kthvalue(0), RuntimeError, "kthvalue: selected number k = 0"),
    (lambda a, i: tl.topk(a > 0, 1), RuntimeError, "topk: bool"),
    (lambda a, i: tl.kthvalue(a > 0, 1), NotImplementedError, "kthvalue: not implemented for bool"),
    (lambda a, i: tl.sort(a, 2), IndexError, "sort: dimension out of range"),
    (lambda a, i: tl.topk(a, 2.0), TypeError, "topk: argument 'k' must be int, not float"),
    (lambda a, i: tl.histc(a, True), TypeError, "histc: argument 'bins' must be int, not bool"),
    (lambda a, i: tl.bincount(a), NotImplementedError, "bincount: not implemented for float64"),
    (lambda a, i: tl.bincount(i - 1), RuntimeError, "negative"),
    (lambda a, i: tl.bincount(i, minlength=-1), RuntimeError, "minlength should be >= 0"),
    (lambda a, i: tl.bincount(i, a[:2]), RuntimeError, "same length as input"),
    (lambda a, i: tl.histc(i), NotImplementedError, "histc: not implemented for int64"),
    (lambda a, i: tl.histc(a, bins=0), RuntimeError, "bins must be > 0"),
    (lambda a, i: tl.histc(a, min=2, max=1), RuntimeError, "max must be larger than min"),
    (lambda a, i: tl.histc(a, min=-INF, max=1), RuntimeError, "not finite"),
    (lambda a, i: tl.searchsorted(a, a, side="middle"), RuntimeError, "'left' or 'right'"),
    (lambda a, i: tl.searchsorted(a, a, side="left", right=True), RuntimeError, "opposites"),
    (lambda a, i: tl.searchsorted(a.reshape(3, 1), a), RuntimeError, "first N-1 dims"),
    (lambda a, i: tl.searchsorted(a, a, sorter=i + 5), RuntimeError, "sorter index out of range"),
    (lambda a, i: tl.searchsorted(a, a, sorter=i.int()), RuntimeError,
     "sorter must be a tensor of long"),
    (lambda a, i: tl.searchsorted(a, a, sorter=i[:2]), RuntimeError,
     "sorter .* must have the shape"),
    (lambda a, i: tl.searchsorted([1.0, 2.0], a), TypeError, "sorted_sequence must be a Tensor"),
    (lambda a, i: tl.bincount(i, weights=[1.0, 1.0, 1.0]), TypeError, "weights must be a Tensor"),
    (lambda a, i: tl.bucketize(a, a.reshape(1, 3)), RuntimeError, "bucketize: boundaries"),
    (lambda a, i: tl.unique(a[0], dim=0), IndexError, "unique: dim 0 given"),
    (lambda a, i: tl.unique(tl.zeros(2, 0), dim=0), RuntimeError, "select a dimension of size 0"),
])
def test_errors_name_the_op_and_match_torchs_type(backend, call, exc, words):
    a, i = tl_tensor(np.array([1.0, 2.0, 3.0])), tl_tensor(np.array([0, 1, 2]))
    with pytest.raises(exc, match=words):
        call(a, i)
    ta, ti = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), torch.tensor([0, 1, 2])
    with pytest.raises(exc):  # the same call on torch raises the same type
        _on_torch(call)(ta, ti)


def _on_torch(call):
    """The call, written as ``lambda a, i: tl....``, with torch in the place of ``tl``."""
    return types.FunctionType(call.__code__, dict(call.__globals__, tl=torch), call.__name__,
                              call.__defaults__, call.__closure__)


# -- the numba backend's compiled replays ---------------------------------------------------------
def test_the_numba_replays_equal_the_reference_ones(rng):
    if "numba" not in tl.backends.available():
        pytest.skip(tl.backends.unavailable_reason("numba") or "numba is not available")
    numba_backend, reference = tl.backends.get("numba"), tl.backends.get("numpy")
    for n in (1, 2, 3, 4, 16, 17, 40, 70, 200):
        for dtype in (np.float64, np.float32, np.int64, np.int32):
            rows = _ties(rng, (5, n), dtype)
            for k in sorted({0, 1, 2, n // 2, n - 1} & set(range(n))):
                np.testing.assert_array_equal(numba_backend._replay_kth(rows, k),
                                              reference._replay_kth(rows, k))
                for largest in (True, False):
                    for sorted_ in (True, False):
                        args = (rows, k + 1, largest, sorted_)
                        np.testing.assert_array_equal(numba_backend._replay_top(*args),
                                                      reference._replay_top(*args))


# -- the primitives on the CuPy host stand-in ---------------------------------------------------
def test_the_ops_on_the_cupy_host_stand_in(host_cuda, rng):
    x = _ties(rng, (4, 9))
    ints = rng.integers(0, 6, 30)
    seq = np.sort(rng.integers(0, 10, 8)).astype(float)
    on = {}
    for device in ("cpu", "cuda"):
        a = tl.tensor(x, device=device, requires_grad=True)
        i, s = tl.tensor(ints, device=device), tl.tensor(seq, device=device)
        res = [*tl.sort(a, 1, True), tl.argsort(a, 0), *a.topk(3), *a.kthvalue(2, 0),
               *tl.unique(i, return_inverse=True, return_counts=True),
               *tl.unique_consecutive(a.detach(), return_counts=True, dim=1),
               tl.bincount(i), tl.bincount(i, weights=a.detach().reshape(-1)[:30]),
               tl.histc(a.detach(), 5, -1, 3), tl.searchsorted(s, a.detach(), right=True),
               tl.bucketize(a.detach(), s)]
        tl.sort(a, 1).values.sum().backward()
        on[device] = [to_np(r) for r in res] + [to_np(a.grad)]
    for c, g in zip(on["cpu"], on["cuda"]):
        assert c.dtype == g.dtype
        np.testing.assert_array_equal(c, g)
