"""Vision: torch.nn.functional's interpolate (and the older upsample forms), pixel_shuffle,
pixel_unshuffle, channel_shuffle, unfold, fold, grid_sample and affine_grid.

Interpolation is separable: along each resized dim the output gathers a few input positions
and weighs them, with the positions and weights computed on the host exactly as torch's CPU
kernels compute them (in the input's float type), so gradients come from indexing's.  unfold
and fold are one tape op each over the backend's im2col/col2im, and each other's adjoint.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import dtypes
from ...autograd.graph import record
from ...ops.common import backend_of
from ...tensor import Tensor, describe, wrap
from ._common import check_floating, pair
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    _Size = Union[int, Sequence[int]]  # an int or one per spatial dim (torch's _size_any_t)

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "unfold", "fold", "grid_sample",
           "affine_grid"]

_LINEAR = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def _const(x: Tensor, values: Any, dtype: Any = None) -> Tensor:
    B = backend_of(x, "interpolate")
    return wrap(B.asarray(values, dtype=dtype or x.dtype), x.device)


def _along(x: Tensor, axis: int, idx: Any) -> Tensor:
    return x[(slice(None),) * axis + (idx,)]


def _source_scale(n: int, o: int, align_corners: bool | None, scale: float | None,
                  ftype: Any) -> Any:
    """torch's area_pixel_compute_scale in the op's float type."""
    if align_corners:
        return ftype(n - 1) / ftype(o - 1) if o > 1 else ftype(0)
    if scale is not None and scale > 0:
        return ftype(1.0 / scale)
    return ftype(n) / ftype(o)


def _linear_taps(n: int, o: int, align_corners: bool | None, scale: float | None, ftype: Any,
                 cubic: bool) -> tuple[Any, Any]:
    """Per output position: the input index below the source coordinate and its fraction
    (torch's area_pixel_compute_source_index and guard_index_and_lambda)."""
    s = _source_scale(n, o, align_corners, scale, ftype)
    dst = np.arange(o).astype(ftype)
    if align_corners:
        src = (s * dst).astype(ftype)
    else:
        src = (s * (dst + ftype(0.5)) - ftype(0.5)).astype(ftype)
        if not cubic:
            src = np.maximum(src, ftype(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    lam = np.clip(src - i0.astype(ftype), 0, 1).astype(ftype)
    return i0, lam


def _cubic_weights(t: Any, ftype: Any) -> list[Any]:
    a = ftype(-0.75)

    def conv1(v: Any) -> Any:
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def conv2(v: Any) -> Any:
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a
    one = ftype(1)
    return [conv2(t + one), conv1(t), conv1(one - t), conv2((one - t) + one)]


def _nearest_index(n: int, o: int, scale: float | None, exact: bool) -> Any:
    if o == n and not exact:
        return np.arange(o)
    if o == 2 * n and not exact:
        return np.arange(o) >> 1
    f32 = np.float32
    s = f32(1.0 / scale) if scale is not None and scale > 0 else f32(n) / f32(o)
    dst = np.arange(o).astype(f32)
    src = np.floor((dst + f32(0.5)) * s if exact else dst * s).astype(np.int64)
    return np.minimum(src, n - 1)


def _resize_dim(x: Tensor, axis: int, o: int, mode: str, align_corners: bool | None,
                scale: float | None) -> Tensor:
    n = x.shape[axis]
    shape = (o,) + (1,) * (x.ndim - axis - 1)
    if mode in ("nearest", "nearest-exact"):
        idx = _nearest_index(n, o, scale, mode == "nearest-exact")
        return _along(x, axis, _const(x, idx.tolist(), dtypes.int64))
    ftype = np.float64 if x.dtype == dtypes.float64 else np.float32
    if mode == "bicubic":
        i0, t = _linear_taps(n, o, align_corners, scale, ftype, True)
        ws = _cubic_weights(t, ftype)
        y: Any = None
        for j, w in enumerate(ws):
            idx = np.clip(i0 - 1 + j, 0, n - 1)
            term = _along(x, axis, _const(x, idx.tolist(), dtypes.int64)) * _const(
                x, w.tolist()).reshape(shape)
            y = term if y is None else y + term
        return y
    if n == o:  # torch copies: both taps at the position itself, weights 1 and 0
        i0, lam = np.arange(o), np.zeros(o, dtype=ftype)
        i1 = i0
    else:
        i0, lam = _linear_taps(n, o, align_corners, scale, ftype, False)
        i1 = i0 + (i0 < n - 1)
    w1 = lam
    w0 = (ftype(1) - lam).astype(ftype)
    return (_along(x, axis, _const(x, i0.tolist(), dtypes.int64)) * _const(x, w0.tolist()).reshape(shape)
            + _along(x, axis, _const(x, i1.tolist(), dtypes.int64)) * _const(x, w1.tolist()).reshape(shape))


def interpolate(input: Tensor, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of an (N, C, *) ``input`` to ``size`` or by ``scale_factor``
    with ``mode`` nearest | nearest-exact | linear | bilinear | bicubic | trilinear | area."""
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: expected a Tensor input, got {type(input).__name__}")
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: unknown mode {mode!r}; expected one of "
                                  f"{', '.join(_MODES)}")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    k = input.ndim - 2
    if k < 1:
        raise ValueError(f"interpolate: expected an input with at least 3 dims (N, C, *), got "
                         f"{describe(input)}")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != k:
                raise ValueError(f"Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(input.shape[2:])} and output size of {list(size)}. "
                                 f"Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                                 f"and output size in (o1, o2, ...,oK) format.")
            out = [int(v) for v in size]
        else:
            out = [int(size)] * k  # type: ignore[arg-type]  # an int here
        scales: list[float | None] = [None] * k
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != k:
                raise ValueError(f"Input and scale_factor must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(input.shape[2:])} and scale_factor of shape "
                                 f"{list(scale_factor)}. Please provide input tensor in (N, C, "
                                 f"d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                                 f"format.")
            scales = [float(v) for v in scale_factor]
        else:
            scales = [float(scale_factor)] * k  # type: ignore[arg-type]  # a float here
        out = [int(math.floor(float(n) * s))  # type: ignore[operator]  # floats here
               for n, s in zip(input.shape[2:], scales)]
        if recompute_scale_factor:
            scales = [None] * k
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode in _LINEAR and input.ndim != _LINEAR[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_LINEAR[mode]}D input")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  f"bilinear | bicubic | trilinear | area | nearest-exact (got "
                                  f"{mode})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by tensorlite")
    if mode == "area":  # adaptive average pooling (an empty output allowed, as torch)
        from .pooling import _adaptive_avg
        return _adaptive_avg("interpolate", input, tuple(out), k)
    if min(out) <= 0:
        raise RuntimeError(f"interpolate: input and output sizes should be greater than 0, but "
                           f"got input (D: {list(input.shape[2:])}) output "
                           f"(D: {out})")
    if min(input.shape[2:]) <= 0:
        raise RuntimeError(f"interpolate: input and output sizes should be greater than 0, but "
                           f"got input (D: {list(input.shape[2:])}) output (D: {out})")
    if mode != "nearest" and mode != "nearest-exact":
        check_floating("interpolate", input)
    y = input
    for d in range(k):
        y = _resize_dim(y, 2 + d, out[d], mode, align_corners, scales[d])
    return y


def upsample(input: Tensor, size: int | Sequence[int] | None = None,
             scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of interpolate (warns as torch)."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: int | Sequence[int] | None = None,
                     scale_factor: float | Sequence[float] | None = None) -> Tensor:
    """Deprecated: interpolate(..., mode='nearest')."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: int | Sequence[int] | None = None,
                      scale_factor: float | Sequence[float] | None = None) -> Tensor:
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# -- pixel shuffles --------------------------------------------------------------------------------
def _factor(op: str, name: str, value: Any) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")
    if value <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {value}")
    return int(value)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r)."""
    r = _factor("pixel_shuffle", "upscale_factor", upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    k = len(lead)
    y = input.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    r = _factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} is not divisible by {r}")
    if w % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by "
                           f"downscale_factor, but input.size(-1)={w} is not divisible by {r}")
    k = len(lead)
    y = input.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, g*k, *) -> the channels regrouped as (N, k*g, *)."""
    g = _factor("channel_shuffle", "groups", groups)
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    n, c, *rest = input.shape
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {g} groups.")
    return input.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


# -- unfold / fold ---------------------------------------------------------------------------------
def _im2col(x: Tensor, kernel: tuple[int, ...], dilation: tuple[int, ...],
            stride: tuple[int, ...], out: tuple[int, ...]) -> Tensor:
    B = backend_of(x, "unfold")
    n, c = x.shape[:2]
    cols = B.im2col(x._data, kernel, stride, dilation, out)
    data = B.reshape(cols, (n, c * kernel[0] * kernel[1], out[0] * out[1]))
    size = tuple(x.shape[2:])
    return record("unfold", data, (x,),
                  lambda ctx, g: (_col2im(g, size, kernel, dilation, stride, out),))


def _col2im(cols: Tensor, size: tuple[int, ...], kernel: tuple[int, ...],
            dilation: tuple[int, ...], stride: tuple[int, ...], out: tuple[int, ...]) -> Tensor:
    B = backend_of(cols, "fold")
    n = cols.shape[0]
    c = cols.shape[1] // (kernel[0] * kernel[1])
    data = B.col2im(B.reshape(cols._data, (n, c, kernel[0], kernel[1], out[0], out[1])),
                    (n, c, size[0], size[1]), stride, dilation)
    return record("fold", data, (cols,),
                  lambda ctx, g: (_im2col(g, kernel, dilation, stride, out),))


def _blocks(op: str, size: Sequence[int], kernel: Sequence[int], dilation: Sequence[int],
            padding: Sequence[int], stride: Sequence[int]) -> tuple[int, ...]:
    out = tuple((n + 2 * p - (d * (k - 1) + 1)) // s + 1
                for n, k, d, p, s in zip(size, kernel, dilation, padding, stride))
    if min(out) < 1:
        raise RuntimeError(f"{op}: given input with spatial size {list(size)}, kernel_size="
                           f"{list(kernel)}, dilation={list(dilation)}, padding="
                           f"{list(padding)}, calculated shape of the array of sliding blocks "
                           f"as {list(out)}, but its components must be at least one.")
    return out


def unfold(input: Tensor, kernel_size: _Size, dilation: _Size = 1, padding: _Size = 0,
           stride: _Size = 1) -> Tensor:
    """The sliding blocks of an (N, C, H, W) or (C, H, W) input as columns:
    (N, C*kh*kw, L)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"unfold: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < 3:  # torch's unfold indexes dim 2 first: an IndexError
        raise IndexError(f"unfold: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                         f"{describe(input)} (Dimension out of range)")
    if input.ndim > 4:
        raise RuntimeError(f"unfold: expected a 3-D or 4-D (batch mode) input, got "
                           f"{describe(input)}")
    kernel = pair("unfold", "kernel_size", kernel_size, 1)
    dilation = pair("unfold", "dilation", dilation, 1)
    padding = pair("unfold", "padding", padding, 0)
    stride = pair("unfold", "stride", stride, 1)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    out = _blocks("unfold", x.shape[2:], kernel, dilation, padding, stride)
    if any(padding):
        from .padding import pad
        x = pad(x, (padding[1], padding[1], padding[0], padding[0]))
    y = _im2col(x, kernel, dilation, stride, out)
    return y.squeeze(0) if unbatched else y


def fold(input: Tensor, output_size: _Size, kernel_size: _Size, dilation: _Size = 1,
         padding: _Size = 0, stride: _Size = 1) -> Tensor:
    """The adjoint of unfold: (N, C*kh*kw, L) columns summed back into (N, C, H, W)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fold: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"fold: expected a 2-D or 3-D (batch mode) input, got "
                           f"{describe(input)}")
    size = pair("fold", "output_size", output_size, 1)
    kernel = pair("fold", "kernel_size", kernel_size, 1)
    dilation = pair("fold", "dilation", dilation, 1)
    padding = pair("fold", "padding", padding, 0)
    stride = pair("fold", "stride", stride, 1)
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    kk = kernel[0] * kernel[1]
    if x.shape[1] % kk:
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={tuple(kernel)}")
    out = _blocks("fold", size, kernel, dilation, padding, stride)
    if x.shape[2] != out[0] * out[1]:
        raise RuntimeError(f"fold: Given output_size={tuple(size)}, kernel_size="
                           f"{tuple(kernel)}, dilation={tuple(dilation)}, padding="
                           f"{tuple(padding)}, stride={tuple(stride)}, expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks "
                           f"{out[0]} * {out[1]} = {out[0] * out[1]}, but got input.size(2)="
                           f"{x.shape[2]}.")
    padded = (size[0] + 2 * padding[0], size[1] + 2 * padding[1])
    y = _col2im(x.contiguous(), padded, kernel, dilation, stride, out)
    if any(padding):
        y = y[:, :, padding[0]:padding[0] + size[0], padding[1]:padding[1] + size[1]]
    return y.squeeze(0) if unbatched else y


# -- grid_sample / affine_grid ---------------------------------------------------------------------
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details.")


def _reflect(coord: Tensor, low2: float, high2: float) -> Tensor:
    """torch's reflect_coordinates: fold ``coord`` into [low2/2, high2/2] by reflections."""
    if low2 == high2:
        return coord * 0
    lo = low2 / 2
    span = (high2 - low2) / 2
    a = (coord - lo).abs()
    extra = a.fmod(span)
    flips = (a / span).floor()
    from ...ops.pointwise import where
    even = flips.fmod(2) == 0
    return where(even, extra + lo, (span - extra) + lo)


def _clip(coord: Tensor, n: int) -> Tensor:
    from ...ops.pointwise import where
    upper = float(n - 1)
    inside = (coord > 0) & (coord < upper)
    return where(inside, coord, where(coord <= 0, coord * 0, coord * 0 + upper))


def _source(coord: Tensor, n: int, padding_mode: str, align_corners: bool | None) -> Tensor:
    if align_corners:
        c = (coord + 1) / 2 * (n - 1)
    else:
        c = ((coord + 1) * n - 1) / 2
    if padding_mode == "border":
        c = _clip(c, n)
    elif padding_mode == "reflection":
        if align_corners:
            c = _reflect(c, 0, 2 * (n - 1))
        else:
            c = _reflect(c, -1, 2 * n - 1)
        c = _clip(c, n)
    return c


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample an (N, C, H, W) ``input`` at the (N, OH, OW, 2) ``grid``'s (x, y) positions in
    [-1, 1] (or an (N, C, D, H, W) one at (N, OD, OH, OW, 3) (x, y, z) positions): ``mode``
    bilinear (trilinear for 5-D) | nearest, ``padding_mode`` zeros | border | reflection."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not isinstance(input, Tensor) or not isinstance(grid, Tensor):
        raise TypeError("grid_sample: expected Tensor input and grid")
    check_floating("grid_sample", input, grid)
    if input.ndim != grid.ndim:
        raise RuntimeError(f"grid_sampler(): expected grid to have the same number of "
                           f"dimensions as input, but got input with sizes "
                           f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.ndim not in (4, 5):
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got input with sizes {list(input.shape)}")
    k = input.ndim - 2
    if mode == "bicubic":
        if k == 3:
            raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported by tensorlite")
    n, c, *size = input.shape
    if grid.shape[0] != n:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if grid.shape[-1] != k:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {k} in last dimension, "
                           f"but got grid with sizes {list(grid.shape)}")
    for d, m in enumerate(size):
        if m == 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {d + 2} being empty")
    out_shape = tuple(grid.shape[1:-1])
    m = 1
    for o in out_shape:
        m *= o
    # the source coordinate along each spatial dim (grid's last entry is the first dim's)
    coords = [_source(grid[..., k - 1 - d], size[d], padding_mode, align_corners)
              for d in range(k)]
    flat = input.reshape(n, c, -1)
    from ...ops.pointwise import where

    def pick(pos: list[Tensor]) -> Tensor:
        """input at integer positions (one (N, *out) float tensor per dim), 0 outside."""
        inside: Any = None
        index: Any = None
        for p, extent in zip(pos, size):
            ok = (p >= 0) & (p <= extent - 1)
            inside = ok if inside is None else inside & ok
            q = p.clamp(0, extent - 1)
            index = q if index is None else index * extent + q
        idx = index.long().reshape(n, 1, m).expand(n, c, m)
        vals = flat.gather(2, idx)
        return where(inside.reshape(n, 1, m), vals, 0.0).reshape(n, c, *out_shape)

    if mode == "nearest":
        out = pick([p.detach().round() for p in coords])
        if not grid.requires_grad:
            return out
        gshape = tuple(grid.shape)  # the grid gets a zero gradient, as torch's kernel gives
        from ...creation import zeros
        return record("grid_sample", out._data, (out, grid),
                      lambda ctx, g: (g, zeros(gshape, dtype=g.dtype, device=g.device)))
    low = [p.detach().floor() for p in coords]
    frac = [p - q for p, q in zip(coords, low)]
    out = None  # type: ignore[assignment]  # the sum over the corners starts empty
    for corner in range(2 ** k):  # corners in order (z, y, x) lexicographic, as torch sums
        bits = [(corner >> (k - 1 - d)) & 1 for d in range(k)]
        weight: Any = None
        for d, b in enumerate(bits):
            f = frac[d] if b else 1 - frac[d]
            weight = f if weight is None else weight * f
        term = pick([q + b for q, b in zip(low, bits)]) * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out


def _base(n: int, align_corners: bool | None, like: Tensor) -> Tensor:
    from ...creation import linspace
    if n <= 1:
        return linspace(0.0, 0.0, n, dtype=like.dtype, device=like.device)
    r = linspace(-1.0, 1.0, n, dtype=like.dtype, device=like.device)
    return r if align_corners else r * ((n - 1) / n)


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """The (N, H, W, 2) (or (N, D, H, W, 3)) sampling grid of the affine maps ``theta``
    (N, 2, 3) (or (N, 3, 4)) for an output of ``size`` (N, C, H, W) (or (N, C, D, H, W))."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not isinstance(theta, Tensor):
        raise TypeError(f"affine_grid: expected a Tensor theta, got {type(theta).__name__}")
    if not dtypes.is_floating_point(theta.dtype):
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(v) for v in size]
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {list(theta.shape)}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {list(theta.shape)}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid: expected theta's batch size {theta.shape[0]} to match "
                           f"size[0]={size[0]}")
    from ...creation import ones
    from ...ops.movement import stack
    axes = [_base(m, align_corners, theta) for m in reversed(spatial)]  # x, y(, z)
    k = len(spatial)
    grids = []
    for i, a in enumerate(axes):  # axis i varies along spatial dim k-1-i
        shape = [1] * k
        shape[k - 1 - i] = spatial[k - 1 - i]
        grids.append(a.reshape(*shape).expand(*spatial))
    grids.append(ones(tuple(spatial), dtype=theta.dtype, device=theta.device))
    base = stack(grids, -1).reshape(1, -1, k + 1)
    out = base.matmul(theta.transpose(1, 2))
    return out.reshape(size[0], *spatial, k)
