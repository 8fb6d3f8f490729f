"""Elementwise ops, each with its derivative beside it."""
from .. import dtypes
from ..autograd.graph import record
from ..backends import for_device
from ..tensor import Tensor, describe, wrap
from .common import (_shape_str, backend_of, binary, broadcasting, cast, floating, number, raw,
                     shape_of, sum_to, unbroadcast)
from .registry import op


# -- unary: backward(g, s) where s is the op's input or output, whichever the formula needs ----------
def _unary(name, backward, uses="input", float_only=True, prim=None, no_bool=None):
    """``no_bool``: ``(exception type, message)`` raised for a bool input, as PyTorch."""
    prim = prim or name

    def fn(input):
        if no_bool is not None and isinstance(input, Tensor) and input.dtype == dtypes.bool_:
            raise no_bool[0](f"{name}: {no_bool[1]} (got {describe(input)})")
        x = floating(input, name) if float_only else input
        B = backend_of(x, name)
        if uses == "output":
            return record(name, getattr(B, prim)(x._data), (x,), _grad_of, output="s")
        return record(name, getattr(B, prim)(x._data), (x,), _grad_of,
                      save={"s": x} if uses == "input" else None)

    def _grad_of(ctx, g):
        return (backward(g, ctx.s) if uses else backward(g),)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} (differentiable)."
    return fn


exp = op(inplace=True)(_unary("exp", lambda g, y: g * y, uses="output"))
log = op(inplace=True)(_unary("log", lambda g, x: g / x))
sqrt = op(inplace=True)(_unary("sqrt", lambda g, y: g / (2 * y), uses="output"))
sin = op(inplace=True)(_unary("sin", lambda g, x: g * x.cos()))
cos = op(inplace=True)(_unary("cos", lambda g, x: -g * x.sin()))
tanh = op(inplace=True)(_unary("tanh", lambda g, y: activation_grad("tanh", g, y),
                               uses="output"))
sigmoid = op(inplace=True)(_unary("sigmoid", lambda g, y: activation_grad("sigmoid", g, y),
                                  uses="output"))
relu = op(inplace=True)(_unary("relu", lambda g, y: activation_grad("relu", g, y),
                               uses="output", float_only=False,
                               no_bool=(RuntimeError, "Boolean inputs not supported for relu")))

# The second derivatives of the fused activation gradients, as (d/dg, d/dy) of g * act'(y).
_ACTIVATION_GRAD_BACKWARD = {
    "relu": lambda gg, g, y: (activation_grad("relu", gg, y), None),
    "tanh": lambda gg, g, y: (activation_grad("tanh", gg, y), -2 * gg * g * y),
    "sigmoid": lambda gg, g, y: (activation_grad("sigmoid", gg, y), gg * g * (1 - 2 * y)),
}


def activation_grad(name, g, y):
    """``g * act'(x)`` from the activation's output ``y`` in one backend pass (a fused kernel on
    accelerated backends), recorded with its own backward so higher-order gradients work."""
    B = backend_of(g, name)
    second = _ACTIVATION_GRAD_BACKWARD[name]
    return record(f"{name}_grad", getattr(B, f"{name}_grad")(g._data, y._data), (g, y),
                  lambda ctx, gg: second(gg, ctx.g, ctx.y), save={"g": g, "y": y})


abs = op(inplace=True)(_unary("abs", lambda g, x: g * x.sign(), float_only=False,
                              no_bool=(NotImplementedError, "not implemented for bool tensors")))
_NO_BOOL_MINUS = ("If you are trying to invert a mask, use the `~` or `logical_not()` operator "
                  "instead.")
neg = op(inplace=True)(_unary("neg", lambda g: -g, uses=None, float_only=False,
                              no_bool=(RuntimeError, "negation, the `-` operator, on a bool "
                                       f"tensor is not supported. {_NO_BOOL_MINUS}")))


@op(inplace=True)
def rsqrt(input):
    return sqrt(input).reciprocal()


@op(inplace=True)
def reciprocal(input):
    return 1 / floating(input, "reciprocal")


@op(inplace=True)
def square(input):
    return pow(input, 2)  # as PyTorch: a bool tensor squares to int64


@op(inplace=True)
def sign(input):
    """-1, 0 or 1 elementwise; its gradient is zero, so it is not recorded."""
    return _no_grad("sign", input)


def _no_grad(name, input):
    B = backend_of(input, name)
    return wrap(getattr(B, name)(input._data), input.device)


@op(inplace=True, aliases=("clip",))
def clamp(input, min=None, max=None):
    """Limit to [min, max]; the gradient passes where min <= x <= max (bounds included)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    B = backend_of(input, "clamp")
    dt = input.dtype  # the result type of the input and the bounds: int.clamp(max=2.5) is float
    for bound in (min, max):
        if isinstance(bound, Tensor):
            raise TypeError("clamp: tensor bounds are not supported yet; use "
                            "tensorlite.maximum(x, lo) and tensorlite.minimum(x, hi)")
        if bound is not None:
            dt = dtypes.promote_scalar(dt, number("clamp", bound))
    input = cast(input, dt)
    lo, hi = -float("inf") if min is None else min, float("inf") if max is None else max
    return record("clamp", B.clip(input._data, min, max), (input,),
                  lambda ctx, g: (g * ((ctx.x >= lo) & (ctx.x <= hi)),), save={"x": input})


# -- binary: operands coerced by `binary`, gradients summed back over broadcast dims ---------------
@op(inplace=True, fast="iadd")
def add(input, other, *, alpha=1):
    if alpha != 1:
        other = other * alpha
    a, b, B = binary("add", input, other)
    sa, sb = shape_of(a), shape_of(b)
    return record("add", broadcasting("add", B.add, a, b), (a, b),
                  lambda ctx, g: unbroadcast(ctx, (g, sa), (g, sb)))


def _refuse_bool_sub(name, input, other):
    """PyTorch refuses a subtraction with any bool operand, a tensor or a Python bool."""
    for x in (input, other):
        if isinstance(x, bool) or (isinstance(x, Tensor) and x.dtype == dtypes.bool_):
            raise RuntimeError(f"{name}: subtraction, the `-` operator, with a bool tensor is not "
                               f"supported ({describe(x) if isinstance(x, Tensor) else repr(x)}). "
                               f"{_NO_BOOL_MINUS}")


@op(inplace=True, fast="isub")
def sub(input, other, *, alpha=1):
    _refuse_bool_sub("sub", input, other)
    if alpha != 1:
        other = other * alpha
    a, b, B = binary("sub", input, other)
    sa, sb = shape_of(a), shape_of(b)
    return record("sub", broadcasting("sub", B.sub, a, b), (a, b),
                  lambda ctx, g: unbroadcast(ctx, (g, sa), (lambda: -g, sb)))


@op(inplace=True, fast="imul")
def mul(input, other):
    a, b, B = binary("mul", input, other)
    sa, sb = shape_of(a), shape_of(b)
    return record("mul", broadcasting("mul", B.mul, a, b), (a, b),
                  lambda ctx, g: unbroadcast(ctx, (lambda: g * ctx.b, sa), (lambda: g * ctx.a, sb)),
                  save={"a": a, "b": b})


@op(inplace=True)
def div(input, other):
    a, b, B = binary("div", input, other)
    if dtypes.kind(raw_dtype(a, b)) < 2:  # true division of integers gives float32, as PyTorch
        a, b, B = binary("div", _to_float(a), _to_float(b))
    sa, sb = shape_of(a), shape_of(b)
    return record("div", broadcasting("div", B.div, a, b), (a, b),
                  lambda ctx, g: unbroadcast(ctx, (lambda: g / ctx.b, sa),
                                             (lambda: -g * ctx.y / ctx.b, sb)),
                  save={"a": a, "b": b}, output="y")


@op(inplace=True)
def pow(input, exponent):
    a, b, B = binary("pow", input, exponent)
    t = a if isinstance(a, Tensor) else b
    if t.dtype == dtypes.bool_:
        raise NotImplementedError(f"pow: not implemented for bool tensors ({describe(t)}); "
                                  "convert them first with .long() or .float()")
    if dtypes.kind(t.dtype) == 1 and not isinstance(b, Tensor) and b < 0:
        raise RuntimeError(f"pow: integers to negative integer powers are not allowed "
                           f"({describe(t)} ** {b}); use a float tensor (.float())")
    sa, sb = shape_of(a), shape_of(b)

    def backward(ctx, g):
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


def _log_number(x):
    import math
    return math.log(x) if x > 0 else float("nan") if x < 0 else float("-inf")


@op()
def maximum(input, other):
    """Elementwise max; at ties the gradient is split evenly between the two, and where a NaN
    makes the comparison fail both get all of it, as PyTorch."""
    return _extremum("maximum", input, other, lambda a, b: a < b)


@op()
def minimum(input, other):
    return _extremum("minimum", input, other, lambda a, b: a > b)


def _extremum(name, input, other, loses):
    a, b, B = binary(name, input, other)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{name}: both operands must be tensors (use clamp for a number)")
    sa, sb = shape_of(a), shape_of(b)

    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        shared = where(a == b, g * 0.5, g)
        return unbroadcast(ctx, (lambda: where(loses(a, b), 0.0, shared), sa),
                           (lambda: where(loses(b, a), 0.0, shared), sb))
    return record(name, broadcasting(name, getattr(B, name), a, b), (a, b), backward,
                  save={"a": a, "b": b})


@op(method=False)
def where(condition, input, other):
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


def _full_like_kind(condition, value, kind):
    B = backend_of(condition, "where")
    dt = (dtypes.bool_, dtypes.int64, dtypes.float32)[kind]
    return wrap(B.full((), value, dtype=dt), condition.device)


def raw_dtype(a, b):
    return a.dtype if isinstance(a, Tensor) else b.dtype


def _to_float(x):
    return cast(x, dtypes.float32) if isinstance(x, Tensor) else float(x)


# -- casts, copies and device moves: identity gradients -------------------------------------------
@op()
def clone(input):
    B = backend_of(input, "clone")
    return record("clone", B.copy(input._data), (input,), lambda ctx, g: (g,))


@op(method=False)
def to_device(input, device):
    """Copy to ``device``; the gradient is copied back."""
    src, dst = backend_of(input, "to"), for_device(device)
    data = dst.asarray(src.to_host(input._data)) if device != "cpu" else src.to_host(input._data)
    src_device = input.device
    out = record("to", data, (input,), lambda ctx, g: (to_device(g, src_device),))
    out.device = device
    return out


# -- comparisons: no gradient, bool results --------------------------------------------------------
def _comparison(name):
    def fn(input, other):
        a, b, B = binary(name, input, other)
        return wrap(broadcasting(name, getattr(B, name), a, b), (a if isinstance(a, Tensor) else b).device)
    fn.__name__ = fn.__qualname__ = name
    return fn


eq, ne, lt, le, gt, ge = (op()(_comparison(n)) for n in ("eq", "ne", "lt", "le", "gt", "ge"))
logical_and = op()(_comparison("logical_and"))


@op()
def logical_not(input):
    return _no_grad("logical_not", input)


@op()
def isfinite(input):
    return _no_grad("isfinite", input)


@op()
def isnan(input):
    return input != input
