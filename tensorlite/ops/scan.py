"""Scans and the reductions beyond reduce.py's: cumulative ops, products, norms, quantiles.

Every op here follows PyTorch's CPU semantics, gradients included: the backward formulas are
PyTorch's (FunctionsManual.cpp), written with tensor ops so that they differentiate again.
``torch.norm`` (and ``Tensor.norm``), ``dist`` and ``cdist`` reduce through
``tensorlite.linalg``'s norms (ops/linalg.py, PyTorch's norm_backward).
"""
from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import dtypes
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..autograd.graph import record
from ..tensor import Tensor, describe, wrap
from .common import backend_of, binary, cast, dims, sum_to
from .indexing import gather, getitem
from .linalg import _norm_backward, matrix_norm, vector_norm
from .movement import cat
from .pointwise import where
from .registry import op
from .reduce import amax, amin, mean, std, sum, var

if TYPE_CHECKING:
    from ..autograd.graph import Context
    from ..dtypes import DTypeLike


# ----------------------------------------------------------------------------- result types
def _result_type(name: str, fields: Sequence[str] = ("values", "indices")) -> Any:
    """A named tuple as ``torch.return_types.<name>``: fields by name, unpacks, indexes."""
    cls = namedtuple(name, fields)  # type: ignore[misc]
    cls.__module__ = "tensorlite.return_types"

    def __repr__(self: Any) -> str:
        inner = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"tensorlite.return_types.{name}(\n{inner})"
    cls.__repr__ = __repr__  # type: ignore[method-assign]
    return cls


class return_types:
    """The named tuples of the ops here (PyTorch's ``torch.return_types``)."""
    cummax = _result_type("cummax")
    cummin = _result_type("cummin")
    median = _result_type("median")
    nanmedian = _result_type("nanmedian")
    mode = _result_type("mode")
    aminmax = _result_type("aminmax", ("min", "max"))


# ----------------------------------------------------------------------------- helpers
def _axis(name: str, dim: int, ndim: int) -> int | None:
    """One dim (an int) normalized; a 0-d tensor takes dim 0 or -1 and has no axis (None)."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    axes = dims(name, dim, ndim)
    return axes[0] if axes else None


def _int64_if_integral(x: Tensor, dtype: DTypeLike | None, name: str = "the op") -> Tensor:
    """``x`` cast to ``dtype``, or integers and bools to int64 (PyTorch's sum/prod/cumsum).
    An integer ``dtype`` for an input that requires grad raises, as PyTorch's autograd."""
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        if dtypes.kind(dtype) < 2 and is_grad_enabled() and (x.requires_grad or
                                                             x.grad_fn is not None):
            raise RuntimeError(f"{name}: Autograd not support dtype: {dtype} (the input "
                               f"{describe(x)} requires grad); detach it or pass a floating dtype")
        return cast(x, dtype)
    return cast(x, dtypes.int64) if dtypes.kind(x.dtype) < 2 else x


def _kept(t: Tensor, axes: tuple[int, ...], ndim: int, keepdim: bool) -> Tensor:
    """A reduction's result (or its gradient) with the reduced ``axes`` put back as size 1."""
    if keepdim or not axes:
        return t
    shape, it = [], iter(t.shape)
    for i in range(ndim):
        shape.append(1 if i in axes else next(it))
    return t.reshape(tuple(shape))


def _zeros(like: Tensor, shape: Sequence[int] | None = None, dtype: Any = None) -> Tensor:
    B = backend_of(like, "zeros")
    return wrap(B.zeros(tuple(like.shape if shape is None else shape),
                        dtype=like.dtype if dtype is None else dtype), like.device)


def _ones(like: Tensor, shape: Sequence[int]) -> Tensor:
    B = backend_of(like, "ones")
    return wrap(B.ones(tuple(shape), dtype=like.dtype), like.device)


def _either(a: Tensor, b: Tensor) -> Tensor:
    """a or b, elementwise (bool tensors)."""
    return ~(~a & ~b)


def _slice(x: Tensor, axis: int, start: int | None, stop: int | None) -> Tensor:
    return getitem(x, (slice(None),) * axis + (slice(start, stop),))


def _scatter_to(g: Tensor, shape: Sequence[int], axis: int, index: Tensor) -> Tensor:
    """zeros(shape) with ``g`` put at ``index`` along ``axis`` (the backward of an op that
    selects elements, as PyTorch's value_selecting_reduction_backward); differentiable again
    (its own backward gathers)."""
    B = backend_of(g, "scatter")
    return record("scatter_add", B.scatter_add(tuple(shape), axis, index._data, g._data), (g,),
                  lambda ctx, gg: (gather(gg, axis, index),))


def _scan_input(name: str, input: Tensor, dim: int) -> int | None:
    backend_of(input, name)
    return _axis(name, dim, input.ndim)


# ----------------------------------------------------------------------------- cumsum, cumprod
def _cumsum(x: Tensor, axis: int, reverse: bool = False) -> Tensor:
    """Running sums of ``x`` along ``axis`` (``reverse``: suffix sums); differentiable."""
    B = backend_of(x, "cumsum")
    return record("cumsum", B.cumsum(x._data, axis, reverse), (x,),
                  lambda ctx, g: (_cumsum(g, axis, not reverse),))


@op(inplace=True)
def cumsum(input: Tensor, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
    """Running sums along ``dim``; integers and bools sum in int64 unless ``dtype`` is given."""
    axis = _scan_input("cumsum", input, dim)
    x = _int64_if_integral(input, dtype, "cumsum")
    _no_bool_scan("cumsum", x)
    if axis is None or x.numel() <= 1:
        return x.clone() if x is input else x * 1 if dtypes.kind(x.dtype) == 2 else x
    return _cumsum(x, axis)


def _cumprod(x: Tensor, axis: int, reverse: bool = False) -> Tensor:
    """Running products of ``x`` along ``axis`` (``reverse``: suffix products); its backward
    is PyTorch's cumprod_backward (exact where the input has zeros)."""
    B = backend_of(x, "cumprod")

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        if reverse:  # only used inside other backwards, at first order; the flipped formula
            return (_flip(_cumprod_backward(_flip(g, axis), _flip(ctx.x, axis), axis,
                                            _flip(ctx.y, axis)), axis),)
        return (_cumprod_backward(g, ctx.x, axis, ctx.y),)
    return record("cumprod", B.cumprod(x._data, axis, reverse), (x,), backward,
                  save={"x": x}, output="y")


def _flip(x: Tensor, axis: int) -> Tensor:
    """``x`` reversed along ``axis`` (differentiable: the gradient is flipped back)."""
    B = backend_of(x, "flip")
    index = (slice(None),) * axis + (slice(None, None, -1),)
    return record("flip", B.copy(B.getitem(x._data, index)), (x,),
                  lambda ctx, g: (_flip(g, axis),))


def _cumprod_backward(g: Tensor, x: Tensor, axis: int, out: Tensor) -> Tensor:
    n = x.shape[axis]
    if x.numel() <= 1 or n == 1:
        return g
    w = out * g
    is_zero = x == 0
    if not bool(is_zero.any()):
        return _cumsum(w, axis, reverse=True) / x
    if not is_grad_enabled():  # PyTorch's O(n) formula (not differentiable again)
        count = _cumsum(cast(is_zero, dtypes.int64), axis)
        before = count == 0
        grad = where(before, _cumsum(where(before, w, 0.0), axis, reverse=True) / x, 0.0)
        span = count == 1
        first = is_zero & span
        between = span & ~first
        at_first = (_cumprod(where(between, x, 1.0), axis) * where(span, g, 0.0)).sum(
            axis, keepdim=True)
        k = cast(first, dtypes.int64).argmax(axis, keepdim=True)  # 0 where there is no zero
        prev = gather(out, axis, (k - 1).clamp(min=0))
        at_first = at_first * where(k == 0, 1.0, prev)
        return where(first, at_first, grad)
    # grad mode (create_graph): PyTorch's O(n^2) formula, differentiable again
    ones = _ones(x, x.shape[:axis] + (1,) + x.shape[axis + 1:])
    parts = []
    for k in range(n):
        if k == 0:
            omitted = cat([ones, _cumprod(_slice(x, axis, 1, None), axis)], axis)
        elif k == n - 1:
            omitted = prod(_slice(x, axis, 0, k), axis, True)
        else:
            until = prod(_slice(x, axis, 0, k), axis, True)
            rest = until * _cumprod(_slice(x, axis, k + 1, None), axis)
            omitted = cat([until, rest], axis)
        parts.append((_slice(g, axis, k, None) * omitted).sum(axis, keepdim=True))
    return cat(parts, axis)


@op(inplace=True)
def cumprod(input: Tensor, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
    """Running products along ``dim``; integers and bools multiply in int64 unless ``dtype``."""
    axis = _scan_input("cumprod", input, dim)
    x = _int64_if_integral(input, dtype, "cumprod")
    _no_bool_scan("cumprod", x)
    if axis is None or x.numel() <= 1:
        return x.clone() if x is input else x * 1 if dtypes.kind(x.dtype) == 2 else x
    return _cumprod(x, axis)


def _no_bool_scan(name: str, x: Tensor) -> None:
    """PyTorch has no bool kernel for its scans (reached with dtype=bool or in place)."""
    if x.dtype == dtypes.bool_ and x.ndim and x.numel():
        raise NotImplementedError(f"{name}: not implemented for bool results ({describe(x)}); "
                                  "scan an integer copy, e.g. .long()")


def _inplace_scan(name: str) -> None:
    """``Tensor.cumsum_``/``cumprod_``: the registry's in-place method, refusing a ``dtype``
    other than the tensor's as PyTorch does ('Bad in-place call')."""
    method = getattr(Tensor, name)

    def scan_(self: Tensor, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
        if dtype is not None and dtypes.as_dtype(dtype) != self.dtype:
            raise RuntimeError(f"{name}: Bad in-place call: input tensor dtype {self.dtype} and "
                               f"output tensor dtype {dtypes.as_dtype(dtype)} should match; use "
                               f"the out-of-place {name[:-1]}(dim, dtype=...)")
        return method(self, dim, dtype=self.dtype)  # (in the tensor's dtype, as PyTorch)
    scan_.__name__ = scan_.__qualname__ = name
    scan_.__doc__ = method.__doc__
    setattr(Tensor, name, scan_)


_inplace_scan("cumsum_")
_inplace_scan("cumprod_")


# ----------------------------------------------------------------------------- prod
@op()
def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *,
         dtype: DTypeLike | None = None) -> Tensor:
    """The product of all elements, or along ``dim`` (one int); integers and bools give int64
    unless ``dtype``.  The gradient is PyTorch's: ``g * prod / x`` without zeros, else the
    product of the other elements (exact at a zero; zero everywhere in a slice with several
    zeros)."""
    B = backend_of(input, "prod")
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}; "
                        "take the product over several dims one at a time")
    x = _int64_if_integral(input, dtype, "prod")
    axes = dims("prod", dim, x.ndim)
    if dim is None:
        keepdim = False
    ndim = x.ndim

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        x, y = ctx.x, ctx.y
        if ndim == 0:
            return (g,)
        if dim is None:
            zeros = cast(x == 0, dtypes.int64).sum()
            count = int(zeros)
            if count == 0:
                return (g * (y / x),)
            if not is_grad_enabled() and count > 1:
                return (_zeros(g, x.shape),)
            return (_prod_safe_zeros_backward(g.reshape((1,)), x.reshape((-1,)), 0)
                    .reshape(x.shape),)
        (axis,) = axes
        g, y = _kept(g, axes, ndim, keepdim), _kept(y, axes, ndim, keepdim)
        if not bool((x == 0).any()):
            return (g * (y / x),)
        return (_prod_safe_zeros_backward(g, x, axis),)
    return record("prod", B.prod(x._data, axes, keepdim), (x,), backward,
                  save={"x": x}, output="y")


def _prod_safe_zeros_backward(g: Tensor, x: Tensor, axis: int) -> Tensor:
    """The gradient of a product along ``axis`` through exclusive products from either side
    (no division, so zeros are exact): PyTorch's prod_safe_zeros_backward."""
    if x.numel() == 0:
        return g.expand(x.shape)
    n = x.shape[axis]
    ones = _ones(x, x.shape[:axis] + (1,) + x.shape[axis + 1:])
    before = _cumprod(cat([ones, _slice(x, axis, 0, n - 1)], axis), axis)
    after = _cumprod(cat([_slice(x, axis, 1, None), ones], axis), axis, reverse=True)
    return g * (before * after)


# ----------------------------------------------------------------------------- cummax, cummin
def _cumextreme(name: str, input: Tensor, dim: int) -> Any:
    axis = _scan_input(name, input, dim)
    result = getattr(return_types, name)
    if axis is None:  # a 0-d tensor: itself, at index 0
        return result(input.clone() if dtypes.kind(input.dtype) == 2 else input,
                      _zeros(input, (), dtypes.int64))
    B = backend_of(input, name)
    if input.numel() == 0:
        return result(input.clone() if dtypes.kind(input.dtype) == 2 else input,
                      _zeros(input, input.shape, dtypes.int64))
    values, indices = getattr(B, name)(input._data, axis)
    index = wrap(indices, input.device)
    shape = input.shape
    values = record(name, values, (input,),
                    lambda ctx, g: (_scatter_to(g, shape, axis, index),))
    return result(values, index)


@op()
def cummax(input: Tensor, dim: int) -> Any:
    """``(values, indices)``: the running maximum along ``dim`` and where it was found (the
    later index on ties; a NaN is the maximum from where it appears).  The gradient goes to
    the found elements."""
    return _cumextreme("cummax", input, dim)


@op()
def cummin(input: Tensor, dim: int) -> Any:
    """``(values, indices)``: the running minimum along ``dim`` (ties and NaN as cummax)."""
    return _cumextreme("cummin", input, dim)


# ----------------------------------------------------------------------------- logcumsumexp
def _logcumsumexp(x: Tensor, axis: int, reverse: bool = False) -> Tensor:
    B = backend_of(x, "logcumsumexp")

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        x, y = ctx.x, ctx.y
        if reverse:  # used only by the backward below
            return (_flip(_lcse_backward(_flip(g, axis), _flip(x, axis), _flip(y, axis), axis),
                          axis),)
        return (_lcse_backward(g, x, y, axis),)
    return record("logcumsumexp", B.logcumsumexp(x._data, axis, reverse), (x,), backward,
                  save={"x": x}, output="y")


_LOWEST = {dtypes.float16: -65504.0, dtypes.float32: -3.4028234663852886e38,
           dtypes.float64: -1.7976931348623157e308}


def _lcse_backward(g: Tensor, x: Tensor, y: Tensor, axis: int) -> Tensor:
    """PyTorch's logcumsumexp_backward: the positive and negative parts of the upstream
    gradient summed in log space from the end, so no exp overflows."""
    if g.ndim == 0 or g.numel() == 0:
        return g
    lowest = _LOWEST[g.dtype]
    log_abs = g.abs().log()
    pos = where(g > 0, log_abs, lowest)
    neg = where(g < 0, log_abs, lowest)
    out_pos = (_logcumsumexp(pos - y, axis, reverse=True) + x).exp()
    out_neg = (_logcumsumexp(neg - y, axis, reverse=True) + x).exp()
    return out_pos - out_neg


@op()
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(x))) along ``dim``, each step a stable log-add-exp."""
    axis = _scan_input("logcumsumexp", input, dim)
    if dtypes.kind(input.dtype) != 2:
        raise NotImplementedError(f"logcumsumexp: not implemented for {describe(input)}; "
                                  "convert the input with .float() first")
    if axis is None or input.numel() == 0:
        return input * 1
    return _logcumsumexp(input, axis)


# ----------------------------------------------------------------------------- norms
@op()
def norm(input: Tensor, p: float | str | None = "fro", dim: int | Sequence[int] | None = None,
         keepdim: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """``torch.norm``: ``p`` 'fro' (the 2-norm over ``dim`` or everything), 'nuc', or a
    number (a vector norm over ``dim``), through tensorlite.linalg's norms as PyTorch's."""
    backend_of(input, "norm")
    _dim: Any = [dim] if isinstance(dim, int) and not isinstance(dim, bool) else dim
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            return vector_norm(input, 2, _dim, keepdim, dtype=dtype)
        if _dim is None:
            _dim = list(range(input.ndim))
        if input.ndim < 2 or len(_dim) != 2:
            raise RuntimeError(f"norm: linalg.matrix_norm: dim must be a 2-tuple for p={p!r}, "
                               f"got dim {list(_dim)} for {describe(input)}")
        return matrix_norm(input, p, _dim, keepdim, dtype=dtype)
    return vector_norm(input, 2.0 if p is None else p, _dim, keepdim, dtype=dtype)


@op()
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm of ``input - other`` (broadcast), as one number.  The gradient is
    PyTorch's norm_backward for ``input`` and its negative for ``other`` (p = 0 has none, and
    asking one for ``other`` raises, as PyTorch)."""
    a, b, _ = binary("dist", input, other)
    if not isinstance(b, Tensor):
        raise TypeError(f"dist: other must be a Tensor, got {type(other).__name__}")
    if dtypes.kind(a.dtype) != 2:
        raise RuntimeError(f"dist: norm(): input dtype should be either floating point or "
                           f"complex. Got {a.dtype} instead (inputs {describe(input)} and "
                           f"{describe(other)}); convert them with .float()")
    pv = float(p)
    with no_grad():
        d = a - b
        y = vector_norm(d, pv)
    sa, sb = a.shape, b.shape

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        need_a, need_b = ctx.needs_input_grad
        if pv == 0:
            if need_b:
                raise RuntimeError("dist: the gradient of the 0-norm is undefined, and PyTorch "
                                   "cannot negate it for other (Expected a proper Tensor but "
                                   "got None); use p > 0 or detach other")
            return None, None
        gd = _norm_backward(g, ctx.a - ctx.b, pv, ctx.y, tuple(range(d.ndim)), False)
        return (sum_to(gd, sa) if need_a else None, sum_to(-gd, sb) if need_b else None)
    return record("dist", y._data, (a, b), backward, save={"a": a, "b": b}, output="y")


@op(method=False)
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` (…, P, M) and each row of ``x2``
    (…, R, M), batch dims broadcast: a (…, P, R) result.  ``compute_mode`` is accepted and
    ignored (distances are always computed directly).  The gradient is PyTorch's
    _cdist_backward."""
    for t in (x1, x2):
        backend_of(t, "cdist")
    for n, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {n} got: {t.ndim}D "
                               f"({describe(t)})")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    for n, t in (("X1", x1), ("X2", x2)):
        if dtypes.kind(t.dtype) != 2:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {n} got: {t.dtype}")
    if x1.dtype != x2.dtype:
        raise RuntimeError(f"cdist: expected both inputs of one dtype, got {describe(x1)} and "
                           f"{describe(x2)}; convert one with .to()")
    p = float(p)
    if not p >= 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (…, P, R, M)
    return _cdist_norm(diff, p)


def _cdist_norm(diff: Tensor, p: float) -> Tensor:
    with no_grad():
        if math.isinf(p):  # PyTorch's kernel takes max(agg, |d|) from 0: a NaN is skipped
            a = diff.abs()
            y = where(a.isnan(), 0.0, a).amax(-1) if diff.shape[-1] else a.sum(-1)
        elif p == 0:  # PyTorch's kernel counts min(ceil(|d|), 1): a NaN stays NaN
            y = where(diff.isnan(), math.nan, cast(diff != 0, diff.dtype)).sum(-1)
        else:
            y = vector_norm(diff, p, -1)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        d, y = ctx.d, ctx.y.unsqueeze(-1)
        g = g.unsqueeze(-1)
        sign = where(d.isnan(), d, d.sign())  # (PyTorch's vectorized sign keeps NaN)
        if p == 0:
            return (None,)
        if p == 1:
            return (g * sign,)
        if p == 2:
            return (where(y == 0, 0.0, g * d / y),)
        if math.isinf(p):
            hit = 1 - _ceil_min1(d, y)
            return (g * sign * hit,)
        if p < 2:
            r = where(y == 0, 0.0, sign * d.abs() ** (p - 1) * g / y ** (p - 1))
            return (where((d == 0) & (p < 1), 0.0, r),)
        return (where(y == 0, 0.0, d * d.abs() ** (p - 2) * g / y ** (p - 1)),)
    return record("cdist", y._data, (diff,), backward, save={"d": diff}, output="y")


def _ceil_min1(d: Tensor, y: Tensor) -> Tensor:
    """min(1, ceil(| |d| - y |)): 0 where |d| is the max norm exactly, else 1 (PyTorch's
    inf-norm cdist backward selects every element equal to the distance)."""
    e = (d.abs() - y).abs()
    return where(e == 0, 0.0, where(e.isnan(), e, 1.0))


# ----------------------------------------------------------------------------- median, mode
def _selected(name: str, input: Tensor, dim: int, keepdim: bool, prim: str,
              ignore_nan: bool | None = None) -> Any:
    """(values, indices) of an order statistic along ``dim`` chosen by backend primitive
    ``prim``; the gradient goes to the selected element."""
    result = getattr(return_types, name)
    axis = _scan_input(name, input, dim)
    if dtypes.kind(input.dtype) == 0 and name != "mode":
        raise NotImplementedError(f"{name}: not implemented for {describe(input)}; convert it "
                                  "with .int() or .float()")
    if axis is None:
        return result(input.clone() if dtypes.kind(input.dtype) == 2 else input,
                      _zeros(input, (), dtypes.int64))
    if input.shape[axis] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size (input "
                         f"{describe(input)})")
    B = backend_of(input, name)
    args = (input._data, axis) + (() if ignore_nan is None else (ignore_nan,))
    values, indices = getattr(B, prim)(*args)
    kept = wrap(indices, input.device)  # (keepdim's shape)
    shape = input.shape
    values = record(name, values, (input,),
                    lambda ctx, g: (_scatter_to(g, shape, axis, kept),))
    if not keepdim:
        return result(values.squeeze(axis), kept.squeeze(axis))
    return result(values, kept)


def _median_all(name: str, input: Tensor, ignore_nan: bool) -> Tensor:
    """The median of every element (no indices); the gradient is shared by the elements equal
    to it (the NaNs when it is NaN), as PyTorch's evenly_distribute_backward."""
    B = backend_of(input, name)
    if input.numel() == 0:  # NaN, cast as PyTorch does for other dtypes (int: its minimum)
        kind = dtypes.kind(input.dtype)
        fill = math.nan if kind == 2 else True if kind == 0 else \
            -2 ** (8 * input.dtype.itemsize - 1)
        return wrap(B.full((), fill, dtype=input.dtype), input.device)
    if dtypes.kind(input.dtype) == 0:
        raise NotImplementedError(f"{name}: not implemented for {describe(input)}")
    values, _ = B.median(B.reshape(input._data, (-1,)), 0, ignore_nan)
    y = B.reshape(values, ())

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        x, y = ctx.x, ctx.y
        hit = x.isnan() if bool(y.isnan()) else x == y
        return (where(hit, g / cast(hit, g.dtype).sum(), 0.0),)
    return record(name, y, (input,), backward, save={"x": input}, output="y")


@op()
def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """No dim: the lower median of every element (NaN if there is one).  A dim:
    ``(values, indices)``, the element of rank (n - 1) // 2 in a stable sort along ``dim``
    (the first NaN where the slice has one), as PyTorch's CPU kernel."""
    if dim is None:
        return _median_all("median", input, False)
    return _selected("median", input, dim, keepdim, "median", False)


@op()
def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """median ignoring NaNs (NaN only where a slice is all NaN)."""
    if dim is None:
        return _median_all("nanmedian", input, True)
    return _selected("nanmedian", input, dim, keepdim, "median", True)


@op()
def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest one on ties)
    and its last position."""
    return _selected("mode", input, dim, keepdim, "mode")


# ----------------------------------------------------------------------------- quantiles
def _sorted_last(x: Tensor) -> Tensor:
    """``x`` sorted along its last dim (stable, NaN last); the gradient goes back to where each
    element came from."""
    B = backend_of(x, "sort")
    axis = x.ndim - 1
    order = B.sort_indices(x._data, axis)
    index = wrap(order, x.device)
    shape = x.shape
    return record("sort", B.take_along_axis(x._data, order, axis), (x,),
                  lambda ctx, g: (_scatter_to(g, shape, axis, index),))


def _lerp(a: Tensor, b: Tensor, w: Tensor) -> Tensor:
    """PyTorch's lerp: a + w (b - a) for |w| < 0.5, else b - (b - a)(1 - w); gradients
    (1 - w) and w."""
    with no_grad():
        y = where(w.abs() < 0.5, a + w * (b - a), b - (b - a) * (1 - w))

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        need_a, need_b = ctx.needs_input_grad
        return (g * (1 - w) if need_a else None, g * w if need_b else None)
    return record("lerp", y._data, (a, b), backward)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name: str, input: Tensor, q: Tensor | float | Sequence[float], dim: int | None,
              keepdim: bool, interpolation: str, ignore_nan: bool) -> Tensor:
    B = backend_of(input, name)
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if dtypes.kind(input.dtype) != 2:
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype, got "
                           f"{describe(input)}; convert it with .float()")
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor, got {describe(q)}")
        if q.dtype != input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor: q is "
                               f"{q.dtype}, input {input.dtype}")
        if q.device != input.device:
            raise RuntimeError(f"{name}() q tensor must be on the same device as the input tensor")
        qt = q.detach()
        if qt.numel() and not bool(((qt >= 0) & (qt <= 1)).all()):
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    else:
        if isinstance(q, bool) or not isinstance(q, (int, float)):
            raise TypeError(f"{name}(): q must be a number or a tensor, got {type(q).__name__}")
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        qt = wrap(B.full((), float(q), dtype=input.dtype), input.device)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    ndim = input.ndim
    if dim is None:
        x = input.reshape((-1,))
        out_shape = [1] * ndim if keepdim else []
    else:
        axis = _axis(name, dim, ndim)
        if axis is None:
            x = input.reshape((1,))
            out_shape = []
        else:
            x = _to_last(input, axis)
            out_shape = list(input.shape)
            if keepdim:
                out_shape[axis] = 1
            else:
                del out_shape[axis]
    n = x.shape[-1]
    with no_grad():
        if ignore_nan:
            count = cast(~x.isnan(), dtypes.int64).sum(-1, keepdim=True)  # (..., 1)
            ranks = qt.reshape((-1,)) * (count - 1)  # (..., nq)
            ranks = where(ranks < 0, 0.0, ranks)
        else:
            has_nan = x.isnan().any(-1, keepdim=True)
            ranks = where(has_nan, float(n - 1), qt.reshape((-1,)) * (n - 1))
    below, above, weight = B.quantile_ranks(ranks._data, interpolation)
    sorted_x = _sorted_last(x)
    lead = sorted_x.shape[:-1]
    below = wrap(B.ascontiguousarray(B.broadcast_to(below, lead + below.shape[-1:])), x.device)
    above = wrap(B.ascontiguousarray(B.broadcast_to(above, lead + above.shape[-1:])), x.device)
    weight = wrap(weight, x.device)
    values = gather(sorted_x, -1, below)
    if interpolation in ("linear", "midpoint"):
        values = _lerp(values, gather(sorted_x, -1, above), weight)
    # values: (..., nq) -> (nq, out_shape) or out_shape
    nq = values.shape[-1]
    values = values.reshape(tuple(lead) + (nq,))
    if isinstance(q, Tensor) and q.ndim == 1:
        values = _to_first(values)
        return values.reshape((nq,) + tuple(out_shape))
    return values.reshape(tuple(out_shape))


def _to_last(x: Tensor, axis: int) -> Tensor:
    order = tuple(i for i in range(x.ndim) if i != axis) + (axis,)
    return x.permute(order)


def _to_first(x: Tensor) -> Tensor:
    return x.permute((x.ndim - 1,) + tuple(range(x.ndim - 1)))


@op()
def quantile(input: Tensor, q: Tensor | float | Sequence[float], dim: int | None = None,
             keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """The ``q``-quantiles (a number or a 1-D tensor in [0, 1]) over ``dim`` (None: every
    element); a NaN in a slice gives NaN.  A 1-D ``q`` puts the quantiles first."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


@op()
def nanquantile(input: Tensor, q: Tensor | float | Sequence[float], dim: int | None = None,
                keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """quantile ignoring NaNs (NaN only where a slice is all NaN)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


# ----------------------------------------------------------------------------- nan reductions
@op()
def nansum(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,
           dtype: DTypeLike | None = None) -> Tensor:
    """The sum with NaNs taken as zero (their gradient is 0)."""
    backend_of(input, "nansum")
    x = _int64_if_integral(input, dtype, "nansum")
    if dtypes.kind(x.dtype) != 2:
        return sum(x, dim, keepdim)
    with no_grad():
        y = sum(where(x.isnan(), x.new_zeros(()), x), dim, keepdim)  # (x's dtype: bfloat16 too)
    axes, ndim = dims("nansum", dim, x.ndim), x.ndim

    # PyTorch's grad * ~isnan(x): an infinite g gives NaN at the NaNs
    def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:
        x = ctx.x
        return (_kept(g, axes, ndim, keepdim).expand(x.shape) * ~x.isnan(),)
    return record("nansum", y._data, (x,), backward, save={"x": x})


@op()
def nanmean(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,
            dtype: DTypeLike | None = None) -> Tensor:
    """The mean of the non-NaN elements (NaN where there are none)."""
    backend_of(input, "nanmean")
    if dtypes.kind(input.dtype) != 2:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {input.dtype}; convert it with .float()")
    count = cast(~input.isnan(), dtypes.int64).sum(dim, keepdim=keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / count


# ----------------------------------------------------------------------------- moments, counts
def _moment_args(dim: Any, unbiased: bool | None, keepdim: bool, correction: float | None
                 ) -> tuple[Any, float, bool]:
    if isinstance(dim, bool):  # var_mean(x, True): the unbiased flag in dim's place
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise RuntimeError("var_mean/std_mean: pass unbiased or correction, not both")
    corr = int(unbiased) if unbiased is not None else 1 if correction is None else correction
    return dim, corr, keepdim


@op(method=False)
def var_mean(input: Tensor, dim: int | Sequence[int] | None = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: float | None = None
             ) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim`` in one call (PyTorch's var_mean)."""
    dim, corr, keepdim = _moment_args(dim, unbiased, keepdim, correction)
    return var(input, dim, correction=corr, keepdim=keepdim), _welford_mean(input, dim, keepdim)


@op(method=False)
def std_mean(input: Tensor, dim: int | Sequence[int] | None = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: float | None = None
             ) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim`` in one call (PyTorch's std_mean)."""
    dim, corr, keepdim = _moment_args(dim, unbiased, keepdim, correction)
    return std(input, dim, correction=corr, keepdim=keepdim), _welford_mean(input, dim, keepdim)


def _welford_mean(x: Tensor, dim: int | Sequence[int] | None, keepdim: bool) -> Tensor:
    """The mean as PyTorch's var_mean gives it: a running (Welford) mean, which turns to NaN
    once an infinity is followed by anything (inf - inf); only a slice whose one infinity is
    its last element keeps it.  (Elements in logical order: PyTorch follows the memory order.)
    The gradient is the mean's."""
    m = mean(x, dim, keepdim)
    if dtypes.kind(x.dtype) != 2 or x.numel() == 0:
        return m
    axes = dims("var_mean", dim, x.ndim)
    with no_grad():
        inf = ~x.isfinite() & ~x.isnan()
        count = cast(inf, dtypes.int64).sum(axes, keepdim=True)
        last = getitem(inf, tuple(slice(-1, None) if i in axes else slice(None)
                                  for i in range(x.ndim)))
        lost = _either(count > 1, (count == 1) & ~last)
        if not bool(lost.any()):
            return m
        nan = where(lost, math.nan, 0.0)
        nan = nan if keepdim else _squeeze_axes(nan, axes)
    return m + cast(nan, m.dtype)


def _squeeze_axes(t: Tensor, axes: tuple[int, ...]) -> Tensor:
    return t.reshape(tuple(n for i, n in enumerate(t.shape) if i not in axes))


@op()
def count_nonzero(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """How many elements are not zero (NaN counts) over ``dim`` (None: all), as int64."""
    backend_of(input, "count_nonzero")
    return sum(input != 0, dim)


@op()
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """``(min, max)`` over ``dim`` (None: every element), a named tuple; gradients as amin's
    and amax's (shared by ties)."""
    backend_of(input, "aminmax")
    if dim is not None:
        axes = dims("aminmax", dim, input.ndim)
        if axes and input.shape[axes[0]] == 0:
            raise IndexError(f"aminmax(): Expected reduction dim {axes[0]} to have non-zero "
                             f"size (input {describe(input)})")
    elif input.numel() == 0:
        raise RuntimeError(f"aminmax(): cannot compute aminmax over an empty dimension as the "
                           f"operation has no identity (input {describe(input)})")
    if dim is None and keepdim:
        lo, hi = amin(input, None, True), amax(input, None, True)
    elif dim is None:
        lo, hi = amin(input), amax(input)
    else:
        lo, hi = amin(input, dim, keepdim), amax(input, dim, keepdim)
    return return_types.aminmax(lo, hi)
