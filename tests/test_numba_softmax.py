"""The numba backend's softmax, log_softmax, logsumexp and cross-entropy kernels
(backends/numba_softmax.py) against the NumPy reference, and through the ops against PyTorch.

float32 goes through numba_math's exp/log polynomials (at most 1 ulp from NumPy's) and sums in
vectorized partial sums, so float32 results are compared within a few ulps; float64 (libm, the
same as NumPy's) within 1e-14.  Each kernel runs once on the calling thread and once on the
pool (``PARALLEL_MIN`` forced low).
"""
import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import backends

from helpers import strided

FLOATS = [np.float32, np.float64]
TOL = {np.dtype(np.float32): dict(rtol=4e-6, atol=2e-7),
       np.dtype(np.float64): dict(rtol=1e-14, atol=1e-15)}
# rows with every special value: a NaN, a +inf, a -inf, all -inf, huge and tiny spreads
SPECIAL = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
                    [np.nan, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, np.nan],
                    [-np.inf, -np.inf, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                    [np.inf, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                    [-np.inf] * 9,
                    [np.inf, -np.inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                    [1000.0, -1000.0, 0.0, 80.0, -80.0, 100.0, 0.0, 0.0, 1e-30]])


@pytest.fixture
def ref():
    return backends.get("numpy")


def _close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype,
                                                                 want.shape, want.dtype)
    np.testing.assert_allclose(got, want, equal_nan=True, **TOL[want.dtype])


def _cases(rng, dtype):
    return [SPECIAL.astype(dtype), (4 * rng.standard_normal((3, 4, 37))).astype(dtype),
            rng.standard_normal((1, 1)).astype(dtype), rng.standard_normal((2, 1000)).astype(dtype),
            rng.standard_normal(13).astype(dtype)]


# -- the kernels against the reference -----------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_rows_match_reference(nb, ref, rng, dtype):
    with np.errstate(invalid="ignore", over="ignore"):
        for x in _cases(rng, dtype):
            for name in ("softmax", "log_softmax"):
                _close(getattr(nb, name)(x, -1), getattr(ref, name)(x, -1))
            for keep in (False, True):
                _close(nb.logsumexp(x, (x.ndim - 1,), keep), ref.logsumexp(x, (x.ndim - 1,), keep))
            y = ref.logsumexp(x, (x.ndim - 1,), True)
            gy = rng.standard_normal(y.shape).astype(dtype)
            _close(nb.logsumexp_backward(gy, x, y), ref.logsumexp_backward(gy, x, y))
            if x.ndim == 3:  # a leading axis reduced: the reference
                y0 = ref.logsumexp(x, (0,), True)
                np.testing.assert_array_equal(nb.logsumexp_backward(y0, x, y0),
                                              ref.logsumexp_backward(y0, x, y0))
            if x.ndim == 3:  # trailing axes together, in any order; a trailing size-1 axis
                _close(nb.logsumexp(x, (2, 1)), ref.logsumexp(x, (1, 2)))
                x1 = x[..., None]
                for name in ("softmax", "log_softmax"):
                    _close(getattr(nb, name)(x1, 2), getattr(ref, name)(x1, 2))
            y = ref.log_softmax(x, -1)
            g = rng.standard_normal(x.shape).astype(dtype)
            for log in (False, True):
                yy = y if log else np.exp(y)
                _close(nb.softmax_backward(g, yy, -1, log), ref.softmax_backward(g, yy, -1, log))


def test_off_the_kernels_path_is_the_reference(nb, ref, rng):
    """Other axes, strided, empty, float16 and integer inputs: the reference's results."""
    x = rng.standard_normal((4, 6, 5))
    cases = [(x, 1), (x, 0), (strided(x), 2), (x.astype(np.float16), 2), (np.zeros((3, 0)), 1),
             (np.zeros((0, 3)), 1)]
    for a, axis in cases:
        for name in ("softmax", "log_softmax"):
            got, want = getattr(nb, name)(a, axis), getattr(ref, name)(a, axis)
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        with np.errstate(divide="ignore"):
            got, want = nb.logsumexp(a, (axis,)), ref.logsumexp(a, (axis,))
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(nb.logsumexp(x, (0, 2)), ref.logsumexp(x, (0, 2)))
    assert nb.logsumexp(np.zeros((2, 0)), (1,)).tolist() == [-np.inf, -np.inf]


@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_pieces_match_reference(nb, ref, rng, dtype):
    for shape in [(1, 1), (6, 1), (37, 10), (3, 1000)]:
        x = (3 * rng.standard_normal(shape)).astype(dtype)
        t = rng.integers(0, shape[1], shape[0])
        logp, picked = nb.log_softmax_pick(x, t)
        want_logp, want_picked = ref.log_softmax_pick(x, t)
        _close(logp, want_logp)
        _close(picked, want_picked)
        per_row = rng.standard_normal((shape[0], 1)).astype(dtype)
        for scale in (0.25, np.asarray(0.5, dtype), dtype(2.0), per_row):
            _close(nb.cross_entropy_grad(want_logp, t, scale),
                   ref.cross_entropy_grad(want_logp, t, scale))
        bad = t.copy()
        bad[-1] = shape[1]
        with pytest.raises(IndexError):
            nb.log_softmax_pick(x, bad)
    x = SPECIAL.astype(dtype)
    t = np.arange(8) % 9
    with np.errstate(invalid="ignore"):
        for got, want in zip(nb.log_softmax_pick(x, t), ref.log_softmax_pick(x, t)):
            _close(got, want)
        logp = ref.log_softmax(x, 1)
        _close(nb.cross_entropy_grad(logp, t, 1.0), ref.cross_entropy_grad(logp, t, 1.0))


# -- through the ops, against PyTorch ------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_special_values_match_torch(backend, dtype):
    """softmax, log_softmax and logsumexp of rows with NaN, inf, -inf and all -inf."""
    x = SPECIAL.astype(dtype)
    for name in ("softmax", "log_softmax"):
        got = getattr(tl.tensor(x), name)(-1).numpy()
        want = getattr(torch.tensor(x), name)(-1).numpy()
        np.testing.assert_allclose(got, want, equal_nan=True, **TOL[np.dtype(dtype)])
    for dim in (-1, 0, (0, 1)):
        got, want = tl.tensor(x).logsumexp(dim).numpy(), torch.tensor(x).logsumexp(dim).numpy()
        np.testing.assert_allclose(got, want, equal_nan=True, **TOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_matches_torch(backend, rng, dtype):
    x = (3 * rng.standard_normal((3, 5, 7))).astype(dtype)
    for dim, keep in [(-1, False), (1, True), ((1, 2), False), (0, False), ((0, 1, 2), False)]:
        g = rng.standard_normal(torch.tensor(x).logsumexp(dim, keepdim=keep).shape).astype(dtype)
        outs = []
        for lib in (tl, torch):
            t = lib.tensor(x, requires_grad=True)
            y = t.logsumexp(dim, keepdim=keep)
            y.backward(lib.tensor(g))
            outs.append((y.detach().numpy(), t.grad.numpy()))
        for got, want in zip(*outs):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, **TOL[np.dtype(dtype)])
    for shape, dim in [((0, 4), 1), ((4, 0), 1), ((), 0)]:
        a = rng.standard_normal(shape).astype(dtype)
        np.testing.assert_array_equal(tl.tensor(a).logsumexp(dim).numpy(),
                                      torch.tensor(a).logsumexp(dim).numpy())


@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_matches_torch(backend, rng, dtype):
    """The one-pass forward and backward, and the variants that keep the tensor ops."""
    x = (2 * rng.standard_normal((9, 11))).astype(dtype)
    t = rng.integers(0, 11, 9)
    t[2] = 3
    w = rng.random(11).astype(dtype)
    variants = [{}, dict(reduction="sum"), dict(reduction="none"), dict(weight=w),
                dict(ignore_index=3), dict(label_smoothing=0.1)]
    for kw in variants:
        outs = []
        for lib in (tl, torch):
            opts = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
            xt = lib.tensor(x, requires_grad=True)
            loss = lib.nn.functional.cross_entropy(xt, lib.tensor(t), **opts)
            (loss.sum() * 3).backward()
            outs.append((loss.detach().numpy(), xt.grad.numpy()))
        for got, want in zip(*outs):
            np.testing.assert_allclose(got, want, **TOL[np.dtype(dtype)], err_msg=str(kw))
