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


# -- optimizer steps: one pass per parameter, the reference's arithmetic in the param's dtype -----
@njit(cache=True, inline="always")
def _maximum(a, b):
    return a if a >= b or a != a else b  # NaN wins, as np.maximum


@njit(cache=True)
def sgd_body(p, g, buf, lr, momentum, damp, wd, nesterov, maximize, first, start, stop):
    """The reference sgd_step on p[start:stop]; ``buf`` is empty without momentum and ``damp``
    is 1 - dampening (1 when dampening is off).  The float64 scalars are rounded to p's dtype
    first, as NumPy does with a Python float meeting a float32 array."""
    t = p.dtype.type
    lr, momentum, damp, wd = t(lr), t(momentum), t(damp), t(wd)
    has_buf = buf.shape[0] != 0
    p, g, buf = p[start:stop], g[start:stop], buf[start:stop] if has_buf else buf
    # plain SGD and plain momentum get branch-free loops (LLVM vectorizes those only)
    if wd == 0 and not maximize and not has_buf:
        for i in range(p.shape[0]):
            p[i] = p[i] - g[i] * lr
        return
    if wd == 0 and not maximize and has_buf and not first and damp == 1 and not nesterov:
        for i in range(p.shape[0]):
            bv = buf[i] * momentum + g[i]
            buf[i] = bv
            p[i] = p[i] - bv * lr
        return
    for i in range(p.shape[0]):
        d = g[i]
        if wd != 0:
            d = p[i] * wd - d if maximize else p[i] * wd + d
        elif maximize:
            d = -d
        if has_buf:
            if first:
                bv = d
            else:
                bv = buf[i] * momentum
                bv = bv + d * damp if damp != 1 else bv + d
            buf[i] = bv
            d = d + bv * momentum if nesterov else bv
        p[i] = p[i] - d * lr


@njit(cache=True, parallel=True)
def sgd_par(p, g, buf, lr, momentum, damp, wd, nesterov, maximize, first, threads):
    n = p.shape[0]
    parts = threads
    for i in prange(parts):
        sgd_body(p, g, buf, lr, momentum, damp, wd, nesterov, maximize, first,
                 _split(n, parts, i), _split(n, parts, i + 1))


@njit(cache=True)
def adam_body(p, g, m, v, vmax, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
              one_minus_beta2, bc2, eps, step_size, start, stop):
    """The reference adam_step on p[start:stop].  ``decay`` is 1 - lr * weight_decay for AdamW
    (1 otherwise), ``wd`` the L2 weight decay (0 for AdamW), ``w1`` = 1 - beta1 (the lerp
    weight; ``small_w1``: |w1| < 0.5); ``vmax`` is empty without amsgrad.  The float64
    scalars are rounded to p's dtype first, as NumPy does."""
    t = p.dtype.type
    decay, wd, w1, one_minus_w1 = t(decay), t(wd), t(w1), t(one_minus_w1)
    beta2, one_minus_beta2, bc2, eps, step_size = (t(beta2), t(one_minus_beta2), t(bc2), t(eps),
                                                   t(step_size))
    amsgrad = vmax.shape[0] != 0
    p, g, m, v = p[start:stop], g[start:stop], m[start:stop], v[start:stop]
    vmax = vmax[start:stop] if amsgrad else vmax
    if small_w1 and not maximize and not amsgrad:  # the usual options: branch-free loops
        if wd == 0:
            for i in range(p.shape[0]):
                pi = p[i] * decay  # exact when decay is 1
                d = g[i]
                mi = m[i] + (d - m[i]) * w1
                m[i] = mi
                vi = v[i] * beta2 + d * one_minus_beta2 * d
                v[i] = vi
                p[i] = pi - mi / (math.sqrt(vi) / bc2 + eps) * step_size
        else:
            for i in range(p.shape[0]):
                pi = p[i]
                d = pi * wd + g[i]
                mi = m[i] + (d - m[i]) * w1
                m[i] = mi
                vi = v[i] * beta2 + d * one_minus_beta2 * d
                v[i] = vi
                p[i] = pi - mi / (math.sqrt(vi) / bc2 + eps) * step_size
        return
    for i in range(p.shape[0]):
        pi = p[i] * decay
        d = g[i]
        if wd != 0:
            d = pi * wd - d if maximize else pi * wd + d
        elif maximize:
            d = -d
        diff = d - m[i]  # torch.lerp(m, d, w1), two-sided
        mi = m[i] + diff * w1 if small_w1 else d - diff * one_minus_w1
        m[i] = mi
        vi = v[i] * beta2 + d * one_minus_beta2 * d
        v[i] = vi
        if amsgrad:
            vi = _maximum(vmax[i], vi)
            vmax[i] = vi
        p[i] = pi - mi / (math.sqrt(vi) / bc2 + eps) * step_size


@njit(cache=True, parallel=True)
def adam_par(p, g, m, v, vmax, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
             one_minus_beta2, bc2, eps, step_size, threads):
    n = p.shape[0]
    parts = threads
    for i in prange(parts):
        adam_body(p, g, m, v, vmax, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                  one_minus_beta2, bc2, eps, step_size, _split(n, parts, i),
                  _split(n, parts, i + 1))
