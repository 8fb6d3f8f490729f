"""The numba backend's optimizer steps: one fused pass per parameter (``sgd_step``,
``adam_step``, ``adadelta_step``) and one fused pass per parameter group (``sgd_steps``,
``adam_steps``, ``adadelta_steps``, ``rmsprop_steps``, ``adagrad_steps``: the lists of a group's
arrays, in the style of torch's foreach/fused implementations; the other optimizers' group steps
are the reference's).  A mixin of NumbaBackend.

Each kernel repeats the NumPy reference's arithmetic (backends/optim_kernels.py) in the
parameter's dtype, so the results equal the reference's bit for bit (no ``fastmath``: NaN and
inf behave as in NumPy).  The float64 scalars are rounded to the dtype first, as NumPy does
with a Python float meeting a float32 array.

A group step passes its arrays as a (lists, tensors) int64 array of data addresses and the
tensors' element offsets; the kernel views each tensor with ``carray`` and splits the group's
total element count over the pool, so one call updates every parameter of the group.  The
addresses come from Numba (``_addresses``: one call over a tuple of the flat gradients, about
0.3 us an array; ``ndarray.ctypes.data`` costs several times that), remembered for the
parameters and states, which live across steps (``_address``, weakly held).
"""
import math
import weakref

import numpy as np
from numba import carray, njit, prange, types
from numba.extending import intrinsic

from .numba_common import _FLOATS, _empty, _fits, _split


# -- views of a group's tensors from their addresses ------------------------------------------------
@intrinsic
def _ptr(typingctx, addr, like):
    """A pointer to ``like``'s dtype at the integer address ``addr``."""
    ptr_t = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr_t))
    return ptr_t(types.int64, like), codegen


@njit(cache=True, inline="always")
def _view(addr, n, like):
    """The ``n`` elements at ``addr`` as a 1-d C array of ``like``'s dtype."""
    return carray(_ptr(addr, like), (n,))


@njit(cache=True)
def _addresses(arrays):
    """(data addresses, element offsets: 0 and the running sizes) of a tuple of flat arrays."""
    k = len(arrays)
    addrs = np.empty(k, np.int64)
    offs = np.empty(k + 1, np.int64)
    offs[0] = 0
    for j in range(k):
        addrs[j] = arrays[j].ctypes.data
        offs[j + 1] = offs[j] + arrays[j].shape[0]
    return addrs, offs


@njit(cache=True, inline="always")
def _first(offs, start):
    """The first tensor that holds element ``start`` (tensors ending at it are passed over)."""
    k = 0
    while k < offs.shape[0] - 1 and offs[k + 1] <= start:
        k += 1
    return k


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


@njit(cache=True, error_model="numpy")  # x / 0 is inf or NaN, as NumPy
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


@njit(cache=True, parallel=True, error_model="numpy")
def adam_par(p, g, m, v, vmax, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
             one_minus_beta2, bc2, eps, step_size, threads):
    n = p.shape[0]
    parts = threads
    for i in prange(parts):
        adam_body(p, g, m, v, vmax, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                  one_minus_beta2, bc2, eps, step_size, _split(n, parts, i),
                  _split(n, parts, i + 1))


@njit(cache=True, error_model="numpy")  # x / 0 is inf or NaN, as NumPy
def adadelta_body(p, g, sq, acc, lr, rho, one_minus_rho, eps, wd, maximize, start, stop):
    """The reference adadelta_step on p[start:stop] (``one_minus_rho`` = 1 - rho)."""
    t = p.dtype.type
    lr, rho, omr, eps, wd = t(lr), t(rho), t(one_minus_rho), t(eps), t(wd)
    p, g, sq, acc = p[start:stop], g[start:stop], sq[start:stop], acc[start:stop]
    if wd == 0 and not maximize:  # the usual options: a branch-free loop
        for i in range(p.shape[0]):
            d = g[i]
            s = sq[i] * rho + d * omr * d
            sq[i] = s
            ai = acc[i]
            delta = math.sqrt(ai + eps) / math.sqrt(s + eps) * d
            acc[i] = ai * rho + delta * omr * delta
            p[i] = p[i] - delta * lr
        return
    for i in range(p.shape[0]):
        d = g[i]
        if wd != 0:
            d = p[i] * wd - d if maximize else p[i] * wd + d
        elif maximize:
            d = -d
        s = sq[i] * rho + d * omr * d
        sq[i] = s
        delta = math.sqrt(acc[i] + eps) / math.sqrt(s + eps) * d
        acc[i] = acc[i] * rho + delta * omr * delta
        p[i] = p[i] - delta * lr


@njit(cache=True, parallel=True, error_model="numpy")
def adadelta_par(p, g, sq, acc, lr, rho, one_minus_rho, eps, wd, maximize, threads):
    n = p.shape[0]
    for i in prange(threads):
        adadelta_body(p, g, sq, acc, lr, rho, one_minus_rho, eps, wd, maximize,
                      _split(n, threads, i), _split(n, threads, i + 1))


# -- group steps: every tensor of a parameter group in one call -----------------------------------
@njit(cache=True)
def sgd_group_body(a, offs, like, lr, momentum, damp, wd, nesterov, maximize, first, start,
                   stop):
    """sgd_body over elements [start, stop) of the group (a: p, g[, buf] addresses)."""
    k = _first(offs, start)
    while k < offs.shape[0] - 1 and offs[k] < stop:
        lo, n = offs[k], offs[k + 1] - offs[k]
        buf = _view(a[2, k], n, like) if a.shape[0] > 2 else like
        sgd_body(_view(a[0, k], n, like), _view(a[1, k], n, like), buf, lr, momentum, damp, wd,
                 nesterov, maximize, first, max(start, lo) - lo, min(stop, lo + n) - lo)
        k += 1


@njit(cache=True, parallel=True)
def sgd_group_par(a, offs, like, lr, momentum, damp, wd, nesterov, maximize, first, threads):
    n = offs[offs.shape[0] - 1]
    for i in prange(threads):
        sgd_group_body(a, offs, like, lr, momentum, damp, wd, nesterov, maximize, first,
                       _split(n, threads, i), _split(n, threads, i + 1))


@njit(cache=True, error_model="numpy")  # x / 0 is inf or NaN, as NumPy
def adam_group_body(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                    one_minus_beta2, bc2, eps, step_size, start, stop):
    """adam_body over elements [start, stop) of the group (a: p, g, m, v[, vmax])."""
    k = _first(offs, start)
    while k < offs.shape[0] - 1 and offs[k] < stop:
        lo, n = offs[k], offs[k + 1] - offs[k]
        vmax = _view(a[4, k], n, like) if a.shape[0] > 4 else like
        adam_body(_view(a[0, k], n, like), _view(a[1, k], n, like), _view(a[2, k], n, like),
                  _view(a[3, k], n, like), vmax, decay, wd, maximize, w1, small_w1,
                  one_minus_w1, beta2, one_minus_beta2, bc2, eps, step_size,
                  max(start, lo) - lo, min(stop, lo + n) - lo)
        k += 1


@njit(cache=True, parallel=True, error_model="numpy")
def adam_group_par(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                   one_minus_beta2, bc2, eps, step_size, threads):
    n = offs[offs.shape[0] - 1]
    for i in prange(threads):
        adam_group_body(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                        one_minus_beta2, bc2, eps, step_size, _split(n, threads, i),
                        _split(n, threads, i + 1))


@njit(cache=True, error_model="numpy")  # x / 0 is inf or NaN, as NumPy
def adadelta_group_body(a, offs, like, lr, rho, one_minus_rho, eps, wd, maximize, start, stop):
    """adadelta_body over elements [start, stop) of the group (a: p, g, square_avg,
    acc_delta)."""
    k = _first(offs, start)
    while k < offs.shape[0] - 1 and offs[k] < stop:
        lo, n = offs[k], offs[k + 1] - offs[k]
        adadelta_body(_view(a[0, k], n, like), _view(a[1, k], n, like), _view(a[2, k], n, like),
                      _view(a[3, k], n, like), lr, rho, one_minus_rho, eps, wd, maximize,
                      max(start, lo) - lo, min(stop, lo + n) - lo)
        k += 1


@njit(cache=True, parallel=True, error_model="numpy")
def adadelta_group_par(a, offs, like, lr, rho, one_minus_rho, eps, wd, maximize, threads):
    n = offs[offs.shape[0] - 1]
    for i in prange(threads):
        adadelta_group_body(a, offs, like, lr, rho, one_minus_rho, eps, wd, maximize,
                            _split(n, threads, i), _split(n, threads, i + 1))


@njit(cache=True, error_model="numpy")
def rmsprop_body(p, g, sq, ga, buf, lr, alpha, w, small_w, one_minus_w, eps, wd, momentum,
                 maximize, start, stop):
    """The reference rmsprop_step on p[start:stop]; ``ga`` (centered) and ``buf`` (momentum)
    are empty when off; ``w`` = 1 - alpha is grad_avg's lerp weight (``small_w``: |w| < 0.5,
    ``one_minus_w`` = 1 - w)."""
    t = p.dtype.type
    lr, alpha, w, omw, eps, wd, momentum = (t(lr), t(alpha), t(w), t(one_minus_w), t(eps), t(wd),
                                            t(momentum))
    centered, has_buf = ga.shape[0] != 0, buf.shape[0] != 0
    p, g, sq = p[start:stop], g[start:stop], sq[start:stop]
    ga = ga[start:stop] if centered else ga
    buf = buf[start:stop] if has_buf else buf
    if wd == 0 and not maximize and not centered and not has_buf:  # branch-free
        for i in range(p.shape[0]):
            d = g[i]
            s = sq[i] * alpha + d * w * d
            sq[i] = s
            p[i] = p[i] - d / (math.sqrt(s) + eps) * lr
        return
    for i in range(p.shape[0]):
        d = g[i]
        if wd != 0:
            d = p[i] * wd - d if maximize else p[i] * wd + d
        elif maximize:
            d = -d
        s = sq[i] * alpha + d * w * d
        sq[i] = s
        if centered:
            diff = d - ga[i]
            gi = ga[i] + diff * w if small_w else d - diff * omw
            ga[i] = gi
            avg = math.sqrt(s - gi * gi)
        else:
            avg = math.sqrt(s)
        r = d / (avg + eps)
        if has_buf:
            r = buf[i] * momentum + r
            buf[i] = r
        p[i] = p[i] - r * lr


@njit(cache=True, error_model="numpy")
def adagrad_body(p, g, acc, clr, eps, wd, maximize, start, stop):
    """The reference adagrad_step on p[start:stop] (``clr``: this step's decayed lr)."""
    t = p.dtype.type
    clr, eps, wd = t(clr), t(eps), t(wd)
    p, g, acc = p[start:stop], g[start:stop], acc[start:stop]
    if wd == 0 and not maximize:  # branch-free
        for i in range(p.shape[0]):
            d = g[i]
            s = acc[i] + d * d
            acc[i] = s
            p[i] = p[i] - d / (math.sqrt(s) + eps) * clr
        return
    for i in range(p.shape[0]):
        d = g[i]
        if wd != 0:
            d = p[i] * wd - d if maximize else p[i] * wd + d
        elif maximize:
            d = -d
        s = acc[i] + d * d
        acc[i] = s
        p[i] = p[i] - d / (math.sqrt(s) + eps) * clr


@njit(cache=True, error_model="numpy")
def rmsprop_group_body(a, offs, like, lr, alpha, w, small_w, one_minus_w, eps, wd, momentum,
                       maximize, centered, start, stop):
    """rmsprop_body over elements [start, stop) of the group (a: p, g, square_avg[, grad_avg]
    [, momentum_buffer])."""
    k = _first(offs, start)
    while k < offs.shape[0] - 1 and offs[k] < stop:
        lo, n = offs[k], offs[k + 1] - offs[k]
        ga = _view(a[3, k], n, like) if centered else like
        row = 4 if centered else 3
        buf = _view(a[row, k], n, like) if a.shape[0] > row else like
        rmsprop_body(_view(a[0, k], n, like), _view(a[1, k], n, like), _view(a[2, k], n, like),
                     ga, buf, lr, alpha, w, small_w, one_minus_w, eps, wd, momentum, maximize,
                     max(start, lo) - lo, min(stop, lo + n) - lo)
        k += 1


@njit(cache=True, parallel=True, error_model="numpy")
def rmsprop_group_par(a, offs, like, lr, alpha, w, small_w, one_minus_w, eps, wd, momentum,
                      maximize, centered, threads):
    n = offs[offs.shape[0] - 1]
    for i in prange(threads):
        rmsprop_group_body(a, offs, like, lr, alpha, w, small_w, one_minus_w, eps, wd, momentum,
                           maximize, centered, _split(n, threads, i), _split(n, threads, i + 1))


@njit(cache=True, error_model="numpy")
def adagrad_group_body(a, offs, like, clr, eps, wd, maximize, start, stop):
    """adagrad_body over elements [start, stop) of the group (a: p, g, sum)."""
    k = _first(offs, start)
    while k < offs.shape[0] - 1 and offs[k] < stop:
        lo, n = offs[k], offs[k + 1] - offs[k]
        adagrad_body(_view(a[0, k], n, like), _view(a[1, k], n, like), _view(a[2, k], n, like),
                     clr, eps, wd, maximize, max(start, lo) - lo, min(stop, lo + n) - lo)
        k += 1


@njit(cache=True, parallel=True, error_model="numpy")
def adagrad_group_par(a, offs, like, clr, eps, wd, maximize, threads):
    n = offs[offs.shape[0] - 1]
    for i in prange(threads):
        adagrad_group_body(a, offs, like, clr, eps, wd, maximize, _split(n, threads, i),
                           _split(n, threads, i + 1))


@njit(cache=True, inline="always")
def _grad(pi, gi, wd, maximize):
    """_decayed_grad's element: (+/-)g + wd * p."""
    if wd != 0:
        return pi * wd - gi if maximize else pi * wd + gi
    return -gi if maximize else gi


@njit(cache=True, error_model="numpy")
def adamax_body(p, g, m, u, w1, small_w1, one_minus_w1, beta2, eps, neg_clr, wd, maximize,
                start, stop):
    """The reference adamax_step on p[start:stop] (``neg_clr`` = -lr / (1 - beta1 ** step))."""
    t = p.dtype.type
    w1, omw1, beta2, eps, neg_clr, wd = t(w1), t(one_minus_w1), t(beta2), t(eps), t(neg_clr), t(wd)
    for i in range(start, stop):
        d = _grad(p[i], g[i], wd, maximize)
        diff = d - m[i]
        mi = m[i] + diff * w1 if small_w1 else d - diff * omw1
        m[i] = mi
        ui = _maximum(u[i] * beta2, abs(d) + eps)
        u[i] = ui
        p[i] = p[i] + mi / ui * neg_clr


@njit(cache=True, error_model="numpy")
def nadam_body(p, g, m, v, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
               one_minus_beta2, bc2, eps, c1, c2, start, stop):
    """The reference nadam_step on p[start:stop] (``decay``: 1 - lr * weight_decay when
    decoupled, else 1; ``bc2`` = 1 - beta2 ** step; ``c1``, ``c2`` its two coefficients)."""
    t = p.dtype.type
    decay, wd, w1, omw1, beta2, omb2, bc2, eps, c1, c2 = (
        t(decay), t(wd), t(w1), t(one_minus_w1), t(beta2), t(one_minus_beta2), t(bc2), t(eps),
        t(c1), t(c2))
    for i in range(start, stop):
        pi = p[i] * decay
        d = _grad(pi, g[i], wd, maximize)
        diff = d - m[i]
        mi = m[i] + diff * w1 if small_w1 else d - diff * omw1
        m[i] = mi
        vi = v[i] * beta2 + d * omb2 * d
        v[i] = vi
        denom = math.sqrt(vi / bc2) + eps
        pi = pi + d / denom * c1
        p[i] = pi + mi / denom * c2


@njit(cache=True, error_model="numpy")
def radam_body(p, g, m, v, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
               one_minus_beta2, bc1, lr, rectify, bc2_sqrt, eps, rect, start, stop):
    """The reference radam_step on p[start:stop] (``rectify``: rho_t > 5, then ``rect`` the
    rectification and ``bc2_sqrt`` = (1 - beta2 ** step) ** 0.5)."""
    t = p.dtype.type
    decay, wd, w1, omw1, beta2, omb2, bc1, lr, bc2_sqrt, eps, rect = (
        t(decay), t(wd), t(w1), t(one_minus_w1), t(beta2), t(one_minus_beta2), t(bc1), t(lr),
        t(bc2_sqrt), t(eps), t(rect))
    for i in range(start, stop):
        pi = p[i] * decay
        d = _grad(pi, g[i], wd, maximize)
        diff = d - m[i]
        mi = m[i] + diff * w1 if small_w1 else d - diff * omw1
        m[i] = mi
        vi = v[i] * beta2 + d * omb2 * d
        v[i] = vi
        u = mi / bc1 * lr
        if rectify:
            u = u * (bc2_sqrt / (math.sqrt(vi) + eps)) * rect
        p[i] = pi - u


@njit(cache=True, error_model="numpy")
def adamax_group_body(a, offs, like, w1, small_w1, one_minus_w1, beta2, eps, neg_clr, wd,
                      maximize, start, stop):
    k = _first(offs, start)
    while k < offs.shape[0] - 1 and offs[k] < stop:
        lo, n = offs[k], offs[k + 1] - offs[k]
        adamax_body(_view(a[0, k], n, like), _view(a[1, k], n, like), _view(a[2, k], n, like),
                    _view(a[3, k], n, like), w1, small_w1, one_minus_w1, beta2, eps, neg_clr,
                    wd, maximize, max(start, lo) - lo, min(stop, lo + n) - lo)
        k += 1


@njit(cache=True, parallel=True, error_model="numpy")
def adamax_group_par(a, offs, like, w1, small_w1, one_minus_w1, beta2, eps, neg_clr, wd,
                     maximize, threads):
    n = offs[offs.shape[0] - 1]
    for i in prange(threads):
        adamax_group_body(a, offs, like, w1, small_w1, one_minus_w1, beta2, eps, neg_clr, wd,
                          maximize, _split(n, threads, i), _split(n, threads, i + 1))


@njit(cache=True, error_model="numpy")
def nadam_group_body(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                     one_minus_beta2, bc2, eps, c1, c2, start, stop):
    k = _first(offs, start)
    while k < offs.shape[0] - 1 and offs[k] < stop:
        lo, n = offs[k], offs[k + 1] - offs[k]
        nadam_body(_view(a[0, k], n, like), _view(a[1, k], n, like), _view(a[2, k], n, like),
                   _view(a[3, k], n, like), decay, wd, maximize, w1, small_w1, one_minus_w1,
                   beta2, one_minus_beta2, bc2, eps, c1, c2, max(start, lo) - lo,
                   min(stop, lo + n) - lo)
        k += 1


@njit(cache=True, parallel=True, error_model="numpy")
def nadam_group_par(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                    one_minus_beta2, bc2, eps, c1, c2, threads):
    n = offs[offs.shape[0] - 1]
    for i in prange(threads):
        nadam_group_body(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                         one_minus_beta2, bc2, eps, c1, c2, _split(n, threads, i),
                         _split(n, threads, i + 1))


@njit(cache=True, error_model="numpy")
def radam_group_body(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                     one_minus_beta2, bc1, lr, rectify, bc2_sqrt, eps, rect, start, stop):
    k = _first(offs, start)
    while k < offs.shape[0] - 1 and offs[k] < stop:
        lo, n = offs[k], offs[k + 1] - offs[k]
        radam_body(_view(a[0, k], n, like), _view(a[1, k], n, like), _view(a[2, k], n, like),
                   _view(a[3, k], n, like), decay, wd, maximize, w1, small_w1, one_minus_w1,
                   beta2, one_minus_beta2, bc1, lr, rectify, bc2_sqrt, eps, rect,
                   max(start, lo) - lo, min(stop, lo + n) - lo)
        k += 1


@njit(cache=True, parallel=True, error_model="numpy")
def radam_group_par(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                    one_minus_beta2, bc1, lr, rectify, bc2_sqrt, eps, rect, threads):
    n = offs[offs.shape[0] - 1]
    for i in prange(threads):
        radam_group_body(a, offs, like, decay, wd, maximize, w1, small_w1, one_minus_w1, beta2,
                         one_minus_beta2, bc1, lr, rectify, bc2_sqrt, eps, rect,
                         _split(n, threads, i), _split(n, threads, i + 1))


_known: dict = {}  # id(array) -> (weak reference, address, size): the params' and states' arrays


def _remember(a, dt):
    """(weak reference, address, size) of a C-contiguous ndarray of dtype ``dt`` (None for
    another array), kept in ``_known`` for the array's lifetime: parameters and state arrays
    live across steps, and asking Numba costs about 1 us an array (weakly held: a replaced
    array is not kept alive)."""
    if type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous:
        return None
    if len(_known) > 1 << 16:  # entries of arrays that died
        _known.clear()
    addrs, _ = _addresses((a.reshape(-1),))
    entry = _known[id(a)] = (weakref.ref(a), int(addrs[0]), a.size)
    return entry


def _group(params, grads, *states):
    """(addresses (lists, tensors), element offsets (tensors + 1), an empty array of the
    dtype) of a group's arrays: params, grads, then each state list; or None when an array is
    not a C-contiguous float32/float64 ndarray of the params' dtype and size (the reference
    takes those).  The gradients (new arrays each step) are asked of Numba in one call."""
    if not params or type(params[0]) is not np.ndarray or params[0].dtype not in _FLOATS:
        return None
    dt = params[0].dtype
    flat = []
    for g in grads:
        if type(g) is not np.ndarray or g.dtype != dt or not g.flags.c_contiguous:
            return None
        flat.append(g.reshape(-1))
    gaddrs, offs = _addresses(tuple(flat))
    sizes = [x.size for x in flat]
    a = np.empty((2 + len(states), len(params)), np.int64)
    a[1] = gaddrs
    known = _known
    for row, arrays in enumerate((params,) + states):
        addrs, got = [], []
        for x in arrays:
            entry = known.get(id(x))
            if entry is None or entry[0]() is not x or x.dtype is not dt:
                entry = _remember(x, dt)
                if entry is None:
                    return None
            addrs.append(entry[1])
            got.append(entry[2])
        if got != sizes:
            return None
        a[0 if row == 0 else row + 1] = addrs
    return a, offs, _empty(dt)


def _by_step(steps):
    """[(value, indices)] of the distinct values of ``steps`` (indices None when all are
    equal: one entry, usually)."""
    first = steps[0]
    if all(s == first for s in steps):
        return [(first, None)]
    where = {}
    for i, s in enumerate(steps):
        where.setdefault(s, []).append(i)
    return list(where.items())


def _pick(lst, idx):
    return [lst[i] for i in idx]


def _adam_scalars(step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize):
    """adam_body's scalar arguments (see there) for this step."""
    decay, wd = 1.0, float(weight_decay)
    if weight_decay and decoupled_weight_decay:
        decay, wd = 1 - lr * weight_decay, 0.0
    w1 = 1 - beta1
    return (float(decay), wd, bool(maximize), float(w1), abs(w1) < 0.5, float(1 - w1),
            float(beta2), float(1 - beta2), float((1 - beta2 ** step) ** 0.5), float(eps),
            float(lr / (1 - beta1 ** step)))


class NumbaOptim:
    """Fused optimizer steps (a mixin before the reference optim_kernels)."""

    # -- optimizer steps: one fused pass per parameter -----------------------------------------
    def sgd_step(self, param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0,
                 weight_decay=0.0, nesterov=False, maximize=False, first=False):
        if not (_fits(param, grad) if momentum_buf is None else _fits(param, grad, momentum_buf)
                ) or grad.shape != param.shape or (momentum_buf is not None
                                                   and momentum_buf.shape != param.shape):
            return super().sgd_step(param, grad, momentum_buf, lr, momentum, dampening,
                                    weight_decay, nesterov, maximize, first)
        buf = _empty(param.dtype) if momentum_buf is None else momentum_buf.reshape(-1)
        self._run(param.size, sgd_par, sgd_body,
                  (param.reshape(-1), grad.reshape(-1), buf, float(lr), float(momentum),
                   1.0 - dampening if dampening else 1.0, float(weight_decay), bool(nesterov),
                   bool(maximize), bool(first)), param.size)

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                  beta2, eps, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        shape = param.shape
        if not (_fits(param, grad, exp_avg, exp_avg_sq) if max_exp_avg_sq is None else
                _fits(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)) or not (
                grad.shape == exp_avg.shape == exp_avg_sq.shape == shape) or (
                max_exp_avg_sq is not None and max_exp_avg_sq.shape != shape):
            return super().adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr,
                                     beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                                     maximize)
        vmax = _empty(param.dtype) if max_exp_avg_sq is None else max_exp_avg_sq.reshape(-1)
        self._run(param.size, adam_par, adam_body,
                  (param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
                   exp_avg_sq.reshape(-1), vmax) + _adam_scalars(
                      step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                      maximize), param.size)

    def adadelta_step(self, param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay=0.0,
                      maximize=False):
        if not _fits(param, grad, square_avg, acc_delta) or not (
                grad.shape == square_avg.shape == acc_delta.shape == param.shape):
            return super().adadelta_step(param, grad, square_avg, acc_delta, lr, rho, eps,
                                         weight_decay, maximize)
        self._run(param.size, adadelta_par, adadelta_body,
                  (param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1),
                   acc_delta.reshape(-1), float(lr), float(rho), float(1 - rho), float(eps),
                   float(weight_decay), bool(maximize)), param.size)

    # -- group steps: one fused pass over all the parameters of a group ------------------------
    def sgd_steps(self, params, grads, momentum_bufs, lr, momentum=0.0, dampening=0.0,
                  weight_decay=0.0, nesterov=False, maximize=False, firsts=None):
        lists = (grads,) if momentum_bufs is None else (grads, momentum_bufs)
        lay = _group(params, *lists)
        if lay is None:
            return super().sgd_steps(params, grads, momentum_bufs, lr, momentum, dampening,
                                     weight_decay, nesterov, maximize, firsts)
        if momentum_bufs is None or not firsts:
            firsts = [False]
        for first, idx in _by_step(firsts):
            a, offs, like = lay if idx is None else _group(
                _pick(params, idx), *(_pick(x, idx) for x in lists))
            n = int(offs[-1])
            self._run(n, sgd_group_par, sgd_group_body,
                      (a, offs, like, float(lr), float(momentum),
                       1.0 - dampening if dampening else 1.0, float(weight_decay),
                       bool(nesterov), bool(maximize), bool(first)), n)

    def adam_steps(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr,
                   beta1, beta2, eps, weight_decay=0.0, decoupled_weight_decay=False,
                   maximize=False):
        lists = (grads, exp_avgs, exp_avg_sqs) + (
            () if max_exp_avg_sqs is None else (max_exp_avg_sqs,))
        lay = _group(params, *lists)
        if lay is None:
            return super().adam_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                      steps, lr, beta1, beta2, eps, weight_decay,
                                      decoupled_weight_decay, maximize)
        for step, idx in _by_step(steps):
            a, offs, like = lay if idx is None else _group(
                _pick(params, idx), *(_pick(x, idx) for x in lists))
            n = int(offs[-1])
            self._run(n, adam_group_par, adam_group_body, (a, offs, like) + _adam_scalars(
                step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize), n)

    def adadelta_steps(self, params, grads, square_avgs, acc_deltas, lr, rho, eps,
                       weight_decay=0.0, maximize=False):
        lay = _group(params, grads, square_avgs, acc_deltas)
        if lay is None:
            return super().adadelta_steps(params, grads, square_avgs, acc_deltas, lr, rho, eps,
                                          weight_decay, maximize)
        a, offs, like = lay
        n = int(offs[-1])
        self._run(n, adadelta_group_par, adadelta_group_body,
                  (a, offs, like, float(lr), float(rho), float(1 - rho), float(eps),
                   float(weight_decay), bool(maximize)), n)

    def rmsprop_steps(self, params, grads, square_avgs, grad_avgs, momentum_bufs, lr, alpha,
                      eps, weight_decay=0.0, momentum=0.0, maximize=False):
        lists = (grads, square_avgs) + (() if grad_avgs is None else (grad_avgs,)) + (
            () if momentum_bufs is None else (momentum_bufs,))
        lay = _group(params, *lists)
        if lay is None:
            return super().rmsprop_steps(params, grads, square_avgs, grad_avgs, momentum_bufs,
                                         lr, alpha, eps, weight_decay, momentum, maximize)
        a, offs, like = lay
        n = int(offs[-1])
        w = 1 - alpha
        self._run(n, rmsprop_group_par, rmsprop_group_body,
                  (a, offs, like, float(lr), float(alpha), float(w), abs(w) < 0.5,
                   float(1 - w), float(eps), float(weight_decay), float(momentum),
                   bool(maximize), grad_avgs is not None), n)

    def adagrad_steps(self, params, grads, state_sums, steps, lr, lr_decay=0.0,
                      weight_decay=0.0, eps=1e-10, maximize=False):
        lay = _group(params, grads, state_sums)
        if lay is None:
            return super().adagrad_steps(params, grads, state_sums, steps, lr, lr_decay,
                                         weight_decay, eps, maximize)
        for step, idx in _by_step(steps):
            a, offs, like = lay if idx is None else _group(
                _pick(params, idx), _pick(grads, idx), _pick(state_sums, idx))
            n = int(offs[-1])
            self._run(n, adagrad_group_par, adagrad_group_body,
                      (a, offs, like, float(lr / (1 + (step - 1) * lr_decay)), float(eps),
                       float(weight_decay), bool(maximize)), n)

    def _grouped(self, params, lists, keys, par, body, scalars, fallback):
        """One kernel call per distinct value of ``keys`` (per-parameter values the scalars
        depend on: the step count, ...): ``scalars(key)`` gives the kernel's scalar arguments;
        ``fallback()`` when an array does not fit."""
        lay = _group(params, *lists)
        if lay is None:
            return fallback()
        for key, idx in _by_step(keys):
            a, offs, like = lay if idx is None else _group(
                _pick(params, idx), *(_pick(x, idx) for x in lists))
            n = int(offs[-1])
            self._run(n, par, body, (a, offs, like) + scalars(key), n)

    def adamax_steps(self, params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2, eps,
                     weight_decay=0.0, maximize=False):
        w1 = 1 - beta1
        return self._grouped(
            params, (grads, exp_avgs, exp_infs), steps, adamax_group_par, adamax_group_body,
            lambda step: (float(w1), abs(w1) < 0.5, float(1 - w1), float(beta2), float(eps),
                          float(-(lr / (1 - beta1 ** step))), float(weight_decay),
                          bool(maximize)),
            lambda: super(NumbaOptim, self).adamax_steps(
                params, grads, exp_avgs, exp_infs, steps, lr, beta1, beta2, eps, weight_decay,
                maximize))

    def nadam_steps(self, params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps,
                    mus, mu_nexts, mu_products, weight_decay=0.0, decoupled_weight_decay=False,
                    maximize=False):
        decay, wd = 1.0, float(weight_decay)
        if weight_decay and decoupled_weight_decay:
            decay, wd = 1 - lr * weight_decay, 0.0
        w1 = 1 - beta1

        def scalars(key):
            step, mu, mu_next, mu_product = key
            c1 = -lr * (1.0 - mu) / (1.0 - mu_product)
            c2 = (-lr * mu_next) / (1.0 - mu_product * mu_next)
            return (float(decay), wd, bool(maximize), float(w1), abs(w1) < 0.5, float(1 - w1),
                    float(beta2), float(1 - beta2), float(1 - beta2 ** step), float(eps),
                    float(c1), float(c2))
        return self._grouped(
            params, (grads, exp_avgs, exp_avg_sqs), list(zip(steps, mus, mu_nexts, mu_products)),
            nadam_group_par, nadam_group_body, scalars,
            lambda: super(NumbaOptim, self).nadam_steps(
                params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps, mus,
                mu_nexts, mu_products, weight_decay, decoupled_weight_decay, maximize))

    def radam_steps(self, params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps,
                    weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        decay, wd = 1.0, float(weight_decay)
        if weight_decay and decoupled_weight_decay:
            decay, wd = 1 - lr * weight_decay, 0.0
        w1 = 1 - beta1

        def scalars(step):
            bias_correction2 = 1 - beta2 ** step
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            rect = 1.0
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            return (float(decay), wd, bool(maximize), float(w1), abs(w1) < 0.5, float(1 - w1),
                    float(beta2), float(1 - beta2), float(1 - beta1 ** step), float(lr),
                    bool(rho_t > 5.0), float(bias_correction2 ** 0.5), float(eps), float(rect))
        return self._grouped(
            params, (grads, exp_avgs, exp_avg_sqs), steps, radam_group_par, radam_group_body,
            scalars, lambda: super(NumbaOptim, self).radam_steps(
                params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, eps,
                weight_decay, decoupled_weight_decay, maximize))
