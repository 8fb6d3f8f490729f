"""Scans and the reductions of tensorlite/ops/scan.py, against PyTorch on every backend: what
the fuzz (tests/opinfo_scan.py) does not express: named-tuple results, keyword forms, the
exact gradients at zeros, ties, NaN and -inf that PyTorch documents, float64 gradcheck,
second order, and the errors (type and message)."""
import math

import numpy as np
import pytest
import torch

import tensorlite as tl
from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)
from helpers import A, N, Const, assert_close, check_op, check_second_order, to_np

INF, NAN = math.inf, math.nan


# ----------------------------------------------------------------------------- result types
@pytest.mark.parametrize("name, call", [
    ("median", lambda lib, x: lib.median(x, 1)),
    ("nanmedian", lambda lib, x: x.nanmedian(dim=0, keepdim=True)),
    ("mode", lambda lib, x: lib.mode(x)),
    ("cummax", lambda lib, x: x.cummax(1)),
    ("cummin", lambda lib, x: lib.cummin(x, dim=0)),
])
def test_values_indices_results_are_named_tuples_as_torch(backend, name, call):
    v = np.array([[2.0, 1.0, 2.0], [0.5, 0.5, 3.0]])
    out, ref = call(tl, tl.tensor(v, device=backend.device)), call(torch, torch.tensor(v))
    assert type(out).__name__ == type(ref).__name__ == name
    assert isinstance(out, tuple) and len(out) == 2
    values, indices = out  # unpacks
    assert out.values is values and out.indices is indices and out[0] is values
    assert_close(values, ref.values, 0, 0, name)
    assert_close(indices, ref.indices, 0, 0, name)
    assert f"return_types.{name}(" in repr(out)


def test_aminmax_is_a_min_max_named_tuple(backend):
    x = tl.tensor([[3.0, -1.0], [2.0, 5.0]], device=backend.device)
    out = x.aminmax(dim=1)
    lo, hi = out
    assert type(out).__name__ == "aminmax" and out.min is lo and out.max is hi
    assert to_np(lo).tolist() == [-1.0, 2.0] and to_np(hi).tolist() == [3.0, 5.0]
    both = tl.aminmax(x, keepdim=True)
    assert both.min.shape == (1, 1) and float(both.max) == 5.0


# ----------------------------------------------------------------------------- prod
@pytest.mark.parametrize("values", [
    [[1.5, -2.0, 0.5], [3.0, 0.25, -1.0]],  # no zero: g * prod / x
    [[1.5, 0.0, 0.5], [3.0, 0.25, -1.0]],  # one zero: the product of the others
    [[0.0, 0.0, 0.5], [3.0, 0.0, -1.0]],  # two zeros in a slice: all zero there
], ids=["no_zero", "one_zero", "two_zeros"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_gradient_with_zeros_as_torch(backend, values, dim):
    def f(lib, x):
        return x.prod() if dim is None else lib.prod(x, dim, keepdim=dim == 0)
    check_op(f, A(values))


@pytest.mark.parametrize("values", [
    [[1.5, 0.0, 0.5], [3.0, 0.25, -1.0]],
    [[0.0, 0.0, 0.5], [3.0, 0.0, -1.0]],
], ids=["one_zero", "two_zeros"])
def test_prod_second_order_with_zeros_as_torch(backend, values):
    check_second_order(lambda lib, x: lib.prod(x, 1) * 1.5, A(values), gradgradcheck=False)
    check_second_order(lambda lib, x: x.prod(), A(values), gradgradcheck=False)


def test_prod_dtypes_and_keywords(backend):
    d = backend.device
    assert tl.prod(tl.tensor([True, True], device=d)).dtype == tl.int64
    assert tl.tensor([2, 3], device=d).prod().item() == 6
    x = tl.tensor([[1.0, 2.0], [3.0, 4.0]], device=d)
    out = x.prod(dim=1, keepdim=True, dtype=tl.float64)
    assert out.dtype == tl.float64 and out.shape == (2, 1)
    assert to_np(out).ravel().tolist() == [2.0, 12.0]
    with pytest.raises(TypeError, match="prod"):
        x.prod((0, 1))


# ----------------------------------------------------------------------------- cumsum, cumprod
def test_cumsum_gradient_and_dtypes(backend):
    check_op(lambda lib, x: lib.cumsum(x, dim=1), N(3, 4))
    check_op(lambda lib, x: x.cumsum(-1), N(5))
    d = backend.device
    assert tl.tensor([True, True], device=d).cumsum(0).dtype == tl.int64
    x = tl.tensor([1, 2], device=d)
    assert tl.cumsum(x, 0, dtype=tl.float32).dtype == tl.float32


@pytest.mark.parametrize("values", [
    [[1.5, -2.0, 0.5, 2.0]],
    [[1.5, 0.0, 0.5, 2.0]],
    [[0.0, 2.0, 0.0, 3.0], [1.0, 1.0, 0.0, 2.0]],
], ids=["no_zero", "one_zero", "two_zeros"])
def test_cumprod_gradient_with_zeros_as_torch(backend, values):
    check_op(lambda lib, x: lib.cumprod(x, 1), A(values))
    check_second_order(lambda lib, x: x.cumprod(1), A(values), gradgradcheck=False)


def test_integer_dtype_for_an_input_that_requires_grad_raises_as_torch(backend):
    x = tl.tensor([1.0, 2.0], device=backend.device, requires_grad=True)
    for f in (lambda: x.cumsum(0, dtype=tl.int64), lambda: x.prod(dtype=tl.int64)):
        with pytest.raises(RuntimeError, match="Autograd"):
            f()


def test_cumsum_cumprod_in_place_as_torch(backend):
    d = backend.device
    check_op(lambda lib, x: (x * 1).cumsum_(1).cumprod_(dim=0), N(3, 4))
    x = tl.tensor([1, 2, 3], dtype=tl.int32, device=d)
    assert x.cumsum_(0) is x and x.dtype == tl.int32 and to_np(x).tolist() == [1, 3, 6]
    with pytest.raises(RuntimeError, match="Bad in-place call"):
        tl.tensor([1.0, 2.0], device=d).cumsum_(0, dtype=tl.float64)
    with pytest.raises(NotImplementedError, match="cumprod"):
        tl.tensor([True, False], device=d).cumprod_(0)
    with pytest.raises(NotImplementedError, match="cumsum"):
        tl.cumsum(tl.tensor([True, False], device=d), 0, dtype=tl.bool)


# ----------------------------------------------------------------------------- cummax, cummin
def test_cummax_cummin_ties_nan_and_gradient_to_the_indices(backend):
    v = [1.0, 3.0, 3.0, NAN, 2.0, NAN, 5.0]
    for name in ("cummax", "cummin"):
        out = getattr(tl, name)(tl.tensor(v, device=backend.device), 0)
        ref = getattr(torch, name)(torch.tensor(v), 0)
        assert to_np(out.indices).tolist() == ref.indices.tolist()
        assert_close(out.values, ref.values, 0, 0, name)
    # (ties: no finite differences there)
    check_op(lambda lib, x: x.cummax(1).values,
             A([[1.0, 3.0, 3.0, 0.5, 4.0], [2.0, 2.0, 1.0, 2.0, 0.0]]), gradcheck=False)
    check_op(lambda lib, x: lib.cummin(x, 0)[0], A([[1.0, 3.0], [1.0, 2.0], [0.0, 5.0]]),
             gradcheck=False)
    check_op(lambda lib, x: lib.cummin(x, 1)[0], N(3, 5))


# ----------------------------------------------------------------------------- logcumsumexp
def test_logcumsumexp_with_minus_inf_as_torch(backend):
    check_op(lambda lib, x: x.logcumsumexp(1),
             A([[-INF, 0.5, -INF, 2.0], [1.0, -INF, -1.0, 0.0]]), gradcheck=False)
    check_op(lambda lib, x: lib.logcumsumexp(x, dim=0), N(4, 3))
    check_op(lambda lib, x: lib.logcumsumexp(x, 0), A([-800.0, 0.0, 700.0]))  # no overflow
    check_second_order(lambda lib, x: lib.logcumsumexp(x, 1), N(2, 4))


def test_logcumsumexp_all_minus_inf_gives_torch_nan_gradient(backend):
    check_op(lambda lib, x: lib.logcumsumexp(x, 0), A([-INF, -INF, 1.0]), gradcheck=False)


# ----------------------------------------------------------------------------- norms
@pytest.mark.parametrize("p", [2, 1, INF, -INF, 0, 3, 0.5, 1.5, "fro"])
def test_norm_forms_and_gradients(backend, p):
    check_op(lambda lib, x: x.norm(p, dim=1, keepdim=True), N(3, 4))
    check_op(lambda lib, x: lib.norm(x, p=p), N(2, 3))


@pytest.mark.parametrize("p", [2, 1, 3, 1.5, INF])
def test_norm_gradient_at_the_origin_as_torch(backend, p):
    """PyTorch masks the gradient where the norm is 0 (p >= 1): 0 for p = 2, a subgradient
    sign(0) = 0 for p = 1; no NaN."""
    check_op(lambda lib, x: lib.norm(x, p, dim=1), A([[0.0, 0.0, 0.0], [0.0, 1.5, -2.0]]),
             gradcheck=False)
    x = tl.zeros(3, device=backend.device, requires_grad=True)
    tl.norm(x, p).backward()
    assert to_np(x.grad).tolist() == [0.0, 0.0, 0.0]


def test_norm_second_order(backend):
    check_second_order(lambda lib, x: lib.norm(x, 3, dim=0), N(3, 2))
    check_second_order(lambda lib, x: x.norm(), N(4))
    check_second_order(lambda lib, a, b: lib.dist(a, b, 1.5), N(2, 3), N(3))
    # (cdist: PyTorch has no derivative of _cdist_backward; ours differentiates again)


def test_dist_and_cdist(backend):
    check_op(lambda lib, a, b: lib.dist(a, b), N(3, 4), N(4))
    check_op(lambda lib, a, b: a.dist(b, 1.5), N(2, 3), N(2, 3))
    for p in (2.0, 1.0, INF, 0.5, 3.0):
        check_op(lambda lib, a, b: lib.cdist(a, b, p=p), N(2, 3, 4), N(1, 5, 4))
    # equal rows: distance 0, gradient 0 for p = 2 (PyTorch's masked formula)
    check_op(lambda lib, a, b: lib.cdist(a, b), A([[1.0, 2.0], [0.0, 1.0]]),
             A([[1.0, 2.0]]), gradcheck=False)
    # NaN differences (inf - inf) as PyTorch's kernels: NaN for p = 0, skipped for p = inf
    a, b = np.array([[INF, 1.0], [2.0, NAN]]), np.array([[INF, 0.0]])
    for p in (0.0, INF, 1.0):
        out = tl.cdist(tl.tensor(a, device=backend.device), tl.tensor(b, device=backend.device), p)
        assert_close(out, torch.cdist(torch.tensor(a), torch.tensor(b), p), 0, 0, f"cdist p={p}")
    out = tl.cdist(tl.ones(2, 3, device=backend.device), tl.ones(4, 3, device=backend.device),
                   compute_mode="donot_use_mm_for_euclid_dist")
    assert out.shape == (2, 4)


# ----------------------------------------------------------------------------- median, mode
def test_median_tie_rule_and_nan_as_torch(backend):
    d = backend.device
    for v in ([2.0, 1.0, 2.0, 1.0], [NAN, 1.0, NAN, 1.0], [3.0, 1.0, 2.0, 2.0, 1.0]):
        for name in ("median", "nanmedian"):
            out = getattr(tl, name)(tl.tensor(v, device=d), 0)
            ref = getattr(torch, name)(torch.tensor(v), 0)
            assert int(out.indices) == int(ref.indices), (name, v)
            assert_close(out.values, ref.values, 0, 0, name)
    assert math.isnan(float(tl.median(tl.tensor([1.0, NAN], device=d))))
    assert float(tl.nanmedian(tl.tensor([1.0, NAN, 3.0], device=d))) == 1.0
    assert math.isnan(float(tl.median(tl.zeros(0, device=d))))


def test_median_and_mode_gradient_to_the_selected_element(backend):
    x = A([[2.0, 1.0, 2.0, 1.0], [0.5, 3.0, 3.0, 0.5]])
    check_op(lambda lib, t: lib.median(t, 1).values, x, gradcheck=False)  # (ties)
    check_op(lambda lib, t: t.nanmedian(0)[0], x, gradcheck=False)
    check_op(lambda lib, t: lib.mode(t, 1).values, x, gradcheck=False)
    check_op(lambda lib, t: lib.median(t, 0).values, N(5, 3))
    # no dim: the gradient is shared by the elements equal to the median
    check_op(lambda lib, t: t.median(), A([1.0, 2.0, 2.0, 3.0, 2.0]), gradcheck=False)


def test_mode_picks_the_smallest_most_frequent_value_at_its_last_index(backend):
    v = [3.0, 1.0, 2.0, 1.0, 3.0]
    out, ref = tl.mode(tl.tensor(v, device=backend.device)), torch.mode(torch.tensor(v))
    assert float(out.values) == float(ref.values) == 1.0
    assert int(out.indices) == int(ref.indices) == 3


def test_median_errors(backend):
    d = backend.device
    with pytest.raises(IndexError, match="median"):
        tl.median(tl.zeros(0, 3, device=d), 0)
    with pytest.raises(NotImplementedError, match="median"):
        tl.median(tl.tensor([True, False], device=d))
    with pytest.raises(IndexError, match="mode"):
        tl.mode(tl.zeros(2, 0, device=d))


# ----------------------------------------------------------------------------- quantiles
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_interpolations_and_gradients(backend, interpolation):
    q = np.array([0.0, 0.3, 0.5, 1.0])
    check_op(lambda lib, x, qq: lib.quantile(x, qq.to(x.dtype), dim=1, keepdim=True,
                                              interpolation=interpolation),
             N(3, 5), Const(q))
    check_op(lambda lib, x: x.quantile(0.4, interpolation=interpolation), N(2, 3))
    check_op(lambda lib, x: x.nanquantile(0.7, 0, interpolation=interpolation),
             A([[1.0, NAN], [NAN, NAN], [3.0, 2.0], [0.5, 1.0]]), gradcheck=False)


def test_quantile_of_a_slice_with_nan_is_nan(backend):
    x = tl.tensor([[1.0, NAN, 2.0], [1.0, 2.0, 3.0]], device=backend.device)
    out = to_np(tl.quantile(x, 0.5, dim=1))
    assert math.isnan(out[0]) and out[1] == 2.0


@pytest.mark.parametrize("call, error, words", [
    (lambda x: tl.quantile(x, 1.5), RuntimeError, "range"),
    (lambda x: tl.quantile(x, 0.5, interpolation="cubic"), RuntimeError, "interpolation"),
    (lambda x: tl.quantile(x, tl.tensor([0.5], dtype=tl.float64)), RuntimeError, "dtype"),
    (lambda x: tl.quantile(x, tl.tensor([[0.5]])), RuntimeError, "1D"),
    (lambda x: tl.quantile(x.long(), 0.5), RuntimeError, "float"),
    (lambda x: tl.quantile(x[:0], 0.5), RuntimeError, "non-empty"),
])
def test_quantile_errors_name_the_op(backend, call, error, words):
    x = tl.tensor([1.0, 2.0, 3.0], device=backend.device)
    with pytest.raises(error, match=words) as info:
        call(x)
    assert "quantile" in str(info.value)


# ----------------------------------------------------------------------------- nan reductions
def test_nansum_nanmean_ignore_nan_with_zero_gradient_there(backend):
    x = A([[1.0, NAN, 2.0], [NAN, NAN, 0.5]])
    check_op(lambda lib, t: lib.nansum(t, 1), x, gradcheck=False)
    check_op(lambda lib, t: t.nanmean(dim=0, keepdim=True), x, gradcheck=False)
    check_op(lambda lib, t: t.nansum(), x, gradcheck=False)
    with pytest.raises(RuntimeError, match="nanmean"):
        tl.nanmean(tl.tensor([1, 2], device=backend.device))


# ----------------------------------------------------------------------------- moments, counts
def test_var_mean_std_mean_keywords_as_torch(backend):
    check_op(lambda lib, x: lib.var_mean(x, 1, correction=0, keepdim=True), N(3, 4))
    check_op(lambda lib, x: lib.std_mean(x, dim=(0, 1)), N(3, 4))
    check_op(lambda lib, x: lib.std_mean(x, 0, False, True), N(3, 4))  # unbiased positional
    check_op(lambda lib, x: lib.var_mean(x, True), N(5))


def test_var_mean_mean_is_welfords_with_infinities_as_torch(backend):
    """PyTorch's running mean: inf - inf makes NaN unless the only infinity comes last."""
    for v in ([1.0, INF], [INF, 1.0], [1.0, INF, 2.0], [INF], [-INF, INF], [1.0, 2.0, 3.0]):
        for name in ("var_mean", "std_mean"):
            _, m = getattr(tl, name)(tl.tensor(v, device=backend.device))
            _, e = getattr(torch, name)(torch.tensor(v))
            assert_close(m, e, 0, 0, f"{name}{v}")
    x = [[1.0, INF], [2.0, 3.0], [INF, 0.0]]
    _, m = tl.var_mean(tl.tensor(x, device=backend.device), 1)
    assert_close(m, torch.var_mean(torch.tensor(x), 1)[1], 0, 0, "rows")
    check_op(lambda lib, t: lib.var_mean(t, 0)[1], A([[1.0, INF], [2.0, 3.0]]), gradcheck=False)


def test_count_nonzero(backend):
    x = tl.tensor([[1.0, 0.0, NAN], [0.0, 0.0, -2.0]], device=backend.device)
    assert int(tl.count_nonzero(x)) == 3
    assert to_np(x.count_nonzero(dim=0)).tolist() == [1, 0, 2]
    assert x.count_nonzero((0, 1)).dtype == tl.int64


def test_all_any_with_dim(backend):
    x = tl.tensor([[True, False], [True, True]], device=backend.device)
    assert to_np(x.all(dim=1)).tolist() == [False, True]
    assert to_np(tl.any(x, 0, keepdim=True)).tolist() == [[True, True]]


def test_aminmax_gradient_shared_by_ties_as_torch(backend):
    check_op(lambda lib, x: tuple(x.aminmax(dim=1)), A([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]),
             gradcheck=False)
    check_op(lambda lib, x: tuple(lib.aminmax(x)), A([[1.0, 3.0, 3.0], [1.0, 2.0, 0.5]]),
             gradcheck=False)
    with pytest.raises(RuntimeError, match="aminmax"):
        tl.aminmax(tl.zeros(0, device=backend.device))


# ----------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("fn", [
    lambda x: x.prod(1),
    lambda x: tl.cumprod(x, 0),
    lambda x: x.logcumsumexp(1),
    lambda x: tl.norm(x, 3, dim=1),
    lambda x: tl.cdist(x, x * 0.5 + 1.0, p=1.5),
    lambda x: tl.quantile(x, 0.3, dim=1),
], ids=["prod", "cumprod", "logcumsumexp", "norm3", "cdist", "quantile"])
def test_float64_gradcheck(backend, fn):
    x = tl.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), device=backend.device,
                  requires_grad=True)
    assert tl.autograd.gradcheck(fn, (x,)) is True


# ----------------------------------------------------------------------------- CuPy (host stand-in)
def test_scans_on_the_cupy_host_stand_in(host_cuda):
    """Every op here on the CuPy backend's code (device arrays that refuse host arrays) gives
    the CPU's values and gradients: no host array leaks into a device computation."""
    rng = np.random.default_rng(3)
    v = rng.standard_normal((3, 5))
    v[0, 1] = v[0, 3] = 0.0
    v[1, 2] = v[1, 4]
    q = np.array([0.2, 0.5])
    ops = [
        lambda x: x.prod(1) + x.prod(),
        lambda x: x.cumsum(0) * x.cumprod(1),
        lambda x: x.cummax(1).values + tl.cummin(x, 0)[0] + x.logcumsumexp(1),
        lambda x: x.norm(3, dim=1) + tl.dist(x, x * 2.0) + tl.cdist(x, x * 0.5).sum(1),
        lambda x: x.median(1).values + x.nanmedian() + tl.mode(x, 1).values,
        lambda x: tl.quantile(x, tl.tensor(q, device=x.device), dim=1).sum(0)
        + x.nanquantile(0.3, 1, interpolation="nearest"),
        lambda x: x.nansum(1) + x.nanmean(1) + tl.var_mean(x, 1)[0] + tl.std_mean(x, 1)[1],
        lambda x: x.aminmax(dim=1).max + x.count_nonzero(1),
    ]
    for fn in ops:
        results = []
        for device in ("cuda", "cpu"):
            x = tl.tensor(v, device=device, requires_grad=True)
            out = fn(x)
            g = np.linspace(-1.0, 1.0, out.numel()).reshape(tuple(out.shape))
            out.backward(tl.tensor(g, device=device))
            assert out.device == device
            results.append((to_np(out), to_np(x.grad)))
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
