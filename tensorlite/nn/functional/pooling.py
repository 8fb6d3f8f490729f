"""Pooling: torch.nn.functional's max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d,
adaptive_max_pool1d/2d and max_unpool1d/2d.

Average pooling and its gradient are each other's adjoint (the gradient spreads each output's
share over its window; the gradient of that is average pooling again), so gradients of any
order work; max pooling sends the gradient to each window's argmax, whose adjoint is a gather.
"""
from __future__ import annotations

from ...autograd.graph import record
from ...ops.common import backend_of
from ... import dtypes
from ...creation import zeros
from ...tensor import Tensor, describe, wrap
from ._common import Geometry, as_batch, check_floating, pair
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from ...autograd.graph import Context

    _Size = Union[int, Sequence[int]]  # an int or one per spatial dim (torch's _size_any_t)

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max_unpool1d",
           "max_unpool2d"]


def _pool_args(op: str, kernel_size: _Size, stride: _Size | None, padding: _Size,
               dilation: _Size, ceil_mode: bool, size: Sequence[int]
               ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...],
                          tuple[int, ...]]:
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


def max_pool2d(input: Tensor, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
               dilation: _Size = 1, ceil_mode: bool = False, return_indices: bool = False
               ) -> Tensor | tuple[Tensor, Tensor]:
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


def _max_pool_grad(g: Tensor, indices: Tensor, shape: tuple[int, ...]) -> Tensor:
    """zeros(shape) with ``g`` added at ``indices``; its adjoint gathers at the same indices."""
    B = backend_of(g, "max_pool2d_backward")
    n, c = shape[:2]
    hw, ohw = shape[2] * shape[3], g.shape[2] * g.shape[3]

    # gather at the indices; a -1 (no element in the plane) gives 0
    def backward(ctx: Context, u: Tensor) -> tuple[Tensor]:
        i = ctx.indices
        inside = i >= 0
        picked = u.reshape(n, c, hw).gather(2, i.clamp(min=0).reshape(n, c, ohw))
        return (picked.reshape(i.shape) * inside,)
    return record("max_pool2d_backward", B.max_pool2d_backward(g._data, indices._data, shape),
                  (g,), backward, save={"indices": indices})


def avg_pool2d(input: Tensor, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
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


def _divisor(size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
             padding: Sequence[int], out: Sequence[int], count_include_pad: bool,
             divisor_override: int | None) -> list[list[float]]:
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


def _pool_padding(geo: Geometry) -> list[tuple[int, int]]:
    """((top, bottom), (left, right)) zero padding that holds every window of ``geo``."""
    out = []
    for n, k, s, p, o in zip(geo.size, geo.kernel, geo.stride, geo.padding, geo.out):
        out.append((p, max(p, (o - 1) * s + k - n - p)))
    return out


def _avg_pool(x: Tensor, geo: Geometry, div: Any) -> Tensor:
    B = backend_of(x, "avg_pool2d")
    (top, bottom), (left, right) = _pool_padding(geo)
    xpad = B.pad_constant(x._data, ((0, 0), (0, 0), (top, bottom), (left, right)))
    win = B.windows(xpad, geo.kernel, geo.stride, (1, 1), geo.out)
    data = B.div(B.sum(win, (2, 3)), div)
    return record("avg_pool2d", data, (x,), lambda ctx, g: (_avg_pool_grad(g, geo, div),))


def _avg_pool_grad(g: Tensor, geo: Geometry, div: Any) -> Tensor:
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


# -- 1-D pooling: the 2-D pooling over a plane of height 1 ---------------------------------------
def _one(op: str, name: str, value: Any, default: Any) -> Any:
    """An int or a 1-sequence as an int."""
    if value is None:
        return default
    if isinstance(value, (tuple, list)):
        if len(value) == 0 and name == "stride":
            return default
        if len(value) != 1:
            raise RuntimeError(f"{op}: {name} must be a single int, got {value!r}")
        value = value[0]
    return int(value)


def _as_planes(op: str, input: Any) -> tuple[Tensor, bool]:
    """A 2-D (C, L) or 3-D (N, C, L) input as a 4-D (N, C, 1, L) one, and whether it had no
    batch dim."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got "
                           f"{describe(input)}")
    return (input.unsqueeze(0) if input.ndim == 2 else input).unsqueeze(2), input.ndim == 2


def max_pool1d(input: Tensor, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
               dilation: _Size = 1, ceil_mode: bool = False, return_indices: bool = False
               ) -> Tensor | tuple[Tensor, Tensor]:
    """The max of each window along the last dim; ``return_indices`` also gives positions."""
    x, unbatched = _as_planes("max_pool1d", input)
    k = _one("max_pool1d", "kernel_size", kernel_size, None)
    s = _one("max_pool1d", "stride", stride, k)
    out = max_pool2d(x, (1, k), (1, s), (0, _one("max_pool1d", "padding", padding, 0)),
                     (1, _one("max_pool1d", "dilation", dilation, 1)), ceil_mode, True)
    y, idx = (t.squeeze(2) for t in out)  # type: ignore[union-attr]  # return_indices=True
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def avg_pool1d(input: Tensor, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """The mean of each window along the last dim."""
    x, unbatched = _as_planes("avg_pool1d", input)
    k = _one("avg_pool1d", "kernel_size", kernel_size, None)
    s = _one("avg_pool1d", "stride", stride, k)
    y = avg_pool2d(x, (1, k), (1, s), (0, _one("avg_pool1d", "padding", padding, 0)), ceil_mode,
                   count_include_pad).squeeze(2)
    return y.squeeze(0) if unbatched else y


# -- adaptive pooling: output cell i reads [floor(i*n/o), ceil((i+1)*n/o)) ------------------------
def _adaptive_sizes(op: str, output_size: Any, size: Sequence[int]) -> tuple[int, ...]:
    k = len(size)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != k:
            raise ValueError(f"{op}: output_size must be an int or a tuple of {k} ints (None "
                             f"keeps an input size), got {output_size!r}")
        out = tuple(n if o is None else int(o) for o, n in zip(output_size, size))
    else:
        out = (int(output_size),) * k
    if min(out) < 0:
        raise RuntimeError(f"{op}: output_size must be non-negative, got {output_size!r}")
    if any(n == 0 for n in size):
        raise RuntimeError(f"{op}: expected the input's spatial dims {list(size)} to be "
                           "non-empty")
    return out


def _empty_output(op: str, input: Tensor, out: Sequence[int], k: int) -> Tensor:
    """The empty result of an adaptive pooling to a size-0 output: torch computes it, and
    raises in its backward (grad_output has an empty non-batch dim)."""
    B = backend_of(input, op)
    shape = tuple(input.shape[:-k]) + tuple(out)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:
        raise RuntimeError(f"{op}_backward(): Expected grad_output to have non-zero size for "
                           f"non-batch dimensions, but grad_output has sizes {list(g.shape)}")
    return record(op, B.zeros(shape, dtype=input.dtype), (input,), backward)


def _adaptive_windows(n: int, o: int) -> tuple[list[list[int]], list[int], int]:
    """Per output cell: the positions of its window, each window padded to the longest by
    repeating its last position, as (o, kmax) lists, and the window lengths."""
    starts = [i * n // o for i in range(o)]
    ends = [-(-(i + 1) * n // o) for i in range(o)]
    kmax = max([e - s for s, e in zip(starts, ends)] or [1])
    idx = [[min(s + j, e - 1) for j in range(kmax)] for s, e in zip(starts, ends)]
    return idx, [e - s for s, e in zip(starts, ends)], kmax


def _adaptive_input(op: str, input: Any, k: int) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (k + 1, k + 2):
        raise RuntimeError(f"{op}: expected a {k + 1}-D or {k + 2}-D input, got "
                           f"{describe(input)}")


def _adaptive_avg(op: str, input: Tensor, output_size: Any, k: int) -> Tensor:
    _adaptive_input(op, input, k)
    check_floating(op, input)
    out = _adaptive_sizes(op, output_size, input.shape[-k:])
    if 0 in out:
        return _empty_output(op, input, out, k)
    B = backend_of(input, op)
    y = input
    for d in range(k):
        axis = input.ndim - k + d
        n, o = input.shape[axis], out[d]
        if n == o:
            continue
        idx, counts, kmax = _adaptive_windows(n, o)
        pos = wrap(B.asarray(idx, dtype=dtypes.int64), input.device)
        win = y[(slice(None),) * axis + (pos,)]  # (..., o, kmax, ...)
        tail = (1,) * (y.ndim - axis - 1)
        keep = [[j < c for j in range(kmax)] for c in counts]
        if not all(all(r) for r in keep):
            mask = wrap(B.asarray(keep, dtype=dtypes.bool_), input.device).reshape(o, kmax, *tail)
            win = _where(mask, win)
        div = wrap(B.asarray(counts, dtype=input.dtype), input.device).reshape(o, *tail)
        y = win.sum(axis + 1) / div
    return y


def _where(mask: Tensor, x: Tensor) -> Tensor:
    from ... import where
    return where(mask, x, 0.0)


def adaptive_avg_pool1d(input: Tensor, output_size: _Size) -> Tensor:
    """The mean of each adaptive window along the last dim."""
    return _adaptive_avg("adaptive_avg_pool1d", input, output_size, 1)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """The mean of each adaptive window over the last two dims (an int, or a pair whose None
    keeps that input size)."""
    return _adaptive_avg("adaptive_avg_pool2d", input, output_size, 2)


def _adaptive_max(op: str, input: Tensor, output_size: Any, k: int, return_indices: bool
                  ) -> Tensor | tuple[Tensor, Tensor]:
    _adaptive_input(op, input, k)
    out = _adaptive_sizes(op, output_size, input.shape[-k:])
    if 0 in out:
        y = _empty_output(op, input, out, k)
        return (y, zeros(tuple(y.shape), dtype=dtypes.int64, device=input.device)) \
            if return_indices else y
    B = backend_of(input, op)
    unbatched = input.ndim == k + 1
    x = input.unsqueeze(0) if unbatched else input
    if k == 1:
        x = x.unsqueeze(2)
        out = (1,) + out
    n, c, h, w = x.shape
    (ih, _, kh), (iw, _, kw) = _adaptive_windows(h, out[0]), _adaptive_windows(w, out[1])
    rows = wrap(B.asarray(ih, dtype=dtypes.int64), x.device)
    cols = wrap(B.asarray(iw, dtype=dtypes.int64), x.device)
    win = x[:, :, rows][..., cols]  # (N, C, OH, kh, OW, kw)
    win = win.permute(0, 1, 2, 4, 3, 5).reshape(n, c, out[0], out[1], kh * kw)
    flat = [[[r * w + q for r in ih[a] for q in iw[b]] for b in range(out[1])]
            for a in range(out[0])]
    pos = wrap(B.asarray(flat, dtype=dtypes.int64), x.device)
    # the first maximal element, or the last NaN where a window has one (torch's kernel)
    _, arg = win.detach().max(-1, keepdim=True)
    isnan = win.detach() != win.detach()
    if bool(isnan.any()):
        m = kh * kw
        rev = wrap(B.asarray(list(range(m - 1, -1, -1)), dtype=dtypes.int64), x.device)
        last = (m - 1) - isnan[..., rev].long().argmax(-1, keepdim=True)
        from ... import where
        arg = where(isnan.any(-1, keepdim=True), last, arg)
    y = win.gather(-1, arg).squeeze(-1)
    idx = pos.expand(n, c, out[0], out[1], kh * kw).gather(-1, arg).squeeze(-1)
    if k == 1:
        y, idx = y.squeeze(2), idx.squeeze(2)
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input: Tensor, output_size: _Size, return_indices: bool = False
                        ) -> Tensor | tuple[Tensor, Tensor]:
    """The max of each adaptive window along the last dim."""
    return _adaptive_max("adaptive_max_pool1d", input, output_size, 1, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False
                        ) -> Tensor | tuple[Tensor, Tensor]:
    """The max of each adaptive window over the last two dims; ``return_indices`` also gives
    the flat H*W positions."""
    return _adaptive_max("adaptive_max_pool2d", input, output_size, 2, return_indices)


# -- max unpooling: values back at the positions max pooling took them from -----------------------
def _max_unpool(op: str, input: Tensor, indices: Tensor, kernel_size: _Size,
                stride: _Size | None, padding: _Size, output_size: Sequence[int] | None, k: int
                ) -> Tensor:
    if not isinstance(input, Tensor) or not isinstance(indices, Tensor):
        raise TypeError(f"{op}: expected Tensor input and indices")
    if indices.dtype != dtypes.int64:
        raise RuntimeError(f"{op}: expected indices to have dtype int64, got {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}: expected shape of indices to be same as that of the input "
                           f"tensor ({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    if input.ndim not in (k + 1, k + 2):
        raise RuntimeError(f"{op}: expected a {k + 1}-D or {k + 2}-D input, got "
                           f"{describe(input)}")
    kernel = _ntuple(kernel_size, k)
    stride = kernel if stride is None else _ntuple(stride, k)
    padding = _ntuple(padding, k)
    size = input.shape[-k:]
    default = tuple((n - 1) * s - 2 * p + kk for n, s, p, kk in zip(size, stride, padding,
                                                                   kernel))
    if output_size is None:
        out = default
    else:
        out = tuple(int(v) for v in output_size)
        if len(out) == k + 2 or len(out) == k + 1:
            out = out[-k:]
        if len(out) != k:
            raise ValueError(f"{op}: output_size should be a sequence containing {k} or "
                             f"{k + 2} elements, but it has a length of '{len(output_size)}'")
        for o, d, s in zip(out, default, stride):
            if not d - s < o < d + s:
                raise ValueError(f"{op}: invalid output_size {list(out)} (dim must be between "
                                 f"{d - s} and {d + s})")
    lead = tuple(input.shape[:-k])
    plane = 1
    for o in out:
        plane *= o
    rows = 1
    for d in lead:
        rows *= d
    flat_idx = indices.reshape(rows, -1)
    if flat_idx.numel() and (int(flat_idx.min()) < 0 or int(flat_idx.max()) >= plane):
        bad = int(flat_idx.max()) if int(flat_idx.max()) >= plane else int(flat_idx.min())
        raise RuntimeError(f"{op}: Found an invalid max index: {bad} (output volumes are of "
                           f"size {'x'.join(str(o) for o in out)})")
    B = backend_of(input, op)
    row = wrap(B.reshape(B.arange(0, rows, 1, dtype=dtypes.int64), (rows, 1)), input.device)
    base = zeros((rows, plane), dtype=input.dtype, device=input.device)
    from ... import index_put
    y = index_put(base, (row.expand(*flat_idx.shape), flat_idx), input.reshape(rows, -1))
    return y.reshape(*lead, *out)


def _ntuple(value: Any, k: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        value = tuple(int(v) for v in value)
        return value * k if len(value) == 1 else value
    return (int(value),) * k


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: _Size, stride: _Size | None = None,
                 padding: _Size = 0, output_size: Sequence[int] | None = None) -> Tensor:
    """The inverse of max_pool1d: zeros with ``input`` placed at ``indices``."""
    return _max_unpool("max_unpool1d", input, indices, kernel_size, stride, padding,
                       output_size, 1)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: _Size, stride: _Size | None = None,
                 padding: _Size = 0, output_size: Sequence[int] | None = None) -> Tensor:
    """The inverse of max_pool2d: zeros (N, C, H, W) with ``input`` placed at the flat H*W
    positions ``indices``."""
    return _max_unpool("max_unpool2d", input, indices, kernel_size, stride, padding,
                       output_size, 2)
