"""Convolution: torch.nn.functional's conv1d, conv2d, conv3d, conv_transpose1d and
conv_transpose2d.

conv2d is one tape op over the backend's im2col (a strided copy of the windows, laid out as one
(C*kh*kw, N*OH*OW) matrix) and one matmul for the whole batch.  Its gradients are two more bilinear ops, and the three are each other's adjoints:

    conv2d(x, w) -> y              backward: input_grad(g, w),  weight_grad(x, g)
    input_grad(g, w) -> dx         backward: conv2d(u, w),      weight_grad(u, g)
    weight_grad(x, g) -> dw        backward: input_grad(g, v),  conv2d(x, v)

so gradients of any order work.
"""
from __future__ import annotations

import numbers

from ... import dtypes
from ...autograd.graph import record
from ...ops.common import backend_of
from ...tensor import Tensor, describe, wrap
from ._common import Geometry, as_batch, check_floating, pair
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from ...autograd.graph import Context

    _Size = Union[int, Sequence[int]]  # an int or one per spatial dim (torch's _size_any_t)

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d"]


def _conv_padding(padding: _Size | str, kernel: tuple[int, int], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[int, int, int, int]:
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
# One matrix product per convolution for the whole batch: the columns are the backend's
# batch_inner im2col, a (C*kh*kw, N*OH*OW) matrix (per group), and the output gradient is
# taken as the (O, N*OH*OW) matrix (one transposing copy), so the forward (w @ cols), the
# input gradient (w.T @ g, then col2im) and the weight gradient (g @ cols.T) are each one
# BLAS call on contiguous operands (a transposed operand is BLAS's flag, not a copy).
def _cols(B: Any, x: Any, geo: Geometry) -> Any:
    """The zero-padded input's columns as (groups, C/groups * kh * kw, N * OH * OW)."""
    cols = B.im2col(x, geo.kernel, geo.stride, geo.dilation, geo.out, geo.padding,
                    batch_inner=True)
    c, kh, kw, n, oh, ow = cols.shape
    return B.reshape(cols, (geo.groups, c // geo.groups * kh * kw, n * oh * ow))


def _rows(B: Any, gout: Any) -> Any:
    """An (N, O, OH, OW) output gradient as the contiguous (O, N * OH * OW) matrix."""
    n, o, oh, ow = gout.shape
    rows = B.ascontiguousarray(B.transpose(B.reshape(gout, (n, o, oh * ow)), (1, 0, 2)))
    return B.reshape(rows, (o, n * oh * ow))


def _conv_data(B: Any, x: Any, w: Any, geo: Geometry) -> tuple[Any, Any]:
    """conv2d of raw arrays without bias: (output, columns)."""
    n, o, g = x.shape[0], w.shape[0], geo.groups
    cols = _cols(B, x, geo)
    if g == 1:
        out = B.matmul(B.reshape(w, (o, -1)), B.getitem(cols, 0))  # (O, N*OH*OW)
    else:
        out = B.matmul(B.reshape(w, (g, o // g, -1)), cols)
    out = B.transpose(B.reshape(out, (o, n, geo.out[0] * geo.out[1])), (1, 0, 2))
    return B.reshape(B.ascontiguousarray(out), (n, o, *geo.out)), cols


def _input_grad_data(B: Any, gout: Any, w: Any, geo: Geometry, rows: Any = None) -> Any:
    """The gradient of conv2d for its input: the transposed convolution of ``gout`` (``rows``:
    its _rows when already made)."""
    n, (o, cg, kh, kw), g = gout.shape[0], w.shape, geo.groups
    if rows is None:
        rows = _rows(B, gout)
    if g == 1:
        dcols = B.matmul(B.transpose(B.reshape(w, (o, -1)), (1, 0)), rows)
    else:
        dcols = B.matmul(B.transpose(B.reshape(w, (g, o // g, -1)), (0, 2, 1)),
                         B.reshape(rows, (g, o // g, -1)))
    dcols = B.reshape(dcols, (cg * g, kh, kw, n, *geo.out))
    return B.col2im(dcols, (n, cg * g, *geo.size), geo.stride, geo.dilation, geo.padding,
                    batch_inner=True)


def _weight_grad_data(B: Any, x: Any, gout: Any, geo: Geometry, wshape: tuple[int, ...],
                      cols: Any = None, rows: Any = None) -> Any:
    """The gradient of conv2d for its weight: gout as (O, N*OH*OW) times cols.T."""
    g = geo.groups
    if cols is None:
        cols = _cols(B, x, geo)
    if rows is None:
        rows = _rows(B, gout)
    # the long N*OH*OW sum is the inner dim either way; OpenBLAS splits the result over its
    # threads by rows, so the longer side goes first (measured on 2 cores under load:
    # (64, 36864) @ (36864, 288) 2.2 s, (288, 36864) @ (36864, 64) 69 ms; equal on one thread)
    o = wshape[0] // g
    if g == 1:
        c2, r2 = B.getitem(cols, 0), rows
        dw = (B.matmul(r2, B.transpose(c2, (1, 0))) if o >= c2.shape[0] else
              B.transpose(B.matmul(c2, B.transpose(r2, (1, 0))), (1, 0)))
    else:
        r3 = B.reshape(rows, (g, o, -1))
        dw = (B.matmul(r3, B.transpose(cols, (0, 2, 1))) if o >= cols.shape[1] else
              B.transpose(B.matmul(cols, B.transpose(r3, (0, 2, 1))), (0, 2, 1)))
    return B.reshape(B.ascontiguousarray(dw), wshape)


def _conv(x: Tensor, w: Tensor, b: Tensor | None, geo: Geometry) -> Tensor:
    """The conv2d tape op on a 4-D input (arguments already checked)."""
    B = backend_of(x, "conv2d")
    data, cols = _conv_data(B, x._data, w._data, geo)
    if b is not None:
        B.iadd(data, B.reshape(b._data, (-1, 1, 1)))

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        need = ctx.needs_input_grad
        # the gradient as an (O, N*OH*OW) matrix, made once for both products
        rows = _rows(backend_of(g, "conv2d_backward"), g._data) if need[0] or need[1] else None
        return (_input_grad(g, ctx.w, geo, rows) if need[0] else None,
                _weight_grad(ctx.x, g, geo, ctx.w.shape, ctx.cols, rows) if need[1] else None,
                g.sum((0, 2, 3)) if need[2] else None)
    # the weight gradient reuses the forward's columns: kept only where the weight is on the
    # tape, a choice made here at the forward (what to hold), not a gradient check
    return record("conv2d", data, (x, w, b), backward,
                  save={"x": x, "w": w, "cols": cols if w.requires_grad else None})


def _input_grad(g: Tensor, w: Tensor, geo: Geometry, rows: Any = None) -> Tensor:
    B = backend_of(g, "conv2d_backward")
    return record("conv2d_input_grad", _input_grad_data(B, g._data, w._data, geo, rows), (g, w),
                  lambda ctx, u: (_conv(u, ctx.w, None, geo) if ctx.needs_input_grad[0] else None,
                                  _weight_grad(u, ctx.g, geo, ctx.w.shape)
                                  if ctx.needs_input_grad[1] else None),
                  save={"g": g, "w": w})


def _weight_grad(x: Tensor, g: Tensor, geo: Geometry, wshape: tuple[int, ...], cols: Any = None,
                 rows: Any = None) -> Tensor:
    B = backend_of(g, "conv2d_backward")
    return record("conv2d_weight_grad",
                  _weight_grad_data(B, x._data, g._data, geo, wshape, cols, rows), (x, g),
                  lambda ctx, v: (_input_grad(ctx.g, v, geo) if ctx.needs_input_grad[0] else None,
                                  _conv(ctx.x, v, None, geo) if ctx.needs_input_grad[1] else None),
                  save={"x": x, "g": g})


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1,
           padding: _Size | str = 0, dilation: _Size = 1, groups: int = 1) -> Tensor:
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


# -- conv1d, conv3d and the transposed convolutions, on conv2d's three tape ops ------------------
def _ints(op: str, name: str, value: Any, n: int, low: int) -> tuple[int, ...]:
    """An int or an n-sequence of ints (a 1-sequence repeated), each at least ``low``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        result = (int(value),) * n
    else:
        try:
            result = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got "
                            f"{value!r}") from None
        result = result * n if len(result) == 1 else result
        if len(result) != n:
            raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list "
                               f"of {n} values to match the convolution dimensions, but got "
                               f"{name}={list(result)}")
    if min(result) < low:
        what = "greater than zero" if low else "non-negative"
        raise RuntimeError(f"{op}: {name} should be {what}, got {value!r}")
    return result


def _check_weight(op: str, weight: Any, ndim: int) -> None:
    if not isinstance(weight, Tensor) or weight.ndim != ndim:
        got = describe(weight) if isinstance(weight, Tensor) else type(weight).__name__
        raise RuntimeError(f"{op}: weight must be a {ndim}-D tensor, got {got}")


def _as_nd(op: str, input: Any, k: int) -> tuple[Tensor, bool]:
    """``input`` with a batch dim (k spatial dims), and whether it had none."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (k + 1, k + 2):
        raise RuntimeError(f"{op}: expected a {k + 1}-D (unbatched) or {k + 2}-D (batched) "
                           f"input, got {describe(input)}")
    return (input.unsqueeze(0), True) if input.ndim == k + 1 else (input, False)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1,
           padding: _Size | str = 0, dilation: _Size = 1, groups: int = 1) -> Tensor:
    """1-D convolution of an (N, C, L) or (C, L) ``input`` with an (O, C/groups, k) ``weight``:
    conv2d over a plane of height 1."""
    _check_weight("conv1d", weight, 3)
    x, unbatched = _as_nd("conv1d", input, 1)
    stride = _ints("conv1d", "stride", stride, 1, 1)
    dilation = _ints("conv1d", "dilation", dilation, 1, 1)
    if not isinstance(padding, str):
        padding = (0,) + _ints("conv1d", "padding", padding, 1, 0)
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1,) + stride, padding,
               (1,) + dilation, groups)
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def _same_pads(op: str, stride: tuple[int, ...], kernel: tuple[int, ...],
               dilation: tuple[int, ...]) -> list[tuple[int, int]]:
    if any(s != 1 for s in stride):
        raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return [(t // 2, t - t // 2) for t in total]


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1,
           padding: _Size | str = 0, dilation: _Size = 1, groups: int = 1) -> Tensor:
    """3-D convolution of an (N, C, D, H, W) or (C, D, H, W) ``input`` with an
    (O, C/groups, kd, kh, kw) ``weight``: the kd depth slices each output depth reads are
    gathered as channels, and one conv2d runs over every output depth at once."""
    _check_weight("conv3d", weight, 5)
    x, unbatched = _as_nd("conv3d", input, 3)
    check_floating("conv3d", x, weight, bias)
    stride = _ints("conv3d", "stride", stride, 3, 1)
    dilation = _ints("conv3d", "dilation", dilation, 3, 1)
    if not isinstance(groups, int) or groups < 1:
        raise RuntimeError(f"conv3d: groups must be a positive integer, got {groups!r}")
    o, cg, kd, kh, kw = weight.shape
    n, c = x.shape[:2]
    if o % groups:
        raise RuntimeError(f"conv3d: given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"{list(weight.shape)} instead")
    if c != cg * groups:
        raise RuntimeError(f"conv3d: given groups={groups}, weight of size "
                           f"{list(weight.shape)}, expected input{list(x.shape)} to have "
                           f"{cg * groups} channels, but got {c} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != o):
        raise RuntimeError(f"conv3d: given weight of size {list(weight.shape)}, expected bias "
                           f"to be 1-dimensional with {o} elements, but got bias of size "
                           f"{list(bias.shape)} instead")
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * 3
        elif padding == "same":
            pads = _same_pads("conv3d", stride, (kd, kh, kw), dilation)
        else:
            raise ValueError(f"conv3d: invalid padding string {padding!r}; expected 'valid', "
                             "'same', an int or a tuple of 3 ints")
    else:
        pads = [(p, p) for p in _ints("conv3d", "padding", padding, 3, 0)]
    if any(a or b for a, b in pads):
        x = _pad_constant(x, [v for a, b in reversed(pads) for v in (a, b)])
    dp, hp, wp = x.shape[2:]
    ext = [d * (k - 1) + 1 for d, k in zip(dilation, (kd, kh, kw))]
    if any(e > s for e, s in zip(ext, (dp, hp, wp))):
        raise RuntimeError(f"conv3d: calculated padded input size per channel: "
                           f"({dp} x {hp} x {wp}). Kernel size: ({ext[0]} x {ext[1]} x "
                           f"{ext[2]}). Kernel size can't be greater than actual input size")
    od = (dp - ext[0]) // stride[0] + 1
    idx = [[z * stride[0] + i * dilation[0] for i in range(kd)] for z in range(od)]
    B = backend_of(x, "conv3d")
    depth = wrap(B.asarray(idx, dtype=dtypes.int64), x.device)
    cols = x[:, :, depth]  # (N, C, OD, kd, H, W)
    cols = cols.permute(0, 2, 1, 3, 4, 5).reshape(n * od, c * kd, hp, wp)
    y = conv2d(cols, weight.reshape(o, cg * kd, kh, kw), None, stride[1:], 0, dilation[1:],
               groups)
    y = y.reshape(n, od, o, *y.shape[2:]).permute(0, 2, 1, 3, 4)
    if bias is not None:
        y = y + bias.reshape(o, 1, 1, 1)
    return y.squeeze(0) if unbatched else y


def _pad_constant(x: Tensor, pad: list[int]) -> Tensor:
    from .padding import pad as _pad
    return _pad(x, pad)


def _transposed_geometry(op: str, x: Tensor, weight: Tensor, stride: _Size, padding: _Size | str,
                         output_padding: _Size, groups: int, dilation: _Size, k: int
                         ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...],
                                    tuple[int, ...], tuple[int, ...], int]:
    stride = _ints(op, "stride", stride, k, 1)
    dilation = _ints(op, "dilation", dilation, k, 1)
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be a tuple of ints, not str "
                        "(padding='same'/'valid' is only for the forward convolutions)")
    padding = _ints(op, "padding", padding, k, 0)
    output_padding = _ints(op, "output_padding", output_padding, k, 0)
    if not isinstance(groups, int) or groups < 1:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got {groups!r}")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                               f"dilation, but got output_padding={list(output_padding)}, "
                               f"stride={list(stride)}, dilation={list(dilation)}")
    cin, coutg = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    c = x.shape[1]
    if c != cin:
        raise RuntimeError(f"{op}: given transposed=1, weight of size {list(weight.shape)}, "
                           f"expected input{list(x.shape)} to have {cin} channels, but got "
                           f"{c} channels instead")
    if cin % groups:
        raise RuntimeError(f"{op}: given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"{list(weight.shape)} instead")
    size = tuple((n - 1) * s - 2 * p + d * (kk - 1) + q + 1 for n, s, p, d, kk, q in
                 zip(x.shape[2:], stride, padding, dilation, kernel, output_padding))
    # torch's float32 grouped kernel (oneDNN) returns an empty output where its other paths
    # raise: a size-0 output passes there only
    if min(size) < 1 and not (groups > 1 and min(size) == 0 and x.dtype == dtypes.float32):
        raise RuntimeError(f"{op}: given input size per channel {list(x.shape[2:])}, the "
                           f"calculated output size per channel {list(size)} is too small")
    return stride, padding, dilation, kernel, size, coutg * groups


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _Size = 1, padding: _Size | str = 0, output_padding: _Size = 0,
                     groups: int = 1, dilation: _Size = 1) -> Tensor:
    """The transposed 2-D convolution (the gradient of conv2d for its input) of an
    (N, C_in, H, W) or (C_in, H, W) ``input`` with a (C_in, C_out/groups, kh, kw) ``weight``."""
    x, unbatched = as_batch("conv_transpose2d", input)
    _check_weight("conv_transpose2d", weight, 4)
    check_floating("conv_transpose2d", x, weight, bias)
    stride, padding, dilation, kernel, size, cout = _transposed_geometry(
        "conv_transpose2d", x, weight, stride, padding, output_padding, groups, dilation, 2)
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != cout):
        raise RuntimeError(f"conv_transpose2d: given weight of size {list(weight.shape)}, "
                           f"expected bias to be 1-dimensional with {cout} elements, but got "
                           f"bias of size {list(bias.shape)} instead")
    if 0 in size:  # an empty output (allowed by torch for groups > 1)
        y = x.reshape(-1)[:0].reshape(x.shape[0], cout, *size)
        return y.squeeze(0) if unbatched else y
    pads = (padding[0], padding[0], padding[1], padding[1])
    geo = Geometry(size, kernel, stride, dilation, pads, groups, tuple(x.shape[2:]))
    y = _input_grad(x, weight, geo)
    if bias is not None:
        y = y + bias.reshape(-1, 1, 1)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _Size = 1, padding: _Size | str = 0, output_padding: _Size = 0,
                     groups: int = 1, dilation: _Size = 1) -> Tensor:
    """The transposed 1-D convolution: conv_transpose2d over a plane of height 1."""
    _check_weight("conv_transpose1d", weight, 3)
    x, unbatched = _as_nd("conv_transpose1d", input, 1)
    if isinstance(padding, str):
        raise TypeError("conv_transpose1d(): argument 'padding' must be a tuple of ints, not "
                        "str")
    args = [(1,) + _ints("conv_transpose1d", name, v, 1, low) for name, v, low in
            (("stride", stride, 1), ("padding", padding, 0), ("output_padding", output_padding, 0),
             ("dilation", dilation, 1))]
    args[1] = (0,) + args[1][1:]
    args[2] = (0,) + args[2][1:]
    y = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, args[0], args[1], args[2],
                         groups, args[3])
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y
