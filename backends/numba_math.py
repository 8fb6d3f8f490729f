"""Scalar math for generated Numba kernels: one function per name, float32 and float64.

LLVM vectorizes a loop only when its body has no calls it cannot widen, and Numba lowers
``math.exp``/``log``/``tanh``/``erf`` to scalar libm calls.  So the float32 versions here are
branch-free polynomials (range reduction, then a polynomial; special values by selects), which
LLVM widens to 8 or 16 lanes; float64 keeps libm (exact to the last bit against NumPy's).

Float32 error bounds, checked against float64 math rounded to float32 over every float32 in
[-10, 10] sampled at 2**20 points plus a sweep of the whole range (tests/test_numba_codegen.py):

  exp   Cephes expf: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, degree-5 minimax
        polynomial; 2**n built from two exponent fields, so subnormal results round once.
        At most 1 ulp.  x > 88.72 gives inf, x < -103.98 gives 0, NaN stays NaN.
  log   Cephes logf: x = m 2**e with m in [sqrt(1/2), sqrt(2)), degree-8 polynomial in m - 1,
        e ln2 added in two parts (subnormals scaled by 2**23 first).  At most 1 ulp.
        log(0) = -inf, log(x < 0) = NaN, log(inf) = inf.
  tanh  Cephes tanhf: an odd degree-9 polynomial for |x| < 0.625, else 1 - 2 / (exp(2|x|) + 1).
        At most 2 ulp.  tanh(+-0) = +-0, tanh(+-inf) = +-1.
  erf   x + x p(x^2) for |x| < 0.921875, else 1 - exp(q(|x|)) with q a polynomial fit of
        log(erfc); at most 2 ulp.
  log1p log(1 + u) * u / ((1 + u) - 1) (Goldberg's correction), u itself where 1 + u == 1.

The polynomials' Horner steps are fused multiply-adds (``_fma``: llvm.fma, rounded once: a
vfmadd where the CPU has FMA, libm's fmaf elsewhere, so the same result on every CPU); the
rest is plain float32 arithmetic (Numba compiles without contraction).  The fused steps cut
a loop of erf32 over 65536 float32 from 146 to 117 us, exp32 58 -> 50 us (one core).
"""
import math

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, types
from numba.extending import intrinsic, overload

__all__ = ["exp", "log", "log1p", "tanh", "erf", "sqrt", "where", "maximum", "minimum",
           "sign", "fabs"]

# -- bit casts (float32 <-> int32), the pieces range reduction is built from ----------------------
@intrinsic
def _bits(typingctx, x):
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def _from_bits(typingctx, i):
    if i != types.int32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: a vfmadd where the CPU has FMA, else libm's fmaf,
    the same result either way); LLVM widens it with the loop."""
    if not (a == b == c == types.float32):
        return None

    def codegen(context, builder, sig, args):
        f = ir.FloatType()
        fn = builder.module.declare_intrinsic("llvm.fma", [f], ir.FunctionType(f, [f, f, f]))
        return builder.call(fn, args)
    return types.float32(types.float32, types.float32, types.float32), codegen


_jit = njit(cache=True, inline="always", error_model="numpy")  # x / 0: inf, no check
_f = np.float32
_INF, _NAN = np.float32(np.inf), np.float32(np.nan)


# -- float32: float32 arithmetic only, ternaries with cheap arms (LLVM turns them into selects) ---
@_jit
def exp32(x):
    xc = x if x > _f(-104.0) else _f(-104.0)  # NaN -> -104: kept finite, restored below
    xc = xc if xc < _f(89.0) else _f(89.0)
    t = xc * _f(1.44269504088896341) + _f(12582912.0)  # + 1.5 * 2**23: rounds to an integer
    n = t - _f(12582912.0)
    r = xc - n * _f(0.693359375) - n * _f(-2.12194440e-4)  # Cody-Waite: ln2 in two parts
    p = _fma(_f(1.9875691500e-4), r, _f(1.3981999507e-3))
    p = _fma(p, r, _f(8.3334519073e-3))
    p = _fma(p, r, _f(4.1665795894e-2))
    p = _fma(p, r, _f(1.6666665459e-1))
    p = _fma(p, r, _f(5.0000001201e-1))
    p = p * (r * r) + r + _f(1.0)
    k = np.int32(n)  # -150..128: 2**k as two normal factors, so a subnormal rounds once
    k1 = np.int32(k >> 1)
    k2 = np.int32(k - k1)
    y = p * _from_bits(np.int32((k1 + 127) << 23)) * _from_bits(np.int32((k2 + 127) << 23))
    return x if x != x else y


@_jit
def log32(x):
    tiny = x < _f(1.17549435e-38)  # subnormal (or <= 0): scaled into the normal range
    xs = x * _f(8388608.0) if tiny else x
    b = _bits(xs)
    e = np.int32(((b >> 23) & 255) - (150 if tiny else 127))
    m = _from_bits(np.int32((b & 8388607) | 1065353216))  # the mantissa, in [1, 2)
    big = m > _f(1.41421356237309505)
    m = m * _f(0.5) if big else m
    e = np.int32(e + 1 if big else e)
    u = m - _f(1.0)  # in [-0.293, 0.414], exact
    z = u * u
    y = _fma(_f(7.0376836292e-2), u, -_f(1.1514610310e-1))
    y = _fma(y, u, _f(1.1676998740e-1))
    y = _fma(y, u, -_f(1.2420140846e-1))
    y = _fma(y, u, _f(1.4249322787e-1))
    y = _fma(y, u, -_f(1.6668057665e-1))
    y = _fma(y, u, _f(2.0000714765e-1))
    y = _fma(y, u, -_f(2.4999993993e-1))
    y = _fma(y, u, _f(3.3333331174e-1))
    y = y * u * z
    fe = _f(e)
    y = y + fe * _f(-2.12194440e-4)
    y = y - _f(0.5) * z
    r = u + y + fe * _f(0.693359375)
    r = -_INF if x == _f(0.0) else r
    r = _NAN if x < _f(0.0) else r
    r = _INF if x == _INF else r
    return x if x != x else r


@_jit
def tanh32(x):
    a = -x if x < _f(0.0) else x
    s = exp32(a + a)
    big = _f(1.0) - _f(2.0) / (s + _f(1.0))
    big = -big if x < _f(0.0) else big
    z = x * x
    p = _fma(_f(-5.70498872745e-3), z, _f(2.06390887954e-2))
    p = _fma(p, z, -_f(5.37397155531e-2))
    p = _fma(p, z, _f(1.33314422036e-1))
    p = _fma(p, z, -_f(3.33332819422e-1))
    small = p * z * x + x
    r = big if a > _f(0.625) else small
    return x if x == _f(0.0) else r  # -0 keeps its sign


@_jit
def erf32(x):
    # erf(x) ~ x + x p(x^2) on [0, 0.921875]; erfc(a) ~ exp(q(a)) beyond (erf is 1 past 4)
    a = -x if x < _f(0.0) else x
    s = x * x
    p = _fma(_f(-5.96761703e-4), s, _f(4.99119423e-3))
    p = _fma(p, s, -_f(2.67681349e-2))
    p = _fma(p, s, _f(1.12819925e-1))
    p = _fma(p, s, -_f(3.76125336e-1))
    p = _fma(p, s, _f(1.28379166e-1))
    small = p * x + x
    q = _fma(_f(-1.72853470e-5), a, _f(3.83197126e-4))
    q = _fma(q, a, -_f(3.88396438e-3))
    q = _fma(q, a, _f(2.42546219e-2))
    q = _fma(q, a, -_f(1.06777877e-1))
    q = _fma(q, a, -_f(6.34846687e-1))
    q = _fma(q, a, -_f(1.28717512e-1))
    q = q * a - a
    big = _f(1.0) - exp32(q if a < _f(4.0) else _f(-100.0))
    big = -big if x < _f(0.0) else big
    r = small if a < _f(0.921875) else big
    return x if x != x else r


@_jit
def log1p32(u):
    w = u + _f(1.0)
    d = w - _f(1.0)
    r = log32(w) * (u / (_f(1.0) if d == _f(0.0) else d))  # Goldberg: log(w) * u / (w - 1)
    r = u if d == _f(0.0) else r
    return _INF if u == _INF else r


# -- the generic names the generated kernels call --------------------------------------------------
def _generic(name, f32, f64):
    """A Python function ``name`` (float64 math) with a Numba overload that picks the float32
    polynomial for float32 arguments."""
    def fn(x):
        return f64(x)
    fn.__name__ = fn.__qualname__ = name

    @overload(fn, inline="always")
    def _impl(x):
        if x == types.float32:
            return lambda x: f32(x)
        if isinstance(x, types.Float):
            return lambda x: f64(x)
    return fn


exp = _generic("exp", exp32, math.exp)
log = _generic("log", log32, math.log)
tanh = _generic("tanh", tanh32, math.tanh)
erf = _generic("erf", erf32, math.erf)
log1p = _generic("log1p", log1p32, math.log1p)


def where(c, a, b):
    """``a if c else b`` with both evaluated: a select, which LLVM vectorizes."""
    return a if c else b


@overload(where, inline="always")
def _where_impl(c, a, b):
    return lambda c, a, b: a if c else b


def sqrt(x):
    return math.sqrt(x)


@overload(sqrt, inline="always")
def _sqrt_impl(x):
    return lambda x: math.sqrt(x)  # llvm.sqrt: vectorized; sqrt(-1) is NaN (no error)


def fabs(x):
    return abs(x)


@overload(fabs, inline="always")
def _fabs_impl(x):
    return lambda x: abs(x)


def maximum(a, b):
    """np.maximum: NaN if either is NaN."""
    return a if a >= b or a != a else b


@overload(maximum, inline="always")
def _maximum_impl(a, b):
    return lambda a, b: a if a >= b or a != a else b


def minimum(a, b):
    """np.minimum: NaN if either is NaN."""
    return a if a <= b or a != a else b


@overload(minimum, inline="always")
def _minimum_impl(a, b):
    return lambda a, b: a if a <= b or a != a else b


def sign(x):
    """-1, 0 or 1 (NaN gives 0, as the reference's sign)."""
    return (x > 0) - (x < 0)


@overload(sign, inline="always")
def _sign_impl(x):
    return lambda x: type(x)(x > 0) - type(x)(x < 0)
