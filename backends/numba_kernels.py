"""Numba kernels for the numba backend: the hot path of a training step as plain loops.

The elementwise kernels (activations, their gradients, bias + activation) are generated from
their scalar descriptions instead: backends/numba_codegen.py over backends/scalar_ops.py.

Each kernel here works on C-contiguous float32/float64 arrays (the backend checks that, and
shapes, before calling) and repeats the NumPy reference's arithmetic in the array's own dtype,
so the two backends agree to the last bit wherever the math library calls (exp, log) agree.
Kernels compile on first call and are cached on disk (``cache=True``); importing this module
compiles nothing.  No ``fastmath``: NaN and inf behave as in NumPy.

A kernel that pays for threads comes as a ``*_body(..., start, stop)`` doing one slice of the
work and a ``*_par(..., threads)`` driver that splits the work into ``threads`` chunks with
``prange`` (the caller passes numba.get_num_threads(): a parallel function that asks for it
itself cannot be cached).  The backend calls the body directly, on one thread, for small
arrays, where waking the thread pool costs more than it saves.
"""
import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _split(n, parts, i):
    """Where part ``i`` of ``n`` items split into ``parts`` nearly equal parts begins."""
    return n * i // parts


# -- the bias gradient of a fused linear without activation: column sums ------------------------
@njit(cache=True)
def colsum_body(g, out, c0, c1):
    """out[c0:c1] = g[:, c0:c1].sum(0), each column summed top to bottom."""
    for j in range(c0, c1):
        out[j] = 0
    for r in range(g.shape[0]):
        for j in range(np.uint64(c0), np.uint64(c1)):
            out[j] += g[r, j]


@njit(cache=True, parallel=True)
def colsum_par(g, out, threads):
    n = g.shape[1]
    parts = min(threads, max(1, n // 16))
    for i in prange(parts):
        c0 = _split(n // 16, parts, i) * 16
        c1 = n if i == parts - 1 else _split(n // 16, parts, i + 1) * 16
        colsum_body(g, out, c0, c1)


# -- softmax, log_softmax and the cross-entropy pick: one pass per row ---------------------------
@njit(cache=True)
def softmax_rows_body(x, out, log, r0, r1):
    """Rows r0..r1 of out = softmax(x) (or log_softmax when ``log``) over the last axis."""
    n = x.shape[1]
    for r in range(r0, r1):
        xr, orow = x[r], out[r]
        m = xr[0]
        for j in range(1, n):
            v = xr[j]
            if v > m or v != v:
                m = v
        total = x.dtype.type(0)
        if log:
            for j in range(n):
                s = xr[j] - m
                orow[j] = s
                total += math.exp(s)
            lse = math.log(total)
            for j in range(n):
                orow[j] -= lse
        else:
            for j in range(n):
                e = math.exp(xr[j] - m)
                orow[j] = e
                total += e
            for j in range(n):
                orow[j] /= total


@njit(cache=True, parallel=True)
def softmax_rows_par(x, out, log, threads):
    m = x.shape[0]
    parts = min(threads, m)
    for i in prange(parts):
        softmax_rows_body(x, out, log, _split(m, parts, i), _split(m, parts, i + 1))


@njit(cache=True)
def log_softmax_pick(x, target, logp, picked):
    """logp = log_softmax(x) row by row and picked[r] = logp[r, target[r]]; False if a target
    is not a column of x (nothing is read outside it)."""
    c = x.shape[1]
    for r in range(x.shape[0]):
        if target[r] < 0 or target[r] >= c:
            return False
    softmax_rows_body(x, logp, True, 0, x.shape[0])
    for r in range(x.shape[0]):
        picked[r] = logp[r, target[r]]
    return True
