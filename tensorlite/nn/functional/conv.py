"""Convolution, pooling and padding: torch.nn.functional's conv2d, max_pool2d, avg_pool2d, pad.

conv2d is one tape op over the backend's im2col (a strided copy of the windows) and one matmul
per batch.  Its gradients are two more bilinear ops, and the three are each other's adjoints:

    conv2d(x, w) -> y              backward: input_grad(g, w),  weight_grad(x, g)
    input_grad(g, w) -> dx         backward: conv2d(u, w),      weight_grad(u, g)
    weight_grad(x, g) -> dw        backward: input_grad(g, v),  conv2d(x, v)

so gradients of any order work.  Average pooling and its gradient are likewise each other's
adjoint; max pooling sends the gradient to each window's argmax, whose adjoint is a gather.
"""
from collections import namedtuple

import numpy as np

from ... import dtypes
from ...autograd.graph import record
from ...ops.common import backend_of
from ...tensor import Tensor, describe, wrap

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "pad"]

# Where the windows of a convolution lie: input plane (H, W), kernel, stride, dilation,
# padding (top, bottom, left, right), groups and the output plane (OH, OW).
_Geometry = namedtuple("_Geometry", "size kernel stride dilation padding groups out")


# -- argument checks -------------------------------------------------------------------------------
def _pair(op, name, value, low):
    """An int or a 1- or 2-sequence of ints as a pair, each at least ``low``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value),) * 2
    else:
        try:
            pair = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: {name} must be an int or a pair of ints, got "
                            f"{value!r}") from None
        pair = pair * 2 if len(pair) == 1 else pair
        if len(pair) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < low:
        what = "positive" if low else "non-negative"
        raise RuntimeError(f"{op}: {name} must be {what}, got {value!r}")
    return pair


def _image(op, input):
    """``input`` as a 4-D batch, and whether it was a 3-D unbatched image."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: expected a 3-D (C, H, W) unbatched or 4-D (N, C, H, W) batched "
                           f"input, got {describe(input)}")
    return (input.unsqueeze(0), True) if input.ndim == 3 else (input, False)


def _floating(op, *tensors):
    first = tensors[0]
    for t in tensors:
        if t is None:
            continue
        if not dtypes.is_floating_point(t.dtype):
            raise TypeError(f"{op}: expected floating point tensors, got {describe(t)}; "
                            "convert it with .float()")
        if t.device != first.device:
            raise RuntimeError(f"{op}: expected all tensors on the same device, got "
                               f"{describe(first)} and {describe(t)}; move one with .to()")
        if t.dtype != first.dtype:
            raise TypeError(f"{op}: expected all tensors to have one dtype, got {describe(first)} "
                            f"and {describe(t)}; convert one with .to(dtype)")


def _conv_padding(padding, kernel, stride, dilation):
    """(top, bottom, left, right) from an int, a pair, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"conv2d: invalid padding string {padding!r}; expected 'valid', "
                             "'same', an int or a pair of ints")
        if stride != (1, 1):
            raise RuntimeError("conv2d: padding='same' is not supported for strided convolutions")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]  # any odd extra goes after
        return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    ph, pw = _pair("conv2d", "padding", padding, 0)
    return (ph, ph, pw, pw)


# -- convolution: three raw-array kernels, then the three tape ops ---------------------------------
def _padded(B, x, geo):
    top, bottom, left, right = geo.padding
    if top or bottom or left or right:
        return B.pad_constant(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    return x


def _cols(B, x, geo):
    """im2col of the padded input, as (N, groups, C/groups * kh * kw, OH * OW)."""
    cols = B.im2col(_padded(B, x, geo), geo.kernel, geo.stride, geo.dilation, geo.out)
    n, c, kh, kw, oh, ow = cols.shape
    return cols.reshape(n, geo.groups, c // geo.groups * kh * kw, oh * ow)


def _conv_data(B, x, w, geo):
    """conv2d of raw arrays without bias: (output, columns)."""
    n, o, g = x.shape[0], w.shape[0], geo.groups
    cols = _cols(B, x, geo)
    if g == 1:
        out = B.matmul(w.reshape(o, -1), cols[:, 0])
    else:
        out = B.matmul(w.reshape(g, o // g, -1), cols)
    return out.reshape(n, o, *geo.out), cols


def _input_grad_data(B, gout, w, geo):
    """The gradient of conv2d for its input: the transposed convolution of ``gout``."""
    n, (o, cg, kh, kw), g = gout.shape[0], w.shape, geo.groups
    wt = w.reshape(g, o // g, -1).transpose(0, 2, 1)
    dcols = B.matmul(wt, gout.reshape(n, g, o // g, geo.out[0] * geo.out[1]))
    dcols = dcols.reshape(n, cg * g, kh, kw, *geo.out)
    top, bottom, left, right = geo.padding
    (h, wd) = geo.size
    dx = B.col2im(dcols, (n, cg * g, h + top + bottom, wd + left + right), geo.stride, geo.dilation)
    return dx[:, :, top:top + h, left:left + wd] if top or bottom or left or right else dx


def _weight_grad_data(B, x, gout, geo, wshape, cols=None):
    """The gradient of conv2d for its weight: each sample's gout @ cols.T, summed."""
    n, g = x.shape[0], geo.groups
    if cols is None:
        cols = _cols(B, x, geo)
    gm = gout.reshape(n, g, wshape[0] // g, geo.out[0] * geo.out[1])
    dw = B.sum(B.matmul(gm, cols.transpose(0, 1, 3, 2)), 0)
    return dw.reshape(wshape)


def _conv(x, w, b, geo):
    """The conv2d tape op on a 4-D input (arguments already checked)."""
    B = backend_of(x, "conv2d")
    data, cols = _conv_data(B, x._data, w._data, geo)
    if b is not None:
        data += b._data.reshape(-1, 1, 1)
    want_x, want_w = x.requires_grad, w.requires_grad
    want_b = b is not None and b.requires_grad
    cached = cols if want_w else None  # the weight gradient reuses the forward's columns

    def backward(g, x, w):
        return (_input_grad(g, w, geo) if want_x else None,
                _weight_grad(x, g, geo, w.shape, cached) if want_w else None,
                g.sum((0, 2, 3)) if want_b else None)
    return record("conv2d", data, (x, w, b), backward, saved=(x, w))


def _input_grad(g, w, geo):
    B = backend_of(g, "conv2d_backward")
    want_g, want_w = g.requires_grad, w.requires_grad
    return record("conv2d_input_grad", _input_grad_data(B, g._data, w._data, geo), (g, w),
                  lambda u, g, w: (_conv(u, w, None, geo) if want_g else None,
                                   _weight_grad(u, g, geo, w.shape) if want_w else None),
                  saved=(g, w))


def _weight_grad(x, g, geo, wshape, cols=None):
    B = backend_of(g, "conv2d_backward")
    want_x, want_g = x.requires_grad, g.requires_grad
    return record("conv2d_weight_grad", _weight_grad_data(B, x._data, g._data, geo, wshape, cols),
                  (x, g), lambda v, x, g: (_input_grad(g, v, geo) if want_x else None,
                                           _conv(x, v, None, geo) if want_g else None),
                  saved=(x, g))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of an (N, C, H, W) or (C, H, W) ``input`` with a
    (O, C/groups, kh, kw) ``weight``; ``padding`` is an int, a pair, 'valid' or 'same'."""
    x, unbatched = _image("conv2d", input)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        got = describe(weight) if isinstance(weight, Tensor) else type(weight).__name__
        raise RuntimeError(f"conv2d: weight must be a 4-D (out_channels, in_channels/groups, kh, "
                           f"kw) tensor, got {got}")
    _floating("conv2d", x, weight, bias)
    stride = _pair("conv2d", "stride", stride, 1)
    dilation = _pair("conv2d", "dilation", dilation, 1)
    if not isinstance(groups, int) or groups < 1:
        raise RuntimeError(f"conv2d: groups must be a positive integer, got {groups!r}")
    o, cg, kh, kw = weight.shape
    n, c, h, w = x.shape
    if o % groups:
        raise RuntimeError(f"conv2d: given groups={groups}, the weight's out_channels ({o}) must "
                           f"be divisible by groups; weight is {list(weight.shape)}")
    if c != cg * groups:
        raise RuntimeError(f"conv2d: given groups={groups} and weight of shape "
                           f"{list(weight.shape)}, expected input {list(x.shape)} to have "
                           f"{cg * groups} channels, but got {c} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != o):
        raise RuntimeError(f"conv2d: given weight of shape {list(weight.shape)}, expected bias "
                           f"to be 1-dimensional with {o} elements, got shape {list(bias.shape)}")
    pads = _conv_padding(padding, (kh, kw), stride, dilation)
    ph, pw = h + pads[0] + pads[1], w + pads[2] + pads[3]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if eh > ph or ew > pw:
        raise RuntimeError(f"conv2d: the padded input plane ({ph} x {pw}) is smaller than the "
                           f"dilated kernel ({eh} x {ew}); input {list(input.shape)}, weight "
                           f"{list(weight.shape)}")
    out = ((ph - eh) // stride[0] + 1, (pw - ew) // stride[1] + 1)
    geo = _Geometry((h, w), (kh, kw), stride, dilation, pads, groups, out)
    y = _conv(x, weight, bias, geo)
    return y.squeeze(0) if unbatched else y


# -- pooling ---------------------------------------------------------------------------------------
def _pool_args(op, kernel_size, stride, padding, dilation, ceil_mode, size):
    """(kernel, stride, padding, dilation, out) with torch's output-size rule and checks."""
    kernel = _pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _pair(op, "stride", stride, 1)
    padding = _pair(op, "padding", padding, 0)
    dilation = _pair(op, "dilation", dilation, 1)
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
    x, unbatched = _image("max_pool2d", input)
    kernel, stride, padding, dilation, out = _pool_args("max_pool2d", kernel_size, stride,
                                                        padding, dilation, ceil_mode, x.shape[2:])
    B = backend_of(x, "max_pool2d")
    values, idx = B.max_pool2d(x._data, kernel, stride, padding, dilation, out)
    indices = wrap(idx, x.device)
    shape = x.shape
    y = record("max_pool2d", values, (x,), lambda g, i: (_max_pool_grad(g, i, shape),),
               saved=(indices,))
    if unbatched:
        y, indices = y.squeeze(0), indices.squeeze(0)
    return (y, indices) if return_indices else y


def _max_pool_grad(g, indices, shape):
    """zeros(shape) with ``g`` added at ``indices``; its adjoint gathers at the same indices."""
    B = backend_of(g, "max_pool2d_backward")
    n, c = shape[:2]
    hw, ohw = shape[2] * shape[3], g.shape[2] * g.shape[3]
    def backward(u, i):  # gather at the indices; a -1 (no element in the plane) gives 0
        inside = i >= 0
        picked = u.reshape(n, c, hw).gather(2, i.clamp(min=0).reshape(n, c, ohw))
        return (picked.reshape(i.shape) * inside,)
    return record("max_pool2d_backward", B.max_pool2d_backward(g._data, indices._data, shape),
                  (g,), backward, saved=(indices,))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window (zero padding; the divisor follows torch's rules)."""
    x, unbatched = _image("avg_pool2d", input)
    _floating("avg_pool2d", x)
    kernel, stride, padding, _, out = _pool_args("avg_pool2d", kernel_size, stride, padding, 1,
                                                 ceil_mode, x.shape[2:])
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool2d: divisor_override must be non-zero")
    B = backend_of(x, "avg_pool2d")
    div = B.asarray(_divisor(x.shape[2:], kernel, stride, padding, out, count_include_pad,
                             divisor_override), dtype=x.dtype)
    geo = _Geometry(x.shape[2:], kernel, stride, (1, 1), padding, 1, out)
    y = _avg_pool(x, geo, div)
    return y.squeeze(0) if unbatched else y


def _divisor(size, kernel, stride, padding, out, count_include_pad, divisor_override):
    """The (OH, OW) divisors, computed on the host as torch does (separable in h and w)."""
    if divisor_override is not None:
        return np.full(out, float(divisor_override))
    counts = []
    for n, k, s, p, o in zip(size, kernel, stride, padding, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        counts.append(end - start if count_include_pad else
                      np.minimum(end, n) - np.maximum(start, 0))
    div = np.outer(counts[0], counts[1]).astype(np.float64)
    return np.where(div > 0, div, 1.0)  # a window with no input element sums to 0 anyway


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
    data = B.sum(win, (2, 3))
    data /= div
    return record("avg_pool2d", data, (x,), lambda g: (_avg_pool_grad(g, geo, div),))


def _avg_pool_grad(g, geo, div):
    """Each output's gradient / its divisor, spread over its window (col2im); the adjoint of
    this is average pooling again."""
    B = backend_of(g, "avg_pool2d_backward")
    (top, bottom), (left, right) = _pool_padding(geo)
    n, c = g.shape[:2]
    (h, w), (kh, kw) = geo.size, geo.kernel
    share = B.broadcast_to((g._data / div).reshape(n, c, 1, 1, *geo.out), (n, c, kh, kw, *geo.out))
    dx = B.col2im(share, (n, c, h + top + bottom, w + left + right), geo.stride, (1, 1))
    return record("avg_pool2d_backward", dx[:, :, top:top + h, left:left + w], (g,),
                  lambda u: (_avg_pool(u, geo, div),))


# -- padding ---------------------------------------------------------------------------------------
_NON_CONSTANT = {"reflect", "replicate", "circular"}


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: ``pad`` lists (before, after) pairs from the last dim backwards.
    'constant' pads any dims (negative amounts crop); 'reflect', 'replicate' and 'circular'
    pad the last 1-3 dims of a batched or unbatched input."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: expected a Tensor input, got {type(input).__name__}")
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    k = len(pad) // 2
    if k > input.ndim:
        raise RuntimeError(f"pad: padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pad)} and input of "
                           f"dimension {input.ndim}")
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(k)][::-1]  # first padded dim first
    lead = input.ndim - k
    if mode == "constant":
        return _pad_constant(input, lead, pairs, 0 if value is None else value)
    if mode not in _NON_CONSTANT:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; expected "
                                  "'constant', 'reflect', 'replicate' or 'circular'")
    if value is not None and value != 0:
        raise RuntimeError(f"pad: padding mode {mode!r} doesn't take in a value argument")
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(f"pad: padding size {len(pad)} is not supported for a "
                                  f"{input.ndim}-D input in mode {mode!r}; pad the last 1, 2 or "
                                  f"3 dims of a (C, ...) or (N, C, ...) input")
    B = backend_of(input, "pad")
    out = input
    for i, (a, b) in enumerate(pairs):
        d = lead + i
        idx = _pad_index(mode, input.shape[d], a, b, input.shape)
        out = out[(slice(None),) * d + (B.asarray(idx),)]
    return out


def _pad_constant(input, lead, pairs, value):
    B = backend_of(input, "pad")
    x = input
    if any(a < 0 or b < 0 for a, b in pairs):  # negative padding crops first
        x = x[(slice(None),) * lead + tuple(slice(max(-a, 0), n - max(-b, 0))
                                             for (a, b), n in zip(pairs, input.shape[lead:]))]
        pairs = [(max(a, 0), max(b, 0)) for a, b in pairs]
    widths = ((0, 0),) * lead + tuple(pairs)
    inner = tuple(slice(a, a + n) for (a, _), n in zip(widths, x.shape))
    return record("pad", B.pad_constant(x._data, widths, value), (x,), lambda g: (g[inner],))


def _pad_index(mode, n, before, after, shape):
    """Which input positions fill positions -before .. n+after-1 of one padded dim."""
    j = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "reflect":
        if max(before, after) >= n:
            raise RuntimeError(f"pad: padding ({before}, {after}) should be less than the "
                               f"dimension's size {n} in reflect mode (input {list(shape)})")
        j = np.abs(j)
        return np.where(j > n - 1, 2 * (n - 1) - j, j)
    if max(before, after) > n:
        raise RuntimeError(f"pad: padding ({before}, {after}) wraps around a dimension of size "
                           f"{n} more than once in circular mode (input {list(shape)})")
    return j % n
