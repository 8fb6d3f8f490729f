"""Sorting and selection: sort, argsort, topk, kthvalue, unique, searchsorted, histograms.

Order of equal elements (and NaN, which sorts as the largest value, as in PyTorch): every sort
here is stable, descending ones too (equal elements keep their index order).  PyTorch's CPU sort
is stable with ``stable=True``; with ``stable=False`` it is stable for up to 16 elements along
the dim (std::sort's insertion sort) and leaves the order of ties unspecified beyond, where we
keep the stable order.  ``topk`` and ``kthvalue`` return PyTorch's CPU indices exactly, ties
included: where a tie decides, the slice is run through the same algorithms on the host
(libstdc++'s nth_element / partial_sort / sort for topk, torch's quickselect for kthvalue).
With ``sorted=False``, topk's slices without such a tie come sorted (PyTorch's own order there
is its selection's, which its documentation leaves unspecified; the set of elements is the
same).

Values outputs (``sort``, ``topk``, ``kthvalue``, ``msort``) carry the gradient to the
positions they were taken from (gather's adjoint); indices, ``unique``, ``bincount``, ``histc``
and the searches carry none (PyTorch has no derivative for them).
"""
from __future__ import annotations

import builtins
import math
import operator
from collections import namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dtypes
from ..autograd.graph import record
from ..tensor import Tensor, describe, wrap
from .common import backend_of, dims, number
from .indexing import scatter_add
from .registry import op

if TYPE_CHECKING:
    from ..dtypes import DTypeLike
    from .common import Number

# PyTorch's torch.return_types.sort / topk / kthvalue: named tuples (values, indices)
_Sort = namedtuple("sort", ("values", "indices"))
_Topk = namedtuple("topk", ("values", "indices"))
_Kthvalue = namedtuple("kthvalue", ("values", "indices"))


def _axis(name: str, input: Tensor, dim: int) -> int | None:
    """The one axis ``dim`` names (a 0-d tensor has none: None)."""
    axes = dims(name, dim, input.ndim)
    return axes[0] if axes else None


def _taken(name: str, input: Tensor, axis: int, idx: Any) -> Tensor:
    """``input``'s values at the int64 backend indices ``idx`` along ``axis`` (gather), with the
    gradient scattered back to those positions."""
    B = backend_of(input, name)
    index = wrap(idx, input.device)
    shape = input.shape
    return record(name, B.take_along_axis(input._data, idx, axis), (input,),
                  lambda ctx, g: (scatter_add(g, shape, axis, index),))


def _order(name: str, input: Tensor, axis: int, descending: bool) -> Any:
    return backend_of(input, name).sort_indices(input._data, axis, descending)


@op()
def sort(input: Tensor, dim: int = -1, descending: bool = False, *,
         stable: bool | None = False) -> Any:
    """``(values, indices)`` of ``input`` sorted along ``dim``, stably (see the module doc)."""
    axis = _axis("sort", input, dim)
    if axis is None:  # one element: itself, at index 0
        v, i = sort(input.reshape(1), 0, descending)
        return _Sort(v.reshape(()), i.reshape(()))
    idx = _order("sort", input, axis, bool(descending))
    return _Sort(_taken("sort", input, axis, idx), wrap(idx, input.device))


@op()
def argsort(input: Tensor, dim: int = -1, descending: bool = False, *,
            stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (int64), stably."""
    axis = _axis("argsort", input, dim)
    if axis is None:
        return argsort(input.reshape(1), 0, descending).reshape(())
    return wrap(_order("argsort", input, axis, bool(descending)), input.device)


@op()
def msort(input: Tensor) -> Tensor:
    """``input`` sorted along its first dim: ``sort(input, 0).values``."""
    return sort(input, 0).values


def _int(name: str, arg: str, value: Any) -> int:
    """An int argument: a Python int, a NumPy integer or a 0-d integer tensor (as PyTorch)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name}: argument '{arg}' must be int, not {type(value).__name__}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: argument '{arg}' must be int, not "
                        f"{type(value).__name__}") from None


def _check_k(name: str, input: Tensor, k: object, axis: int | None, what: str) -> int:
    k = _int(name, "k", k)
    n = input.shape[axis] if axis is not None else 1
    lo = 1 if name == "kthvalue" else 0
    if not lo <= k <= n:
        raise RuntimeError(f"{name}: selected {what} k = {k} out of range for dimension "
                           f"{axis or 0} of size {n} (input {describe(input)}); k must lie in "
                           f"[{lo}, {n}]")
    return k


@op()
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True,
         sorted: bool = True) -> Any:
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements along
    ``dim``, largest first (smallest first); ties go to the lower index (see the module doc)."""
    B = backend_of(input, "topk")
    if input.dtype == dtypes.bool_:
        raise RuntimeError(f"topk: bool tensors are not supported (input {describe(input)}); "
                           "convert with .int() or .float() first")
    axis = _axis("topk", input, dim)
    k = _check_k("topk", input, k, axis, "index")
    if axis is None:  # one element: itself, at index 0 (k = 0 too, as PyTorch)
        v, i = topk(input.reshape(1), 1, 0, largest, sorted)
        return _Topk(v.reshape(()), i.reshape(()))
    idx = B.select_top(input._data, k, axis, bool(largest), bool(sorted))
    return _Topk(_taken("topk", input, axis, idx), wrap(idx, input.device))


@op()
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """``(values, indices)`` of the k-th smallest element (k from 1) along ``dim``."""
    B = backend_of(input, "kthvalue")
    axis = _axis("kthvalue", input, dim)
    k = _check_k("kthvalue", input, k, axis, "number")
    if axis is None:  # one element: itself, at index 0 (any dtype, as PyTorch)
        idx = B.zeros((1,), dtypes.int64)
        return _Kthvalue(_taken("kthvalue", input.reshape(1), 0, idx).reshape(()),
                         wrap(B.zeros((), dtypes.int64), input.device))
    if input.dtype == dtypes.bool_:
        raise NotImplementedError(f"kthvalue: not implemented for bool tensors (input "
                                  f"{describe(input)}); convert with .int() or .float() first")
    idx = B.select_kth(input._data, k - 1, axis)
    values, indices = _taken("kthvalue", input, axis, idx), wrap(idx, input.device)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return _Kthvalue(values, indices)


# ----------------------------------------------------------------------------- distinct elements
def _unique(name: str, input: Tensor, dim: int | None, consecutive: bool,
            return_inverse: bool, return_counts: bool) -> Any:
    B = backend_of(input, name)
    if dim is not None:
        if input.ndim == 0:
            raise IndexError(f"{name}: dim {dim} given, but the input {describe(input)} has no "
                             "dimensions; leave dim=None to take its one element")
        (axis,) = dims(name, dim, input.ndim)
        if input.numel() == 0:
            zeros = [d for d, n in enumerate(input.shape) if n == 0]
            if len(zeros) > 1 or input.shape[axis] != 0:
                raise RuntimeError(f"{name}: the input {describe(input)} is empty along a dim "
                                   f"other than dim {dim} (or several): its slices along dim "
                                   f"{dim} cannot be told apart; select a dimension of size 0")
    else:
        axis = None
    values, inverse, counts = B.unique(input._data, axis, consecutive)
    out = [wrap(values, input.device)]
    if return_inverse:
        out.append(wrap(B.reshape(inverse, input.shape) if axis is None else inverse,
                        input.device))
    if return_counts:
        out.append(wrap(counts, input.device))
    return out[0] if len(out) == 1 else tuple(out)


@op()
def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct elements of ``input`` (flattened; ``dim``: its distinct slices along
    ``dim``), in ascending order (``sorted=False`` gives that order too, as PyTorch's CPU
    kernel); with ``return_inverse`` the index of each element's value (input's shape; with
    ``dim``, one per slice), with ``return_counts`` how often each value occurs.  NaNs are all
    distinct, each its own value: on more than 16 elements PyTorch's (unstable) sort decides
    which NaN element maps to which NaN value, here the one of lower index to the first."""
    return _unique("unique", input, dim, False, return_inverse, return_counts)


@op()
def unique_consecutive(input: Tensor, return_inverse: bool = False,
                       return_counts: bool = False, dim: int | None = None) -> Any:
    """``input`` (flattened; ``dim``: its slices along ``dim``) with each run of equal
    neighbours collapsed to one, in order; inverse and counts as ``unique``'s."""
    return _unique("unique_consecutive", input, dim, True, return_inverse, return_counts)


# ----------------------------------------------------------------------------- counting
@op()
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each value 0..max occurs in the 1-d non-negative integer ``input`` (int64),
    or the sum of ``weights`` (same length) at each value: in the weights' dtype when
    floating, else float64.  At least ``minlength`` bins."""
    B = backend_of(input, "bincount")
    if dtypes.kind(input.dtype) != 1:
        raise NotImplementedError(f"bincount: not implemented for {describe(input)}; the input "
                                  "must be a 1-d tensor of non-negative integers (.long())")
    minlength = _int("bincount", "minlength", minlength)
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    if input.ndim == 1 and input.numel() == 0:  # as PyTorch: int64 zeros, weights or not
        return wrap(B.zeros((minlength,), dtypes.int64), input.device)
    if input.ndim != 1 or B.value_range(input._data)[0] < 0:
        raise RuntimeError(f"bincount: only supports 1-d non-negative integral inputs, got "
                           f"{describe(input)}" + ("" if input.ndim != 1 else " holding a "
                                                   "negative value"))
    if weights is not None:
        if not isinstance(weights, Tensor):
            raise TypeError(f"bincount: weights must be a Tensor, got {type(weights).__name__}")
        if weights.ndim != 1 or weights.shape[0] != input.shape[0]:
            raise RuntimeError(f"bincount: weights should be 1-d and have the same length as "
                               f"input, got weights {describe(weights)} and input "
                               f"{describe(input)}")
    if weights is None:
        return wrap(B.bincount(input._data, None, minlength), input.device)
    out = B.bincount(input._data, B.astype(weights._data, dtypes.float64), minlength)
    dt = weights.dtype if dtypes.kind(weights.dtype) == 2 else dtypes.float64
    return wrap(B.astype(out, dt), input.device)


@op()
def histc(input: Tensor, bins: int = 100, min: Number = 0, max: Number = 0) -> Tensor:
    """The histogram of ``input`` in ``bins`` equal bins over [min, max] (both 0, or equal:
    the input's own range; a range of one value is widened by 1 each side), in its dtype;
    elements outside the range are not counted."""
    B = backend_of(input, "histc")
    if dtypes.kind(input.dtype) != 2:
        raise NotImplementedError(f"histc: not implemented for {describe(input)}; convert the "
                                  "input to a floating dtype first (.float())")
    bins = _int("histc", "bins", bins)
    if bins <= 0:
        raise RuntimeError(f"histc: bins must be > 0, but got {bins}")
    lo, hi = float(number("histc", min)), float(number("histc", max))
    if lo == hi and input.numel():
        lo, hi = (float(v) for v in B.to_host(B.stack(
            [B.amin(input._data), B.amax(input._data)])))
    if lo == hi:  # widened by 1 each side, and at least to the neighbouring values of the
        # dtype (so that a value as large as 1e30 still gets a range), as PyTorch
        lo, hi = _widen(input.dtype, lo, hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"histc: range of [{lo}, {hi}] is not finite (input "
                           f"{describe(input)}); pass a finite min and max")
    if not lo < hi:
        raise RuntimeError(f"histc: max must be larger than min, got min={min}, max={max}")
    return wrap(B.histc(input._data, bins, lo, hi), input.device)


def _widen(dtype: DTypeLike, lo: float, hi: float) -> tuple[float, float]:
    if dtype not in (dtypes.float32, dtypes.float64):
        return lo - 1, hi + 1
    t = np.dtype(dtype).type
    down, up = np.nextafter(t(lo), t(-np.inf)), np.nextafter(t(hi), t(np.inf))
    return builtins.min(float(down), lo - 1), builtins.max(float(up), hi + 1)


# ----------------------------------------------------------------------------- searching
def _search(name: str, seq: Tensor, values: Tensor | Number, out_int32: bool, right: bool,
            sorter: Tensor | None) -> Tensor:
    """searchsorted's work: ``values`` (a tensor or a number) located in ``seq``."""
    B = backend_of(seq, name)
    if isinstance(values, Tensor):
        if values.device != seq.device:
            raise RuntimeError(f"{name}: expected all tensors on the same device, got "
                               f"{describe(seq)} and {describe(values)}")
        dt = dtypes.promote(seq.dtype, seq.ndim, values.dtype, values.ndim)
        v = values._data
    else:
        value = number(name, values)
        dt = dtypes.promote_scalar(seq.dtype, value)
        v = B.asarray(value, dt)
    if dt == dtypes.bool_ and math.prod(v.shape):  # (no values: no search, any dtype)
        raise NotImplementedError(f"{name}: not implemented for bool tensors ({describe(seq)}); "
                                  "convert them with .int() first")
    if seq.ndim == 0:
        raise RuntimeError(f"{name}: the sorted sequence {describe(seq)} should have a "
                           "dimension: pass a 1-d tensor (or one per leading index of the values)")
    if seq.ndim > 1 and (v.ndim != seq.ndim or tuple(v.shape[:-1]) != tuple(seq.shape[:-1])):
        raise RuntimeError(f"{name}: the sorted sequence should be 1-d, or its first N-1 dims "
                           f"must match the values', but got the sequence {describe(seq)} and "
                           f"values of shape {list(v.shape)}")
    s = seq._data if seq.dtype == dt else B.astype(seq._data, dt)
    v = v if v.dtype == dt else B.astype(v, dt)
    srt = None
    if sorter is not None:
        if not isinstance(sorter, Tensor):
            raise TypeError(f"{name}: sorter must be a Tensor, got {type(sorter).__name__}")
        if sorter.dtype != dtypes.int64:
            raise RuntimeError(f"{name}: sorter must be a tensor of long dtype but got "
                               f"{describe(sorter)}; convert it with .long()")
        if tuple(sorter.shape) != tuple(seq.shape):
            raise RuntimeError(f"{name}: sorter {describe(sorter)} must have the shape of the "
                               f"sorted sequence {describe(seq)}")
        if sorter.numel():
            lo, hi = B.value_range(sorter._data)
            if lo < 0 or hi >= seq.shape[-1]:
                raise RuntimeError(f"{name}: sorter index out of range: it holds "
                                   f"{lo if lo < 0 else hi}, the sequence has "
                                   f"{seq.shape[-1]} elements")
        srt = sorter._data
    out = B.searchsorted(s, v, bool(right), srt)
    return wrap(B.astype(out, dtypes.int32) if out_int32 else out, seq.device)


@op(method=False)
def searchsorted(sorted_sequence: Tensor, input: Tensor | Number, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None,
                 sorter: Tensor | None = None) -> Tensor:
    """For each element of ``input`` (a tensor or a number), the index where it would be
    inserted into ``sorted_sequence`` (along its last dim) to keep it sorted: before equal
    elements, or after them with ``right=True`` / ``side="right"``.  ``sorter``: the indices
    that sort an unsorted sequence (argsort's).  int64, int32 with ``out_int32``."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted: side can only be 'left' or 'right' but got "
                               f"{side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted: side and right can't be set to opposites, got "
                               "side of left while right was True")
        right = side == "right"
    if not isinstance(sorted_sequence, Tensor):
        raise TypeError(f"searchsorted: sorted_sequence must be a Tensor, got "
                        f"{type(sorted_sequence).__name__}")
    return _search("searchsorted", sorted_sequence, input, out_int32, right, sorter)


@op(method=False)
def bucketize(input: Tensor | Number, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each element of ``input`` (a tensor or a number) among the 1-d sorted
    ``boundaries``: i with boundaries[i-1] < x <= boundaries[i] (``right``: boundaries[i-1]
    <= x < boundaries[i]), i.e. ``searchsorted(boundaries, input, right=right)``."""
    if not isinstance(boundaries, Tensor):
        raise TypeError(f"bucketize: boundaries must be a Tensor, got "
                        f"{type(boundaries).__name__}")
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got "
                           f"{describe(boundaries)}")
    return _search("bucketize", boundaries, input, out_int32, right, None)
