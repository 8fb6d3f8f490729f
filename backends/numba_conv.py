"""Numba kernels for Conv2d and MaxPool2d: im2col, col2im, max pooling forward and backward,
and the per-channel sum of a convolution's bias gradient.

Images arrive as (N, C, H, W) arrays (pooling: as (P, H, W) planes, P = N * C); every plane,
and every block of columns, is independent, so the ``*_par`` drivers hand whole planes (or
blocks) to threads.  The same
layout and conventions as the reference (backends/base.py, "nn: convolution and pooling"):
window element [i, j] of output position [y, x] is image[y*sh + i*dh, x*sw + j*dw].
"""
import numpy as np
from numba import njit, prange

from .numba_common import _split


# Small planes make short rows (a 4x4 output row is 4 elements), so the loops below work on
# flat views with running offsets and unsigned indices: 6-D index arithmetic and wraparound
# checks per element cost more than the copy itself.  A block is one (OH, OW) piece of the
# columns, cols[n, c, i, j] (or cols[c, i, j, n] with ``inner``: the batch inside the kernel
# position, the (C*kh*kw, N*OH*OW) matrix of a convolution); zero padding (top, left) is
# handled row by row: a row outside the plane is zeros, a row inside copies the span of output
# positions whose input column lies in the plane.
@njit(cache=True, inline="always")
def _block(b, n, c, kh, kw, inner):
    """(n, c, i, j) of block ``b``."""
    if inner:
        q, ni = b // n, b % n
        return ni, q // (kh * kw), q // kw % kh, q % kw
    q = b // (kh * kw)
    return q // c, q % c, b // kw % kh, b % kw


@njit(cache=True, inline="always")
def _span(ow, sw, off, w):
    """The output columns xo with 0 <= xo*sw + off < w: (lo, hi), hi >= lo."""
    lo = 0 if off >= 0 else (-off + sw - 1) // sw
    hi = 0 if off >= w else min(ow, (w - 1 - off) // sw + 1)
    return min(lo, ow), max(hi, min(lo, ow))


@njit(cache=True, inline="always")
def _im2col_blocks(x, kh, kw, sh, sw, dh, dw, top, left, oh, ow, inner, out, b0, b1):
    n, c, h, w = x.shape
    xf, of = x.reshape(-1), out.reshape(-1)
    usw = np.uint64(sw)
    o = np.uint64(b0 * oh * ow)
    for b in range(b0, b1):
        ni, ci, i, j = _block(b, n, c, kh, kw, inner)
        plane = (ni * c + ci) * h * w
        off = j * dw - left
        lo, hi = _span(ow, sw, off, w)
        for y in range(oh):
            r = y * sh + i * dh - top
            if r < 0 or r >= h:
                for xo in range(np.uint64(ow)):
                    of[o + xo] = 0
            else:
                for xo in range(np.uint64(lo)):
                    of[o + xo] = 0
                src = np.uint64(plane + r * w + off + lo * sw) - np.uint64(lo) * usw
                for xo in range(np.uint64(lo), np.uint64(hi)):
                    of[o + xo] = xf[src + xo * usw]
                for xo in range(np.uint64(hi), np.uint64(ow)):
                    of[o + xo] = 0
            o += np.uint64(ow)


@njit(cache=True)
def im2col_body(x, kh, kw, sh, sw, dh, dw, top, left, oh, ow, inner, out, b0, b1):
    """Blocks b0..b1 of the columns ``out`` (flat) of the (N, C, H, W) image ``x``:
    cols[n, c, i, j, y, x] = x[n, c, y*sh + i*dh - top, x*sw + j*dw - left], 0 outside."""
    if sw == 1:  # the usual stride, a constant in this copy: contiguous rows
        _im2col_blocks(x, kh, kw, sh, 1, dh, dw, top, left, oh, ow, inner, out, b0, b1)
    else:
        _im2col_blocks(x, kh, kw, sh, sw, dh, dw, top, left, oh, ow, inner, out, b0, b1)


@njit(cache=True, parallel=True)
def im2col_par(x, kh, kw, sh, sw, dh, dw, top, left, oh, ow, inner, out, threads):
    n = x.shape[0] * x.shape[1] * kh * kw
    parts = min(threads, n)
    for t in prange(parts):
        im2col_body(x, kh, kw, sh, sw, dh, dw, top, left, oh, ow, inner, out,
                    _split(n, parts, t), _split(n, parts, t + 1))


@njit(cache=True, inline="always")
def _col2im_planes(cols, kh, kw, oh, ow, sh, sw, dh, dw, top, left, inner, out, p0, p1):
    n, c, h, w = out.shape
    cf, of = cols.reshape(-1), out.reshape(-1)
    usw = np.uint64(sw)
    for p in range(p0, p1):
        ni, ci = p // c, p % c
        plane = np.uint64(p * h * w)
        for q in range(np.uint64(h * w)):
            of[plane + q] = 0
        for i in range(kh):
            for j in range(kw):
                b = ((ci * kh + i) * kw + j) * n + ni if inner else (p * kh + i) * kw + j
                off = j * dw - left
                lo, hi = _span(ow, sw, off, w)
                o = np.uint64(b * oh * ow)
                for y in range(oh):
                    r = y * sh + i * dh - top
                    if 0 <= r < h:
                        dst = plane + np.uint64(r * w + off + lo * sw) - np.uint64(lo) * usw
                        for xo in range(np.uint64(lo), np.uint64(hi)):
                            of[dst + xo * usw] += cf[o + xo]
                    o += np.uint64(ow)


@njit(cache=True)
def col2im_body(cols, kh, kw, oh, ow, sh, sw, dh, dw, top, left, inner, out, p0, p1):
    """The adjoint of im2col on planes p0..p1 of the (N, C, H, W) ``out`` (zeroed here): every
    window column added back, kernel position by kernel position (the reference's order of
    additions); what falls in the padding is dropped."""
    if sw == 1:
        _col2im_planes(cols, kh, kw, oh, ow, sh, 1, dh, dw, top, left, inner, out, p0, p1)
    else:
        _col2im_planes(cols, kh, kw, oh, ow, sh, sw, dh, dw, top, left, inner, out, p0, p1)


@njit(cache=True, parallel=True)
def col2im_par(cols, kh, kw, oh, ow, sh, sw, dh, dw, top, left, inner, out, threads):
    n = out.shape[0] * out.shape[1]
    parts = min(threads, n)
    for t in prange(parts):
        col2im_body(cols, kh, kw, oh, ow, sh, sw, dh, dw, top, left, inner, out,
                    _split(n, parts, t), _split(n, parts, t + 1))


@njit(cache=True, inline="always")
def _window_max(x, p, r0, c0, kh, kw, dh, dw, h, w, inside):
    """(max, flat position of the first max) of one window at (r0, c0), as Backend.max_pool2d:
    positions outside the plane never win, the last NaN wins (row-major order)."""
    low = x.dtype.type(-np.inf)
    best, arg = low, -1  # -1: no element of the window lies in the plane
    first = True
    for i in range(kh):
        r = r0 + i * dh
        for j in range(kw):
            c = c0 + j * dw
            if inside or (0 <= r < h and 0 <= c < w):
                v = x[p, r, c]
                # no short-circuits: the data-dependent choice compiles to selects, not branches
                take = first | (v > best) | (v != v)  # the last NaN wins, as PyTorch
                best = v if take else best
                arg = r * w + c if take else arg
                first = False
    return best, arg


@njit(cache=True, inline="always")
def _first_max(a, ia, b, ib):
    """(value, index) of the first maximum of a then b, or of the last NaN, as PyTorch."""
    take = (b > a) | (b != b)
    return (b if take else a), (ib if take else ia)


@njit(cache=True, inline="always")
def _pool2x2_planes(x, values, indices, p0, p1):
    """MaxPool2d(2) with every window inside the plane, on flat views: the two pairs of a
    window are compared first, then their winners (a shorter dependency chain)."""
    h, w = x.shape[1], x.shape[2]
    oh, ow = values.shape[1], values.shape[2]
    xf, vf, jf = x.reshape(-1), values.reshape(-1), indices.reshape(-1)
    uw, one = np.uint64(w), np.uint64(1)
    o = np.uint64(p0 * oh * ow)
    for p in range(p0, p1):
        plane = np.uint64(p * h * w)
        for y in range(oh):
            for xo in range(ow):
                q = 2 * y * w + 2 * xo
                u = plane + np.uint64(q)
                a, ia = _first_max(xf[u], q, xf[u + one], q + 1)
                b, ib = _first_max(xf[u + uw], q + w, xf[u + uw + one], q + w + 1)
                vf[o], jf[o] = _first_max(a, ia, b, ib)
                o += one


@njit(cache=True)
def max_pool_body(x, kh, kw, sh, sw, ph, pw, dh, dw, values, indices, p0, p1):
    """The max of each window of planes p0..p1 and its flat position in the plane."""
    h, w = x.shape[1], x.shape[2]
    oh, ow = values.shape[1], values.shape[2]
    inside = (ph == 0 and pw == 0 and (oh - 1) * sh + (kh - 1) * dh < h
              and (ow - 1) * sw + (kw - 1) * dw < w)
    if inside and kh == kw == sh == sw == 2 and dh == dw == 1:  # MaxPool2d(2)
        _pool2x2_planes(x, values, indices, p0, p1)
        return
    for p in range(p0, p1):
        for y in range(oh):
            for xo in range(ow):
                if inside:  # every window within the plane: no bounds checks in the loop
                    v, a = _window_max(x, p, y * sh, xo * sw, kh, kw, dh, dw, h, w, True)
                else:
                    v, a = _window_max(x, p, y * sh - ph, xo * sw - pw, kh, kw, dh, dw, h, w,
                                       False)
                values[p, y, xo] = v
                indices[p, y, xo] = a


@njit(cache=True, parallel=True)
def max_pool_par(x, kh, kw, sh, sw, ph, pw, dh, dw, values, indices, threads):
    n = x.shape[0]
    parts = min(threads, n)
    for t in prange(parts):
        max_pool_body(x, kh, kw, sh, sw, ph, pw, dh, dw, values, indices, _split(n, parts, t),
                      _split(n, parts, t + 1))


@njit(cache=True)
def max_pool_backward_body(g, indices, out, p0, p1):
    """out[p] = zeros with g[p, k] added at indices[p, k], summed in float64 in order (as the
    reference's bincount) and rounded once; -1 takes nothing; False if an index lies outside
    the plane."""
    m, hw = g.shape[1], out.shape[1]
    uhw = np.uint64(hw)
    acc = np.empty(hw, np.float64)
    gf, jf, of = g.reshape(-1), indices.reshape(-1), out.reshape(-1)
    for p in range(p0, p1):
        for q in range(uhw):
            acc[q] = 0.0
        base = np.uint64(p * m)
        for k in range(np.uint64(m)):
            q = jf[base + k]
            if q >= 0:
                if q >= hw:
                    return False
                acc[np.uint64(q)] += gf[base + k]
        plane = np.uint64(p * hw)
        for q in range(uhw):
            of[plane + q] = acc[q]
    return True


@njit(cache=True, parallel=True)
def max_pool_backward_par(g, indices, out, threads):
    n = g.shape[0]
    parts = min(threads, n)
    ok = np.ones(parts, np.bool_)
    for t in prange(parts):
        ok[t] = max_pool_backward_body(g, indices, out, _split(n, parts, t),
                                       _split(n, parts, t + 1))
    return ok.all()


@njit(cache=True)
def channel_sum(x, out):
    """out[c] = x[:, c].sum() for (N, C, M) ``x`` (a convolution's bias gradient): per channel
    the N rows are added position by position (a vectorized loop), then the M partial sums,
    all in float64 and rounded once."""
    n, m = x.shape[0], x.shape[2]
    acc = np.empty(m, np.float64)
    for c in range(x.shape[1]):
        acc[:] = 0.0
        for i in range(n):
            row = x[i, c]
            for k in range(np.uint64(m)):
                acc[k] += row[k]
        total = 0.0
        for k in range(m):
            total += acc[k]
        out[c] = total
