"""The backend seam: the array primitives the tape calls, written once over an array module `xp`.

A backend is this class bound to an array module (NumPy, CuPy).  Accelerated backends subclass
it and override a method only where they are faster, checking that their fast path applies and
otherwise calling ``super()``.  The tape never touches an array module directly.
"""
import numpy as np

# Primitives that are exactly one array-module function: the table from name to call.
_DIRECT = {
    # unary
    "neg": "negative", "exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "abs", "sign": "sign",
    "sin": "sin", "cos": "cos", "tanh": "tanh", "isfinite": "isfinite",
    # binary (broadcasting); comparisons return bool arrays
    "add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide", "pow": "power",
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

    def astype(self, x, dtype):
        return x.astype(dtype)

    def copy(self, x):
        return x.copy()

    def from_dlpack(self, obj):
        return self.xp.from_dlpack(obj)

    # -- elementwise ------------------------------------------------------------------------------
    def sigmoid(self, x):
        # Stable at both tails: exp only ever sees -|x|, so it cannot overflow.
        e = self.xp.exp(-self.xp.abs(x))
        return self.xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def relu(self, x):
        return self.xp.maximum(x, 0)

    # Activation gradients from the saved output y: g * act'(x), one pass each.
    def relu_grad(self, g, y):
        return self.xp.where(y > 0, g, 0).astype(g.dtype, copy=False)

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
        e = self.xp.exp(x - self.xp.max(x, axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def log_softmax(self, x, axis):
        s = x - self.xp.max(x, axis=axis, keepdims=True)
        s -= self.xp.log(self.xp.exp(s).sum(axis=axis, keepdims=True))
        return s

    # -- indexing ---------------------------------------------------------------------------------
    def getitem(self, x, index):
        return x[index]

    def index_add(self, shape, dtype, index, values):
        """zeros(shape) with ``values`` added at ``index``; repeated indices accumulate."""
        out = self.xp.zeros(shape, dtype=dtype)
        if _is_basic(index):
            out[index] = values
        else:
            self.xp.add.at(out, index, values)
        return out

    def scatter_add(self, shape, axis, index, values):
        """zeros(shape) with ``values`` added along ``axis`` at ``index`` (the adjoint of gather)."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        idx = list(self.xp.indices(index.shape, sparse=True))
        idx[axis] = index
        self.xp.add.at(out, tuple(idx), values)
        return out

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
        self.xp.copyto(x, y, casting="same_kind")

    def fill(self, x, value):
        x.fill(value)

    # -- random -----------------------------------------------------------------------------------
    def seed(self, seed):
        raise NotImplementedError

    def rand(self, shape, dtype):
        raise NotImplementedError

    def randn(self, shape, dtype):
        raise NotImplementedError

    def randint(self, low, high, shape, dtype):
        raise NotImplementedError


def _is_basic(index):
    """True for an index made only of ints, slices, None and Ellipsis (a view, no repeats)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)
