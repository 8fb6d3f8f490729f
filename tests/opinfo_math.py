"""Fuzz entries for the elementwise math of issue 12 (tensorlite/ops/pointwise.py): logarithms,
exponentials, trigonometric and hyperbolic functions, the erf family, rounding, remainders,
NaN-aware extrema, tests of values, logical and bitwise ops, lerp, float_power, addcmul/addcdiv
and clamp with tensor bounds; merged into opinfo.TABLE (see opinfo.py)."""
import operator

from opinfo import (ALL, DOMAINS, FLOAT, NUMERIC, OpInfo, _floats, _kw, binary, unary,
                    with_number)

# values in [-1, 1] for asin, acos, atanh, erfinv (outside it they are NaN, which "real" covers)
DOMAINS.setdefault("symunit", (_floats(-1, 1), (0.0, 1.0, -1.0, 0.5, -0.5), (-1, 1)))

# unary float ops: name -> domain; second order fuzzed for the smooth ones
_UNARY = {"log1p": "real", "expm1": "real", "log2": "pos", "log10": "pos", "exp2": "real",
          "erf": "real", "erfc": "real", "erfinv": "symunit", "tan": "real", "asin": "symunit",
          "acos": "symunit", "atan": "real", "sinh": "real", "cosh": "real", "asinh": "real",
          "acosh": "pos", "atanh": "symunit", "sinc": "real", "deg2rad": "real",
          "rad2deg": "real"}
_SECOND_ORDER = {"log1p", "expm1", "erf", "erfc", "erfinv", "tan", "asin", "atan", "sinh",
                 "asinh", "atanh", "sinc"}
_ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
            "acosh": "arccosh", "atanh": "arctanh", "atan2": "arctan2", "trunc": "fix",
            "clamp": "clip"}

TABLE = []
for _n, _d in _UNARY.items():
    TABLE += [
        OpInfo(_n, lambda lib, a, n=_n: getattr(lib, n)(a), unary(_d), dtypes=ALL,
               activation=_n in _SECOND_ORDER),
        # the same values outside the op's domain (NaN results and gradients must match)
        OpInfo(f"{_n}_real", lambda lib, a, n=_n: getattr(a, n)(), unary("real"),
               dtypes=FLOAT, covers=(_n,)),
    ]
for _n, _a in _ALIASES.items():
    if _n in _UNARY:
        TABLE.append(OpInfo(_a, lambda lib, a, n=_a: getattr(lib, n)(a), unary(_UNARY[_n]),
                            covers=(_a,)))


def _logit(lib, a, eps=None, form="function"):
    # -0.0 made +0.0: torch's gradient there is g * inf in its scalar loop but g / -0.0 in its
    # vectorized one, so its sign depends on the element's position; with eps, NaN made 0.5:
    # torch's vectorized loop gives a NaN input a 0 gradient, its scalar loop NaN (tensorlite)
    if a.is_floating_point():
        a = a + 0.0 if eps is None else lib.nan_to_num(a, nan=0.5)
    return lib.logit(a, **_kw(eps=eps)) if form == "function" else a.logit(eps)


def _round(lib, a, decimals=None):
    return lib.round(a) if decimals is None else lib.round(a, decimals=decimals)


def _nan_to_num(lib, a, **kw):
    return lib.nan_to_num(a, **kw)


TABLE += [
    OpInfo("logit", _logit, unary("unit", eps=lambda g: g.pick(None, 0.0, 1e-6, 0.25, 0.5, -1.0),
                                  form=lambda g: g.pick("function", "method")),
           dtypes=ALL),
    OpInfo("logit_real", _logit, unary("real", eps=lambda g: g.pick(None, 0.1)),
           covers=("logit",)),
    OpInfo("floor", lambda lib, a: lib.floor(a), unary(), dtypes=ALL),
    OpInfo("ceil", lambda lib, a: a.ceil(), unary(), dtypes=ALL),
    OpInfo("trunc", lambda lib, a: lib.trunc(a), unary(), dtypes=ALL),
    OpInfo("fix", lambda lib, a: a.fix(), unary(), dtypes=ALL),
    OpInfo("round", _round, unary(decimals=lambda g: g.pick(None, 0, 1, 2, -1)), dtypes=ALL),
    OpInfo("frac", lambda lib, a: lib.frac(a), unary(), dtypes=ALL),
    # (no gradient compared: torch's is a ZeroTensor, which the checkers cannot read; sign's
    # entry checks the zero gradient)
    OpInfo("sgn", lambda lib, a: a.sgn(), unary(), dtypes=ALL, grad=False),
    OpInfo("nan_to_num", _nan_to_num,
           unary(nan=lambda g: g.pick(0.0, 1.5), posinf=lambda g: g.pick(None, 2.0, 1e300),
                 neginf=lambda g: g.pick(None, -3.0)), dtypes=ALL),
    OpInfo("isinf", lambda lib, a: lib.isinf(a), unary(), dtypes=ALL, grad=False),
    OpInfo("isposinf", lambda lib, a: a.isposinf(), unary(), dtypes=ALL, grad=False),
    OpInfo("isneginf", lambda lib, a: lib.isneginf(a), unary(), dtypes=ALL, grad=False),
    OpInfo("bitwise_not", lambda lib, a: lib.bitwise_not(a), unary(), dtypes=ALL, grad=False),
    OpInfo("logical_not_method", lambda lib, a: a.logical_not(), unary(), dtypes=ALL,
           grad=False, covers=("logical_not",)),
]


# -- binary ops
def _fn2(name, method=False):
    if method:
        return lambda lib, a, b: getattr(a, name)(b)
    return lambda lib, a, b: getattr(lib, name)(a, b)


def _fn_number(name):
    """``name(tensor, s)`` or ``name(s, tensor)`` (torch raises where it takes no number there)."""
    return lambda lib, a, s, tensor_first: (getattr(lib, name)(a, s) if tensor_first
                                            else getattr(lib, name)(s, a))


TABLE += [
    OpInfo("atan2", _fn2("atan2"), binary(), dtypes=ALL),
    OpInfo("arctan2", _fn2("arctan2", True), binary(), covers=("arctan2",)),
    OpInfo("atan2_number", _fn_number("atan2"), with_number(), covers=("atan2",)),
    OpInfo("hypot", _fn2("hypot"), binary(), dtypes=ALL),
    OpInfo("fmod", _fn2("fmod"), binary(), dtypes=ALL),
    OpInfo("fmod_number", _fn_number("fmod"), with_number(), dtypes=ALL, covers=("fmod",)),
    OpInfo("remainder", _fn2("remainder", True), binary(), dtypes=ALL),
    OpInfo("remainder_number", _fn_number("remainder"), with_number(), dtypes=ALL,
           covers=("remainder",)),
    OpInfo("mod_operator", lambda lib, a, s, tensor_first: a % s if tensor_first else s % a,
           with_number(), dtypes=ALL, covers=("remainder",)),
    OpInfo("fmax", _fn2("fmax"), binary(), dtypes=ALL),
    OpInfo("fmin", _fn2("fmin", True), binary(), dtypes=ALL),
    OpInfo("xlogy", _fn2("xlogy"), binary("real", "pos"), dtypes=ALL),
    OpInfo("xlogy_real", _fn2("xlogy", True), binary(), covers=("xlogy",)),
    OpInfo("xlogy_number", _fn_number("xlogy"), with_number(), dtypes=ALL, covers=("xlogy",)),
    OpInfo("float_power", _fn2("float_power"), binary("pos", "exponent"), dtypes=ALL),
    OpInfo("float_power_number", _fn_number("float_power"),
           with_number("pos", "exponent", ("float", "int")), dtypes=ALL,
           covers=("float_power",)),
    OpInfo("logical_or", _fn2("logical_or"), binary(), dtypes=ALL, grad=False),
    OpInfo("logical_xor", _fn2("logical_xor", True), binary(), dtypes=ALL, grad=False),
    OpInfo("bitwise_and", _fn2("bitwise_and"), binary(), dtypes=ALL, grad=False),
    OpInfo("bitwise_or", _fn2("bitwise_or", True), binary(), dtypes=ALL, grad=False),
    OpInfo("bitwise_xor", _fn2("bitwise_xor"), binary(), dtypes=ALL, grad=False),
    OpInfo("bitwise_number", lambda lib, a, s, tensor_first, op: (
        getattr(lib, op)(a, s) if tensor_first else getattr(lib, op)(s, a)),
        lambda g: (lambda args, kw: (args, dict(kw, op=g.pick(
            "bitwise_and", "bitwise_or", "bitwise_xor"))))(*with_number()(g)),
        dtypes=ALL, grad=False, covers=("bitwise_and", "bitwise_or", "bitwise_xor")),
    OpInfo("or_xor_operators", lambda lib, a, b, op: op(a, b),
           lambda g: (binary()(g)[0], {"op": g.pick(operator.or_, operator.xor)}),
           dtypes=ALL, grad=False, covers=("bitwise_or", "bitwise_xor")),
]


# -- isclose, allclose, equal: the ties mode draws exact equalities
def _close_sample(g):
    args, _ = binary()(g)
    return args, {"rtol": g.pick(1e-5, 0.0, 0.5), "atol": g.pick(1e-8, 0.0, 1.0),
                  "equal_nan": g.flag()}


def _equal_sample(g):
    if g.flag():
        shape = g.shape()
        return [g.tensor(shape), g.tensor(shape)], {}
    return binary()(g)


TABLE += [
    OpInfo("isclose", lambda lib, a, b, **kw: lib.isclose(a, b, **kw), _close_sample,
           dtypes=ALL, grad=False),
    OpInfo("allclose", lambda lib, a, b, **kw: a.allclose(b, **kw), _close_sample,
           dtypes=ALL, grad=False),
    OpInfo("equal", lambda lib, a, b: lib.equal(a, b), _equal_sample, dtypes=ALL, grad=False),
]


# -- lerp, addcmul, addcdiv, clamp with tensor bounds: three broadcasting operands
def _lerp(lib, a, b, w=None, weight=None, form="function"):
    w = w if w is not None else weight
    return lib.lerp(a, b, w) if form == "function" else a.lerp(b, w)


def _lerp_sample(g):
    (sa, sb, sw), _ = g.bshapes(3)
    form = g.pick("function", "method")
    if g.flag():
        return [g.tensor(sa), g.tensor(sb), g.tensor(sw, "exponent")], {"form": form}
    return [g.tensor(sa), g.tensor(sb)], {"weight": g.pick(0.0, 0.25, 0.5, 1.0, -1.5, 2, True),
                                          "form": form}


def _addc(name):
    def fn(lib, a, b, c, value=None):
        return getattr(lib, name)(a, b, c, **_kw(value=value))
    return fn


def _addc_sample(g):
    (sa, sb, sc), _ = g.bshapes(3)
    return [g.tensor(sa), g.tensor(sb), g.tensor(sc)], {"value": g.pick(None, 1, 0.5, -2)}


def _clamp_t(lib, a, b, c=None, which="both", number=None, form="function"):
    lo, hi = (b, c) if which == "both" else (b, number) if which == "lo" else (number, b)
    if form == "method":
        return a.clamp(lo, hi)
    if form == "clip":
        return lib.clip(a, min=lo, max=hi)
    return lib.clamp(a, lo, hi)


def _clamp_tensor_sample(g):
    """Tensor bounds (both, or one with the other None or a number: torch then raises unless
    it can read the tensor as a number), and now and then min > max.  The bounds broadcast to
    the input's shape: where the shapes of (input, min), (input, max) and (min, max) broadcast
    to different results, torch's clamp backward fails in an in-place logical_and_ (a torch
    bug; tests/test_math_ops.py checks a larger output shape on its own)."""
    sa = g.shape()
    slo, shi = g.broadcast_to_shape(sa), g.broadcast_to_shape(sa)
    kw = {"form": g.pick("function", "method", "clip"), "which": g.pick("both", "lo", "hi")}
    if kw["which"] == "both":
        return [g.tensor(sa), g.tensor(slo), g.tensor(shi)], kw
    kw["number"] = g.pick(None, 1.0, 0, -2.5)
    return [g.tensor(sa), g.tensor(slo)], kw


def _clamp_t_(lib, a, b, c=None, which="both", number=None, form="clamp_"):
    lo, hi = (b, c) if which == "both" else (b, number) if which == "lo" else (number, b)
    out = a.clone()
    assert getattr(out, form)(lo, hi) is out
    return out


def _clamp_t_inplace_sample(g):
    shape = g.shape()
    kw = {"form": g.pick("clamp_", "clip_"), "which": g.pick("both", "lo", "hi")}
    lo, hi = g.broadcast_to_shape(shape), g.broadcast_to_shape(shape)
    if kw["which"] == "both":
        return [g.tensor(shape), g.tensor(lo), g.tensor(hi)], kw
    kw["number"] = g.pick(None, 1.0, 0, -2.5)
    return [g.tensor(shape), g.tensor(lo)], kw


TABLE += [
    OpInfo("lerp", _lerp, _lerp_sample, dtypes=NUMERIC),
    OpInfo("addcmul", _addc("addcmul"), _addc_sample, dtypes=ALL),
    OpInfo("addcdiv", _addc("addcdiv"), _addc_sample, dtypes=ALL),
    OpInfo("clamp_tensor", _clamp_t, _clamp_tensor_sample, dtypes=ALL,
           covers=("clamp", "clip")),
    OpInfo("clamp_tensor_", _clamp_t_, _clamp_t_inplace_sample, dtypes=NUMERIC,
           covers=("clamp_", "clip_")),
]


# -- in-place forms: on a clone (so a gradient flows through them), as opinfo's inplace entries
def _updated(a, name, *args, **kw):
    c = a.clone()
    out = getattr(c, name)(*args, **kw)
    assert out is c, f"{name} must return the tensor it updated"
    return c


# torch has no derivative for asinh_, acosh_, atanh_ (and their arc- aliases): fuzzed without
# a gradient below (tensorlite's are the out-of-place ops' gradients)
_NO_TORCH_GRAD = {"asinh": "real", "acosh": "pos", "atanh": "symunit", "arcsinh": "real",
                  "arccosh": "pos", "arctanh": "symunit"}
INPLACE_UNARY = dict(_UNARY, arcsin="symunit", arccos="symunit", arctan="real", logit="unit",
                     floor="real", ceil="real", trunc="real", fix="real", round="real",
                     frac="real", nan_to_num="real")
for _n in _NO_TORCH_GRAD:
    INPLACE_UNARY.pop(_n, None)
# and no gradient for logical_not_ / bitwise_not_ (see INPLACE_LOGICAL below), nor for sgn_
# (torch's gradient is a ZeroTensor, which the checkers cannot read)
_NO_TORCH_GRAD.update(logical_not="real", bitwise_not="real", sgn="real")


def _inplace_unary(lib, a, name):
    return _updated(a, name + "_")


def _inplace_unary_sample(g):
    name = g.pick(*INPLACE_UNARY)
    return [g.tensor(g.shape(), INPLACE_UNARY[name])], {"name": name}


INPLACE_BINARY = {"atan2": "real", "arctan2": "real", "hypot": "real", "fmod": "real",
                  "remainder": "real", "xlogy": "pos", "float_power": "exponent"}
# the logical and bitwise in-place ops give no gradient: fuzzed without one (torch's in-place
# logical ops on a float tensor keep its old grad_fn, so a gradient passes them as if they were
# the identity; tensorlite's result, as the out-of-place op's, carries none)
INPLACE_LOGICAL = {"logical_and": "real", "logical_or": "real", "logical_xor": "real",
                   "bitwise_and": "real", "bitwise_or": "real", "bitwise_xor": "real"}


def _inplace_binary(lib, a, b=None, name="atan2", value=None):
    return _updated(a, name + "_", b if b is not None else value)


def _inplace_binary_sample(g, table=INPLACE_BINARY):
    name = g.pick(*table)
    shape = g.shape()
    a = g.tensor(shape, "pos" if name == "float_power" else "real")
    if g.flag():  # mostly an operand that broadcasts to the updated tensor's shape
        other = g.broadcast_to_shape(shape) if g.int(0, 5) else g.shape()
        return [a, g.tensor(other, table[name], dtype=g.pick(g.dtype, *ALL))], \
            {"name": name}
    if name == "logical_and":  # (it takes a number, torch's does not: `&` needs it for now)
        name = "logical_or"
    return [a], {"name": name, "value": g.number(table[name], ("float", "int"))}


def _inplace_three(lib, a, b, c=None, name="lerp", value=None, weight=None):
    if name == "lerp":
        return _updated(a, "lerp_", b, c if c is not None else weight)
    return _updated(a, name + "_", b, c, **_kw(value=value))


def _inplace_three_sample(g):
    name = g.pick("lerp", "addcmul", "addcdiv")
    shape = g.shape()
    sb, sc = g.broadcast_to_shape(shape), g.broadcast_to_shape(shape)
    if name == "lerp" and g.flag():
        return [g.tensor(shape), g.tensor(sb)], {"name": name, "weight": g.pick(0.25, 0.75)}
    kw = {"name": name} if name == "lerp" else {"name": name, "value": g.pick(None, 0.5, 2)}
    return [g.tensor(shape), g.tensor(sb), g.tensor(sc)], kw


def _inplace_no_grad_sample(g):
    name = g.pick(*_NO_TORCH_GRAD)
    return [g.tensor(g.shape(), _NO_TORCH_GRAD[name])], {"name": name}


TABLE += [
    OpInfo("math_inplace_unary", _inplace_unary, _inplace_unary_sample, dtypes=ALL,
           covers=tuple(n + "_" for n in INPLACE_UNARY)),
    OpInfo("math_inplace_unary_nograd", _inplace_unary, _inplace_no_grad_sample, dtypes=ALL,
           grad=False, covers=tuple(n + "_" for n in _NO_TORCH_GRAD)),
    OpInfo("math_inplace_binary", _inplace_binary, _inplace_binary_sample, dtypes=ALL,
           covers=tuple(n + "_" for n in INPLACE_BINARY)),
    OpInfo("math_inplace_logical", _inplace_binary,
           lambda g: _inplace_binary_sample(g, INPLACE_LOGICAL), dtypes=ALL, grad=False,
           covers=tuple(n + "_" for n in INPLACE_LOGICAL)),
    OpInfo("math_inplace_three", _inplace_three, _inplace_three_sample, dtypes=ALL,
           covers=("lerp_", "addcmul_", "addcdiv_")),
]
