"""Numba kernels of layer normalization over the trailing axes, forward and backward: one pass
over each row for each statistic, one for the outputs (NumPy's reference takes about six); and
of batch normalization per channel of an (N, C, M) array (see channels_forward_body).

The array is seen as ``(rows, n)``.  Forward: mean, then biased variance of each row (summed in
the array's dtype with reassociation, i.e. a vector of partial sums: as exact as the
reference's pairwise sums; float64 accumulators measured 1.4x slower in float32), rstd rounded
to the dtype, ``xhat = (x - mean) * rstd`` and ``y = xhat * w + b``.
Backward: ``gx = rstd * (gxh - mean(gxh) - xhat * mean(gxh * xhat))`` with ``gxh = g * w``,
and the column sums ``gw = sum(g * xhat)`` and ``gb = sum(g)`` over the rows (in the dtype over
blocks of 16 rows, vectorized, then in float64 per thread block, the thread blocks added in
order, rounded once: 1024x768 float32 backward 0.43 -> 0.34 ms against float64 per element).
The ``*_par`` functions split the rows in ``threads`` blocks on Numba's pool; the ``*_body``
ones run on the calling thread.  batch_norm's kernels (below) work per channel.
"""
import math

import numpy as np
from numba import njit, prange

from .numba_common import _split, rdot, rsum

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
def _backward_sums(gr, xr, w, has_w, gw_part, gb_part):
    """One row's sums(g * w) and sum(g * w * xhat) (returned) and its column terms g * xhat and
    g added to ``gw_part``/``gb_part``, all in the dtype (vectorized)."""
    a = gr.dtype.type(0)
    c = gr.dtype.type(0)
    for j in range(gr.shape[0]):
        t = gr[j] * w[j] if has_w else gr[j]
        a += t
        c += t * xr[j]
        gw_part[j] += gr[j] * xr[j]
        gb_part[j] += gr[j]
    return a, c


_FLUSH = 16  # rows: the column sums are added in the dtype over this many rows, then in float64


@njit(cache=True)
def backward_body(g, xhat, rstd, w, gx, gw, gb, r0, r1):
    """Rows [r0, r1): gx (rows, n); gw, gb (n,) (float64) accumulate these rows' column sums,
    summed in the dtype over blocks of _FLUSH rows (vectorized) and the blocks in float64."""
    n = g.shape[1]
    has_w = w.size > 0
    t = g.dtype.type
    gw_part, gb_part = np.zeros(n, g.dtype), np.zeros(n, g.dtype)
    for r in range(r0, r1):
        gr, xr, out = g[r], xhat[r], gx[r]
        a, c = _backward_sums(gr, xr, w, has_w, gw_part, gb_part)
        ma, mc = t(a / n), t(c / n)
        rs = rstd[r]
        for j in range(n):
            u = gr[j] * w[j] if has_w else gr[j]
            out[j] = ((u - ma) - xr[j] * mc) * rs
        if (r - r0) % _FLUSH == _FLUSH - 1 or r == r1 - 1:
            for j in range(n):
                gw[j] += gw_part[j]
                gb[j] += gb_part[j]
                gw_part[j] = 0
                gb_part[j] = 0


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


# -- batch_norm: statistics per channel over (N, *) of an (N, C, M) array, M the spatial size -----
@njit(cache=True, fastmath=_REASSOC)
def _sqdev(v, m):
    """sum((v - m) ** 2) in v's dtype (vectorized partial sums)."""
    q = v.dtype.type(0)
    for j in range(v.shape[0]):
        d = v[j] - m
        q += d * d
    return q


@njit(cache=True)
def channels_forward_body(x, w, b, eps, y, xhat, mean, var, c0, c1):
    """Channels [c0, c1) of x (N, C, M): mean, var (C,) over (N, M), each plane's sum in the
    dtype and the planes' sums added in float64; then xhat = (x - mean) * rstd and
    y = xhat * w + b (``w``/``b`` of size 0 stand for None)."""
    nb, _, m = x.shape
    cnt = nb * m
    has_w, has_b = w.size > 0, b.size > 0
    t = x.dtype.type
    for c in range(c0, c1):
        s = 0.0
        for n in range(nb):
            s += rsum(x[n, c])
        mc = t(s / cnt)
        mean[c] = mc
        q = 0.0
        for n in range(nb):
            q += _sqdev(x[n, c], mc)
        var[c] = t(q / cnt)
        rs = t(1.0 / math.sqrt(var[c] + eps))
        wc = w[c] if has_w else t(1)
        bc = b[c] if has_b else t(0)
        for n in range(nb):
            row, xh, yr = x[n, c], xhat[n, c], y[n, c]
            for j in range(m):
                h = (row[j] - mc) * rs
                xh[j] = h
                if has_w:
                    h = h * wc
                if has_b:
                    h = h + bc
                yr[j] = h


@njit(cache=True, parallel=True)
def channels_forward_par(x, w, b, eps, y, xhat, mean, var, threads):
    for i in prange(threads):
        c0, c1 = _split(x.shape[1], threads, i), _split(x.shape[1], threads, i + 1)
        channels_forward_body(x, w, b, eps, y, xhat, mean, var, c0, c1)


@njit(cache=True)
def channels_backward_body(g, xhat, rstd, w, gx, gw, gb, c0, c1):
    """Channels [c0, c1) of g, xhat (N, C, M): gb = sum(g), gw = sum(g * xhat) over (N, M)
    (float64, of the planes' sums in the dtype), and
    gx = rstd * w * (g - mean(g) - xhat * mean(g * xhat))."""
    nb, _, m = g.shape
    cnt = nb * m
    has_w = w.size > 0
    t = g.dtype.type
    for c in range(c0, c1):
        a = 0.0
        d = 0.0
        for n in range(nb):
            a += rsum(g[n, c])
            d += rdot(g[n, c], xhat[n, c])
        gb[c] = a
        gw[c] = d
        k = rstd[c] * w[c] if has_w else rstd[c]
        ma, md = t(a / cnt), t(d / cnt)
        for n in range(nb):
            gr, xr, o = g[n, c], xhat[n, c], gx[n, c]
            for j in range(m):
                o[j] = ((gr[j] - ma) - xr[j] * md) * k


@njit(cache=True, parallel=True)
def channels_backward_par(g, xhat, rstd, w, gx, gw, gb, threads):
    for i in prange(threads):
        c0, c1 = _split(g.shape[1], threads, i), _split(g.shape[1], threads, i + 1)
        channels_backward_body(g, xhat, rstd, w, gx, gw, gb, c0, c1)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _ok(x, *more):
    return (type(x) is np.ndarray and x.dtype in _FLOATS and x.flags.c_contiguous
            and all(m is None or (type(m) is np.ndarray and m.dtype == x.dtype
                                  and m.flags.c_contiguous) for m in more))


def _channels(x, axes, *params):
    """True when ``axes`` are batch_norm's (0, 2, ...) of a non-empty C-contiguous float x
    (N, C, *) and each param is None or of shape (C, 1, ...) or (C,) in x's dtype."""
    if not (x.ndim >= 2 and axes == (0,) + tuple(range(2, x.ndim)) and x.size and _ok(x)):
        return False
    c = x.shape[1]
    return all(p is None or (type(p) is np.ndarray and p.dtype == x.dtype
                             and p.flags.c_contiguous and p.size == c
                             and p.shape in ((c,), (c,) + (1,) * (x.ndim - 2))) for p in params)


def _trailing(x, axes, param):
    """True when ``axes`` are x's last dims (non-empty rows) and ``param`` is None or of their
    shape."""
    k = len(axes)
    return (k and x.ndim >= k and tuple(axes) == tuple(range(x.ndim - k, x.ndim))
            and x.size and (param is None or param.shape == x.shape[x.ndim - k:]))


class NumbaNorm:
    """The numba backend's normalize/normalize_backward over trailing axes (layer_norm, and
    group_norm's rows) and over batch_norm's axes (0, 2, ...) per channel: the kernels above;
    the NumPy reference for everything else (other axes, layouts, dtypes, broadcast weights)."""

    def normalize(self, x, axes, eps, weight=None, bias=None):
        axes = tuple(axes)
        if _channels(x, axes, weight, bias):
            return self._channels_normalize(x, axes, eps, weight, bias)
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

    def normalize_backward(self, g, xhat, rstd, weight, axes, param_axes=None):
        axes = tuple(axes)
        if param_axes is not None and tuple(param_axes) == axes and g.shape == xhat.shape \
                and _channels(g, axes, weight) and _ok(g, xhat, rstd) \
                and rstd.size == g.shape[1]:
            return self._channels_backward(g, xhat, rstd, weight)
        if param_axes is not None and tuple(param_axes) != tuple(range(g.ndim - len(axes))):
            return super().normalize_backward(g, xhat, rstd, weight, axes, param_axes)
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

    def _channels_normalize(self, x, axes, eps, weight, bias):
        """batch_norm's normalize: x (N, C, *) over (0, 2, ...), weight/bias (C, 1, ...)."""
        nb, c = x.shape[:2]
        x3 = x.reshape(nb, c, -1)
        kept = (1, c) + (1,) * (x.ndim - 2)
        xhat = self._new(x.shape, x.dtype)
        y = xhat if weight is None and bias is None else self._new(x.shape, x.dtype)
        mean, var = np.empty(kept, x.dtype), np.empty(kept, x.dtype)
        none = np.empty(0, x.dtype)
        w = none if weight is None else weight.reshape(-1)
        b = none if bias is None else bias.reshape(-1)
        self._run(x.size, channels_forward_par, channels_forward_body,
                  (x3, w, b, float(eps), y.reshape(x3.shape), xhat.reshape(x3.shape),
                   mean.reshape(-1), var.reshape(-1)), c)
        return y, xhat, mean, var

    def _channels_backward(self, g, xhat, rstd, weight):
        nb, c = g.shape[:2]
        g3 = g.reshape(nb, c, -1)
        gx = self._new(g.shape, g.dtype)
        gw, gb = np.empty(c), np.empty(c)  # (float64 sums, rounded once)
        w = np.empty(0, g.dtype) if weight is None else weight.reshape(-1)
        self._run(g.size, channels_backward_par, channels_backward_body,
                  (g3, xhat.reshape(g3.shape), rstd.reshape(-1), w, gx.reshape(g3.shape), gw,
                   gb), c)
        return gx, gw.astype(g.dtype), gb.astype(g.dtype)
