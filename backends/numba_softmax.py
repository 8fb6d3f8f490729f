"""The numba backend's softmax, log_softmax, cross-entropy and logsumexp rows.  A mixin of
NumbaBackend.

Each row (the last axis of a C-contiguous float32/float64 array, seen as ``(rows, n)``) is read
in passes that stay in the cache: its max (eight running maxima, which LLVM widens), then
``exp(x - max)`` written out (float32: numba_math's vectorized polynomial, at most 1 ulp from
NumPy's; float64: libm, as NumPy's), then the sum of those (reassociated: vectorized partial
sums, in the dtype, in a function of its own so that no reassociation reaches exp's
polynomial), then the scaling.  The rows are split in blocks over Numba's pool (``self._run``).

NaN and inf behave as in the reference: the max here skips a NaN (a comparison with NaN is
false), but a NaN anywhere makes the row's exp sum NaN, so the whole row is NaN as the
reference's; a +inf (inf - inf) or a row of -inf likewise gives NaN.  logsumexp takes 0 for a
non-finite max, as the reference, so it gives inf for a +inf, -inf for a row of -inf.

Along another axis (one with a trailing size above 1) the reference runs: a kernel over
``(before, n, after)`` tiles with the ``after`` positions as vector lanes measured no faster
than NumPy's passes here ((32, 64, 1024) float32 dim 1: 14.4 ms against 18.5, (8, 21, 64, 64):
1.81 against 1.71, (1000, 4096) dim 0: 33 against 30; load 11 on 2 cores).
"""
import math

import numpy as np
from numba import njit, prange

from . import numba_math as M
from .numba_common import _fits, _split, rdot, rsum

_INT64 = np.dtype(np.int64)


# -- the passes over one row ----------------------------------------------------------------------
@njit(cache=True, inline="always")
def _rowmax(xr):
    """The max of a non-empty row, NaN skipped unless first (eight running maxima: widened)."""
    n = xr.shape[0]
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = xr[0]
    n8 = n - n % 8
    for j in range(0, n8, 8):
        v = xr[j]
        m0 = v if v > m0 else m0
        v = xr[j + 1]
        m1 = v if v > m1 else m1
        v = xr[j + 2]
        m2 = v if v > m2 else m2
        v = xr[j + 3]
        m3 = v if v > m3 else m3
        v = xr[j + 4]
        m4 = v if v > m4 else m4
        v = xr[j + 5]
        m5 = v if v > m5 else m5
        v = xr[j + 6]
        m6 = v if v > m6 else m6
        v = xr[j + 7]
        m7 = v if v > m7 else m7
    for j in range(n8, n):
        v = xr[j]
        m0 = v if v > m0 else m0
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    m4 = m5 if m5 > m4 else m4
    m6 = m7 if m7 > m6 else m6
    m0 = m2 if m2 > m0 else m0
    m4 = m6 if m6 > m4 else m4
    return m4 if m4 > m0 else m0


@njit(cache=True)
def _exp_shifted(xr, m, out):
    """out = exp(xr - m) (vectorized for float32)."""
    for j in range(xr.shape[0]):
        out[j] = M.exp(xr[j] - m)


@njit(cache=True)
def _exp_scaled(a, s, out):
    """out = exp(a) * s."""
    for j in range(a.shape[0]):
        out[j] = M.exp(a[j]) * s


@njit(cache=True)
def _exp(v):
    return M.exp(v)


@njit(cache=True)
def _log_softmax_backward_row(g, y, s, out):
    """out = g - exp(y) * s."""
    for j in range(g.shape[0]):
        out[j] = g[j] - M.exp(y[j]) * s


# -- softmax and log_softmax along the last axis --------------------------------------------------
@njit(cache=True)
def softmax_rows_body(x, out, log, r0, r1):
    """Rows [r0, r1) of out = softmax(x) (log_softmax when ``log``) over x's last axis: the
    reference's arithmetic, ``e / sum(e)`` and ``(x - m) - log(sum(e))``."""
    for r in range(r0, r1):
        xr, o = x[r], out[r]
        m = _rowmax(xr)
        _exp_shifted(xr, m, o)
        s = rsum(o)
        if log:
            lse = M.log(s)
            for j in range(xr.shape[0]):
                o[j] = (xr[j] - m) - lse
        else:
            for j in range(xr.shape[0]):
                o[j] = o[j] / s


@njit(cache=True, parallel=True)
def softmax_rows_par(x, out, log, threads):
    parts = min(threads, x.shape[0])
    for i in prange(parts):
        softmax_rows_body(x, out, log, _split(x.shape[0], parts, i),
                          _split(x.shape[0], parts, i + 1))


# -- the cross-entropy pieces: log_softmax with the target's pick, and its gradient -------------
@njit(cache=True)
def log_softmax_pick_body(x, target, logp, picked, r0, r1):
    """Rows [r0, r1): logp = log_softmax(x), picked[r] = logp[r, target[r]] (targets checked
    by the caller)."""
    softmax_rows_body(x, logp, True, r0, r1)
    for r in range(r0, r1):
        picked[r] = logp[r, target[r]]


@njit(cache=True, parallel=True)
def log_softmax_pick_par(x, target, logp, picked, threads):
    parts = min(threads, x.shape[0])
    for i in prange(parts):
        log_softmax_pick_body(x, target, logp, picked, _split(x.shape[0], parts, i),
                              _split(x.shape[0], parts, i + 1))


@njit(cache=True)
def _targets_ok(target, c):
    for r in range(target.shape[0]):
        if target[r] < 0 or target[r] >= c:
            return False
    return True


@njit(cache=True)
def cross_entropy_grad_body(logp, target, scale, out, r0, r1):
    """Rows [r0, r1): out = (exp(logp) - onehot(target)) * scale, ``scale`` one value (size
    1) or one per row; the reference's arithmetic (``e * s``, ``(e - 1) * s`` at the target)."""
    per_row = scale.shape[0] != 1
    for r in range(r0, r1):
        lr, o = logp[r], out[r]
        s = scale[r] if per_row else scale[0]
        _exp_scaled(lr, s, o)
        t = target[r]
        o[t] = (_exp(lr[t]) - 1) * s


@njit(cache=True, parallel=True)
def cross_entropy_grad_par(logp, target, scale, out, threads):
    parts = min(threads, logp.shape[0])
    for i in prange(parts):
        cross_entropy_grad_body(logp, target, scale, out, _split(logp.shape[0], parts, i),
                                _split(logp.shape[0], parts, i + 1))


# -- softmax's backward ---------------------------------------------------------------------------
@njit(cache=True)
def softmax_backward_body(g, y, out, log, r0, r1):
    """Rows [r0, r1) of (rows, n) arrays: out = y * (g - sum(g * y)), or with ``log``
    g - exp(y) * sum(g); the sums reassociated (vectorized), in the arrays' dtype."""
    n = g.shape[1]
    for r in range(r0, r1):
        gr, yr, o = g[r], y[r], out[r]
        if log:
            _log_softmax_backward_row(gr, yr, rsum(gr), o)
        else:
            s = rdot(gr, yr)
            for j in range(n):
                o[j] = yr[j] * (gr[j] - s)


@njit(cache=True, parallel=True)
def softmax_backward_par(g, y, out, log, threads):
    parts = min(threads, g.shape[0])
    for i in prange(parts):
        softmax_backward_body(g, y, out, log, _split(g.shape[0], parts, i),
                              _split(g.shape[0], parts, i + 1))


# -- logsumexp along the last axis ----------------------------------------------------------------
_CHUNK = 512  # exp(x - max) of this many elements at a time, in a scratch row (in the cache)


@njit(cache=True)
def logsumexp_rows_body(x, out, r0, r1):
    """out[r] = log(sum(exp(x[r] - m))) + m for rows [r0, r1), m the row's max, or 0 where
    that is not finite (as the reference)."""
    n = x.shape[1]
    scratch = np.empty(min(n, _CHUNK), x.dtype)
    for r in range(r0, r1):
        xr = x[r]
        m = _rowmax(xr)
        if not math.isfinite(m):
            m = xr.dtype.type(0)
        s = x.dtype.type(0)
        for c0 in range(0, n, _CHUNK):
            c1 = min(n, c0 + _CHUNK)
            part = scratch[:c1 - c0]
            _exp_shifted(xr[c0:c1], m, part)
            s += rsum(part)
        out[r] = M.log(s) + m


@njit(cache=True, parallel=True)
def logsumexp_rows_par(x, out, threads):
    parts = min(threads, x.shape[0])
    for i in prange(parts):
        logsumexp_rows_body(x, out, _split(x.shape[0], parts, i), _split(x.shape[0], parts, i + 1))


@njit(cache=True)
def logsumexp_backward_body(g, x, y, out, r0, r1):
    """Rows [r0, r1) of x, out (rows, n) with g, y (rows,): out = g * exp(x - y)."""
    for r in range(r0, r1):
        _exp_shifted(x[r], y[r], out[r])
        _scale(g[r], out[r])


@njit(cache=True)
def _scale(s, o):
    for j in range(o.shape[0]):
        o[j] = s * o[j]


@njit(cache=True, parallel=True)
def logsumexp_backward_par(g, x, y, out, threads):
    parts = min(threads, x.shape[0])
    for i in prange(parts):
        logsumexp_backward_body(g, x, y, out, _split(x.shape[0], parts, i),
                                _split(x.shape[0], parts, i + 1))


class NumbaSoftmax:
    """Softmax, log_softmax, cross-entropy and logsumexp along an axis (a mixin before the
    reference)."""

    def _rows(self, x, n, log):
        """Along rows of ``n`` contiguous elements."""
        x2 = x.reshape(-1, n)
        out = self._new(x.shape, x.dtype)
        self._run(x.size, softmax_rows_par, softmax_rows_body, (x2, out.reshape(x2.shape), log),
                  x2.shape[0])
        return out

    def _along(self, x, axis, log):
        if not (x.ndim and x.size and -x.ndim <= axis < x.ndim and _fits(x)):
            return None
        axis %= x.ndim
        if math.prod(x.shape[axis + 1:]) != 1:  # another axis: the reference (see the top)
            return None
        return self._rows(x, x.shape[axis], log)

    def softmax(self, x, axis):
        out = self._along(x, axis, False)
        return super().softmax(x, axis) if out is None else out

    def log_softmax(self, x, axis):
        out = self._along(x, axis, True)
        return super().log_softmax(x, axis) if out is None else out

    def log_softmax_pick(self, x, target):
        if (x.ndim != 2 or x.shape[1] == 0 or x.shape[0] == 0 or not _fits(x)
                or type(target) is not np.ndarray or target.dtype != _INT64
                or target.shape != x.shape[:1]):
            return super().log_softmax_pick(x, target)
        target = np.ascontiguousarray(target)
        if not _targets_ok(target, x.shape[1]):
            raise IndexError(f"log_softmax_pick: a target lies outside [0, {x.shape[1] - 1}]")
        logp = self._new(x.shape, x.dtype)
        picked = np.empty(x.shape[0], x.dtype)
        self._run(x.size, log_softmax_pick_par, log_softmax_pick_body, (x, target, logp, picked),
                  x.shape[0])
        return logp, picked

    def cross_entropy_grad(self, logp, target, scale):
        s = None
        if (logp.ndim == 2 and logp.size and _fits(logp) and type(target) is np.ndarray
                and target.dtype == _INT64 and target.shape == logp.shape[:1]):
            if isinstance(scale, (int, float)) and not isinstance(scale, bool):
                s = np.full(1, scale, logp.dtype)  # (rounded to the dtype, as NumPy does)
            elif (isinstance(scale, (np.ndarray, np.generic)) and scale.dtype == logp.dtype
                  and (scale.size == 1 or scale.shape == (logp.shape[0], 1))):
                s = np.ascontiguousarray(scale).reshape(-1)  # (a NumPy scalar too)
        t = None if s is None else np.ascontiguousarray(target)
        if t is None or not _targets_ok(t, logp.shape[1]):
            return super().cross_entropy_grad(logp, target, scale)
        out = self._new(logp.shape, logp.dtype)
        self._run(logp.size, cross_entropy_grad_par, cross_entropy_grad_body,
                  (logp, t, s, out), logp.shape[0])
        return out

    def softmax_backward(self, g, y, axis, log=False):
        if not (g.ndim and g.size and axis in (-1, g.ndim - 1) and _fits(g, y)
                and g.shape == y.shape):
            return super().softmax_backward(g, y, axis, log)
        n = g.shape[-1]
        out = self._new(g.shape, g.dtype)
        self._run(g.size, softmax_backward_par, softmax_backward_body,
                  (g.reshape(-1, n), y.reshape(-1, n), out.reshape(-1, n), bool(log)),
                  g.size // n)
        return out

    def logsumexp(self, x, axes, keepdims=False):
        axes = tuple(a % x.ndim for a in axes) if x.ndim else ()
        k = len(axes)
        if not (k and x.size and sorted(axes) == list(range(x.ndim - k, x.ndim)) and _fits(x)):
            return super().logsumexp(x, axes, keepdims)
        lead = x.shape[:x.ndim - k]
        x2 = x.reshape(-1, math.prod(x.shape[x.ndim - k:]))
        out = np.empty(x2.shape[0], x.dtype)
        self._run(x.size, logsumexp_rows_par, logsumexp_rows_body, (x2, out), x2.shape[0])
        return out.reshape(lead + (1,) * k if keepdims else lead)

    def logsumexp_backward(self, g, x, y):
        lead = 0  # (g, y: x's shape with the reduced axes 1; they must trail)
        while lead < x.ndim and g.shape[lead] == x.shape[lead] != 1:
            lead += 1
        if not (x.size and _fits(x, g, y) and g.shape == y.shape and g.ndim == x.ndim
                and lead < x.ndim and all(n == 1 for n in g.shape[lead:])
                and g.shape[:lead] == x.shape[:lead]):
            return super().logsumexp_backward(g, x, y)
        x2 = x.reshape(-1, math.prod(x.shape[lead:]))
        out = self._new(x.shape, x.dtype)
        self._run(x.size, logsumexp_backward_par, logsumexp_backward_body,
                  (g.reshape(-1), x2, y.reshape(-1), out.reshape(x2.shape)), x2.shape[0])
        return out
