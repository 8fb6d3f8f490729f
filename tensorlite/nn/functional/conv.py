"""Convolution: torch.nn.functional's conv2d.

conv2d is one tape op over the backend's im2col (a strided copy of the windows) and one matmul
per batch.  Its gradients are two more bilinear ops, and the three are each other's adjoints:

    conv2d(x, w) -> y              backward: input_grad(g, w),  weight_grad(x, g)
    input_grad(g, w) -> dx         backward: conv2d(u, w),      weight_grad(u, g)
    weight_grad(x, g) -> dw        backward: input_grad(g, v),  conv2d(x, v)

so gradients of any order work.
"""
from ...autograd.graph import record
from ...ops.common import backend_of
from ...tensor import Tensor, describe
from ._common import Geometry, as_batch, check_floating, pair

__all__ = ["conv2d"]


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
    ph, pw = pair("conv2d", "padding", padding, 0)
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
    return B.reshape(cols, (n, geo.groups, c // geo.groups * kh * kw, oh * ow))


def _conv_data(B, x, w, geo):
    """conv2d of raw arrays without bias: (output, columns)."""
    n, o, g = x.shape[0], w.shape[0], geo.groups
    cols = _cols(B, x, geo)
    if g == 1:
        out = B.matmul(B.reshape(w, (o, -1)), B.getitem(cols, (slice(None), 0)))
    else:
        out = B.matmul(B.reshape(w, (g, o // g, -1)), cols)
    return B.reshape(out, (n, o, *geo.out)), cols


def _input_grad_data(B, gout, w, geo):
    """The gradient of conv2d for its input: the transposed convolution of ``gout``."""
    n, (o, cg, kh, kw), g = gout.shape[0], w.shape, geo.groups
    wt = B.transpose(B.reshape(w, (g, o // g, -1)), (0, 2, 1))
    dcols = B.matmul(wt, B.reshape(gout, (n, g, o // g, geo.out[0] * geo.out[1])))
    dcols = B.reshape(dcols, (n, cg * g, kh, kw, *geo.out))
    top, bottom, left, right = geo.padding
    (h, wd) = geo.size
    dx = B.col2im(dcols, (n, cg * g, h + top + bottom, wd + left + right), geo.stride, geo.dilation)
    if top or bottom or left or right:
        return B.getitem(dx, (slice(None),) * 2 + (slice(top, top + h), slice(left, left + wd)))
    return dx


def _weight_grad_data(B, x, gout, geo, wshape, cols=None):
    """The gradient of conv2d for its weight: each sample's gout @ cols.T, summed."""
    n, g = x.shape[0], geo.groups
    if cols is None:
        cols = _cols(B, x, geo)
    gm = B.reshape(gout, (n, g, wshape[0] // g, geo.out[0] * geo.out[1]))
    dw = B.sum(B.matmul(gm, B.transpose(cols, (0, 1, 3, 2))), 0)
    return B.reshape(dw, wshape)


def _conv(x, w, b, geo):
    """The conv2d tape op on a 4-D input (arguments already checked)."""
    B = backend_of(x, "conv2d")
    data, cols = _conv_data(B, x._data, w._data, geo)
    if b is not None:
        B.iadd(data, B.reshape(b._data, (-1, 1, 1)))

    def backward(ctx, g):
        return (_input_grad(g, ctx.w, geo) if ctx.needs_input_grad[0] else None,
                _weight_grad(ctx.x, g, geo, ctx.w.shape, ctx.cols)
                if ctx.needs_input_grad[1] else None,
                g.sum((0, 2, 3)) if ctx.needs_input_grad[2] else None)
    # the weight gradient reuses the forward's columns: kept only where the weight is on the
    # tape, a choice made here at the forward (what to hold), not a gradient check
    return record("conv2d", data, (x, w, b), backward,
                  save={"x": x, "w": w, "cols": cols if w.requires_grad else None})


def _input_grad(g, w, geo):
    B = backend_of(g, "conv2d_backward")
    return record("conv2d_input_grad", _input_grad_data(B, g._data, w._data, geo), (g, w),
                  lambda ctx, u: (_conv(u, ctx.w, None, geo) if ctx.needs_input_grad[0] else None,
                                  _weight_grad(u, ctx.g, geo, ctx.w.shape)
                                  if ctx.needs_input_grad[1] else None),
                  save={"g": g, "w": w})


def _weight_grad(x, g, geo, wshape, cols=None):
    B = backend_of(g, "conv2d_backward")
    return record("conv2d_weight_grad", _weight_grad_data(B, x._data, g._data, geo, wshape, cols),
                  (x, g),
                  lambda ctx, v: (_input_grad(ctx.g, v, geo) if ctx.needs_input_grad[0] else None,
                                  _conv(ctx.x, v, None, geo) if ctx.needs_input_grad[1] else None),
                  save={"x": x, "g": g})


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of an (N, C, H, W) or (C, H, W) ``input`` with a
    (O, C/groups, kh, kw) ``weight``; ``padding`` is an int, a pair, 'valid' or 'same'."""
    x, unbatched = as_batch("conv2d", input)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        got = describe(weight) if isinstance(weight, Tensor) else type(weight).__name__
        raise RuntimeError(f"conv2d: weight must be a 4-D (out_channels, in_channels/groups, kh, "
                           f"kw) tensor, got {got}")
    check_floating("conv2d", x, weight, bias)
    stride = pair("conv2d", "stride", stride, 1)
    dilation = pair("conv2d", "dilation", dilation, 1)
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
    geo = Geometry((h, w), (kh, kw), stride, dilation, pads, groups, out)
    y = _conv(x, weight, bias, geo)
    return y.squeeze(0) if unbatched else y
