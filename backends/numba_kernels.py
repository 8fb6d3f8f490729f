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
