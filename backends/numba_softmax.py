"""The numba backend's softmax, log_softmax and cross-entropy rows.  A mixin of NumbaBackend."""
import numpy as np
from numba import njit, prange

from . import numba_kernels as K
from .numba_common import _FLOATS, _fits
from .numba_kernels import _split

_INT64 = np.dtype(np.int64)


@njit(cache=True, fastmath={"reassoc"})
def softmax_backward_body(g, y, out, log, r0, r1):
    """Rows [r0, r1) of (rows, n) arrays: out = y * (g - sum(g * y)), or with ``log``
    g - y * sum(g) (``y`` then exp of log_softmax's output: the backend's vectorized exp
    beats a call per element here); the sum reassociated (vectorized), in the arrays' dtype."""
    n = g.shape[1]
    for r in range(r0, r1):
        gr, yr, o = g[r], y[r], out[r]
        s = gr[0] - gr[0]  # (a zero of the dtype)
        if log:
            for j in range(n):
                s += gr[j]
            for j in range(n):
                o[j] = gr[j] - yr[j] * s
        else:
            for j in range(n):
                s += gr[j] * yr[j]
            for j in range(n):
                o[j] = yr[j] * (gr[j] - s)


@njit(cache=True, parallel=True)
def softmax_backward_par(g, y, out, log, threads):
    for i in prange(threads):
        softmax_backward_body(g, y, out, log, _split(g.shape[0], threads, i),
                              _split(g.shape[0], threads, i + 1))


class NumbaSoftmax:
    """Softmax, log_softmax and cross-entropy along an axis (a mixin before the reference)."""

    # -- softmax, log_softmax, cross-entropy: one pass per row ---------------------------------
    def _rows(self, x, axis, log):
        x2 = x.reshape(-1, x.shape[-1])
        out = self._new(x2.shape, x2.dtype)
        self._run(x.size, K.softmax_rows_par, K.softmax_rows_body, (x2, out, log), x2.shape[0])
        return out.reshape(x.shape)

    SOFTMAX_MAX = 1 << 12  # elements: above this NumPy's SIMD exp beats one fused pass

    def _last_axis(self, x, axis):
        return (x.ndim and axis in (-1, x.ndim - 1) and x.shape[-1] and x.size <= self.SOFTMAX_MAX
                and _fits(x))

    def softmax(self, x, axis):
        if not self._last_axis(x, axis):
            return super().softmax(x, axis)
        return self._rows(x, axis, False)

    def log_softmax(self, x, axis):
        if not self._last_axis(x, axis):
            return super().log_softmax(x, axis)
        return self._rows(x, axis, True)

    def log_softmax_pick(self, x, target):
        if (x.ndim != 2 or x.shape[1] == 0 or x.size > self.SOFTMAX_MAX or not _fits(x)
                or type(target) is not np.ndarray
                or target.dtype != np.int64 or target.shape != x.shape[:1]):
            return super().log_softmax_pick(x, target)
        logp = np.empty_like(x)
        picked = np.empty(x.shape[0], x.dtype)
        if not K.log_softmax_pick(x, target, logp, picked):
            raise IndexError(f"log_softmax_pick: a target lies outside [0, {x.shape[1] - 1}]")
        return logp, picked

    def softmax_backward(self, g, y, axis, log=False):
        if not (type(g) is np.ndarray and type(y) is np.ndarray and g.dtype in _FLOATS
                and y.dtype == g.dtype and g.shape == y.shape and g.ndim and g.size
                and axis in (-1, g.ndim - 1) and g.flags.c_contiguous and y.flags.c_contiguous):
            return super().softmax_backward(g, y, axis, log)
        n = g.shape[-1]
        out = self._new(g.shape, g.dtype)
        self._run(g.size, softmax_backward_par, softmax_backward_body,
                  (g.reshape(-1, n), (self.exp(y) if log else y).reshape(-1, n),
                   out.reshape(-1, n), bool(log)),
                  g.size // n)
        return out
