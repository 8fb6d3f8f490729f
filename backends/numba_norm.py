"""Numba kernels of layer normalization over the trailing axes, forward and backward: one pass
over each row for each statistic, one for the outputs (NumPy's reference takes about six).

The array is seen as ``(rows, n)``.  Forward: mean, then biased variance of each row (summed in
the array's dtype with reassociation, i.e. a vector of partial sums: as exact as the
reference's pairwise sums; float64 accumulators measured 1.4x slower in float32), rstd rounded
to the dtype, ``xhat = (x - mean) * rstd`` and ``y = xhat * w + b``.
Backward: ``gx = rstd * (gxh - mean(gxh) - xhat * mean(gxh * xhat))`` with ``gxh = g * w``,
and the column sums ``gw = sum(g * xhat)`` and ``gb = sum(g)`` over the rows (in float64, per
thread block, then added in block order, then rounded once).  The ``*_par`` functions split
the rows in ``threads`` blocks on Numba's pool; the ``*_body`` ones run on the calling thread.
"""
import math

import numpy as np
from numba import njit, prange

from .numba_kernels import _split

_REASSOC = {"reassoc"}  # sums may be reordered (vectorized); NaN and inf keep their meaning


@njit(cache=True, fastmath=_REASSOC)
def forward_body(x, w, b, eps, y, xhat, mean, var, r0, r1):
    """Rows [r0, r1) of x (rows, n): y, xhat (rows, n), mean, var (rows,).  ``w``/``b`` of
    size 0 stand for None."""
    n = x.shape[1]
    has_w, has_b = w.size > 0, b.size > 0
    scratch = np.empty(1, x.dtype)
    for r in range(r0, r1):
        row = x[r]
        scratch[0] = 0
        s = scratch[0]  # (sums in the dtype, 8 or 16 partial sums per vector: reassoc)
        for j in range(n):
            s += row[j]
        mean[r] = s / n
        m = mean[r]
        q = scratch[0] - scratch[0]
        for j in range(n):
            d = row[j] - m
            q += d * d
        var[r] = q / n
        scratch[0] = 1.0 / math.sqrt(var[r] + eps)
        rs = scratch[0]  # (in x's dtype: the loop below stays in it)
        xh, yr = xhat[r], y[r]
        for j in range(n):
            h = (row[j] - m) * rs
            xh[j] = h
            if has_w:
                h = h * w[j]
            if has_b:
                h = h + b[j]
            yr[j] = h


@njit(cache=True, parallel=True)
def forward_par(x, w, b, eps, y, xhat, mean, var, threads):
    for i in prange(threads):
        r0, r1 = _split(x.shape[0], threads, i), _split(x.shape[0], threads, i + 1)
        forward_body(x, w, b, eps, y, xhat, mean, var, r0, r1)


@njit(cache=True, fastmath=_REASSOC)
def backward_body(g, xhat, rstd, w, gx, gw, gb, r0, r1):
    """Rows [r0, r1): gx (rows, n); gw, gb (n,) accumulate these rows' column sums."""
    n = g.shape[1]
    has_w = w.size > 0
    scratch = np.empty(1, g.dtype)
    for r in range(r0, r1):
        gr, xr, out = g[r], xhat[r], gx[r]
        scratch[0] = 0
        a = scratch[0]
        c = scratch[0]
        for j in range(n):
            t = gr[j] * w[j] if has_w else gr[j]
            a += t
            c += t * xr[j]
            gw[j] += gr[j] * xr[j]
            gb[j] += gr[j]
        scratch[0] = a / n
        ma = scratch[0]
        scratch[0] = c / n
        mc = scratch[0]
        rs = rstd[r]
        for j in range(n):
            t = gr[j] * w[j] if has_w else gr[j]
            out[j] = ((t - ma) - xr[j] * mc) * rs


@njit(cache=True, parallel=True)
def backward_par(g, xhat, rstd, w, gx, gw, gb, threads):
    n = g.shape[1]
    gws = np.zeros((threads, n), gw.dtype)
    gbs = np.zeros((threads, n), gb.dtype)
    for i in prange(threads):
        r0, r1 = _split(g.shape[0], threads, i), _split(g.shape[0], threads, i + 1)
        backward_body(g, xhat, rstd, w, gx, gws[i], gbs[i], r0, r1)
    for i in range(threads):
        for j in range(n):
            gw[j] += gws[i, j]
            gb[j] += gbs[i, j]


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _ok(x, *more):
    return (type(x) is np.ndarray and x.dtype in _FLOATS and x.flags.c_contiguous
            and all(m is None or (type(m) is np.ndarray and m.dtype == x.dtype
                                  and m.flags.c_contiguous) for m in more))


def _trailing(x, axes, param):
    """True when ``axes`` are x's last dims (non-empty rows) and ``param`` is None or of their
    shape."""
    k = len(axes)
    return (k and x.ndim >= k and tuple(axes) == tuple(range(x.ndim - k, x.ndim))
            and x.size and (param is None or param.shape == x.shape[x.ndim - k:]))


class NumbaNorm:
    """The numba backend's normalize/normalize_backward over trailing axes (layer_norm): the
    kernels above; the NumPy reference for everything else (batch_norm's axes, other layouts,
    dtypes, broadcast weights)."""

    def normalize(self, x, axes, eps, weight=None, bias=None):
        axes = tuple(axes)
        if not (_ok(x, weight, bias) and _trailing(x, axes, weight) and _trailing(x, axes, bias)):
            return super().normalize(x, axes, eps, weight, bias)
        n = 1
        for a in axes:
            n *= x.shape[a]
        x2 = x.reshape(-1, n)
        rows = x2.shape[0]
        kept = x.shape[:x.ndim - len(axes)] + (1,) * len(axes)
        xhat = self._new(x.shape, x.dtype)
        y = xhat if weight is None and bias is None else self._new(x.shape, x.dtype)
        mean, var = np.empty(kept, x.dtype), np.empty(kept, x.dtype)
        none = np.empty(0, x.dtype)
        w = none if weight is None else weight.reshape(-1)
        b = none if bias is None else bias.reshape(-1)
        self._run(x.size, forward_par, forward_body,
                  (x2, w, b, float(eps), y.reshape(rows, n), xhat.reshape(rows, n),
                   mean.reshape(-1), var.reshape(-1)), rows)
        return y, xhat, mean, var

    def normalize_backward(self, g, xhat, rstd, weight, axes):
        axes = tuple(axes)
        if not (_ok(g, xhat, rstd, weight) and g.shape == xhat.shape
                and _trailing(g, axes, weight) and rstd.size * math.prod(
                    g.shape[a] for a in axes) == g.size):
            return super().normalize_backward(g, xhat, rstd, weight, axes)
        n = math.prod(g.shape[a] for a in axes)
        rows = g.size // n
        gx = self._new(g.shape, g.dtype)
        gw, gb = np.zeros(n), np.zeros(n)  # (float64 sums, rounded once)
        w = np.empty(0, g.dtype) if weight is None else weight.reshape(-1)
        self._run(g.size, backward_par, backward_body,
                  (g.reshape(rows, n), xhat.reshape(rows, n), rstd.reshape(-1), w,
                   gx.reshape(rows, n), gw, gb), rows)
        pshape = g.shape[g.ndim - len(axes):]
        return gx, gw.astype(g.dtype).reshape(pshape), gb.astype(g.dtype).reshape(pshape)
