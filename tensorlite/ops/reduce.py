"""Reductions and the normalizations along a dim (softmax, log_softmax, logsumexp)."""
from __future__ import annotations

import builtins
import math
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import dtypes
from ..autograd.grad_mode import no_grad, state
from ..autograd.graph import record
from ..tensor import Tensor, describe, wrap
from .common import backend_of, dims, floating
from .indexing import gather
from .pointwise import where
from .registry import op

if TYPE_CHECKING:
    from ..autograd.graph import Context
    from ..dtypes import DTypeLike

return_types = namedtuple("values_indices", ["values", "indices"])


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand_back(g: Tensor, shape: tuple[int, ...], axes: tuple[int, ...], keepdim: bool
                 ) -> Tensor:
    """Broadcast the gradient of a reduction over ``axes`` back to the input's ``shape``."""
    if not keepdim:
        g = g.reshape(_kept_shape(shape, axes))
    return g.expand(shape)


@op()
def sum(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,
        dtype: DTypeLike | None = None) -> Tensor:
    B = backend_of(input, "sum")
    axes = dims("sum", dim, input.ndim)
    x = input if dtype is None else input.to(dtype)
    if dtype is None and dtypes.kind(x.dtype) < 2:  # integer and bool sums are int64, as PyTorch
        x = x.to(dtypes.int64)
    shape = x.shape
    return record("sum", B.sum(x._data, axes, keepdim), (x,),
                  lambda ctx, g: (_expand_back(g, shape, axes, keepdim),))


@op()
def mean(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,
         dtype: DTypeLike | None = None) -> Tensor:
    x = input if dtype is None else input.to(dtype)
    if dtypes.kind(x.dtype) < 2:
        raise RuntimeError(f"mean: could not infer the output dtype; the input is {x.dtype}, "
                           "pass dtype=tensorlite.float32 or convert the input with .float()")
    axes = dims("mean", dim, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    return sum(x, axes, keepdim) / n


@op()
def var(input: Tensor, dim: int | Sequence[int] | None = None, *, correction: float = 1,
        keepdim: bool = False, unbiased: bool | None = None) -> Tensor:
    """Variance with Bessel's ``correction`` (``unbiased=False`` is ``correction=0``)."""
    return _moment("var", input, dim, correction, keepdim, unbiased)


@op()
def std(input: Tensor, dim: int | Sequence[int] | None = None, *, correction: float = 1,
        keepdim: bool = False, unbiased: bool | None = None) -> Tensor:
    return _moment("std", input, dim, correction, keepdim, unbiased)


def _moment(name: str, input: Tensor, dim: int | Sequence[int] | None, correction: float,
            keepdim: bool, unbiased: bool | None) -> Tensor:
    """var or std; the backward is PyTorch's, so a constant slice gives std a zero gradient and
    ``correction >= n`` gives the same infinities and NaNs as PyTorch."""
    if unbiased is not None:
        correction = int(unbiased)
    axes = dims(name, dim, input.ndim)
    backend_of(input, name)
    if dtypes.kind(input.dtype) < 2:  # as PyTorch: no implicit float result for integers
        raise RuntimeError(f"{name}: std and var only support floating point dtypes, got "
                           f"{describe(input)}; convert it first with .float()")
    if dtypes.kind(input.dtype) == 3:  # complex (forward only): the mean squared |x - mean|,
        from .dtype_ops import imag, real  # the real and imaginary variances summed (real)
        y = _moment("var", real(input), dim, correction, keepdim, None) + \
            _moment("var", imag(input), dim, correction, keepdim, None)
        return y.sqrt() if name == "std" else y
    x = input
    dof = math.prod(x.shape[a] for a in axes) - correction
    with no_grad():
        d = x - x.mean(axes, keepdim=True)
        y = (d * d).sum(axes, keepdim=keepdim) / builtins.max(dof, 0)
        if name == "std":
            y = y.sqrt()

    def var_backward(g: Tensor, x: Tensor) -> Tensor:
        if not keepdim:
            g = g.reshape(_kept_shape(x.shape, axes))
        d = x - x.mean(axes, keepdim=True)
        if (dim is None or x.ndim == 0) and dof <= 0:  # as torch's var_backward: 2 / dof is
            # taken as infinite: NaN where x is its mean, else inf
            return g * where(x == x.mean(), math.nan, math.inf)  # x == mean, not d == 0: inf
        return (2.0 / dof if dof else math.inf) * g * d

    if name == "var":
        return record(name, y._data, (x,), lambda ctx, g: (var_backward(g, ctx.x),),
                      save={"x": x})
    return record(name, y._data, (x,),
                  lambda ctx, g: (var_backward(where(ctx.y == 0, 0.0, g / (2 * ctx.y)), ctx.x),),
                  save={"x": x}, output="y")


def _check_nonempty(name: str, input: Tensor, every_dim: bool, axes: tuple[int, ...]) -> None:
    """A reduction with no identity (max, argmin, ...) needs an element in every slice it
    reduces; an empty input reduced over its non-empty dims gives an empty result."""
    if input.numel():
        return
    if every_dim:
        raise RuntimeError(f"{name}: the input {describe(input)} is empty; reducing it over every "
                           "dimension needs at least one element: pass dim= to reduce a dimension "
                           "that is not of size 0")
    for a in axes:
        if input.shape[a] == 0:
            raise IndexError(f"{name}: expected reduction dim {a} to have non-zero size, but the "
                             f"input is {describe(input)}")


def _extreme(name: str, prim: str, nan_selects: bool = False) -> Callable[..., Tensor]:
    """amax/amin; ``nan_selects``: the backward of max()/min() over every element, where a NaN
    result is taken by the NaN elements (PyTorch's evenly_distribute_backward) and elements not
    selected get exactly 0.  amax/amin give NaN gradients there, as PyTorch."""
    def fn(input: Tensor, dim: int | Sequence[int] | None = (), keepdim: bool = False) -> Tensor:
        """The max/min over ``dim``; tied elements share the gradient evenly, as PyTorch."""
        B = backend_of(input, name)
        axes = dims(name, dim, input.ndim)
        _check_nonempty(name, input, dim in (None, (), []), axes)
        shape = input.shape

        def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:
            x, y = ctx.x, ctx.y
            yk = y if keepdim else y.reshape(_kept_shape(shape, axes))
            if not nan_selects and not state.grad_enabled and axes:  # one backend pass
                gk = g if keepdim else g.reshape(yk.shape)
                return (wrap(B.extreme_grad(gk._data, x._data, yk._data, axes), g.device),)
            hit = x == yk
            g = _expand_back(g, shape, axes, keepdim)
            if nan_selects:
                hit = where(yk.isnan(), x.isnan(), hit)
                return (where(hit, g / hit.sum(axes, keepdim=True), 0.0),)
            return (g * hit / hit.sum(axes, keepdim=True),)
        return record(name, getattr(B, prim)(input._data, axes, keepdim), (input,), backward,
                      save={"x": input}, output="y")
    fn.__name__ = fn.__qualname__ = name
    return fn


amax = op()(_extreme("amax", "amax"))
amin = op()(_extreme("amin", "amin"))
_max_all = _extreme("max", "amax", nan_selects=True)
_min_all = _extreme("min", "amin", nan_selects=True)


def _select(name: str, arg: Callable[..., Tensor]) -> Callable[..., Any]:
    def select(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
        """No dim: the extreme element.  A dim: ``(values, indices)``; the gradient goes to
        the selected index.  A tensor: the elementwise ``maximum``/``minimum``."""
        if dim is None:
            return (_max_all if name == "max" else _min_all)(input)
        if isinstance(dim, Tensor):
            from .pointwise import maximum, minimum
            return (maximum if name == "max" else minimum)(input, dim)
        if input.ndim == 0:  # one element: itself, at index 0
            dims(name, dim, 0)
            values, idx = select(input.reshape(1), 0, keepdim)
            return return_types(values.reshape(()), idx.reshape(()))
        idx = arg(input, dim, keepdim=True)
        values = gather(input, dim, idx)
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return return_types(values, idx)
    select.__name__ = select.__qualname__ = name
    return select


@op()
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _arg("argmax", input, dim, keepdim)


@op()
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _arg("argmin", input, dim, keepdim)


def _arg(name: str, input: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    B = backend_of(input, name)
    _check_nonempty(name, input, dim is None, dims(name, dim, input.ndim))
    if dim is None:
        out = getattr(B, name)(B.reshape(input._data, (-1,)))
        return wrap(B.reshape(out, (1,) * input.ndim) if keepdim else out, input.device)
    (axis,) = dims(name, dim, input.ndim) or (0,)  # a 0-d input is searched as one element
    data = input._data if input.ndim else B.reshape(input._data, (1,))
    out = getattr(B, name)(data, axis, keepdims=keepdim and input.ndim > 0)
    return wrap(B.reshape(out, input.shape) if not input.ndim else B.astype(out, dtypes.int64),
                input.device)


max = op()(_select("max", argmax))
min = op()(_select("min", argmin))


@op()
def all(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    B = backend_of(input, "all")
    out = B.all(input._data, dims("all", dim, input.ndim), keepdim)
    return wrap(B.astype(out, dtypes.uint8) if input.dtype == dtypes.uint8 else out,  # as PyTorch
                input.device)


@op()
def any(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    B = backend_of(input, "any")
    out = B.any(input._data, dims("any", dim, input.ndim), keepdim)
    return wrap(B.astype(out, dtypes.uint8) if input.dtype == dtypes.uint8 else out,  # as PyTorch
                input.device)


@op()
def logsumexp(input: Tensor, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) computed stably: the max is taken out before exp."""
    axes = dims("logsumexp", dim, input.ndim)
    x = floating(input, "logsumexp")
    B = backend_of(x, "logsumexp")
    fused = x.dtype in (dtypes.float32, dtypes.float64) and axes  # one backend primitive
    data = B.logsumexp(x._data, axes, keepdim) if fused else _logsumexp_ops(x, axes, keepdim)
    shape = x.shape

    # PyTorch's: g * exp(x - result), so an inf result gives 0 elsewhere
    def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:
        x, y = ctx.x, ctx.y
        if not keepdim:
            g, y = g.reshape(_kept_shape(shape, axes)), y.reshape(_kept_shape(shape, axes))
        if fused and not state.grad_enabled and g.dtype == x.dtype:  # (create_graph: tensor ops)
            return (wrap(B.logsumexp_backward(g._data, x._data, y._data), x.device),)
        return (g * (x - y).exp(),)
    return record("logsumexp", data, (x,), backward, save={"x": x}, output="y")


def _logsumexp_ops(x: Tensor, axes: tuple[int, ...], keepdim: bool) -> Any:
    """logsumexp's forward by tensor ops (other dtypes keep their per-op rounding)."""
    if x.numel():
        m = x.detach().amax(axes, keepdim=True)
        m = where(m.isfinite(), m, 0.0)  # all -inf (or an inf) along a row: nothing to subtract
    else:  # nothing to take a max of; a sum over no elements is 0, its log -inf, as PyTorch
        m = 0.0
    with no_grad():
        out = (x - m).exp().sum(axes, keepdim=True).log() + m
        out = out if keepdim else out.squeeze(axes)
    return out._data


def _along(name: str, input: Tensor, dim: int, dtype: DTypeLike | None,
           backward: Callable[[Tensor, Tensor, int], Tensor]) -> Tensor:
    """A normalization along ``dim`` by one backend primitive; ``backward(g, y, axis)``."""
    x = floating(input if dtype is None else input.to(dtype), name)
    if x.ndim == 0:  # a 0-d tensor is normalized as one element
        return _along(name, x.reshape(1), 0, None, backward).reshape(())
    (axis,) = dims(name, dim, x.ndim)
    B = backend_of(x, name)

    def fused(ctx: Context, g: Tensor) -> tuple[Tensor]:  # one backend pass, unless create_graph
        if state.grad_enabled or g.dtype not in (dtypes.float32, dtypes.float64):
            return (backward(g, ctx.y, axis),)
        return (wrap(B.softmax_backward(g._data, ctx.y._data, axis, name == "log_softmax"),
                     g.device),)
    return record(name, getattr(B, name)(x._data, axis), (x,), fused, output="y")


@op()
def softmax(input: Tensor, dim: int, dtype: DTypeLike | None = None) -> Tensor:
    return _along("softmax", input, dim, dtype,
                  lambda g, y, axis: y * (g - (g * y).sum(axis, keepdim=True)))


@op()
def log_softmax(input: Tensor, dim: int, dtype: DTypeLike | None = None) -> Tensor:
    return _along("log_softmax", input, dim, dtype,
                  lambda g, y, axis: g - y.exp() * g.sum(axis, keepdim=True))
