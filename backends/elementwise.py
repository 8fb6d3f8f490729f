"""The reference elementwise math beyond the basic unary and binary ops: logarithms and
exponentials, trigonometric and hyperbolic functions, the error function's relatives, rounding,
remainders, NaN-aware extrema and the bitwise/logical ops.  A mixin of the reference backend
over ``self.xp`` (see backends/contract.py); every primitive works on NumPy and CuPy arrays
alike (no SciPy needed), float inputs where the math needs them (the front end casts).
"""


class Elementwise:
    """Elementwise math of one or two arrays (PyTorch's results, edge cases included)."""

    def log1p(self, x):
        """log(1 + x), accurate for small x."""
        return self.xp.log1p(x)

    def expm1(self, x):
        """exp(x) - 1, accurate for small x."""
        return self.xp.expm1(x)

    def log2(self, x):
        """The base-2 logarithm."""
        return self.xp.log2(x)

    def log10(self, x):
        """The base-10 logarithm."""
        return self.xp.log10(x)

    def exp2(self, x):
        """2 ** x."""
        return self.xp.exp2(x)

    def tan(self, x):
        """The tangent."""
        return self.xp.tan(x)

    def asin(self, x):
        """The inverse sine (NaN outside [-1, 1])."""
        return self.xp.arcsin(x)

    def acos(self, x):
        """The inverse cosine (NaN outside [-1, 1])."""
        return self.xp.arccos(x)

    def atan(self, x):
        """The inverse tangent."""
        return self.xp.arctan(x)

    def sinh(self, x):
        """The hyperbolic sine."""
        return self.xp.sinh(x)

    def cosh(self, x):
        """The hyperbolic cosine."""
        return self.xp.cosh(x)

    def asinh(self, x):
        """The inverse hyperbolic sine."""
        return self.xp.arcsinh(x)

    def acosh(self, x):
        """The inverse hyperbolic cosine (NaN below 1)."""
        return self.xp.arccosh(x)

    def atanh(self, x):
        """The inverse hyperbolic tangent (+-inf at +-1, NaN beyond)."""
        return self.xp.arctanh(x)

    def sinc(self, x):
        """sin(pi x) / (pi x), and 1 at 0."""
        return self.xp.sinc(x)

    def erfc(self, x):
        """1 - erf(x), accurate where erf(x) is near 1 (fdlibm's s_erf.c, in float64)."""
        return self._erf_pair(x)[1].astype(x.dtype, copy=False)

    def _erf_pair(self, x):
        """(erf(x), erfc(x)) in float64, as fdlibm computes them (the same fits as Unary.erf;
        the tail's exp(-x*x) split as fdlibm does, so erf's Newton steps in erfinv see glibc's
        values)."""
        xp, c = self.xp, self._ERF
        x = xp.asarray(x, dtype=xp.float64)

        def poly(name, t):
            r = xp.full_like(t, c[name][-1])
            for k in reversed(c[name][:-1]):
                r *= t
                r += k
            return r
        a = xp.abs(x)
        neg = x < 0
        lo = xp.minimum(a, 0.84375)  # each branch sees only its own range: no overflow warnings
        z = lo * lo
        erf_small = lo + lo * (poly("pp", z) / poly("qq", z))
        s = xp.clip(a, 0.84375, 1.25) - 1.0
        pq = poly("pa", s) / poly("qa", s)
        erx = 8.45062911510467529297e-01
        at = xp.clip(a, 1.25, 28.0)
        s = 1.0 / (at * at)
        rs = xp.where(at < 1 / 0.35, poly("ra", s) / poly("sa", s), poly("rb", s) / poly("sb", s))
        zt = (at.view(xp.uint64) & xp.uint64(0xFFFFFFFF00000000)).view(xp.float64)
        tail = xp.exp(-zt * zt - 0.5625) * xp.exp((zt - at) * (zt + at) + rs) / at  # erfc(|x|)
        tail = xp.where(a < 28.0, tail, 0.0)
        small, mid = a < 0.84375, a < 1.25
        erf_abs = xp.where(small, erf_small, xp.where(mid, erx + pq, 1.0 - tail))
        erf_abs = xp.where(a < 6.0, erf_abs, 1.0)
        erfc_pos = xp.where(small, 1.0 - erf_small, xp.where(mid, 1.0 - erx - pq, tail))
        erfc_neg = xp.where(small, 1.0 + erf_small, xp.where(mid, 1.0 + (erx + pq), 2.0 - tail))
        erf = xp.where(neg, -erf_abs, erf_abs)
        erf = xp.where(x != x, x, erf)
        erfc = xp.where(neg, erfc_neg, erfc_pos)
        return erf, xp.where(x != x, x, erfc)

    def erfinv(self, x):
        """The inverse error function: PyTorch's rational first guess and two Newton steps, in
        float64 (+-inf at +-1, NaN beyond)."""
        xp = self.xp
        y = xp.asarray(x, dtype=xp.float64)
        ya = xp.abs(y)
        z = xp.minimum(ya, 0.7) ** 2  # the central range, |y| <= 0.7
        num = ((-0.140543331 * z + 0.914624893) * z - 1.645349621) * z + 0.886226899
        dem = (((0.012229801 * z - 0.329097515) * z + 1.442710462) * z - 2.118377725) * z + 1.0
        central = y * num / dem
        w = xp.sqrt(-xp.log((1.0 - xp.clip(ya, 0.7, 1.0 - 2 ** -53)) / 2.0))  # the tails
        num = ((1.641345311 * w + 3.429567803) * w - 1.624906493) * w - 1.970840454
        tail = xp.where(y < 0, -num, num) / ((1.637067800 * w + 3.543889200) * w + 1.0)
        r = xp.where(ya <= 0.7, central, tail)
        for _ in range(2):
            r = r - (self._erf_pair(r)[0] - y) / (1.1283791670955126 * xp.exp(-r * r))
        r = xp.where(ya == 1.0, xp.where(y < 0, -xp.inf, xp.inf), r)
        r = xp.where(ya > 1.0, xp.nan, r)
        return xp.where(y != y, y, r).astype(x.dtype, copy=False)

    def floor(self, x):
        """The largest integer <= x (integers unchanged)."""
        return self.xp.floor(x) if _kind(x) == "f" else self.copy(x)

    def ceil(self, x):
        """The smallest integer >= x (integers unchanged)."""
        return self.xp.ceil(x) if _kind(x) == "f" else self.copy(x)

    def trunc(self, x):
        """x rounded toward zero (integers unchanged)."""
        return self.xp.trunc(x) if _kind(x) == "f" else self.copy(x)

    def round(self, x, decimals=0):
        """x rounded half to even, to ``decimals`` decimal places (negative: tens, hundreds...),
        as PyTorch: rint(x * 10**d) / 10**d with 10**d in x's dtype."""
        xp = self.xp
        if _kind(x) != "f":
            return self.copy(x)
        if decimals == 0:
            return xp.rint(x)
        p = xp.asarray(10.0 ** abs(decimals), dtype=x.dtype)
        return xp.rint(x * p) / p if decimals > 0 else xp.rint(x / p) * p

    def nan_to_num(self, x, nan=0.0, posinf=None, neginf=None):
        """NaN, +inf and -inf replaced (the infinities by the dtype's extremes by default)."""
        if x.dtype.kind != "f":
            return self.copy(x)
        return self.xp.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    def isinf(self, x):
        """Whether each element is +inf or -inf."""
        return self.xp.isinf(x)

    def atan2(self, a, b):
        """The angle of the point (b, a): arctan(a / b) in the right quadrant."""
        return self.xp.arctan2(a, b)

    def hypot(self, a, b):
        """sqrt(a**2 + b**2) without overflow."""
        return self.xp.hypot(a, b)

    def fmod(self, a, b):
        """C's fmod: the remainder of a / b truncated, with the sign of a (integers: b != 0)."""
        return self.xp.fmod(a, b)

    def remainder(self, a, b):
        """Python's a % b: the sign of b; for floats PyTorch's fmod(a, b) + b where the signs
        differ (integers: b != 0)."""
        xp = self.xp
        if _kind(a) != "f" and _kind(b) != "f":
            return xp.remainder(a, b)
        mod = xp.fmod(a, b)
        fix = (mod != 0) & ((xp.asarray(b) < 0) != (mod < 0))
        return xp.where(fix, mod + b, mod).astype(mod.dtype, copy=False)

    def floor_divide(self, a, b):
        """Python's a // b: a / b rounded down (floats; IEEE's a / b where b == 0)."""
        return self.xp.floor_divide(a, b)

    def fmax(self, a, b):
        """The larger of a and b, ignoring a NaN on one side."""
        return self.xp.fmax(a, b)

    def fmin(self, a, b):
        """The smaller of a and b, ignoring a NaN on one side."""
        return self.xp.fmin(a, b)

    def logical_or(self, a, b):
        """a or b, elementwise, as bool."""
        return self.xp.logical_or(a, b)

    def logical_xor(self, a, b):
        """a xor b, elementwise, as bool."""
        return self.xp.logical_xor(a, b)

    def bitwise_and(self, a, b):
        """a & b for integer and bool arrays."""
        return self.xp.bitwise_and(a, b)

    def bitwise_or(self, a, b):
        """a | b for integer and bool arrays."""
        return self.xp.bitwise_or(a, b)

    def bitwise_xor(self, a, b):
        """a ^ b for integer and bool arrays."""
        return self.xp.bitwise_xor(a, b)

    def bitwise_not(self, x):
        """~x for integer arrays, not x for bool."""
        return self.xp.invert(x)

    def left_shift(self, a, b):
        """a << b for integer arrays of one dtype (or a Python int), as PyTorch: 0 where b is
        negative or at least the dtype's bit width."""
        xp = self.xp
        a, b = _shift_operands(xp, a, b)
        bits = a.dtype.itemsize * 8
        ok = (b >= 0) & (b < bits)
        return xp.where(ok, xp.left_shift(a, xp.where(ok, b, 0)), 0).astype(a.dtype, copy=False)

    def right_shift(self, a, b):
        """a >> b (arithmetic for signed types), as PyTorch: where b is negative or at least the
        bit width, the sign (0 or -1; 0 for unsigned types)."""
        xp = self.xp
        a, b = _shift_operands(xp, a, b)
        bits = a.dtype.itemsize * 8
        ok = (b >= 0) & (b < bits)
        out_of_range = xp.right_shift(a, bits - 1) if a.dtype.kind == "i" else 0
        return xp.where(ok, xp.right_shift(a, xp.where(ok, b, 0)), out_of_range).astype(
            a.dtype, copy=False)

    def real(self, x):
        """The real parts of a complex array (a view of it); a real array itself."""
        return self.xp.real(x)

    def imag(self, x):
        """The imaginary parts of a complex array (a view of it)."""
        return self.xp.imag(x)

    def angle(self, x):
        """The argument of each element: atan2(imag, real) for complex, 0 or pi for real
        numbers (NaN stays NaN), in the real dtype."""
        xp = self.xp
        if x.dtype.kind == "c":
            return xp.angle(x)
        return xp.where(x != x, x, xp.where(x < 0, xp.asarray(xp.pi, dtype=x.dtype),
                                            xp.zeros_like(x)))

    def conj(self, x):
        """The complex conjugate (a copy); a real array copied."""
        return self.xp.conj(x) if x.dtype.kind == "c" else self.copy(x)

    def elementwise_kernel(self, program):
        """A kernel running the scalar program ``program`` (a scalar_ops.Scalar) elementwise in
        one pass: ``k(*operands, out=[array or None per result], shape=, dtype=)`` returns the
        results (``None`` entries made), or None when the backend generates no kernels (the
        reference: tensorlite.compile then leaves the ops it would fuse as they are)."""
        return None


def _shift_operands(xp, a, b):
    """A shift's operands as arrays: ``a`` in the result's dtype (a Python int wrapped into it),
    ``b`` as given (a Python int as int64, so that a negative count stays negative)."""
    if not hasattr(a, "dtype"):
        a = xp.asarray(a).astype(b.dtype)
    return a, xp.asarray(b)


def _kind(x):
    """NumPy's kind letter of an array or a Python number ("f" for ml_dtypes' bfloat16, whose
    NumPy kind is "V")."""
    return ("f" if x.dtype.kind == "V" else x.dtype.kind) if hasattr(x, "dtype") else "b" \
        if isinstance(x, bool) else "i" if isinstance(x, int) else "f"
