"""Pooling: torch.nn.functional's max_pool2d and avg_pool2d.

Average pooling and its gradient are each other's adjoint (the gradient spreads each output's
share over its window; the gradient of that is average pooling again), so gradients of any
order work; max pooling sends the gradient to each window's argmax, whose adjoint is a gather.
"""
from ...autograd.graph import record
from ...ops.common import backend_of
from ...tensor import wrap
from ._common import Geometry, as_batch, check_floating, pair

__all__ = ["max_pool2d", "avg_pool2d"]


def _pool_args(op, kernel_size, stride, padding, dilation, ceil_mode, size):
    """(kernel, stride, padding, dilation, out) with torch's output-size rule and checks."""
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    out = []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        if p > k // 2:
            raise RuntimeError(f"{op}: pad should be at most half of kernel size, but got "
                               f"pad={p} and kernel_size={k}")
        o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:  # the last window must start inside the input
            o -= 1
        out.append(o)
    if min(out) < 1:
        raise RuntimeError(f"{op}: given input plane {tuple(size)}, the calculated output size "
                           f"{tuple(out)} is too small (kernel {kernel}, stride {stride}, padding "
                           f"{padding}, dilation {dilation})")
    return kernel, stride, padding, dilation, tuple(out)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The max of each window (padding counts as -inf); the gradient goes to the window's
    first maximal element, as torch.  ``return_indices`` also gives the flat H*W positions."""
    x, unbatched = as_batch("max_pool2d", input)
    kernel, stride, padding, dilation, out = _pool_args("max_pool2d", kernel_size, stride,
                                                        padding, dilation, ceil_mode, x.shape[2:])
    B = backend_of(x, "max_pool2d")
    values, idx = B.max_pool2d(x._data, kernel, stride, padding, dilation, out)
    indices = wrap(idx, x.device)
    shape = x.shape
    y = record("max_pool2d", values, (x,),
               lambda ctx, g: (_max_pool_grad(g, ctx.indices, shape),), save={"indices": indices})
    if unbatched:
        y, indices = y.squeeze(0), indices.squeeze(0)
    return (y, indices) if return_indices else y


def _max_pool_grad(g, indices, shape):
    """zeros(shape) with ``g`` added at ``indices``; its adjoint gathers at the same indices."""
    B = backend_of(g, "max_pool2d_backward")
    n, c = shape[:2]
    hw, ohw = shape[2] * shape[3], g.shape[2] * g.shape[3]

    def backward(ctx, u):  # gather at the indices; a -1 (no element in the plane) gives 0
        i = ctx.indices
        inside = i >= 0
        picked = u.reshape(n, c, hw).gather(2, i.clamp(min=0).reshape(n, c, ohw))
        return (picked.reshape(i.shape) * inside,)
    return record("max_pool2d_backward", B.max_pool2d_backward(g._data, indices._data, shape),
                  (g,), backward, save={"indices": indices})


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window (zero padding; the divisor follows torch's rules)."""
    x, unbatched = as_batch("avg_pool2d", input)
    check_floating("avg_pool2d", x)
    kernel, stride, padding, _, out = _pool_args("avg_pool2d", kernel_size, stride, padding, 1,
                                                 ceil_mode, x.shape[2:])
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool2d: divisor_override must be non-zero")
    B = backend_of(x, "avg_pool2d")
    div = B.asarray(_divisor(x.shape[2:], kernel, stride, padding, out, count_include_pad,
                             divisor_override), dtype=x.dtype)
    geo = Geometry(x.shape[2:], kernel, stride, (1, 1), padding, 1, out)
    y = _avg_pool(x, geo, div)
    return y.squeeze(0) if unbatched else y


def _divisor(size, kernel, stride, padding, out, count_include_pad, divisor_override):
    """The (OH, OW) divisors as nested lists, computed on the host as torch does (separable in
    h and w)."""
    if divisor_override is not None:
        return [[float(divisor_override)] * out[1] for _ in range(out[0])]
    counts = []
    for n, k, s, p, o in zip(size, kernel, stride, padding, out):
        starts = [i * s - p for i in range(o)]
        ends = [min(start + k, n + p) for start in starts]
        counts.append([end - start if count_include_pad else min(end, n) - max(start, 0)
                       for start, end in zip(starts, ends)])
    # a window with no input element sums to 0 anyway: divide it by 1
    return [[float(a * b) if a * b > 0 else 1.0 for b in counts[1]] for a in counts[0]]


def _pool_padding(geo):
    """((top, bottom), (left, right)) zero padding that holds every window of ``geo``."""
    out = []
    for n, k, s, p, o in zip(geo.size, geo.kernel, geo.stride, geo.padding, geo.out):
        out.append((p, max(p, (o - 1) * s + k - n - p)))
    return out


def _avg_pool(x, geo, div):
    B = backend_of(x, "avg_pool2d")
    (top, bottom), (left, right) = _pool_padding(geo)
    xpad = B.pad_constant(x._data, ((0, 0), (0, 0), (top, bottom), (left, right)))
    win = B.windows(xpad, geo.kernel, geo.stride, (1, 1), geo.out)
    data = B.div(B.sum(win, (2, 3)), div)
    return record("avg_pool2d", data, (x,), lambda ctx, g: (_avg_pool_grad(g, geo, div),))


def _avg_pool_grad(g, geo, div):
    """Each output's gradient / its divisor, spread over its window (col2im); the adjoint of
    this is average pooling again."""
    B = backend_of(g, "avg_pool2d_backward")
    (top, bottom), (left, right) = _pool_padding(geo)
    n, c = g.shape[:2]
    (h, w), (kh, kw) = geo.size, geo.kernel
    share = B.broadcast_to(B.reshape(B.div(g._data, div), (n, c, 1, 1, *geo.out)),
                           (n, c, kh, kw, *geo.out))
    dx = B.col2im(share, (n, c, h + top + bottom, w + left + right), geo.stride, (1, 1))
    inner = (slice(None),) * 2 + (slice(top, top + h), slice(left, left + w))
    return record("avg_pool2d_backward", B.getitem(dx, inner), (g,),
                  lambda ctx, u: (_avg_pool(u, geo, div),))
