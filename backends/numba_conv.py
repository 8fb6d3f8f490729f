"""Numba kernels for Conv2d and MaxPool2d: im2col, col2im, max pooling forward and backward.

Images arrive as (P, H, W) planes (P = N * C, a view of a C-contiguous (N, C, H, W) array);
every plane is independent, so the ``*_par`` drivers hand whole planes to threads.  The same
layout and conventions as the reference (backends/base.py, "nn: convolution and pooling"):
window element [i, j] of output position [y, x] is image[y*sh + i*dh, x*sw + j*dw].
"""
import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _split(n, parts, i):
    return n * i // parts


@njit(cache=True, inline="always")
def _im2col_planes(x, kh, kw, sh, sw, dh, dw, out, p0, p1):
    oh, ow = out.shape[3], out.shape[4]
    usw = np.uint64(sw)  # unsigned column indices: no wraparound checks, vectorized copies
    for p in range(p0, p1):
        for i in range(kh):
            for j in range(kw):
                c0 = np.uint64(j * dw)
                for y in range(oh):
                    r = y * sh + i * dh
                    for xo in range(np.uint64(ow)):
                        out[p, i, j, y, xo] = x[p, r, c0 + xo * usw]


@njit(cache=True)
def im2col_body(x, kh, kw, sh, sw, dh, dw, out, p0, p1):
    """out[p, i, j, y, x] = x[p, y*sh + i*dh, x*sw + j*dw] for planes p0..p1."""
    if sw == 1:  # the usual stride, a constant in this copy: contiguous rows
        _im2col_planes(x, kh, kw, sh, 1, dh, dw, out, p0, p1)
    else:
        _im2col_planes(x, kh, kw, sh, sw, dh, dw, out, p0, p1)


@njit(cache=True, parallel=True)
def im2col_par(x, kh, kw, sh, sw, dh, dw, out, threads):
    n = x.shape[0]
    parts = min(threads, n)
    for t in prange(parts):
        im2col_body(x, kh, kw, sh, sw, dh, dw, out, _split(n, parts, t), _split(n, parts, t + 1))


@njit(cache=True, inline="always")
def _col2im_planes(cols, sh, sw, dh, dw, out, p0, p1):
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
    h, w = out.shape[1], out.shape[2]
    usw = np.uint64(sw)
    for p in range(p0, p1):
        for r in range(h):
            for c in range(w):
                out[p, r, c] = 0
        for i in range(kh):
            for j in range(kw):
                c0 = np.uint64(j * dw)
                for y in range(oh):
                    r = y * sh + i * dh
                    for xo in range(np.uint64(ow)):
                        out[p, r, c0 + xo * usw] += cols[p, i, j, y, xo]


@njit(cache=True)
def col2im_body(cols, sh, sw, dh, dw, out, p0, p1):
    """The adjoint of im2col on planes p0..p1: out (zeroed here) gets every window column
    added back, kernel position by kernel position (the reference's order of additions)."""
    if sw == 1:
        _col2im_planes(cols, sh, 1, dh, dw, out, p0, p1)
    else:
        _col2im_planes(cols, sh, sw, dh, dw, out, p0, p1)


@njit(cache=True, parallel=True)
def col2im_par(cols, sh, sw, dh, dw, out, threads):
    n = cols.shape[0]
    parts = min(threads, n)
    for t in prange(parts):
        col2im_body(cols, sh, sw, dh, dw, out, _split(n, parts, t), _split(n, parts, t + 1))


@njit(cache=True, inline="always")
def _window_max(x, p, r0, c0, kh, kw, dh, dw, h, w, inside):
    """(max, flat position of the first max) of one window at (r0, c0); positions outside
    the plane count as -inf, NaN as the largest (np.argmax over the window, row-major)."""
    low = x.dtype.type(-np.inf)
    best, arg = low, r0 * w + c0
    first = True
    for i in range(kh):
        r = r0 + i * dh
        for j in range(kw):
            c = c0 + j * dw
            v = low
            if inside or (0 <= r < h and 0 <= c < w):
                v = x[p, r, c]
            # no short-circuits: the data-dependent choice compiles to selects, not branches
            take = first | (v > best) | ((v != v) & (best == best))
            best = v if take else best
            arg = r * w + c if take else arg
            first = False
    return best, arg


@njit(cache=True)
def max_pool_body(x, kh, kw, sh, sw, ph, pw, dh, dw, values, indices, p0, p1):
    """The max of each window of planes p0..p1 and its flat position in the plane."""
    h, w = x.shape[1], x.shape[2]
    oh, ow = values.shape[1], values.shape[2]
    inside = (ph == 0 and pw == 0 and (oh - 1) * sh + (kh - 1) * dh < h
              and (ow - 1) * sw + (kw - 1) * dw < w)
    for p in range(p0, p1):
        for y in range(oh):
            for xo in range(ow):
                if inside and kh == kw == sh == sw == 2 and dh == dw == 1:  # MaxPool2d(2)
                    v, a = _window_max(x, p, 2 * y, 2 * xo, 2, 2, 1, 1, h, w, True)
                elif inside:  # every window within the plane: no bounds checks in the loop
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
    reference's bincount) and rounded once; False if an index lies outside the plane."""
    hw = out.shape[1]
    acc = np.zeros(hw, np.float64)
    for p in range(p0, p1):
        acc[:] = 0.0
        for k in range(g.shape[1]):
            q = indices[p, k]
            if q < 0 or q >= hw:
                return False
            acc[q] += g[p, k]
        for q in range(hw):
            out[p, q] = acc[q]
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
