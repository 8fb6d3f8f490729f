"""Padding: torch.nn.functional.pad ('constant', 'reflect', 'replicate', 'circular').

Constant padding is one tape op whose gradient crops; the other modes index the input with the
positions that fill each padded dim, so their gradient is indexing's.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ... import dtypes
from ...autograd.graph import record
from ...ops.common import backend_of
from ...tensor import Tensor

__all__ = ["pad"]

_NON_CONSTANT = {"reflect", "replicate", "circular"}


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
        ) -> Tensor:
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
    if input.dtype == dtypes.bool_ and mode != "circular":  # torch has no bool kernel here
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented for bool tensors "
                                  f"(input {list(input.shape)} bool); convert it first, e.g. "
                                  "with .long() or .float()")
    B = backend_of(input, "pad")
    out = input
    for i, (a, b) in enumerate(pairs):
        d = lead + i
        idx = _pad_index(mode, input.shape[d], a, b, input.shape)
        out = out[(slice(None),) * d + (B.asarray(idx, dtype=dtypes.int64),)]
    return out


def _check_fill(value: float, dtype: np.dtype) -> None:
    """torch's checked conversion of the fill value: finite and in range for an integer dtype,
    within the finite range (or inf / nan) for a float dtype; any value fits bool."""
    if isinstance(value, bool) or dtypes.kind(dtype) == 0:
        return
    v = float(value)
    if dtypes.is_floating_point(dtype):
        fits = not math.isfinite(v) or abs(v) <= float(np.finfo(dtype).max)
    else:
        fits = float(np.iinfo(dtype).min) <= v <= float(np.iinfo(dtype).max)
    if not fits:
        raise RuntimeError(f"pad: value {value} cannot be converted to {dtype} without "
                           "overflow")


def _pad_constant(input: Tensor, lead: int, pairs: list[tuple[int, int]], value: float
                  ) -> Tensor:
    B = backend_of(input, "pad")
    if any(a > 0 or b > 0 for a, b in pairs):  # torch converts the value only if it is used
        _check_fill(value, input.dtype)
    else:
        value = 0
    x = input
    for d, ((a, b), n) in enumerate(zip(pairs, input.shape[lead:]), lead):
        if n + min(a, 0) + min(b, 0) < 0:  # torch narrows each side: no length below 0
            raise RuntimeError(f"pad: negative padding ({a}, {b}) crops more than the size {n} "
                               f"of dim {d} (input {list(input.shape)})")
    if any(a < 0 or b < 0 for a, b in pairs):  # negative padding crops first
        x = x[(slice(None),) * lead + tuple(slice(max(-a, 0), n - max(-b, 0))
                                             for (a, b), n in zip(pairs, input.shape[lead:]))]
        pairs = [(max(a, 0), max(b, 0)) for a, b in pairs]
    widths = ((0, 0),) * lead + tuple(pairs)
    inner = tuple(slice(a, a + n) for (a, _), n in zip(widths, x.shape))
    return record("pad", B.pad_constant(x._data, widths, value), (x,),
                  lambda ctx, g: (g[inner],))


def _pad_index(mode: str, n: int, before: int, after: int, shape: tuple[int, ...]
               ) -> list[int]:
    """Which input positions (a list) fill positions -before .. n+after-1 of one padded dim."""
    positions = range(-before, n + after)
    if mode == "replicate":
        return [min(max(j, 0), n - 1) for j in positions]
    if mode == "reflect":
        if max(before, after) >= n:
            raise RuntimeError(f"pad: padding ({before}, {after}) should be less than the "
                               f"dimension's size {n} in reflect mode (input {list(shape)})")
        return [2 * (n - 1) - abs(j) if abs(j) > n - 1 else abs(j) for j in positions]
    if max(before, after) > n:
        raise RuntimeError(f"pad: padding ({before}, {after}) wraps around a dimension of size "
                           f"{n} more than once in circular mode (input {list(shape)})")
    return [j % n for j in positions]
