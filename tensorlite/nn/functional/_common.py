"""What the functional ops share: their argument checks, and where the windows of a convolution
or a pooling lie."""
from __future__ import annotations

import numbers
from collections import namedtuple
from typing import Any

from ... import dtypes
from ...ops.common import backend_of
from ...tensor import Tensor, describe

# Where the windows of a convolution or pooling lie: input plane (H, W), kernel, stride,
# dilation, padding (top, bottom, left, right for conv2d; (top, left) for pooling), groups and
# the output plane (OH, OW).
Geometry = namedtuple("Geometry", "size kernel stride dilation padding groups out")


def check_tensor(op: str, x: Any, what: str = "input") -> Tensor:
    """``x``, checked to be a Tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(x).__name__}")
    return x


def float_backend(op: str, x: Tensor) -> Any:
    """The backend of ``x``, checked to be a floating point tensor (these ops are undefined for
    integers)."""
    if not dtypes.is_floating_point(check_tensor(op, x).dtype):
        raise TypeError(f"{op}: expected a floating point input, got {describe(x)}; convert "
                        "it with .float()")
    return backend_of(x, op)


def check_like(op: str, x: Tensor, **params: Tensor | None) -> None:
    """Every given parameter must be a tensor with ``x``'s dtype and device."""
    for name, t in params.items():
        if t is None:
            continue
        check_tensor(op, t, name)
        if t.dtype != x.dtype or t.device != x.device:
            raise RuntimeError(f"{op}: input is {describe(x)} but {name} is {describe(t)}; "
                               "they must have the same dtype and device (convert with .to())")


def check_floating(op: str, *tensors: Tensor | None) -> None:
    """Floating point tensors (None skipped) of one dtype on one device."""
    first: Tensor = tensors[0]  # type: ignore[assignment]  # the first is never None
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


def pair(op: str, name: str, value: Any, low: int) -> tuple[int, ...]:
    """An int or a 1- or 2-sequence of ints as a pair, each at least ``low``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):  # NumPy's too
        result: tuple[int, ...] = (int(value),) * 2
    else:
        try:
            result = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: {name} must be an int or a pair of ints, got "
                            f"{value!r}") from None
        result = result * 2 if len(result) == 1 else result
        if len(result) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(result) < low:
        what = "positive" if low else "non-negative"
        raise RuntimeError(f"{op}: {name} must be {what}, got {value!r}")
    return result


def as_batch(op: str, input: Tensor) -> tuple[Tensor, bool]:
    """``input`` as a 4-D batch, and whether it was a 3-D unbatched image."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: expected a 3-D (C, H, W) unbatched or 4-D (N, C, H, W) batched "
                           f"input, got {describe(input)}")
    return (input.unsqueeze(0), True) if input.ndim == 3 else (input, False)
