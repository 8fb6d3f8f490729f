"""The reference arithmetic primitives: elementwise unary, binary and comparison ops,
reductions, and linear algebra.  Mixins of the reference backend over ``self.xp`` (see
backends/contract.py); ``direct`` marks a primitive that is exactly one array-module call.
"""
import numpy as np
from ml_dtypes import bfloat16 as _bf16

from .primitives import direct

_BF16 = __import__("numpy").dtype(_bf16)  # ml_dtypes' NumPy type: computed in float32, as PyTorch


class Unary:
    """Elementwise functions of one array (float inputs where the math needs them)."""

    @direct("negative")
    def neg(self, x, /):
        """-x."""
        return self.xp.negative(x)

    @direct("exp")
    def exp(self, x, /):
        """e ** x."""
        return self.xp.exp(x)

    @direct("log")
    def log(self, x, /):
        """The natural logarithm."""
        return self.xp.log(x)

    @direct("sqrt")
    def sqrt(self, x, /):
        """The square root."""
        return self.xp.sqrt(x)

    @direct("abs")
    def abs(self, x, /):
        """|x|."""
        return self.xp.abs(x)

    @direct("sin")
    def sin(self, x, /):
        """The sine."""
        return self.xp.sin(x)

    @direct("cos")
    def cos(self, x, /):
        """The cosine."""
        return self.xp.cos(x)

    @direct("tanh")
    def tanh(self, x, /):
        """The hyperbolic tangent."""
        return self.xp.tanh(x)

    def sigmoid(self, x):
        """1 / (1 + exp(-x)), stable at both tails."""
        # exp only ever sees -|x|, so it cannot overflow.
        e = self.xp.exp(-self.xp.abs(x))
        return self.xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def relu(self, x):
        """max(x, 0)."""
        return self.xp.maximum(x, 0)

    def sign(self, x):
        """-1, 0 or 1; NaN gives 0 and bool stays bool, as PyTorch."""
        if x.dtype.kind == "b":
            return self.copy(x)
        s = self.xp.sign(x)
        return self.xp.where(x != x, 0, s).astype(x.dtype, copy=False) if x.dtype.kind == "f" else s

    def clip(self, x, lo, hi):
        """x limited to [lo, hi] (None: no bound on that side)."""
        out = self.xp.clip(x, lo, hi)
        return out.astype(_BF16) if x.dtype == _BF16 else out

    # fdlibm's s_erf.c rational approximations (ascending coefficients), accurate to float64
    _ERF = {"pp": (1.28379167095512558561e-01, -3.25042107247001499370e-01,
                   -2.84817495755985104766e-02, -5.77027029648944159157e-03,
                   -2.37630166566501626084e-05),
            "qq": (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02,
                   5.08130628187576562776e-03, 1.32494738004321644526e-04,
                   -3.96022827877536812320e-06),
            "pa": (-2.36211856075265944077e-03, 4.14856118683748331666e-01,
                   -3.72207876035701323847e-01, 3.18346619901161753674e-01,
                   -1.10894694282396677476e-01, 3.54783043256182359371e-02,
                   -2.16637559486879084300e-03),
            "qa": (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01,
                   7.18286544141962662868e-02, 1.26171219808761642112e-01,
                   1.36370839120290507362e-02, 1.19844998467991074170e-02),
            "ra": (-9.86494403484714822705e-03, -6.93858572707181764372e-01,
                   -1.05586262253232909814e+01, -6.23753324503260060396e+01,
                   -1.62396669462573470355e+02, -1.84605092906711035994e+02,
                   -8.12874355063065934246e+01, -9.81432934416914548592e+00),
            "sa": (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02,
                   4.34565877475229228821e+02, 6.45387271733267880336e+02,
                   4.29008140027567833386e+02, 1.08635005541779435134e+02,
                   6.57024977031928170135e+00, -6.04244152148580987438e-02),
            "rb": (-9.86494292470009928597e-03, -7.99283237680523006574e-01,
                   -1.77579549177547519889e+01, -1.60636384855821916062e+02,
                   -6.37566443368389627722e+02, -1.02509513161107724954e+03,
                   -4.83519191608651397019e+02),
            "sb": (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02,
                   1.53672958608443695994e+03, 3.19985821950859553908e+03,
                   2.55305040643316442583e+03, 4.74528541206955367215e+02,
                   -2.24409524465858183362e+01)}

    def erf(self, x):
        """The error function, computed in float64 (fdlibm's piecewise rational fits)."""
        xp, c = self.xp, self._ERF

        def poly(name, t):
            r = xp.full_like(t, c[name][-1])
            for k in reversed(c[name][:-1]):
                r *= t
                r += k
            return r
        a = xp.abs(xp.asarray(x, dtype=xp.float64))
        lo = xp.minimum(a, 0.84375)  # each branch sees only its own range: no overflow warnings
        z = lo * lo
        small = lo + lo * (poly("pp", z) / poly("qq", z))
        s = xp.clip(a, 0.84375, 1.25) - 1.0
        mid = 0.845062911510467529297 + poly("pa", s) / poly("qa", s)
        at = xp.clip(a, 1.25, 6.0)
        s = 1.0 / (at * at)
        rs = xp.where(at < 1 / 0.35, poly("ra", s) / poly("sa", s), poly("rb", s) / poly("sb", s))
        tail = 1.0 - xp.exp(-at * at - 0.5625 + rs) / at
        out = xp.where(a < 0.84375, small, xp.where(a < 1.25, mid, xp.where(a < 6.0, tail, 1.0)))
        return (out * xp.sign(x)).astype(x.dtype, copy=False)


class Binary:
    """Elementwise functions of two broadcasting operands (arrays or Python numbers)."""

    @direct("add")
    def add(self, a, b, /):
        """a + b."""
        return self.xp.add(a, b)

    @direct("subtract")
    def sub(self, a, b, /):
        """a - b."""
        return self.xp.subtract(a, b)

    @direct("multiply")
    def mul(self, a, b, /):
        """a * b."""
        return self.xp.multiply(a, b)

    @direct("true_divide")
    def div(self, a, b, /):
        """a / b (true division)."""
        return self.xp.true_divide(a, b)

    def pow(self, a, b):
        """``a ** b``; integers to a negative integer power give PyTorch's 1, -1 or 0 (NumPy
        refuses them)."""
        xp = self.xp
        if _integral(a) and _integral(b):
            neg = xp.less(b, 0)
            r = xp.power(a, xp.where(neg, 0, b))
            special = xp.where(xp.equal(a, 1), 1, xp.where(xp.equal(a, -1), 1 - 2 * (b & 1), 0))
            dt = a.dtype if hasattr(a, "dtype") else b.dtype  # (the front end promoted them)
            return xp.where(neg, special, r).astype(dt, copy=False)
        dt = getattr(a, "dtype", None)
        if type(b) in (int, float) and b in _POW_SPECIAL and dt is not None and dt.kind == "f" \
                and dt.itemsize >= 4:
            # PyTorch's special exponents of float32/float64 (its pow_tensor_scalar_optimized_
            # kernel; float16 takes its generic pow): products, sqrt and reciprocals, as fast
            # as they are and rounded as PyTorch's (x*x*x; rsqrt: -inf gives NaN, -0.0 -inf)
            if b == 2:
                return xp.multiply(a, a)
            if b == 3:
                r = xp.multiply(a, a)
                return xp.multiply(r, a, out=r) if r.ndim else r * a
            if b == 0.5:
                return xp.sqrt(a)
            r = xp.sqrt(a) if b == -0.5 else xp.multiply(a, a) if b == -2 else a
            return xp.divide(1, r, dtype=a.dtype)
        return xp.power(a, b)

    @direct("maximum")
    def maximum(self, a, b, /):
        """The larger of a and b (NaN if either is NaN)."""
        return self.xp.maximum(a, b)

    @direct("minimum")
    def minimum(self, a, b, /):
        """The smaller of a and b (NaN if either is NaN)."""
        return self.xp.minimum(a, b)


class Comparison:
    """Comparisons and logic (bool results), and selection by a bool condition."""

    @direct("equal")
    def eq(self, a, b, /):
        """a == b."""
        return self.xp.equal(a, b)

    @direct("not_equal")
    def ne(self, a, b, /):
        """a != b."""
        return self.xp.not_equal(a, b)

    @direct("less")
    def lt(self, a, b, /):
        """a < b."""
        return self.xp.less(a, b)

    @direct("less_equal")
    def le(self, a, b, /):
        """a <= b."""
        return self.xp.less_equal(a, b)

    @direct("greater")
    def gt(self, a, b, /):
        """a > b."""
        return self.xp.greater(a, b)

    @direct("greater_equal")
    def ge(self, a, b, /):
        """a >= b."""
        return self.xp.greater_equal(a, b)

    @direct("logical_and")
    def logical_and(self, a, b, /):
        """a and b, elementwise, as bool."""
        return self.xp.logical_and(a, b)

    @direct("logical_not")
    def logical_not(self, x, /):
        """not x, elementwise, as bool."""
        return self.xp.logical_not(x)

    @direct("isfinite")
    def isfinite(self, x, /):
        """Whether each element is neither infinite nor NaN."""
        return self.xp.isfinite(x)

    @direct("where")
    def where(self, condition, a, b, /):
        """``a`` where ``condition`` holds, else ``b`` (all three broadcast)."""
        return self.xp.where(condition, a, b)


class Reductions:
    """Reductions over ``axis`` (None: every axis; an int or a tuple), and searches."""

    def sum(self, x, axis=None, keepdims=False):
        """The sum, in ``x``'s dtype (bfloat16 accumulated in float32, as PyTorch)."""
        if x.dtype == _BF16:
            return self.xp.sum(x, axis=axis, keepdims=keepdims, dtype="float32").astype(_BF16)
        return self.xp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)

    def amax(self, x, axis=None, keepdims=False):
        """The maximum."""
        return self.xp.max(x, axis=axis, keepdims=keepdims)

    def amin(self, x, axis=None, keepdims=False):
        """The minimum."""
        return self.xp.min(x, axis=axis, keepdims=keepdims)

    def logsumexp(self, x, axes, keepdims=False):
        """log(sum(exp(x))) over ``axes`` (a tuple of axes), the max taken out first, or 0
        where the max is not finite (a slice of -inf gives -inf, a +inf gives inf, a NaN NaN);
        over no elements -inf.  bfloat16 is computed in float32, rounded once."""
        xp = self.xp
        if x.dtype == _BF16:
            return self.logsumexp(x.astype("float32"), axes, keepdims).astype(_BF16)
        with np.errstate(divide="ignore", over="ignore"):  # log(0): -inf; exp(inf): inf
            if x.size:
                m = xp.max(x, axis=axes, keepdims=True)
                m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)
                s = self.sum(xp.exp(x - m), axes, True)
            else:
                m, s = 0, self.sum(x, axes, True)  # (zeros)
            out = xp.log(s) + m
        return out if keepdims else out.reshape(tuple(
            n for i, n in enumerate(x.shape) if i not in {a % x.ndim for a in axes}))

    def logsumexp_backward(self, g, x, y):
        """logsumexp's gradient at ``x``: ``g * exp(x - y)``, ``g`` and ``y`` (the result)
        with the reduced axes kept (size 1), so an inf result gives 0 elsewhere (PyTorch's)."""
        return g * self.xp.exp(x - y)

    def extreme_grad(self, g, x, y, axes):
        """The gradient of amax/amin over ``axes`` at ``x``: ``g * (x == y) / count`` where
        ``y`` (the result) and ``g`` have the axes kept and ``count`` is how many elements tie
        with ``y`` in each slice (ties share the gradient, as PyTorch)."""
        hit = x == y
        return g * hit / hit.sum(axis=axes, keepdims=True, dtype=x.dtype)

    def argmax(self, x, axis=None, keepdims=False):
        """The index of the (first) maximum, in the flattened array when ``axis`` is None."""
        return self.xp.argmax(x, axis=axis, keepdims=keepdims)

    def argmin(self, x, axis=None, keepdims=False):
        """The index of the (first) minimum, in the flattened array when ``axis`` is None."""
        return self.xp.argmin(x, axis=axis, keepdims=keepdims)

    def all(self, x, axis=None, keepdims=False):
        """Whether every element is true."""
        return self.xp.all(x, axis=axis, keepdims=keepdims)

    def any(self, x, axis=None, keepdims=False):
        """Whether any element is true."""
        return self.xp.any(x, axis=axis, keepdims=keepdims)

    @direct("argsort")
    def argsort(self, x, /, axis=-1):
        """The indices that sort ``x`` along ``axis``."""
        return self.xp.argsort(x, axis=axis)

    def value_range(self, x):
        """(min, max) of a non-empty integer array as Python ints, in one read from the device
        (bounds checks of index arrays)."""
        lo, hi = self.to_host(self.xp.stack([x.min(), x.max()]))
        return int(lo), int(hi)


class LinearAlgebra:
    """Matrix products."""

    def matmul(self, a, b, /):
        """a @ b, batch dims broadcast (bfloat16: accumulated in float32, rounded once)."""
        out = self.xp.matmul(a, b)
        return out.astype(_BF16) if a.dtype == _BF16 else out

    # The decompositions below take float arrays whose last two dims are the matrices (batch
    # dims equal where there are two operands); a singular or not positive-definite input
    # raises the array module's LinAlgError (CuPy: NaNs unless its linalg errstate raises).
    def einsum(self, equation, *operands):
        """Einstein summation of ``operands`` by the subscripts ``equation`` (NumPy's), in a
        new array (NumPy gives a view of a single operand for a permutation or diagonal)."""
        # NumPy's optimized path (BLAS where it can) costs ~30 us to plan: large operands only
        big = len(operands) > 1 and sum(o.size for o in operands) > 4096
        out = self.xp.einsum(equation, *operands, optimize=big)
        return out.copy() if getattr(out, "base", None) is not None else out

    def inv(self, a):
        """The inverse of each square matrix."""
        return self.xp.linalg.inv(a)

    def det(self, a):
        """The determinant of each square matrix."""
        return self.xp.linalg.det(a)

    def slogdet(self, a):
        """(sign, log|det|) of each square matrix."""
        return tuple(self.xp.linalg.slogdet(a))

    def solve(self, a, b):
        """X with a @ X == b, for square ``a`` (..., n, n) and matrices ``b`` (..., n, k)."""
        return self.xp.linalg.solve(a, b)

    def cholesky(self, a):
        """The lower-triangular L with L @ L.T == a (a's lower triangle is read)."""
        return self.xp.linalg.cholesky(a)

    def qr(self, a, mode="reduced"):
        """(Q, R) of a's QR factorization; ``mode`` "reduced" or "complete" (NumPy's)."""
        q, r = self.xp.linalg.qr(a, mode=mode)
        return q, r

    def svd(self, a, full_matrices=True, compute_uv=True):
        """(U, S, Vh) with a == U diag(S) Vh, S descending; only S when not ``compute_uv``."""
        if not compute_uv:
            return self.xp.linalg.svd(a, compute_uv=False)
        u, s, vh = self.xp.linalg.svd(a, full_matrices=full_matrices)
        return u, s, vh

    def eigh(self, a, UPLO="L"):
        """(eigenvalues ascending, eigenvectors as columns) of symmetric ``a`` (one triangle
        read: ``UPLO``)."""
        w, v = self.xp.linalg.eigh(a, UPLO=UPLO)
        return w, v

    def eig(self, a):
        """(eigenvalues, eigenvectors as unit columns) of general square ``a``, both complex
        (complex64 for float32 and complex64 input, complex128 otherwise), as PyTorch."""
        w, v = self.xp.linalg.eig(a)
        dt = "complex64" if a.dtype in ("float32", "complex64") else "complex128"
        return w.astype(dt), v.astype(dt)

    def pinv(self, a, atol=0.0, rtol=0.0):
        """The pseudo-inverse, singular values at or below max(atol, rtol * largest) dropped."""
        xp = self.xp
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        top = s[..., :1] if s.shape[-1] else s
        cut = xp.maximum(atol, rtol * top)
        inv_s = xp.where(s > cut, 1 / xp.where(s > cut, s, 1), 0).astype(s.dtype, copy=False)
        return xp.matmul(xp.swapaxes(vh, -1, -2) * inv_s[..., None, :], xp.swapaxes(u, -1, -2))

    def tril(self, x, k=0):
        """x with the elements above the k-th diagonal of its last two dims zeroed."""
        return self.xp.tril(x, k)

    def triu(self, x, k=0):
        """x with the elements below the k-th diagonal of its last two dims zeroed."""
        return self.xp.triu(x, k)

    def diagonal(self, x, offset=0, axis1=0, axis2=1):
        """A view of the ``offset`` diagonal of the (axis1, axis2) planes, as the last dim
        (writes to it reach ``x``, as PyTorch's diagonal)."""
        d = self.xp.diagonal(x, offset, axis1, axis2)
        flags = getattr(d, "flags", None)  # (NumPy's view is read-only; CuPy's is not)
        if not getattr(flags, "writeable", True) and getattr(x.flags, "writeable", False):
            d.flags.writeable = True
        return d

    def diagonal_embed(self, v, shape, offset=0, axis1=0, axis2=1):
        """Zeros of ``shape`` with ``v`` (its last dim along the diagonal, its other dims the
        remaining dims in order) written on the ``offset`` diagonal of the (axis1, axis2) planes."""
        xp = self.xp
        out = xp.zeros(shape, dtype=v.dtype)
        view = xp.moveaxis(out, (axis1, axis2), (-2, -1))
        n = v.shape[-1]
        i = xp.arange(n) + max(-offset, 0)
        view[..., i, i + offset] = v
        return out

    def tri_indices(self, row, col, offset=0, upper=False):
        """The (2, N) int64 coordinates of a row x col matrix's lower (upper) triangle from the
        ``offset`` diagonal, row by row."""
        r, c = (self.xp.triu_indices if upper else self.xp.tril_indices)(row, offset, col)
        return self.xp.stack([r, c]).astype(self.xp.int64)


_POW_SPECIAL = (2, 3, 0.5, -0.5, -1, -2)


def _integral(x):
    """Whether ``x`` (an array or a Python number) holds integers (not bool, not float)."""
    kind = x.dtype.kind if hasattr(x, "dtype") else "b" if isinstance(x, bool) else \
        "i" if isinstance(x, int) else "f"
    return kind in "iu"
