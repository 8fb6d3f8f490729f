"""The backend seam: the array primitives the tape calls, written once over an array module `xp`.

A backend is this class bound to an array module (NumPy, CuPy).  Accelerated backends subclass
it and override a method only where they are faster, checking that their fast path applies and
otherwise calling ``super()``.  The tape never touches an array module directly.
"""
import sys

import numpy as np

# Code that hands out or adopts memory by counting references (the engine taking over a
# gradient, the numba backend's buffer pool) trusts sys.getrefcount only where its counts were
# checked by the tests: CPython 3.10-3.13.  Later versions skip some reference-count updates
# (borrowed stack references), so there both always copy instead.
REFCOUNTS_KNOWN = sys.implementation.name == "cpython" and sys.version_info[:2] <= (3, 13)

# Primitives that are exactly one array-module function: the table from name to call.
_DIRECT = {
    # unary
    "neg": "negative", "exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "abs",
    "sin": "sin", "cos": "cos", "tanh": "tanh", "isfinite": "isfinite",
    # binary (broadcasting); comparisons return bool arrays
    "add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide",
    "maximum": "maximum", "minimum": "minimum", "eq": "equal", "ne": "not_equal",
    "lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
    "logical_and": "logical_and", "logical_not": "logical_not", "where": "where",
    "matmul": "matmul",
    # movement
    "reshape": "reshape", "transpose": "transpose", "broadcast_to": "broadcast_to",
    "concatenate": "concatenate", "stack": "stack", "tile": "tile",
    "take_along_axis": "take_along_axis", "ascontiguousarray": "ascontiguousarray",
    # creation
    "empty": "empty", "zeros": "zeros", "ones": "ones", "full": "full", "arange": "arange",
    "linspace": "linspace", "eye": "eye", "zeros_like": "zeros_like",
}


_GELU_APPROXIMATE = {"gelu": "none", "gelu_tanh": "tanh"}  # linear's activation -> gelu's


class Backend:
    """Reference implementation of every primitive over the array module ``xp``."""

    name = "base"
    device = "cpu"

    def __init__(self, xp):
        self.xp = xp
        for prim, fn in _DIRECT.items():
            if not hasattr(type(self), prim):  # a subclass's method wins over the table
                setattr(self, prim, getattr(xp, fn))

    def __repr__(self):
        return f"<tensorlite backend {self.name!r} on {self.device}>"

    # -- conversion ---------------------------------------------------------------------------
    def asarray(self, obj, dtype=None):
        return self.xp.asarray(obj, dtype=dtype)

    def to_host(self, x):
        """A NumPy array with the same values (no copy where the data already lives on the host)."""
        return np.asarray(x)

    def value_range(self, x):
        """(min, max) of a non-empty integer array as Python ints, in one read from the device
        (bounds checks of index arrays)."""
        lo, hi = self.to_host(self.xp.stack([x.min(), x.max()]))
        return int(lo), int(hi)

    def astype(self, x, dtype):
        return x.astype(dtype)

    def copy(self, x):
        return self.xp.array(x, copy=True)  # an array even for a NumPy scalar (0-d results)

    def private(self, x):
        """Whether ``x``'s memory can be reached through ``x`` alone (it is no view of another
        array) once nothing else references ``x``: the engine then hands it to ``.grad``
        without a copy."""
        return REFCOUNTS_KNOWN and isinstance(x, self.xp.ndarray) and x.base is None

    def from_dlpack(self, obj):
        return self.xp.from_dlpack(obj)

    # -- elementwise ------------------------------------------------------------------------------
    def sigmoid(self, x):
        # Stable at both tails: exp only ever sees -|x|, so it cannot overflow.
        e = self.xp.exp(-self.xp.abs(x))
        return self.xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def pow(self, a, b):
        """``a ** b``; integers to a negative integer power give PyTorch's 1, -1 or 0 (NumPy
        refuses them)."""
        xp = self.xp
        if _integral(a) and _integral(b):
            neg = xp.less(b, 0)
            r = xp.power(a, xp.where(neg, 0, b))
            special = xp.where(xp.equal(a, 1), 1, xp.where(xp.equal(a, -1), 1 - 2 * (b & 1), 0))
            return xp.where(neg, special, r).astype(r.dtype, copy=False)
        return xp.power(a, b)

    def sign(self, x):
        """-1, 0 or 1; NaN gives 0 and bool stays bool, as PyTorch."""
        if x.dtype.kind == "b":
            return self.copy(x)
        s = self.xp.sign(x)
        return self.xp.where(x != x, 0, s).astype(x.dtype, copy=False) if x.dtype.kind == "f" else s

    def relu(self, x):
        return self.xp.maximum(x, 0)

    # Activation gradients from the saved output y: g * act'(x), one pass each.
    def relu_grad(self, g, y):
        # zero only where y <= 0: a NaN output passes its gradient on, as PyTorch's threshold
        return self.xp.where(y <= 0, 0, g).astype(g.dtype, copy=False)

    def tanh_grad(self, g, y):
        return g * (1 - y * y)

    def sigmoid_grad(self, g, y):
        return g * y * (1 - y)

    def clip(self, x, lo, hi):
        return self.xp.clip(x, lo, hi)

    # -- reductions -------------------------------------------------------------------------------
    def sum(self, x, axis=None, keepdims=False):
        return self.xp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)

    def amax(self, x, axis=None, keepdims=False):
        return self.xp.max(x, axis=axis, keepdims=keepdims)

    def amin(self, x, axis=None, keepdims=False):
        return self.xp.min(x, axis=axis, keepdims=keepdims)

    def argmax(self, x, axis=None, keepdims=False):
        return self.xp.argmax(x, axis=axis, keepdims=keepdims)

    def argmin(self, x, axis=None, keepdims=False):
        return self.xp.argmin(x, axis=axis, keepdims=keepdims)

    def all(self, x, axis=None, keepdims=False):
        return self.xp.all(x, axis=axis, keepdims=keepdims)

    def any(self, x, axis=None, keepdims=False):
        return self.xp.any(x, axis=axis, keepdims=keepdims)

    # -- fused hot path (accelerated backends override these) ------------------------------------
    def softmax(self, x, axis):
        if x.size == 0:  # no max to take out
            return self.xp.empty_like(x)
        e = self.xp.exp(x - self.xp.max(x, axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def log_softmax(self, x, axis):
        if x.size == 0:
            return self.xp.empty_like(x)
        s = x - self.xp.max(x, axis=axis, keepdims=True)
        s -= self.xp.log(self.xp.exp(s).sum(axis=axis, keepdims=True))
        return s

    # -- nn: linear, activations, normalization --------------------------------------------------
    def linear(self, x, w, b=None, activation=None, keep_pre=False):
        """act(x @ w.T + b): one matmul over the flattened batch dims, then the bias and the
        activation (None or one of LINEAR_ACTIVATIONS; relu, tanh and sigmoid by bias_act).
        ``keep_pre`` (None or a GELU) returns (y, x @ w.T + b): GELU's backward needs both."""
        out = self.matmul(x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x, w.T)
        if activation in ("relu", "tanh", "sigmoid"):
            y = self.bias_act(out, b, activation)
        else:
            if b is not None:
                out += b
            y = out if activation is None else self.gelu(out, _GELU_APPROXIMATE[activation])
        if x.ndim != 2:
            y, out = (a.reshape(*x.shape[:-1], w.shape[0]) for a in (y, out))
        return (y, out) if keep_pre else y

    # -- nn: the fused linear's backward ----------------------------------------------------------
    # F.linear(..., activation=) and Sequential(Linear, ReLU, ...) are one tape node over
    # linear() and these.  An activation's backward takes its output ("s") for relu, tanh and
    # sigmoid, and its input (the pre-activation) for the GELUs.
    LINEAR_ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "gelu_tanh")

    def bias_act(self, z, b=None, activation=None):
        """activation(z + b) as a new array, for ``z`` (..., N), a bias ``b`` (N,) or None and
        ``activation`` None or one of LINEAR_ACTIVATIONS (one pass where a backend fuses it)."""
        xp = self.xp
        y = z + b if b is not None else self.copy(z)
        if activation == "relu":
            return xp.maximum(y, 0, out=y)
        if activation == "tanh":
            return xp.tanh(y, out=y)
        if activation == "sigmoid":
            return self.sigmoid(y)
        return y if activation is None else self.gelu(y, _GELU_APPROXIMATE[activation])

    def gelu_grad(self, g, x, approximate):
        """g * gelu'(x), the derivative written out as in the tape's composite formula."""
        xp = self.xp
        if approximate == "tanh":
            k = 0.7978845608028654  # sqrt(2 / pi)
            t = xp.tanh(k * (x + 0.044715 * x * x * x))
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
        cdf = 0.5 * (1 + self.erf(x * 0.7071067811865476))
        return g * (cdf + x * xp.exp(-0.5 * x * x) * 0.3989422804014327)

    def linear_act_grad(self, g, s, activation, bias=True):
        """The gradient at a fused linear's pre-activation, g * act'(.), and its column sum
        (the bias gradient; None unless ``bias``), for 2-D ``g`` and ``s``."""
        if activation is None:
            gz = g
        elif activation in _GELU_APPROXIMATE:
            gz = self.gelu_grad(g, s, _GELU_APPROXIMATE[activation])
        else:
            gz = getattr(self, f"{activation}_grad")(g, s)
        return gz, (self.sum(gz, 0) if bias else None)

    def leaky_relu(self, x, negative_slope):
        return self.xp.where(x > 0, x, x * negative_slope)

    def softplus(self, x, beta, threshold):
        """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
        bx = x * beta
        return self.xp.where(bx > threshold, x, self.xp.logaddexp(0, bx) / beta).astype(
            x.dtype, copy=False)

    def gelu(self, x, approximate):
        if approximate == "tanh":
            inner = self.xp.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
            return (0.5 * x * (1 + inner)).astype(x.dtype, copy=False)
        return (0.5 * x * (1 + self.erf(x * 0.7071067811865476))).astype(x.dtype, copy=False)

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

    def dropout_mask(self, shape, p, dtype):
        """1/(1-p) where an element is kept (probability 1-p), else 0."""
        keep = self.rand(shape, dtype) >= p
        return keep.astype(dtype) * (1.0 / (1.0 - p))

    def normalize(self, x, axes, eps, weight=None, bias=None):
        """Standardize ``x`` over ``axes`` (biased variance), then scale and shift by the
        broadcastable ``weight`` and ``bias``.  Returns (y, xhat, mean, var)."""
        xp = self.xp
        mean = x.mean(axis=axes, keepdims=True)
        xhat = x - mean
        var = (xhat * xhat).mean(axis=axes, keepdims=True)
        xhat *= 1.0 / xp.sqrt(var + eps)
        y = xhat if weight is None else xhat * weight
        if bias is not None:
            y = y + bias if y is xhat else xp.add(y, bias, out=y)
        return y, xhat, mean, var

    # -- nn: convolution and pooling ------------------------------------------------------------
    # Images are (N, C, H, W).  `kernel`, `stride`, `dilation` are (h, w) pairs, `out_size` is
    # (OH, OW); a window view is (N, C, kh, kw, OH, OW): element [n, c, i, j, y, x] is
    # image[n, c, y*sh + i*dh, x*sw + j*dw].  Padding is applied by the caller (pad_constant).
    def pad_constant(self, x, widths, value=0):
        """``x`` grown by ``widths[d] = (before, after)`` elements of ``value`` on each axis d."""
        shape = tuple(n + a + b for n, (a, b) in zip(x.shape, widths))
        out = self.xp.full(shape, value, dtype=x.dtype)
        out[tuple(slice(a, a + n) for n, (a, _) in zip(x.shape, widths))] = x
        return out

    def windows(self, x, kernel, stride, dilation, out_size):
        """The sliding windows of ``x`` as a strided view (no copy)."""
        sn, sc, sh, sw = x.strides
        return self.xp.lib.stride_tricks.as_strided(
            x, x.shape[:2] + tuple(kernel) + tuple(out_size),
            (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]))

    def im2col(self, x, kernel, stride, dilation, out_size):
        """The windows of ``x`` copied out contiguously: (N, C, kh, kw, OH, OW)."""
        return self.xp.ascontiguousarray(self.windows(x, kernel, stride, dilation, out_size))

    def col2im(self, cols, shape, stride, dilation):
        """The adjoint of im2col: zeros(shape) with every window column added back in place
        (one strided add per kernel position)."""
        out = self.xp.zeros(shape, dtype=cols.dtype)
        _, _, kh, kw, oh, ow = cols.shape
        for i in range(kh):
            rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (oh - 1) + 1, stride[0])
            for j in range(kw):
                out[:, :, rows, j * dilation[1]:j * dilation[1] + stride[1] * (ow - 1) + 1:
                    stride[1]] += cols[:, :, i, j]
        return out

    def max_pool2d(self, x, kernel, stride, padding, dilation, out_size):
        """(values, indices) of the max of each window of ``x`` padded with -inf by ``padding``
        (top, left); indices are flat positions in the unpadded H*W plane: the window's first
        maximal element inside the plane (a padded -inf never wins, even over an -inf of the
        image), or its first NaN, as PyTorch; -1 for a window with no element in the plane (a
        dilated window can lie entirely in the padding: its value is -inf, its gradient lost)."""
        xp = self.xp
        n, c, h, w = x.shape
        (kh, kw), (oh, ow) = kernel, out_size
        need = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out_size, stride, dilation,
                                                                    kernel)]
        after = (max(0, need[0] - h - padding[0]), max(0, need[1] - w - padding[1]))
        low = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        xpad = self.pad_constant(x, ((0, 0), (0, 0), (padding[0], after[0]),
                                     (padding[1], after[1])), low)
        win = self.windows(xpad, kernel, stride, dilation, out_size)
        flat = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c, oh, ow, kh * kw)  # one copy
        # position of each window element in the plane: (OH, 1, kh, 1) rows, (OW, 1, kw) cols
        rows = (xp.arange(oh).reshape(oh, 1, 1, 1) * stride[0] - padding[0]
                + xp.arange(kh).reshape(kh, 1) * dilation[0])
        cols = xp.arange(ow).reshape(ow, 1, 1) * stride[1] - padding[1] + xp.arange(kw) * dilation[1]
        pos = (rows * w + cols).reshape(oh, ow, kh * kw)
        if not any(padding) and not any(after):
            arg = flat.argmax(axis=-1)
            values = xp.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
            return values, pos[xp.arange(oh).reshape(oh, 1), xp.arange(ow), arg].astype(xp.int64)
        values = flat.max(axis=-1)
        inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).reshape(oh, ow, -1)
        hits = (flat == values[..., None]) | (flat != flat)
        arg = (hits & inside).argmax(axis=-1)
        pos = xp.where(inside, pos, -1)  # a window with no element inside keeps -1
        return values, pos[xp.arange(oh).reshape(oh, 1), xp.arange(ow), arg].astype(xp.int64)

    def max_pool2d_backward(self, g, indices, shape):
        """zeros(shape) (N, C, H, W) with ``g`` (N, C, OH, OW) added at the flat H*W positions
        ``indices``; positions picked by several windows accumulate, -1 (a window with no
        element in the plane) takes nothing."""
        xp = self.xp
        n, c, h, w = shape
        flat = (indices.reshape(n * c, indices.shape[-2] * indices.shape[-1])
                + xp.arange(0, n * c * h * w, h * w).reshape(-1, 1))
        keep = (indices >= 0).ravel()
        out = xp.bincount(flat.ravel()[keep], weights=g.ravel()[keep], minlength=n * c * h * w)
        return out.astype(g.dtype, copy=False).reshape(shape)

    # -- nn: losses -------------------------------------------------------------------------------
    def log_softmax_pick(self, x, target):
        """log_softmax of the rows of ``x`` (M, C) and each row's value at column ``target[m]``
        (a valid class for every row).  Returns (logp, picked)."""
        logp = self.log_softmax(x, 1)
        return logp, self.xp.take_along_axis(logp, target.reshape(-1, 1), 1).reshape(-1)

    def class_target_stats(self, t, classes, ignore_index):
        """For class indices ``t`` (flat int64): how many lie outside [0, classes) without being
        ``ignore_index``, and how many equal it, as two host ints (one read of the device)."""
        lo, hi = (int(t.min()), int(t.max())) if t.size else (0, -1)
        if 0 <= lo and hi < classes and not lo <= ignore_index <= hi:
            return 0, 0  # the usual case: two reductions
        ignored = t == ignore_index
        bad = self.xp.logical_and(self.xp.logical_not(ignored), (t < 0) | (t >= classes))
        return tuple(int(n) for n in self.to_host(self.xp.stack([bad.sum(), ignored.sum()])))

    def cross_entropy_grad(self, logp, target, scale):
        """(softmax - onehot(target)) * scale from log-probabilities ``logp`` (M, C): the
        gradient of summed cross-entropy at the logits, ``scale`` a number or an array that
        broadcasts against (M, 1)."""
        g = self.xp.exp(logp)
        g[self.xp.arange(g.shape[0]), target] -= 1
        g *= scale
        return g

    def binary_cross_entropy(self, x, t):
        """-(t log x + (1 - t) log(1 - x)) elementwise, each log clamped at -100 (torch)."""
        xp = self.xp
        with np.errstate(divide="ignore"):
            a, b = xp.maximum(xp.log(x), -100), xp.maximum(xp.log1p(-x), -100)
        return -(t * (a - b) + b)

    def binary_cross_entropy_with_logits(self, x, t, pos_weight=None):
        """(1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x)), stable for any x."""
        xp = self.xp
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        if pos_weight is not None:
            softplus_neg = softplus_neg * ((pos_weight - 1) * t + 1)
        return (1 - t) * x + softplus_neg

    # -- indexing ---------------------------------------------------------------------------------
    def getitem(self, x, index):
        return x[index]

    def index_add(self, shape, dtype, index, values):
        """zeros(shape) with ``values`` added at ``index``; repeated indices accumulate."""
        out = self.xp.zeros(shape, dtype=dtype)
        if is_basic_index(index):
            out[index] = values
        else:
            self.xp.add.at(out, index, values)
        return out

    def scatter_add(self, shape, axis, index, values):
        """zeros(shape) with ``values`` added along ``axis`` at ``index`` (the adjoint of gather)."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        idx = self.open_grid(index.shape)  # (xp.indices(sparse=True) does not exist in CuPy)
        idx[axis] = index
        self.xp.add.at(out, tuple(idx), values)
        return out

    def open_grid(self, shape):
        """One arange per axis of ``shape``, each shaped to broadcast along its own axis."""
        ones = (1,) * len(shape)
        return [self.xp.arange(n).reshape(ones[:d] + (n,) + ones[d + 1:])
                for d, n in enumerate(shape)]

    def masked_fill(self, x, mask, value):
        return self.xp.where(mask, self.xp.asarray(value, dtype=x.dtype), x)

    # -- in place (optimizers) --------------------------------------------------------------------
    def iadd(self, x, y):
        self.xp.add(x, y, out=x)

    def isub(self, x, y):
        self.xp.subtract(x, y, out=x)

    def imul(self, x, y):
        self.xp.multiply(x, y, out=x)

    def copyto(self, x, y):
        self.xp.copyto(x, y, casting="unsafe")  # copy_ converts any dtype, as PyTorch

    def fill(self, x, value):
        x.fill(value)

    # -- optimizer steps --------------------------------------------------------------------------
    # One call per parameter: update `param` and its state arrays in place with torch.optim's
    # single-tensor formulas, in torch's order of operations.  `grad` is only read.  `step` is
    # the step count after this step's increment.  An optional state array is None when its
    # option is off.  Accelerated backends override each with one fused loop.
    def _scratch(self, like):
        return self.xp.empty_like(like)

    def _decayed_grad(self, param, grad, weight_decay, maximize):
        """(+/-)grad + weight_decay * param; returns (array, whether it is a fresh scratch)."""
        xp = self.xp
        if weight_decay:
            d = xp.multiply(param, weight_decay, out=self._scratch(param))
            (xp.subtract if maximize else xp.add)(d, grad, out=d)
            return d, True
        if maximize:
            return xp.negative(grad, out=self._scratch(param)), True
        return grad, False

    def _lerp(self, x, end, weight, scratch):
        """x <- torch.lerp(x, end, weight), in place (torch's two-sided formula)."""
        xp = self.xp
        xp.subtract(end, x, out=scratch)
        if abs(weight) < 0.5:
            xp.add(x, xp.multiply(scratch, weight, out=scratch), out=x)
        else:
            xp.subtract(end, xp.multiply(scratch, 1 - weight, out=scratch), out=x)

    def _ema_sq(self, avg, g, decay, scratch):
        """avg <- avg * decay + (1 - decay) * g * g  (torch's mul_().addcmul_())."""
        xp = self.xp
        xp.multiply(avg, decay, out=avg)
        xp.multiply(xp.multiply(g, 1 - decay, out=scratch), g, out=scratch)
        xp.add(avg, scratch, out=avg)

    def sgd_step(self, param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0,
                 weight_decay=0.0, nesterov=False, maximize=False, first=False):
        """SGD; ``first``: momentum_buf is uninitialized and becomes the gradient (torch)."""
        xp = self.xp
        d, owned = self._decayed_grad(param, grad, weight_decay, maximize)
        if momentum_buf is not None:
            if first:
                xp.copyto(momentum_buf, d)
            else:
                xp.multiply(momentum_buf, momentum, out=momentum_buf)
                if dampening:
                    s = xp.multiply(d, 1 - dampening, out=self._scratch(param))
                    xp.add(momentum_buf, s, out=momentum_buf)
                else:
                    xp.add(momentum_buf, d, out=momentum_buf)
            if nesterov:
                s = xp.multiply(momentum_buf, momentum, out=self._scratch(param))
                d, owned = xp.add(d, s, out=s), True
            else:
                d, owned = momentum_buf, False
        s = d if owned else self._scratch(param)
        xp.subtract(param, xp.multiply(d, lr, out=s), out=param)

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                  beta2, eps, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        """Adam (AdamW with decoupled_weight_decay); max_exp_avg_sq is None without amsgrad."""
        xp = self.xp
        if weight_decay and decoupled_weight_decay:
            xp.multiply(param, 1 - lr * weight_decay, out=param)
            weight_decay = 0.0
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        self._lerp(exp_avg, g, 1 - beta1, s)
        self._ema_sq(exp_avg_sq, g, beta2, s)
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        v = exp_avg_sq
        if max_exp_avg_sq is not None:
            v = xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = xp.add(xp.divide(xp.sqrt(v, out=s), bias_correction2_sqrt, out=s), eps, out=s)
        update = xp.multiply(xp.divide(exp_avg, denom, out=s), step_size, out=s)
        xp.subtract(param, update, out=param)

    def rmsprop_step(self, param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, eps,
                     weight_decay=0.0, momentum=0.0, maximize=False):
        """RMSprop; grad_avg is None unless centered, momentum_buf None unless momentum > 0."""
        xp = self.xp
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        self._ema_sq(square_avg, g, alpha, s)
        if grad_avg is not None:
            self._lerp(grad_avg, g, 1 - alpha, s)
            avg = xp.sqrt(xp.subtract(square_avg, xp.multiply(grad_avg, grad_avg, out=s), out=s),
                          out=s)
        else:
            avg = xp.sqrt(square_avg, out=s)
        ratio = xp.divide(g, xp.add(avg, eps, out=s), out=s)
        if momentum_buf is not None:
            xp.multiply(momentum_buf, momentum, out=momentum_buf)
            ratio = xp.add(momentum_buf, ratio, out=momentum_buf)
        xp.subtract(param, xp.multiply(ratio, lr, out=s), out=param)

    def adagrad_step(self, param, grad, state_sum, step, lr, lr_decay=0.0, weight_decay=0.0,
                     eps=1e-10, maximize=False):
        xp = self.xp
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s = self._scratch(param)
        xp.add(state_sum, xp.multiply(g, g, out=s), out=state_sum)
        clr = lr / (1 + (step - 1) * lr_decay)
        std = xp.add(xp.sqrt(state_sum, out=s), eps, out=s)
        xp.subtract(param, xp.multiply(xp.divide(g, std, out=s), clr, out=s), out=param)

    def adadelta_step(self, param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay=0.0,
                      maximize=False):
        xp = self.xp
        g, _ = self._decayed_grad(param, grad, weight_decay, maximize)
        s, delta = self._scratch(param), self._scratch(param)
        self._ema_sq(square_avg, g, rho, s)
        std = xp.sqrt(xp.add(square_avg, eps, out=s), out=s)
        xp.sqrt(xp.add(acc_delta, eps, out=delta), out=delta)
        xp.multiply(xp.divide(delta, std, out=delta), g, out=delta)
        self._ema_sq(acc_delta, delta, rho, s)
        xp.subtract(param, xp.multiply(delta, lr, out=delta), out=param)

    def total_norm(self, arrays, norm_type):
        """clip_grad_norm_'s total: the ``norm_type``-norm of the arrays' norms (a 0-d array)."""
        xp = self.xp
        norms = xp.stack([xp.asarray(self._vector_norm(a, norm_type)) for a in arrays])
        return xp.asarray(self._vector_norm(norms, norm_type))

    def _vector_norm(self, x, p):
        xp = self.xp
        a = xp.abs(x)
        if a.size == 0:
            return xp.zeros((), dtype=a.dtype)
        if p == float("inf"):
            return a.max()
        if p == float("-inf"):
            return a.min()
        if p == 0:
            return (a != 0).sum().astype(a.dtype)
        if p == 1:
            return a.sum()
        if p == 2:
            return xp.sqrt((a * a).sum())
        return (a ** p).sum() ** (1.0 / p)

    def iclip(self, x, lo, hi):
        self.xp.clip(x, lo, hi, out=x)

    # -- random -----------------------------------------------------------------------------------
    def seed(self, seed):
        raise NotImplementedError

    def rand(self, shape, dtype):
        raise NotImplementedError

    def randn(self, shape, dtype):
        raise NotImplementedError

    def randint(self, low, high, shape, dtype):
        raise NotImplementedError


def _integral(x):
    """Whether ``x`` (an array or a Python number) holds integers (not bool, not float)."""
    kind = x.dtype.kind if hasattr(x, "dtype") else "b" if isinstance(x, bool) else \
        "i" if isinstance(x, int) else "f"
    return kind in "iu"


def is_basic_index(index):
    """True for an index made only of ints, slices, None and Ellipsis (a view, no repeats)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)
