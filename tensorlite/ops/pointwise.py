"""Elementwise ops, each with its derivative beside it."""
from __future__ import annotations

import builtins as _builtins
import math as _math
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import dtypes
from ..autograd.graph import record
from ..backends import for_device
from ..tensor import Tensor, describe, wrap
from .common import (_shape_str, backend_of, binary, broadcast_error, broadcasting, cast,
                     floating, number, raw, shape_of, sum_to, unbroadcast)
from .registry import op

if TYPE_CHECKING:
    from ..autograd.graph import Backward, Context
    import numpy as np


# -- unary: backward(g, s) where s is the op's input or output, whichever the formula needs ----------
def _unary(name: str, backward: Callable[..., Tensor], uses: str | None = "input",
           float_only: bool = True, prim: str | None = None,
           no_bool: tuple[type[Exception], str] | None = None) -> Callable[[Tensor], Tensor]:
    """``no_bool``: ``(exception type, message)`` raised for a bool input, as PyTorch."""
    prim = prim or name

    def fn(input: Tensor) -> Tensor:
        x = input
        if not (isinstance(x, Tensor) and x._data.dtype.kind == "f"):  # (floats pass: hot)
            if no_bool is not None and isinstance(x, Tensor) and x.dtype == dtypes.bool_:
                raise no_bool[0](f"{name}: {no_bool[1]} (got {describe(x)})")
            x = floating(x, name) if float_only else x
        B = backend_of(x, name)
        if uses == "output":
            return record(name, getattr(B, prim)(x._data), (x,), _grad_of, output="s")
        return record(name, getattr(B, prim)(x._data), (x,), _grad_of,
                      save={"s": x} if uses == "input" else None)

    # the op's backward, chosen once: with the saved input or output, or with g alone
    _grad_of: Backward = ((lambda ctx, g: (backward(g, ctx.s),)) if uses
                          else (lambda ctx, g: (backward(g),)))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} (differentiable)."
    return fn


exp = op(inplace=True)(_unary("exp", lambda g, y: g * y, uses="output"))
log = op(inplace=True)(_unary("log", lambda g, x: g / x))
sqrt = op(inplace=True)(_unary("sqrt", lambda g, y: g / (2 * y), uses="output"))
sin = op(inplace=True)(_unary("sin", lambda g, x: g * x.cos()))
cos = op(inplace=True)(_unary("cos", lambda g, x: -g * x.sin()))

# The second derivatives of the fused activation gradients, as (d/dg, d/dy) of g * act'(y).
_ACTIVATION_GRAD_BACKWARD: dict[str, Backward] = {
    "relu": lambda ctx, gg: (activation_grad("relu", gg, ctx.y), None),
    "tanh": lambda ctx, gg: (activation_grad("tanh", gg, ctx.y), -2 * gg * ctx.g * ctx.y),
    "sigmoid": lambda ctx, gg: (activation_grad("sigmoid", gg, ctx.y),
                                gg * ctx.g * (1 - 2 * ctx.y)),
}


def activation_grad(name: str, g: Tensor, y: Tensor) -> Tensor:
    """``g * act'(x)`` from the activation's output ``y`` in one backend pass (a fused kernel on
    accelerated backends), recorded with its own backward so higher-order gradients work."""
    op = _GRAD_OP[name]  # (a table, not an f-string: this runs in every backward)
    return record(op, getattr(backend_of(g, name), op)(g._data, y._data), (g, y),
                  _ACTIVATION_GRAD_BACKWARD[name], save={"g": g, "y": y})


_GRAD_OP = {name: f"{name}_grad" for name in _ACTIVATION_GRAD_BACKWARD}


tanh = op(inplace=True)(_unary("tanh", partial(activation_grad, "tanh"), uses="output"))
sigmoid = op(inplace=True)(_unary("sigmoid", partial(activation_grad, "sigmoid"),
                                  uses="output"))
relu = op(inplace=True)(_unary("relu", partial(activation_grad, "relu"),
                               uses="output", float_only=False,
                               no_bool=(RuntimeError, "Boolean inputs not supported for relu")))


abs = op(inplace=True)(_unary("abs", lambda g, x: g * x.sign(), float_only=False,
                              no_bool=(NotImplementedError, "not implemented for bool tensors")))
_NO_BOOL_MINUS = ("If you are trying to invert a mask, use the `~` or `logical_not()` operator "
                  "instead.")
neg = op(inplace=True)(_unary("neg", lambda g: -g, uses=None, float_only=False,
                              no_bool=(RuntimeError, "negation, the `-` operator, on a bool "
                                       f"tensor is not supported. {_NO_BOOL_MINUS}")))


@op(inplace=True)
def rsqrt(input: Tensor) -> Tensor:
    return sqrt(input).reciprocal()


@op(inplace=True)
def reciprocal(input: Tensor) -> Tensor:
    return 1 / floating(input, "reciprocal")


@op(inplace=True)
def square(input: Tensor) -> Tensor:
    return pow(input, 2)  # as PyTorch: a bool tensor squares to int64


@op(inplace=True)
def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise (NaN gives 0); its gradient is zero."""
    return _zero_grad("sign", backend_of(input, "sign").sign(input._data), input)


@op(inplace=True)
def sgn(input: Tensor) -> Tensor:
    """sign(x) for real tensors (PyTorch's sgn is x / |x| for complex ones, which we lack)."""
    return _zero_grad("sgn", backend_of(input, "sgn").sign(input._data), input)


def _no_grad(name: str, input: Tensor) -> Tensor:
    B = backend_of(input, name)
    return wrap(getattr(B, name)(input._data), input.device)


def _zero_grad(name: str, data: Any, input: Tensor) -> Tensor:
    """The result ``data`` of an op whose gradient is zero everywhere (sign, floor, round...):
    recorded for a float input, so it requires grad and backward passes zeros, as PyTorch."""
    if dtypes.kind(input.dtype) < 2:
        return wrap(data, input.device)
    return record(name, data, (input,), lambda ctx, g: (_zeros_like(g),))


def _zeros_like(g: Tensor) -> Tensor:
    return wrap(backend_of(g, "zeros_like").zeros_like(g._data), g.device)


@op(inplace=True, aliases=("clip",))
def clamp(input: Tensor, min: Tensor | float | None = None,
          max: Tensor | float | None = None) -> Tensor:
    """Limit to [min, max]; the gradient passes where min <= x <= max (bounds included)."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        t: Any = min if isinstance(min, Tensor) else max
        if not any(b is not None and not isinstance(b, Tensor) for b in (min, max)):
            return _clamp_tensors(input, min, max)
        if t.ndim or t.requires_grad:
            raise TypeError(f"clamp(): got a tensor bound ({describe(t)}) and a number bound; "
                            "give both as tensors (or None) or both as numbers")
        # as PyTorch, a 0-d tensor that needs no gradient is read as a number
        min, max = (b.item() if isinstance(b, Tensor) else b for b in (min, max))
    B = backend_of(input, "clamp")
    dt = input.dtype  # the result type of the input and the bounds: int.clamp(max=2.5) is float
    for bound in (min, max):
        if bound is not None:
            dt = dtypes.promote_scalar(dt, number("clamp", bound))
    if dt == dtypes.bool_:
        raise NotImplementedError(f"clamp: not implemented for bool ({describe(input)}) with "
                                  "number bounds; convert with .long() or .float() first")
    input = cast(input, dt)
    lo, hi = -float("inf") if min is None else min, float("inf") if max is None else max
    return record("clamp", B.clip(input._data, min, max), (input,),
                  lambda ctx, g: (g * ((ctx.x >= lo) & (ctx.x <= hi)),), save={"x": input})


# -- binary: operands coerced by `binary`, gradients summed back over broadcast dims ---------------
@op(inplace=True, fast="iadd")
def add(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    if alpha != 1:
        other = other * alpha
    a, b, B = binary("add", input, other)
    sa = a._data.shape if isinstance(a, Tensor) else None  # (shape_of, inline: a hot op)
    sb = b._data.shape if isinstance(b, Tensor) else None
    try:  # (common.broadcasting, inline: a hot op)
        data = B.add(a if sa is None else a._data, b if sb is None else b._data)
    except ValueError:
        raise broadcast_error("add", a, b) from None
    return record("add", data, (a, b),
                  lambda ctx, g: _two(ctx, g, sa, g, sb))


_BOOL = dtypes.bool_


def _refuse_bool_sub(name: str, input: Tensor | float, other: Tensor | float) -> None:
    """PyTorch refuses a subtraction with any bool operand, a tensor or a Python bool."""
    for x in (input, other):
        if isinstance(x, bool) or (isinstance(x, Tensor) and x.dtype == dtypes.bool_):
            raise RuntimeError(f"{name}: subtraction, the `-` operator, with a bool tensor is not "
                               f"supported ({describe(x) if isinstance(x, Tensor) else repr(x)}). "
                               f"{_NO_BOOL_MINUS}")


@op(inplace=True, fast="isub")
def sub(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    if (input.__class__ is bool or other.__class__ is bool  # (the check inline: sub is hot)
            or isinstance(input, Tensor) and input._data.dtype == _BOOL
            or isinstance(other, Tensor) and other._data.dtype == _BOOL):
        _refuse_bool_sub("sub", input, other)
    if alpha != 1:
        other = other * alpha
    a, b, B = binary("sub", input, other)
    sa = a._data.shape if isinstance(a, Tensor) else None  # (shape_of, inline: a hot op)
    sb = b._data.shape if isinstance(b, Tensor) else None
    try:  # (common.broadcasting, inline: a hot op)
        data = B.sub(a if sa is None else a._data, b if sb is None else b._data)
    except ValueError:
        raise broadcast_error("sub", a, b) from None
    return record("sub", data, (a, b),
                  lambda ctx, g: _two(ctx, g, sa, -g if ctx.needs_input_grad[1] else None, sb))


@op(inplace=True, fast="imul")
def mul(input: Tensor | float, other: Tensor | float) -> Tensor:
    a, b, B = binary("mul", input, other)
    sa = a._data.shape if isinstance(a, Tensor) else None  # (shape_of, inline: a hot op)
    sb = b._data.shape if isinstance(b, Tensor) else None
    try:  # (common.broadcasting, inline: a hot op)
        data = B.mul(a if sa is None else a._data, b if sb is None else b._data)
    except ValueError:
        raise broadcast_error("mul", a, b) from None
    return record("mul", data, (a, b),
                  lambda ctx, g: _two(ctx, g * ctx.b if ctx.needs_input_grad[0] else None, sa,
                                      g * ctx.a if ctx.needs_input_grad[1] else None, sb),
                  save={"a": a, "b": b})


def _two(ctx: Context, ga: Any, sa: Any, gb: Any, sb: Any) -> tuple[Tensor | None, Tensor | None]:
    """The gradients of a binary op's two inputs summed down to their shapes, None where not
    wanted (the hot ops' unbroadcast, written out: no thunks to build per op)."""
    na, nb = ctx.needs_input_grad
    return (None if not na else ga if ga._data.shape == sa else sum_to(ga, sa),
            None if not nb else gb if gb._data.shape == sb else sum_to(gb, sb))


@op(inplace=True)
def div(input: Tensor | float, other: Tensor | float) -> Tensor:
    a, b, B = binary("div", input, other)
    if dtypes.kind(raw_dtype(a, b)) < 2:  # true division of integers gives float32, as PyTorch
        a, b, B = binary("div", _to_float(a), _to_float(b))
    sa, sb = shape_of(a), shape_of(b)
    return record("div", broadcasting("div", B.div, a, b), (a, b),
                  lambda ctx, g: unbroadcast(ctx, (lambda: g / ctx.b, sa),
                                             (lambda: -g * ctx.y / ctx.b, sb)),
                  save={"a": a, "b": b}, output="y")


@op(inplace=True)
def pow(input: Tensor | float, exponent: Tensor | float) -> Tensor:
    a, b, B = binary("pow", input, exponent)
    t = a if isinstance(a, Tensor) else b
    if t.dtype == dtypes.bool_:
        raise NotImplementedError(f"pow: not implemented for bool tensors ({describe(t)}); "
                                  "convert them first with .long() or .float()")
    if dtypes.kind(t.dtype) == 1 and not isinstance(b, Tensor) and b < 0:
        raise RuntimeError(f"pow: integers to negative integer powers are not allowed "
                           f"({describe(t)} ** {b}); use a float tensor (.float())")
    sa, sb = shape_of(a), shape_of(b)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b, y = ctx.a, ctx.b, ctx.y
        ga = gb = None
        if ctx.needs_input_grad[0]:  # d/da a**b = b * a**(b-1), and 0 where b == 0 (even at a == 0)
            ga = sum_to(where(b == 0, 0.0, g * b * a ** (b - 1)) if isinstance(b, Tensor) else
                        (g * 0.0 if b == 0 else g * b * a ** (b - 1)), sa)
        if ctx.needs_input_grad[1]:  # d/db a**b = a**b * log(a), taken as 0 where a == 0 and b >= 0
            log_a = floating(a, "pow").log() if isinstance(a, Tensor) else _log_number(a)
            gb = g * y * log_a
            if isinstance(a, Tensor):
                gb = where((a == 0) & (b >= 0), 0.0, gb)
            elif a == 0:  # a number base: the same rule (log(0) = -inf would give NaN)
                gb = where(b >= 0, 0.0, gb)
            gb = sum_to(gb, sb)
        return ga, gb
    return record("pow", broadcasting("pow", B.pow, a, b), (a, b), backward,
                  save={"a": a, "b": b}, output="y")


def _log_number(x: float) -> float:
    import math
    return math.log(x) if x > 0 else float("nan") if x < 0 else float("-inf")


@op()
def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise max; at ties the gradient is split evenly between the two, and where a NaN
    makes the comparison fail both get all of it, as PyTorch."""
    return _extremum("maximum", input, other, lambda a, b: a < b)


@op()
def minimum(input: Tensor, other: Tensor) -> Tensor:
    return _extremum("minimum", input, other, lambda a, b: a > b)


def _extremum(name: str, input: Tensor, other: Tensor,
              loses: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    a, b, B = binary(name, input, other)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{name}: both operands must be tensors (use clamp for a number)")
    sa, sb = shape_of(a), shape_of(b)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        a, b = ctx.a, ctx.b
        shared = where(a == b, g * 0.5, g)
        return unbroadcast(ctx, (lambda: where(loses(a, b), 0.0, shared), sa),
                           (lambda: where(loses(b, a), 0.0, shared), sb))
    return record(name, broadcasting(name, getattr(B, name), a, b), (a, b), backward,
                  save={"a": a, "b": b})


@op(method=False)
def where(condition: Tensor, input: Tensor | float, other: Tensor | float) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (tensors or numbers, broadcast)."""
    if not isinstance(condition, Tensor) or condition.dtype != dtypes.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got "
                        f"{getattr(condition, 'dtype', type(condition).__name__)}")
    if isinstance(input, Tensor) or isinstance(other, Tensor):
        a, b, B = binary("where", input, other)
    else:  # two numbers: PyTorch gives the default dtype of their kind
        kind = max(dtypes.scalar_kind(input), dtypes.scalar_kind(other))
        B = backend_of(condition, "where")
        a, b = _full_like_kind(condition, input, kind), other
    for t in (a, b):
        if isinstance(t, Tensor) and t.device != condition.device:
            raise RuntimeError(f"where: condition is on {condition.device} but an operand is "
                               f"on {t.device}; move one with .to()")
    sa, sb = shape_of(a), shape_of(b)
    try:
        data = B.where(condition._data, raw(a), raw(b))
    except ValueError:
        raise ValueError(f"where: shapes {list(condition.shape)}, {_shape_str(a)} and "
                         f"{_shape_str(b)} cannot "
                         "be broadcast together") from None
    return record("where", data, (a, b),
                  lambda ctx, g: unbroadcast(ctx, (lambda: where(ctx.condition, g, 0.0), sa),
                                             (lambda: where(ctx.condition, 0.0, g), sb)),
                  save={"condition": condition})


def _full_like_kind(condition: Tensor, value: float, kind: int) -> Tensor:
    B = backend_of(condition, "where")
    dt = (dtypes.bool_, dtypes.int64, dtypes.float32)[kind]
    return wrap(B.full((), value, dtype=dt), condition.device)


def raw_dtype(a: Any, b: Any) -> np.dtype:
    return a.dtype if isinstance(a, Tensor) else b.dtype


def _to_float(x: Tensor | float) -> Tensor | float:
    return cast(x, dtypes.float32) if isinstance(x, Tensor) else float(x)


# -- casts, copies and device moves: identity gradients -------------------------------------------
@op()
def clone(input: Tensor) -> Tensor:
    B = backend_of(input, "clone")
    return record("clone", B.copy(input._data), (input,), lambda ctx, g: (g,))


@op(method=False)
def to_device(input: Tensor, device: str) -> Tensor:
    """Copy to ``device``; the gradient is copied back."""
    src, dst = backend_of(input, "to"), for_device(device)
    data = dst.asarray(src.to_host(input._data)) if device != "cpu" else src.to_host(input._data)
    src_device = input.device
    out = record("to", data, (input,), lambda ctx, g: (to_device(g, src_device),))
    out.device = device
    return out


# -- comparisons: no gradient, bool results --------------------------------------------------------
def _comparison(name: str) -> Callable[[Tensor | float, Tensor | float], Tensor]:
    def fn(input: Tensor | float, other: Tensor | float) -> Tensor:
        a, b, B = binary(name, input, other)
        return wrap(broadcasting(name, getattr(B, name), a, b), (a if isinstance(a, Tensor) else b).device)
    fn.__name__ = fn.__qualname__ = name
    return fn


eq, ne, lt, le, gt, ge = (op()(_comparison(n)) for n in ("eq", "ne", "lt", "le", "gt", "ge"))
logical_and = op(inplace=True)(_comparison("logical_and"))


def _logical(name: str) -> Callable[[Tensor, Tensor | float], Tensor]:
    """logical_or / logical_xor: tensors of any dtypes (nonzero is true), a bool result.
    (logical_and takes a number too: ops/__init__.py makes it the `&` operator for now.)"""
    compare = _comparison(name)

    def fn(input: Tensor, other: Tensor | float) -> Tensor:
        _tensors_only(name, input, other)
        return compare(input, other)
    fn.__name__ = fn.__qualname__ = name
    return fn


logical_or = op(inplace=True)(_logical("logical_or"))
logical_xor = op(inplace=True)(_logical("logical_xor"))


@op(inplace=True)
def logical_not(input: Tensor) -> Tensor:
    return _no_grad("logical_not", input)


@op()
def isfinite(input: Tensor) -> Tensor:
    return _no_grad("isfinite", input)


@op()
def isnan(input: Tensor) -> Tensor:
    return input != input


# -- more elementwise math (issue 12): each op with its derivative beside it ------------------------
_LN2, _LN10 = _math.log(2.0), _math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / _math.sqrt(_math.pi)
_HALF_SQRT_PI = 0.5 * _math.sqrt(_math.pi)

log1p = op(inplace=True)(_unary("log1p", lambda g, x: g / (x + 1)))
expm1 = op(inplace=True)(_unary("expm1", lambda g, y: g * (y + 1), uses="output"))
log2 = op(inplace=True)(_unary("log2", lambda g, x: g / (x * _LN2)))
log10 = op(inplace=True)(_unary("log10", lambda g, x: g / (x * _LN10)))
exp2 = op(inplace=True)(_unary("exp2", lambda g, y: g * y * _LN2, uses="output"))
erf = op(inplace=True)(_unary("erf", lambda g, x: _TWO_OVER_SQRT_PI * (-(x * x)).exp() * g))
erfc = op(inplace=True)(_unary("erfc", lambda g, x: -_TWO_OVER_SQRT_PI * (-(x * x)).exp() * g))
erfinv = op(inplace=True)(_unary("erfinv", lambda g, y: _HALF_SQRT_PI * (y * y).exp() * g,
                                 uses="output"))
tan = op(inplace=True)(_unary("tan", lambda g, y: g * (1 + y * y), uses="output"))
asin = op(inplace=True, aliases=("arcsin",))(
    _unary("asin", lambda g, x: g * (-x * x + 1).rsqrt()))
acos = op(inplace=True, aliases=("arccos",))(
    _unary("acos", lambda g, x: g * -((-x * x + 1).rsqrt())))
atan = op(inplace=True, aliases=("arctan",))(_unary("atan", lambda g, x: g / (x * x + 1)))
sinh = op(inplace=True)(_unary("sinh", lambda g, x: g * x.cosh()))
cosh = op(inplace=True)(_unary("cosh", lambda g, x: g * x.sinh()))
asinh = op(inplace=True, aliases=("arcsinh",))(
    _unary("asinh", lambda g, x: g * (x * x + 1).rsqrt()))
acosh = op(inplace=True, aliases=("arccosh",))(
    _unary("acosh", lambda g, x: g * (x * x - 1).rsqrt()))
atanh = op(inplace=True, aliases=("arctanh",))(_unary("atanh", lambda g, x: g / (1 - x * x)))


def _sinc_grad(g: Tensor, x: Tensor) -> Tensor:
    """PyTorch's sinc_backward: (pi x cos(pi x) - sin(pi x)) / (pi x^2), and 0 at x == 0."""
    xpi, sq = x * _math.pi, x * x * _math.pi
    return where(sq == 0, 0.0, g * (xpi * xpi.cos() - xpi.sin()) / sq)


sinc = op(inplace=True)(_unary("sinc", _sinc_grad))


@op(inplace=True)
def deg2rad(input: Tensor) -> Tensor:
    return mul(floating(input, "deg2rad"), _math.pi / 180)


@op(inplace=True)
def rad2deg(input: Tensor) -> Tensor:
    return mul(floating(input, "rad2deg"), 180 / _math.pi)


@op(inplace=True)
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(x / (1 - x)), x first limited to [eps, 1 - eps] when eps is given; the gradient is
    0 outside those bounds (NaN outside [0, 1] without eps), as PyTorch."""
    x = floating(input, "logit")
    B = backend_of(x, "logit")
    if eps is not None and eps < 0:
        eps = None
    if eps is None:
        xd, lo, hi = x._data, 0.0, 1.0
    else:
        lo = B.full((), number("logit", eps), dtype=x.dtype)
        hi = B.sub(1, lo)  # 1 - eps in the input's dtype, as PyTorch
        xd = B.clip(x._data, lo, hi)
    data = B.log(B.div(xd, B.sub(1, xd)))
    lo, hi = (wrap(v, x.device) if not isinstance(v, float) else v for v in (lo, hi))
    outside = float("nan") if eps is None else 0.0

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:  # at 0 and 1, g * inf (not g / +-0), as PyTorch's kernel
        x = ctx.x
        inner = where((x == 0) | (x == 1), g * float("inf"), g / (x * (1 - x)))
        return (where((x < lo) | (x > hi), outside, inner),)
    return record("logit", data, (x,), backward, save={"x": x})


# rounding: integers pass through unchanged (bool refused), and the gradient is zero
def _rounding(name: str, input: Tensor, prim: str, *args: int) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.dtype == dtypes.bool_:
        raise NotImplementedError(f"{name}: not implemented for bool tensors ({describe(input)});"
                                  " convert with .long() or .float() first")
    B = backend_of(input, name)
    return _zero_grad(name, getattr(B, prim)(input._data, *args), input)


@op(inplace=True)
def floor(input: Tensor) -> Tensor:
    return _rounding("floor", input, "floor")


@op(inplace=True)
def ceil(input: Tensor) -> Tensor:
    return _rounding("ceil", input, "ceil")


@op(inplace=True, aliases=("fix",))
def trunc(input: Tensor) -> Tensor:
    return _rounding("trunc", input, "trunc")


@op(inplace=True)
def round(input: Tensor, *, decimals: int | None = None) -> Tensor:
    """Round half to even, to ``decimals`` decimal places (negative: to tens, hundreds...).
    As PyTorch, integer tensors pass through unchanged only when ``decimals`` is not given."""
    if decimals is None:
        return _rounding("round", input, "round", 0)
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round(): argument 'decimals' must be int, not "
                        f"{type(decimals).__name__}")
    if isinstance(input, Tensor) and dtypes.kind(input.dtype) < 2:
        raise NotImplementedError(f"round: decimals= is not implemented for integer tensors "
                                  f"({describe(input)}); convert with .float() first")
    return _rounding("round", input, "round", decimals)


@op(inplace=True)
def frac(input: Tensor) -> Tensor:
    """x - trunc(x): the fractional part, with x's sign; the gradient passes unchanged."""
    if not isinstance(input, Tensor) or dtypes.kind(input.dtype) < 2:
        raise NotImplementedError(f"frac: not implemented for "
                                  f"{describe(input) if isinstance(input, Tensor) else input}; "
                                  "use a float tensor (.float())")
    B = backend_of(input, "frac")
    return record("frac", B.sub(input._data, B.trunc(input._data)), (input,),
                  lambda ctx, g: (g,))


@op(inplace=True)
def nan_to_num(input: Tensor, nan: float | None = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (default: 0 and the
    dtype's largest and smallest values); the gradient flows where the input is finite."""
    B = backend_of(input, "nan_to_num")
    data = B.nan_to_num(input._data, nan=nan, posinf=posinf, neginf=neginf)
    if dtypes.kind(input.dtype) < 2:
        return wrap(data, input.device)
    return record("nan_to_num", data, (input,), lambda ctx, g: (g * ctx.x.isfinite(),),
                  save={"x": input})


# -- tests of values: bool results, no gradient
@op()
def isinf(input: Tensor) -> Tensor:
    return _no_grad("isinf", input)


@op()
def isposinf(input: Tensor) -> Tensor:
    return eq(input, float("inf"))


@op()
def isneginf(input: Tensor) -> Tensor:
    return eq(input, float("-inf"))


@op()
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other|, elementwise (infinities close only to
    themselves); NaNs are close to each other only with ``equal_nan``."""
    for t, what in ((input, "input"), (other, "other")):
        if not isinstance(t, Tensor):
            raise TypeError(f"isclose(): argument '{what}' must be Tensor, not "
                            f"{type(t).__name__}")
    if input.dtype != other.dtype:
        raise RuntimeError(f"isclose: {input.dtype} did not match {other.dtype} "
                           f"({describe(input)} and {describe(other)}); convert one with .to()")
    for name, v in (("rtol", rtol), ("atol", atol)):
        if v < 0:
            raise RuntimeError(f"isclose: {name} must be greater than or equal to zero, but got "
                               f"{v}")
    from ..autograd.grad_mode import no_grad
    with no_grad():
        close = eq(input, other)
        if equal_nan and dtypes.kind(input.dtype) == 2:
            close = close | (isnan(input) & isnan(other))
        if rtol == 0 and atol == 0:
            return close
        a, b = (cast(t, dtypes.get_default_dtype()) if t.dtype == dtypes.bool_ else t
                for t in (input, other))
        actual = (a - b).abs()
        return close | (actual.isfinite() & (actual <= atol + (rtol * b).abs()))


@op()
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether every element of ``input`` is close to ``other`` (see isclose), a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


@op()
def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and the same values (NaN equals nothing)."""
    for t, what in ((input, "input"), (other, "other")):
        if not isinstance(t, Tensor):
            raise TypeError(f"equal(): argument '{what}' must be Tensor, not {type(t).__name__}")
    if tuple(input.shape) != tuple(other.shape):
        return False
    from ..autograd.grad_mode import no_grad
    with no_grad():
        return bool(eq(input, other).all().item())


# -- bitwise ops: integer and bool tensors only
def _bitwise(name: str) -> Callable[[Tensor | float, Tensor | float], Tensor]:
    def fn(input: Tensor | float, other: Tensor | float) -> Tensor:
        a, b, B = binary(name, input, other)
        dt = raw_dtype(a, b)
        if dtypes.kind(dt) == 2:
            raise NotImplementedError(f"{name}: not implemented for {dt} "
                                      f"({_operands(a, b)}); bitwise ops take integer or bool "
                                      "tensors")
        return wrap(broadcasting(name, getattr(B, name), a, b),
                    (a if isinstance(a, Tensor) else b).device)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} of integer or bool tensors (no gradient)."
    return fn


def _operands(*xs: Any) -> str:
    return " and ".join(describe(x) if isinstance(x, Tensor) else repr(x) for x in xs)


bitwise_and = op(inplace=True)(_bitwise("bitwise_and"))
bitwise_or = op(inplace=True)(_bitwise("bitwise_or"))
bitwise_xor = op(inplace=True)(_bitwise("bitwise_xor"))


@op(inplace=True)
def bitwise_not(input: Tensor) -> Tensor:
    if isinstance(input, Tensor) and dtypes.kind(input.dtype) == 2:
        raise NotImplementedError(f"bitwise_not: not implemented for {describe(input)}; "
                                  "bitwise ops take integer or bool tensors")
    return _no_grad("bitwise_not", input)


# -- binary math
def _tensors_only(name: str, input: object, other: object) -> None:
    for t, what in ((input, "input"), (other, "other")):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{what}' must be Tensor, not "
                            f"{type(t).__name__}")


def _float_binary(name: str, input: Tensor | float, other: Tensor | float
                  ) -> tuple[Any, Any, Any]:
    """The operands promoted together, then integers and bools to float32."""
    a, b, B = binary(name, input, other)
    if dtypes.kind(raw_dtype(a, b)) < 2:
        a, b, B = binary(name, _to_float(a), _to_float(b))
    return a, b, B


@op(inplace=True, aliases=("arctan2",))
def atan2(input: Tensor, other: Tensor) -> Tensor:
    """The angle of the point (other, input), in (-pi, pi]."""
    _tensors_only("atan2", input, other)
    a, b, B = _float_binary("atan2", input, other)
    sa, sb = shape_of(a), shape_of(b)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        a, b = ctx.a, ctx.b
        denom = a * a + b * b  # where it underflows to 0 the gradient is 0, as PyTorch's
        recip = where(denom == 0, 0.0, denom.reciprocal())
        return unbroadcast(ctx, (lambda: g * b * recip, sa), (lambda: g * -a * recip, sb))
    return record("atan2", broadcasting("atan2", B.atan2, a, b), (a, b), backward,
                  save={"a": a, "b": b})


@op(inplace=True)
def hypot(input: Tensor, other: Tensor) -> Tensor:
    """sqrt(input**2 + other**2), float tensors only; at (0, 0) the gradient is NaN (0 / 0), as
    PyTorch."""
    _tensors_only("hypot", input, other)
    a, b, B = binary("hypot", input, other)
    if dtypes.kind(a.dtype) < 2:
        raise NotImplementedError(f"hypot: not implemented for {a.dtype} ({_operands(a, b)}); "
                                  "use float tensors (.float())")
    sa, sb = shape_of(a), shape_of(b)
    return record("hypot", broadcasting("hypot", B.hypot, a, b), (a, b),
                  lambda ctx, g: unbroadcast(ctx, (lambda: g * ctx.a / ctx.y, sa),
                                             (lambda: g * ctx.b / ctx.y, sb)),
                  save={"a": a, "b": b}, output="y")


def _modulo(name: str, input: Tensor | float, other: Tensor | float,
            rounded_quotient: Callable[[Any, Any, Any], Any]) -> Tensor:
    """fmod / remainder: operands promoted; integer division by zero raises as PyTorch; the
    gradient is g for the dividend and -g * (the rounded quotient) for the divisor."""
    a, b, B = binary(name, input, other)
    dt = raw_dtype(a, b)
    if dt == dtypes.bool_:
        raise NotImplementedError(f"{name}: not implemented for bool ({_operands(a, b)})")
    if dtypes.kind(dt) == 1 and _broadcast_size(shape_of(a), shape_of(b)) and (
            bool(B.any(B.eq(b._data, 0))) if isinstance(b, Tensor) else b == 0):
        raise RuntimeError(f"{name}: ZeroDivisionError: integer division by zero "
                           f"({_operands(a, b)}); use float tensors for NaN results")
    sa, sb = shape_of(a), shape_of(b)
    device = (a if isinstance(a, Tensor) else b).device

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        if not isinstance(ctx.a, Tensor) and ctx.needs_input_grad[1]:
            raise RuntimeError(f"{name}: the derivative for a number dividend is not "
                               "implemented (as in PyTorch); make the dividend a tensor")
        q = wrap(rounded_quotient(B, raw(ctx.a), raw(ctx.b)), device)  # no gradient of its own
        return unbroadcast(ctx, (g, sa), (lambda: -g * q, sb))
    return record(name, broadcasting(name, getattr(B, name), a, b), (a, b), backward,
                  save={"a": a, "b": b})


def _broadcast_size(*shapes: Any) -> int:
    """The number of elements of the broadcast result of ``shapes`` (None: a number)."""
    shapes = [s for s in shapes if s is not None]  # type: ignore[assignment]
    n = _builtins.max((len(s) for s in shapes), default=0)
    size = 1
    for i in range(n):
        sizes = [s[len(s) - n + i] for s in shapes if len(s) - n + i >= 0]
        size *= _builtins.min(sizes) if 0 in sizes else _builtins.max(sizes)
    return size


@op(inplace=True)
def fmod(input: Tensor, other: Tensor | float) -> Tensor:
    """C's fmod: the remainder of the truncated division, with the sign of ``input``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fmod(): argument 'input' must be Tensor, not {type(input).__name__}")
    return _modulo("fmod", input, other, lambda B, a, b: B.trunc(B.div(a, b)))


@op(inplace=True)
def remainder(input: Tensor | float, other: Tensor | float) -> Tensor:
    """Python's modulus: the remainder of the floor division, with the sign of ``other``."""
    return _modulo("remainder", input, other, lambda B, a, b: B.floor_divide(a, b))


def _nan_extremum(name: str, input: Tensor, other: Tensor,
                  wins: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """fmax / fmin: a NaN on one side gives the other side; the gradient goes to ``input``
    where it wins or ties or ``other`` is NaN, else to ``other``, as PyTorch."""
    _tensors_only(name, input, other)
    a, b, B = binary(name, input, other)
    sa, sb = shape_of(a), shape_of(b)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        first = wins(ctx.a, ctx.b) | isnan(ctx.b)
        return unbroadcast(ctx, (lambda: where(first, g, 0.0), sa),
                           (lambda: where(first, 0.0, g), sb))
    return record(name, broadcasting(name, getattr(B, name), a, b), (a, b), backward,
                  save={"a": a, "b": b})


@op()
def fmax(input: Tensor, other: Tensor) -> Tensor:
    return _nan_extremum("fmax", input, other, lambda a, b: a >= b)


@op()
def fmin(input: Tensor, other: Tensor) -> Tensor:
    return _nan_extremum("fmin", input, other, lambda a, b: a <= b)


@op(inplace=True)
def xlogy(input: Tensor | float, other: Tensor | float) -> Tensor:
    """input * log(other), 0 where input == 0 (NaN where other is NaN); float results."""
    a, b, B = _float_binary("xlogy", input, other)
    dt = raw_dtype(a, b)
    ad = a._data if isinstance(a, Tensor) else B.full((), a, dtype=dt)
    bd = b._data if isinstance(b, Tensor) else B.full((), b, dtype=dt)
    data = B.where(B.ne(bd, bd), bd, B.where(B.eq(ad, 0), B.zeros_like(ad), B.mul(ad, B.log(bd))))
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        data = B.ensure_array(data).reshape(shape_of(a if isinstance(a, Tensor) else b))
    sa, sb = shape_of(a), shape_of(b)
    return record("xlogy", data, (a, b),
                  lambda ctx, g: unbroadcast(
                      ctx, (lambda: where((ctx.a == 0) & (ctx.b <= 0), 0.0, xlogy(g, ctx.b)), sa),
                      (lambda: g * ctx.a / ctx.b, sb)),
                  save={"a": a, "b": b})


@op(inplace=True)
def lerp(input: Tensor, end: Tensor, weight: Tensor | float) -> Tensor:
    """input + weight * (end - input), computed from the nearer end as PyTorch (exact at
    weight 0 and 1); input, end and a tensor weight share one float dtype."""
    _tensors_only("lerp", input, end)
    if dtypes.kind(input.dtype) < 2:
        raise NotImplementedError(f"lerp: not implemented for {describe(input)}; use float "
                                  "tensors (.float())")
    if end.dtype != input.dtype:
        raise RuntimeError(f"lerp: expected dtype {input.dtype} for `end` but got dtype "
                           f"{end.dtype}; convert it with .to({input.dtype})")
    if end.device != input.device:
        raise RuntimeError(f"lerp: expected all tensors on the same device, got "
                           f"{_operands(input, end)}")
    B = backend_of(input, "lerp")
    if isinstance(weight, Tensor):
        if weight.dtype != input.dtype:
            if weight.ndim:
                raise RuntimeError(f"lerp: expected dtype {input.dtype} for `weight` but got "
                                   f"dtype {weight.dtype}; convert it with .to({input.dtype})")
            weight = cast(weight, input.dtype)  # a 0-d weight is taken as a number
        d = broadcasting("lerp", B.sub, end, input)
        data = broadcasting("lerp", lambda w, d: B.where(
            B.lt(B.abs(w), 0.5), B.add(input._data, B.mul(w, d)),
            B.sub(end._data, B.mul(d, B.sub(1, w)))), weight, wrap(d, input.device))
    else:
        weight = number("lerp", weight)
        d = broadcasting("lerp", B.sub, end, input)
        data = B.add(input._data, B.mul(weight, d)) if _builtins.abs(weight) < 0.5 else \
            B.sub(end._data, B.mul(d, 1 - weight))
    si, se, sw = shape_of(input), shape_of(end), shape_of(weight)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        w = ctx.w
        return unbroadcast(ctx, (lambda: g * (1 - w), si), (lambda: g * w, se),
                           (lambda: g * (ctx.end - ctx.x), sw))
    return record("lerp", data, (input, end, weight), backward,
                  save={"x": input, "end": end, "w": weight})


@op(inplace=True)
def float_power(input: Tensor | float, exponent: Tensor | float) -> Tensor:
    """input ** exponent computed in float64 (the result is float64 whatever the inputs)."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power: expected a Tensor operand, got "
                        f"{type(input).__name__} and {type(exponent).__name__}")
    a, b = (cast(x, dtypes.float64) if isinstance(x, Tensor) else float(number("float_power", x))
            for x in (input, exponent))
    return pow(a, b)


def _float_power_(self: Tensor, exponent: Tensor | float) -> Tensor:
    if self.dtype != dtypes.float64:
        raise RuntimeError(f"float_power_: the base given to float_power_ has dtype "
                           f"{self.dtype} but the operation's result requires dtype float64 "
                           f"({describe(self)}); use .double() first")
    return _float_power_inplace(self, exponent)


_float_power_.__name__ = _float_power_.__qualname__ = "float_power_"  # (its in-place method's)
_float_power_inplace, Tensor.float_power_ = Tensor.float_power_, _float_power_


def _result_type(name: str, *xs: Any) -> np.dtype:
    """PyTorch's result dtype of several operands (None skipped): dimensioned tensors, then
    0-d tensors, then Python numbers, a later tier counting only with a higher kind."""
    dt: Any = None
    for tier in ([x.dtype for x in xs if isinstance(x, Tensor) and x.ndim],
                 [x.dtype for x in xs if isinstance(x, Tensor) and not x.ndim]):
        if tier:
            best = _builtins.max(tier, key=lambda t: (dtypes.kind(t), t.itemsize))
            if dt is None or dtypes.kind(best) > dtypes.kind(dt):
                dt = best
    for x in xs:
        if x is not None and not isinstance(x, Tensor):
            dt = dtypes.promote_scalar(dt, number(name, x))
    return dt


@op(inplace=True)
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """input + value * tensor1 * tensor2 (broadcast, promoted together)."""
    x, t1, t2, value = _addc("addcmul", input, tensor1, tensor2, value)
    B = backend_of(x, "addcmul")
    data = _addc_data("addcmul", B, x, t1, t2, lambda a, b: B.mul(B.mul(a, value), b))

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:  # PyTorch's formulas on the broadcast gradient, then summed down
        return unbroadcast(ctx, (g, shape_of(x)), (lambda: g * ctx.t2 * value, shape_of(t1)),
                           (lambda: g * ctx.t1 * value, shape_of(t2)))
    return record("addcmul", data, (x, t1, t2), backward, save={"t1": t1, "t2": t2})


@op(inplace=True)
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """input + value * tensor1 / tensor2 (broadcast, promoted together; true division, so
    integer tensor1 and tensor2 are refused, as PyTorch)."""
    if all(isinstance(t, Tensor) and dtypes.kind(t.dtype) < 2 for t in (tensor1, tensor2)):
        raise RuntimeError(f"addcdiv: integer division with addcdiv is no longer supported "
                           f"({_operands(tensor1, tensor2)}); use addcmul(input, tensor1, "
                           "1 / tensor2) or convert them with .float()")
    x, t1, t2, value = _addc("addcdiv", input, tensor1, tensor2, value)
    B = backend_of(x, "addcdiv")
    data = _addc_data("addcdiv", B, x, t1, t2, lambda a, b: B.div(B.mul(a, value), b))

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        t1, t2 = ctx.t1, ctx.t2
        return unbroadcast(ctx, (g, shape_of(x)), (lambda: g * (value / t2), shape_of(t1)),
                           (lambda: -g * value * t1 / (t2 * t2), shape_of(t2)))
    return record("addcdiv", data, (x, t1, t2), backward, save={"t1": t1, "t2": t2})


def _addc_data(name: str, B: Any, x: Tensor, t1: Tensor, t2: Tensor,
               combine: Callable[[Any, Any], Any]) -> Any:
    """x + combine(t1, t2), broadcast (an error names the op and the three shapes)."""
    try:
        return B.add(x._data, combine(t1._data, t2._data))
    except ValueError:
        raise ValueError(f"{name}: shapes {list(x.shape)}, {list(t1.shape)} and "
                         f"{list(t2.shape)} cannot be broadcast together") from None


def _addc(name: str, input: Tensor, tensor1: Tensor, tensor2: Tensor, value: float) -> Any:
    for t, what in ((input, "input"), (tensor1, "tensor1"), (tensor2, "tensor2")):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{what}' must be Tensor, not "
                            f"{type(t).__name__}")
    dt = _result_type(name, input, tensor1, tensor2)
    if dt == dtypes.bool_:
        raise NotImplementedError(f"{name}: not implemented for bool tensors "
                                  f"({_operands(input, tensor1, tensor2)})")
    value = number(name, value)
    if dtypes.kind(dt) < 2:
        value = int(value)  # PyTorch converts the value to the integer dtype
    return (*(cast(t, dt) for t in (input, tensor1, tensor2)), value)


def _clamp_tensors(input: Tensor, lo: Any, hi: Any) -> Tensor:
    """clamp with tensor bounds: min(max(x, lo), hi) (hi wins where lo > hi; NaN anywhere gives
    NaN); gradients to the input and to each bound, as PyTorch's clamp_backward_min_max."""
    if not isinstance(input, Tensor):
        raise TypeError(f"clamp(): argument 'input' must be Tensor, not {type(input).__name__}")
    dt = _result_type("clamp", input, lo, hi)
    if dt == dtypes.bool_ and lo is not None and hi is not None:  # (one bound is max / min)
        raise NotImplementedError(f"clamp: not implemented for bool ({describe(input)}) with "
                                  "both bounds; convert with .long() or .float() first")
    x, lo, hi = (cast(t, dt) if isinstance(t, Tensor) else t for t in (input, lo, hi))
    for t in (lo, hi):
        if isinstance(t, Tensor) and t.device != x.device:
            raise RuntimeError(f"clamp: expected all tensors on the same device, got "
                               f"{_operands(x, t)}")
    B = backend_of(x, "clamp")
    data = x._data
    if lo is not None:
        data = broadcasting("clamp", B.maximum, wrap(data, x.device), lo)
    if hi is not None:
        data = broadcasting("clamp", B.minimum, wrap(data, x.device), hi)
    sx, slo, shi = shape_of(x), shape_of(lo), shape_of(hi)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        x, lo, hi = ctx.x, ctx.lo, ctx.hi
        if lo is not None and hi is not None:
            keep, to_lo, to_hi = (x >= lo) & (x <= hi), (x < lo) & (lo < hi), (x > hi) | (hi < lo)
        elif lo is not None:
            keep, to_lo, to_hi = x >= lo, x < lo, None
        else:
            keep, to_lo, to_hi = x <= hi, None, x > hi
        return unbroadcast(ctx, (lambda: where(keep, g, 0.0), sx),
                           (lambda: where(to_lo, g, 0.0), slo),
                           (lambda: where(to_hi, g, 0.0), shi))
    return record("clamp", data, (x, lo, hi), backward, save={"x": x, "lo": lo, "hi": hi})


# Operators that ops/__init__.py leaves unset: | ^ % on tensors, and their in-place forms.
Tensor.__or__ = Tensor.__ror__ = bitwise_or  # type: ignore[assignment]
Tensor.__xor__ = Tensor.__rxor__ = bitwise_xor
Tensor.__iand__, Tensor.__ior__, Tensor.__ixor__ = (Tensor.bitwise_and_, Tensor.bitwise_or_,
                                                    Tensor.bitwise_xor_)
Tensor.__mod__ = remainder
Tensor.__rmod__ = lambda self, other: remainder(other, self)
Tensor.__imod__ = Tensor.remainder_
