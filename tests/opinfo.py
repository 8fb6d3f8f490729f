"""The op table that drives the differential fuzz (tests/test_fuzz.py).

Each ``OpInfo`` is one op, written once as ``fn(lib, *tensors, **kwargs)`` where ``lib`` is
``tensorlite`` or ``torch``, plus ``sample(g)``: how to draw its arguments with the hypothesis
generator ``g`` (a ``Gen``: shapes, broadcasting shapes, tensors of a domain in a dtype and a
memory layout, dims, python numbers).  ``sample`` returns ``(args, kwargs)``: ``args`` are
``Arg`` tensors (those of a floating dtype that are not ``fixed`` require grad when the op is
differentiable), ``kwargs`` are plain python values passed to ``fn`` for both libraries.

To fuzz a new op, add one entry to TABLE; ``covers`` names the public tensorlite functions it
exercises (default: its own name), and test_fuzz.py fails for any public op that no entry
covers and that is not in EXCLUDED with a reason.
"""
import importlib
import math
import operator
import pathlib

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import strided

F64, F32, I64, BOOL = np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.int64), np.dtype(bool)
FLOAT = (F64, F32)
NUMERIC = FLOAT + (I64,)
ALL = FLOAT + (I64, BOOL)
INF, NAN = math.inf, math.nan

MODES = ("normal", "ties", "special")
LAYOUTS = ("C", "F", "strided", "permuted")


def _floats(lo, hi):
    """float32-representable, so a float32 and a float64 case see the very same numbers.
    Magnitudes below 1e-6 become 0: torch computes ``s / x`` as ``s * x.reciprocal()``, whose
    float32 gradient overflows to NaN for |x| < 1e-19 where the true derivative is finite."""
    return st.floats(lo, hi, width=32, allow_subnormal=False).map(
        lambda v: 0.0 if abs(v) < 1e-6 else v)


# domain: (ordinary values, exact ties and kinks, integer values)
DOMAINS = {
    "real": (_floats(-3, 3), (0.0, 1.0, -1.0, 0.5, 2.0, -2.0), (-4, 4)),
    "pos": (_floats(0.25, 4), (1.0, 0.5, 2.0, 0.0), (0, 4)),
    "exponent": (_floats(-3, 3), (0.0, 1.0, 2.0, -1.0, 0.5, 3.0), (-2, 3)),
    "unit": (_floats(0, 1), (0.0, 1.0, 0.5), (0, 1)),
}
# extremes; accumulating ops (sums, matmul, var) get no huge finite values: their result then
# depends on the summation order (1e30 + 1 - 1e30), which torch does not fix
SPECIAL = (0.0, -0.0, INF, -INF, NAN, 1e30, -1e30)
SPECIAL_ACCUM = (0.0, -0.0, INF, -INF, NAN)


class Arg:
    """One tensor argument: C-ordered values, the memory layout to give them, and whether it is
    ``fixed`` (an index or mask: never requires grad)."""

    def __init__(self, values, layout="C", perm=None, fixed=False):
        self.values, self.layout, self.perm, self.fixed = values, layout, perm, fixed

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self):
        return self.values.shape

    def array(self):
        """A fresh array in this argument's layout (each library gets its own copy)."""
        a = self.values
        if self.layout == "F":
            return np.asfortranarray(a.copy())
        if self.layout == "strided":
            return strided(a.copy())
        if self.layout == "permuted" and self.perm is not None:
            return np.ascontiguousarray(a.transpose(self.perm)).transpose(np.argsort(self.perm))
        return a.copy(order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)

    def __repr__(self):
        lay = "" if self.layout == "C" or self.values.ndim < 1 else f", layout={self.layout!r}"
        if self.layout == "permuted":
            lay += f" {self.perm}"
        vals = np.array2string(self.values, separator=", ", threshold=10**6,
                               max_line_width=10**6)
        return (f"{'fixed ' if self.fixed else ''}array({vals}, dtype={self.dtype.name}"
                f"{', shape=' + str(self.shape) if 0 in self.shape else ''}{lay})")


class Gen:
    """What a sample function draws with: shapes, tensors, dims, numbers.  ``dtype`` is the
    case's dtype for data tensors, ``mode`` its values ("normal", "ties" or "special"),
    ``accum`` whether the op accumulates (its extremes then leave out huge finite values)."""

    def __init__(self, draw, dtype, mode, accum):
        self.draw, self.dtype, self.mode, self.accum = draw, np.dtype(dtype), mode, accum

    # -- shapes
    def shape(self, min_dims=0, max_dims=3, min_side=0, max_side=4):
        return self.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                                          min_side=min_side, max_side=max_side))

    def bshapes(self, n=2, min_dims=0, max_dims=3, min_side=0, max_side=4):
        """``n`` shapes that broadcast together, and their result shape."""
        b = self.draw(hnp.mutually_broadcastable_shapes(
            num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
            max_side=max_side))
        return b.input_shapes, b.result_shape

    def broadcast_to_shape(self, shape):
        """A shape that broadcasts to ``shape`` (leading dims dropped, some sizes set to 1)."""
        k = self.draw(st.integers(0, len(shape)))
        return tuple(1 if self.flag() else n for n in shape[len(shape) - k:])

    # -- values
    def elements(self, domain="real", dtype=None, mode=None):
        dtype, mode = np.dtype(dtype or self.dtype), mode or self.mode
        cont, ties, (lo, hi) = DOMAINS[domain]
        if dtype == BOOL:
            return st.booleans()
        if dtype.kind in "iu":
            return st.integers(lo, hi)
        if mode == "normal":
            return cont
        if mode == "ties":
            return st.sampled_from(ties)
        return st.one_of(cont, st.sampled_from(ties),
                         st.sampled_from(SPECIAL_ACCUM if self.accum else SPECIAL))

    def values(self, shape, domain="real", dtype=None, mode=None):
        dtype = np.dtype(dtype or self.dtype)
        n = int(np.prod(shape))
        vals = self.draw(st.lists(self.elements(domain, dtype, mode), min_size=n, max_size=n))
        return np.array(vals, dtype=np.float64 if dtype.kind == "f" else dtype).astype(
            dtype).reshape(shape)

    def tensor(self, shape, domain="real", dtype=None, mode=None, layout=None):
        """A data argument in a drawn memory layout."""
        values = self.values(tuple(shape), domain, dtype, mode)
        ndim = values.ndim
        layouts = LAYOUTS if ndim >= 2 else ("C", "strided") if ndim == 1 else ("C",)
        layout = layout or self.draw(st.sampled_from(layouts))
        perm = self.draw(st.permutations(range(ndim))) if layout == "permuted" else None
        return Arg(values, layout, tuple(perm) if perm is not None else None)

    def finite_mode(self):
        return "ties" if self.mode == "special" else self.mode

    def param(self, shape, domain="real", layout=None):
        """A weight, bias or target: finite (ordinary or tie values even in special mode).
        With infinite weights the gradient formulas of torch and of an equivalent rewrite put
        inf - inf at different places; that is no property of the op."""
        return self.tensor(shape, domain, mode=self.finite_mode(), layout=layout)

    def fixed(self, shape, domain="real"):
        """A finite tensor that never requires grad (class weights, running statistics)."""
        return Arg(self.values(shape, domain, mode=self.finite_mode()), fixed=True)

    def index(self, shape, lo, hi):
        """A fixed int64 tensor with values in [lo, hi]."""
        n = int(np.prod(shape))
        vals = self.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))
        return Arg(np.array(vals, dtype=np.int64).reshape(shape), fixed=True)

    def mask(self, shape):
        n = int(np.prod(shape))
        vals = self.draw(st.lists(st.booleans(), min_size=n, max_size=n))
        return Arg(np.array(vals, dtype=bool).reshape(shape), fixed=True)

    # -- python values
    def flag(self):
        return self.draw(st.booleans())

    def pick(self, *options):
        return self.draw(st.sampled_from(options))

    def int(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def dim(self, ndim, extra=0):
        """A valid dim of an ``ndim``-d tensor (negative ones too); ``extra`` widens the range
        (unsqueeze and stack take a dim in [-ndim-1, ndim])."""
        n = max(ndim, 1) + extra
        return self.draw(st.integers(-n, n - 1))

    def dims(self, ndim, none=True, tuples=True):
        """None (every dim), one dim, or a tuple of distinct dims."""
        kinds = (["none"] if none else []) + ["int"] + (["tuple"] if tuples else [])
        kind = self.draw(st.sampled_from(kinds))
        if kind == "none":
            return None
        if kind == "int":
            return self.dim(ndim)
        axes = self.draw(st.lists(st.integers(0, max(ndim, 1) - 1), min_size=1,
                                  max_size=max(ndim, 1), unique=True))
        return tuple(a - max(ndim, 1) if self.flag() else a for a in axes)

    def number(self, domain="real", kinds=("float", "int", "bool")):
        """A python number operand: float (with extremes in special mode), int or bool."""
        kind = self.draw(st.sampled_from(kinds))
        if kind == "bool":
            return self.flag()
        if kind == "int":
            return self.draw(st.integers(*DOMAINS[domain][2]))
        return float(self.draw(self.elements(domain, F64)))


class OpInfo:
    """One op of the table.

    name        unique id (the pytest id)
    fn          fn(lib, *tensors, **kwargs), lib being tensorlite or torch
    sample      sample(g) -> (args, kwargs): g is a Gen, args Arg tensors
    dtypes      the dtypes a case is drawn in (data tensors; indices and masks keep theirs)
    grad        differentiable: gradients are compared for a random upstream gradient
    accum       accumulates many terms: no huge finite extremes, float32 tolerance of sums
    activation  also fuzzed for second derivatives
    covers      the public tensorlite names it exercises (default: (name,))
    """

    def __init__(self, name, fn, sample, dtypes=FLOAT, grad=True, accum=False,
                 activation=False, covers=None):
        self.name, self.fn, self.sample = name, fn, sample
        self.dtypes = tuple(np.dtype(d) for d in dtypes)
        self.grad, self.accum, self.activation = grad, accum, activation
        self.covers = (name,) if covers is None else tuple(covers)

    def __repr__(self):
        return f"OpInfo({self.name})"


# ----------------------------------------------------------------------------- sample builders
def unary(domain="real", **kwargs):
    """One tensor of any shape; ``kwargs`` maps names to functions of ``g`` for extra kwargs."""
    def sample(g):
        return [g.tensor(g.shape(), domain)], {k: f(g) for k, f in kwargs.items()}
    return sample


def binary(da="real", db="real"):
    def sample(g):
        (sa, sb), _ = g.bshapes(2)
        return [g.tensor(sa, da), g.tensor(sb, db)], {}
    return sample


def with_number(domain="real", ndomain="real", kinds=("float", "int", "bool")):
    """A tensor and a python number ``s``, on either side (``tensor_first``: tensor op s)."""
    def sample(g):
        return ([g.tensor(g.shape(), domain)],
                {"s": g.number(ndomain, kinds), "tensor_first": g.flag()})
    return sample


def reduction(domain="real", none=True, tuples=True, keepdim=True, **extra):
    """A tensor, a ``dim`` (None, an int or a tuple) and ``keepdim``."""
    def sample(g):
        shape = g.shape()
        kw = {"dim": g.dims(len(shape), none=none, tuples=tuples)}
        if keepdim:
            kw["keepdim"] = g.flag()
        kw.update({k: f(g) for k, f in extra.items()})
        return [g.tensor(shape, domain)], kw
    return sample


def _kw(**kw):
    """Keyword arguments without the ones left at None (the default)."""
    return {k: v for k, v in kw.items() if v is not None}


def _f(lib):
    return lib.nn.functional


# -- binary ops: operators, functions and methods
def _scalar_op(op):
    return lambda lib, a, s, tensor_first: op(a, s) if tensor_first else op(s, a)


# -- shape ops
def _with_varargs(sample):
    """``sample``, plus whether the sizes go as varargs ``f(2, 3)`` or one tuple ``f((2, 3))``
    (torch's varargs form needs at least one size)."""
    def with_form(g):
        args, kw = sample(g)
        sizes = next(v for v in kw.values() if isinstance(v, tuple))
        return args, dict(kw, varargs=bool(sizes) and g.flag())
    return with_form


def _reshape_targets(g, shape):
    n = int(np.prod(shape))
    opts = [(n,), tuple(reversed(shape)), shape + (1,), (1,) + shape, ()]
    if len(shape) >= 2:
        opts.append((shape[0] * shape[1],) + shape[2:])
    target = list(g.pick(*opts))
    if target == [] and n != 1:
        target = [n]
    if target and g.flag() and n > 0:  # one size inferred
        target[g.int(0, len(target) - 1)] = -1
    return tuple(target)


def reshape_sample(g):
    shape = g.shape()
    return [g.tensor(shape)], {"shape": _reshape_targets(g, shape)}


def reshape_as_sample(g):
    shape = g.shape()
    target = tuple(abs(s) for s in _reshape_targets(g, shape) if s != -1) or ()
    if int(np.prod(target)) != int(np.prod(shape)):
        target = (int(np.prod(shape)),)
    return [g.tensor(shape), g.tensor(target)], {}


def flatten_sample(g):
    shape = g.shape()
    a, b = sorted((g.dim(len(shape)) % max(len(shape), 1), g.dim(len(shape)) % max(len(shape), 1)))
    neg = g.flag()
    return [g.tensor(shape)], {"start_dim": a - len(shape) if neg and shape else a,
                               "end_dim": b}


def squeeze_sample(g):
    shape = g.shape(max_side=2)
    return [g.tensor(shape)], _kw(dim=g.dims(len(shape)))


def permute_sample(g):
    shape = g.shape()
    order = g.draw(st.permutations(range(len(shape))))
    return [g.tensor(shape)], {"dims": tuple(d - len(shape) if g.flag() else d for d in order)}


def expand_sample(g):
    shape = g.shape(max_side=3)
    lead = g.int(0, 2)
    sizes = [g.int(0, 3) for _ in range(lead)]
    for n in shape:
        sizes.append(g.pick(-1, n, 2, 0) if n == 1 else g.pick(-1, n))
    return [g.tensor(shape)], {"sizes": tuple(sizes)}


def expand_as_sample(g):
    shape = g.shape(max_side=3)
    (target,), _ = g.bshapes(1)
    full = tuple(target[:max(len(target) - len(shape), 0)]) + tuple(
        n if n != 1 else g.int(0, 3) for n in shape)
    return [g.tensor(shape), g.tensor(full)], {}


def repeat_sample(g):
    shape = g.shape(max_dims=2, max_side=3)
    reps = tuple(g.int(0, 3) for _ in range(len(shape) + g.int(0, 1)))
    return [g.tensor(shape)], {"sizes": reps}


def cat_sample(g):
    shape = list(g.shape(min_dims=1))
    dim = g.dim(len(shape))
    k = g.int(1, 3)
    tensors = []
    for _ in range(k):
        s = list(shape)
        s[dim] = g.int(0, 3)
        tensors.append(g.tensor(tuple(s)))
    return tensors, {"dim": dim}


def stack_sample(g):
    shape = g.shape()
    k = g.int(1, 3)
    return [g.tensor(shape) for _ in range(k)], {"dim": g.dim(len(shape), extra=1)}


def split_sample(g):
    shape = g.shape(min_dims=1)
    dim = g.dim(len(shape))
    n = shape[dim]
    if g.flag():
        sections = g.int(1, 4)
    else:
        cuts = sorted(g.draw(st.lists(st.integers(0, n), max_size=3)))
        sections = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    return [g.tensor(shape)], {"sections": sections, "dim": dim}


def chunk_sample(g):
    shape = g.shape(min_dims=1)
    return [g.tensor(shape)], {"chunks": g.int(1, 4), "dim": g.dim(len(shape))}


# -- indexing
class _Slot:
    """Where an index tensor goes in an index expression (the n-th tensor argument after x)."""

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"<index tensor {self.n}>"


def _resolve(index, tensors):
    return tuple(tensors[i.n] if isinstance(i, _Slot) else i for i in index)


def getitem_sample(g):
    shape = g.shape(min_dims=1)
    index, tensors, d, used_ellipsis = [], [], 0, False
    while d < len(shape):
        n = shape[d]
        kind = g.pick("slice", "int", "none", "ellipsis", "tensor", "list", "mask", "full")
        if kind == "int":
            index.append(g.int(-n - 1, n))  # out of range now and then: an IndexError
            d += 1
        elif kind == "slice":
            index.append(slice(g.pick(None, 0, 1, -1, -n), g.pick(None, n, 2, -1),
                               g.pick(None, 1, 2, 3, -1)))
            d += 1
        elif kind == "none":
            index.append(None)
        elif kind == "ellipsis" and not used_ellipsis:
            index.append(Ellipsis)
            used_ellipsis = True
            d = len(shape) - g.int(0, len(shape) - d)
        elif kind == "tensor":
            tensors.append(g.index(g.shape(max_dims=2, max_side=3), -n, max(n - 1, 0)))
            index.append(_Slot(len(tensors) - 1))
            d += 1
        elif kind == "list":
            index.append(g.draw(st.lists(st.integers(-n, max(n - 1, 0)), min_size=1, max_size=3))
                         if n else [])
            d += 1
        elif kind == "mask":
            k = g.int(1, len(shape) - d)
            tensors.append(g.mask(shape[d:d + k]))
            index.append(_Slot(len(tensors) - 1))
            d += k
        else:
            index.append(slice(None))
            d += 1
        if g.flag():
            break  # leave the trailing dims implicit
    return [g.tensor(shape)] + tensors, {"index": tuple(index)}


def _basic_index(g, shape):
    """An index of ints (in range), slices with a positive step, None and an Ellipsis."""
    index, d = [], 0
    while d < len(shape) and not (index and g.flag()):
        n = shape[d]
        kind = g.pick("slice", "int", "none", "full") if n else g.pick("slice", "none")
        if kind == "int":
            index.append(g.int(-n, n - 1))
        elif kind == "slice":
            index.append(slice(g.pick(None, 0, 1, -1), g.pick(None, n, 2, -1), g.pick(None, 1, 2)))
        elif kind == "none":
            index.append(None)
            continue
        else:
            index.append(Ellipsis if Ellipsis not in index and g.flag() else slice(None))
            if index[-1] is Ellipsis:
                break
        d += 1
    return tuple(index)


def setitem_sample(g):
    shape = g.shape(min_dims=1)
    index = _basic_index(g, shape)
    region = np.empty(shape)[index].shape
    if g.flag():
        return [g.tensor(shape), g.tensor(g.broadcast_to_shape(region))], {"index": index}
    return [g.tensor(shape)], {"index": index, "value": g.number(kinds=("float", "int"))}


def _setitem(lib, a, v=None, index=(), value=None):
    c = a.clone()
    c[index] = v if v is not None else value
    return c


def gather_sample(g):
    shape = g.shape(min_dims=1)
    dim = g.dim(len(shape))
    axis = dim % len(shape)
    n = shape[axis]
    ishape = tuple(g.int(0, 4) if i == axis else g.int(0, s) for i, s in enumerate(shape))
    # negative and too-large indices now and then: torch raises for both
    lo, hi = -1 if g.flag() else 0, n if g.flag() else n - 1
    return [g.tensor(shape), g.index(ishape, lo, max(lo, hi))], {"dim": dim}


def masked_fill_sample(g):
    shape = g.shape()
    return ([g.tensor(shape), g.mask(g.broadcast_to_shape(shape))],
            {"value": g.number(kinds=("float", "int"))})


def where_sample(g):
    (sc, sa, sb), _ = g.bshapes(3)
    if g.flag():
        return [g.mask(sc), g.tensor(sa), g.tensor(sb)], {}
    return [g.mask(sc), g.tensor(sa)], {"other": g.number(kinds=("float", "int"))}


def _where(lib, c, a, b=None, other=None):
    return lib.where(c, a, b if b is not None else other)


# -- matmul
def matmul_sample(g, kind=None):
    kind = kind or g.pick("mm", "vec_vec", "vec_mat", "mat_vec", "batched")
    m, k, n = g.int(0, 4), g.int(0, 4), g.int(0, 4)
    kb = k if g.int(0, 9) else g.int(0, 4)  # now and then mismatched inner sizes: an error
    if kind == "mm":
        sa, sb = (m, k), (kb, n)
    elif kind == "vec_vec":
        sa, sb = (k,), (kb,)
    elif kind == "vec_mat":
        sa, sb = (k,), (kb, n)
    elif kind == "mat_vec":
        sa, sb = (m, k), (kb,)
    else:
        (ba, bb), _ = g.bshapes(2, max_dims=2, max_side=3)
        sa = (ba + (m, k)) if g.int(0, 3) else (k,)
        sb = (bb + (kb, n)) if g.int(0, 3) else (kb,)
    return [g.tensor(sa), g.tensor(sb)], {}


# -- in-place ops: on a clone (a non-leaf, so gradients flow through the in-place op)
INPLACE_UNARY = {"neg": "real", "exp": "real", "log": "pos", "sqrt": "pos", "rsqrt": "pos",
                 "abs": "real", "sin": "real", "cos": "real", "tanh": "real",
                 "sigmoid": "real", "relu": "real", "reciprocal": "real", "square": "real",
                 "sign": "real"}
INPLACE_BINARY = {"add": "real", "sub": "real", "mul": "real", "div": "real", "pow": "exponent"}


def _updated(lib, a, name, *args, **kw):
    c = a.clone()
    out = getattr(c, name)(*args, **kw)
    assert out is c, f"{name} must return the tensor it updated"
    return c


def _inplace_unary(lib, a, name):
    return _updated(lib, a, name + "_")


def inplace_unary_sample(g):
    name = g.pick(*INPLACE_UNARY)
    return [g.tensor(g.shape(), INPLACE_UNARY[name])], {"name": name}


def _inplace_binary(lib, a, b=None, name="add", value=None):
    return _updated(lib, a, name + "_", b if b is not None else value)


def inplace_binary_sample(g):
    name = g.pick(*INPLACE_BINARY)
    shape = g.shape()
    a = g.tensor(shape, "pos" if name == "pow" else "real")
    if g.flag():  # a tensor operand: mostly one that broadcasts to the updated tensor's shape
        other = g.broadcast_to_shape(shape) if g.int(0, 5) else g.shape()
        # (no bool exponent: torch's own pow backward then fails on bool - 1)
        dtype = g.pick(g.dtype, *(NUMERIC if name == "pow" else ALL))
        return [a, g.tensor(other, INPLACE_BINARY[name], dtype=dtype)], {"name": name}
    kinds = ("float", "int") if name == "pow" else ("float", "int", "bool")
    return [a], {"name": name, "value": g.number(INPLACE_BINARY[name], kinds)}


def _clamp_(lib, a, min=None, max=None, form="clamp_"):
    return _updated(lib, a, form, **_kw(min=min, max=max))


def _masked_fill_(lib, a, m, value):
    return _updated(lib, a, "masked_fill_", m, value)


def _copy_(lib, a, src):
    return _updated(lib, a, "copy_", src)


def copy_sample(g):
    shape = g.shape()
    src_dtype = g.pick(*ALL)
    mode = "ties" if src_dtype.kind == "f" and g.dtype.kind != "f" else None  # nan->int: UB
    other = g.broadcast_to_shape(shape) if g.int(0, 5) else g.shape()
    return [g.tensor(shape), g.tensor(other, dtype=src_dtype, mode=mode)], {}


def _leaf_inplace(lib, a):
    return a.add_(1.0)


def _cast(lib, a, dtype):
    return a.to(getattr(lib, dtype))


def cast_sample(g):
    target = g.pick("float32", "float64", "int64", "int32", "bool")
    mode = "ties" if target.startswith("int") and g.mode == "special" else None  # nan->int: UB
    return [g.tensor(g.shape(), mode=mode)], {"dtype": target}


# -- reductions with (values, indices) or argument results
def _max_min(name):
    def fn(lib, a, dim=None, keepdim=None):
        f = getattr(a, name)
        return f() if dim is None else f(dim, **_kw(keepdim=keepdim))
    return fn


def max_min_sample(g):
    shape = g.shape()
    if g.flag():
        return [g.tensor(shape)], {}
    return [g.tensor(shape)], {"dim": g.dim(len(shape)), "keepdim": g.pick(None, False, True)}


def _amax(name):
    return lambda lib, a, dim=None, keepdim=False: getattr(lib, name)(
        a, **_kw(dim=dim), keepdim=keepdim)


def _var(name):
    return lambda lib, a, dim=None, keepdim=False, correction=1: getattr(a, name)(
        dim, correction=correction, keepdim=keepdim)


def _arg(name):
    return lambda lib, a, dim=None, keepdim=False: getattr(lib, name)(a, dim, keepdim=keepdim)


# -- activations
def _softmax(name):
    def fn(lib, a, dim, form="method"):
        if form == "method":
            return getattr(a, name)(dim=dim)
        return getattr(_f(lib) if form == "functional" else lib, name)(a, dim)
    return fn


def softmax_sample(g):
    shape = g.shape()
    return [g.tensor(shape)], {"dim": g.dim(len(shape)),
                               "form": g.pick("method", "function", "functional")}


def _gelu(lib, a, approximate="none"):
    return _f(lib).gelu(a, approximate=approximate)


def _leaky_relu(lib, a, negative_slope=0.01):
    return _f(lib).leaky_relu(a, negative_slope)


def _softplus(lib, a, beta=1.0, threshold=20.0):
    return _f(lib).softplus(a, beta, threshold)


# -- nn.functional layers
def linear_sample(g):
    lead = g.shape(max_dims=2)
    i, o = g.int(0, 4), g.int(0, 4)
    args = [g.tensor(lead + (i,)), g.tensor((o, i))]
    if g.flag():
        args.append(g.tensor((o,)))
    return args, {}


def _conv2d(lib, x, w, b=None, **kw):
    return _f(lib).conv2d(x, w, b, **kw)


def conv2d_sample(g):
    groups = g.int(1, 2)
    cg, og = g.int(1, 2), g.int(1, 2)
    kh, kw = g.int(1, 3), g.int(1, 3)
    h, w = g.int(1, 5), g.int(1, 5)
    lead = () if g.flag() else (g.int(1, 2),)
    args = [g.tensor(lead + (cg * groups, h, w)), g.param((og * groups, cg, kh, kw))]
    if g.flag():
        args.append(g.param((og * groups,)))
    stride, dilation = g.int(1, 2), g.int(1, 2)
    padding = g.pick(0, 1, (1, 0), "valid", "same")
    if padding == "same":
        stride = 1
    return args, {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _pool(name):
    def fn(lib, x, **kw):
        return getattr(_f(lib), name)(x, **kw)
    return fn


def _window_in_padding(n, k, s, p, d, ceil_mode):
    """Whether some max-pooling window holds only padding.  torch does not reject these and
    reads/writes out of bounds for them (index k*k, heap corruption in backward), so they are
    not drawn; a window of -inf *inputs* is drawn (it is well defined)."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return any(all(not 0 <= i * s - p + j * d < n for j in range(k)) for i in range(o))


def max_pool2d_sample(g):
    kernel = g.int(1, 3)
    lead = g.pick((), (g.int(1, 2),))
    x = g.tensor(lead + (g.int(1, 2), g.int(1, 5), g.int(1, 5)))
    kw = {"kernel_size": kernel, "stride": g.pick(None, 1, 2), "padding": g.int(0, kernel // 2),
          "dilation": g.int(1, 2), "ceil_mode": g.flag(), "return_indices": g.flag()}
    s = kw["stride"] or kernel
    if any(_window_in_padding(n, kernel, s, kw["padding"], kw["dilation"], kw["ceil_mode"])
           for n in x.shape[-2:]):
        kw["padding"] = 0
    return [x], kw


def avg_pool2d_sample(g):
    kernel = g.int(1, 3)
    lead = g.pick((), (g.int(1, 2),))
    x = g.tensor(lead + (g.int(1, 2), g.int(1, 5), g.int(1, 5)))
    return [x], {"kernel_size": kernel, "stride": g.pick(None, 1, 2),
                 "padding": g.int(0, kernel // 2), "ceil_mode": g.flag(),
                 "count_include_pad": g.flag(), "divisor_override": g.pick(None, 1, 3)}


def _pad(lib, x, pad, mode="constant", value=None):
    return _f(lib).pad(x, pad, mode=mode, **_kw(value=value))


def pad_sample(g):
    mode = g.pick("constant", "reflect", "replicate", "circular")
    if mode == "constant":
        shape = g.shape()
        k = g.int(0, len(shape))
        pad = [g.int(-1, 2) for _ in range(2 * k)]
        return [g.tensor(shape)], {"pad": pad, "value": g.pick(None, 0.0, 1.5, -INF)}
    k = g.int(1, 2)
    shape = g.shape(min_dims=k + 1, max_dims=k + 2, min_side=1, max_side=3)
    return [g.tensor(shape)], {"pad": [g.int(0, 2) for _ in range(2 * k)], "mode": mode}


def _layer_norm(lib, x, w=None, b=None, normalized_shape=(), eps=1e-5):
    return _f(lib).layer_norm(x, normalized_shape, w, b, eps)


def layer_norm_sample(g):
    shape = g.shape(min_dims=1)
    k = g.int(1, len(shape))
    ns = shape[len(shape) - k:]
    args = [g.tensor(shape)]
    if g.flag():
        args += [g.param(ns), g.param(ns)]
    return args, {"normalized_shape": ns, "eps": g.pick(1e-5, 0.1)}


def _batch_norm(lib, x, rm, rv, w=None, b=None, training=False, momentum=0.1):
    y = _f(lib).batch_norm(x, rm, rv, w, b, training=training, momentum=momentum)
    return y, rm, rv  # the running statistics, updated in place in training mode


def batch_norm_sample(g):
    shape = g.shape(min_dims=2, min_side=1)
    c = shape[1]
    args = [g.tensor(shape), g.fixed((c,)), g.fixed((c,), "pos")]
    if g.flag():  # C-contiguous: torch 2.13's CPU batch_norm backward misreads a strided weight
        args += [g.param((c,), layout="C"), g.param((c,), layout="C")]
    return args, {"training": g.flag(), "momentum": g.pick(0.1, 0.5)}


def _dropout(lib, x, p=0.0, training=True):
    return _f(lib).dropout(x, p, training)


def _embedding(lib, idx, w, padding_idx=None):
    return _f(lib).embedding(idx, w, padding_idx)


def embedding_sample(g):
    n, d = g.int(1, 4), g.int(0, 3)
    return [g.index(g.shape(max_dims=2), 0, n - 1), g.tensor((n, d))], \
        {"padding_idx": g.pick(None, 0, -1)}


def _one_hot(lib, idx, num_classes=-1):
    return _f(lib).one_hot(idx, num_classes)


def one_hot_sample(g):
    return [g.index(g.shape(max_dims=2), 0, 3)], {"num_classes": g.pick(-1, 4, 5)}


# -- losses
def _loss(name):
    def fn(lib, x, t, w=None, **kw):
        return getattr(_f(lib), name)(x, t, **_kw(weight=w), **kw)
    return fn


def class_loss_sample(g, name):
    c = g.int(1, 4)
    batch = g.pick((), (g.int(0, 3),), (g.int(1, 2), g.int(1, 2)))
    shape = (c,) if batch == () else (batch[0], c) + batch[1:]
    kw = {"reduction": g.pick("mean", "sum", "none")}
    ignore = g.pick(-100, 0)
    if ignore != -100:
        kw["ignore_index"] = ignore
    probs = name == "cross_entropy" and g.int(0, 3) == 0
    if probs:
        target = g.tensor(shape, "unit")
        kw.pop("ignore_index", None)
    else:
        target = g.index(batch, 0, c - 1)
    args = [g.tensor(shape), target]
    if g.flag():
        args.append(g.fixed((c,), "pos"))
    if name == "cross_entropy":
        kw["label_smoothing"] = g.pick(0.0, 0.2)
    return args, kw


def pointwise_loss_sample(g, name):
    shape = g.shape()
    kw = {"reduction": g.pick("mean", "sum", "none")}
    if name == "smooth_l1_loss":
        kw["beta"] = g.pick(1.0, 0.5, 0.0)
    domain = "unit" if name == "binary_cross_entropy" else "real"
    args = [g.tensor(shape, domain), g.tensor(shape, "unit" if domain == "unit" else "real")]
    if name == "binary_cross_entropy" and g.flag():
        args.append(g.fixed(shape, "pos"))
    return args, kw


def _bce_logits(lib, x, t, *extra, weighted=False, reduction="mean"):
    w = extra[0] if weighted else None
    pw = extra[-1] if len(extra) > int(weighted) else None
    return _f(lib).binary_cross_entropy_with_logits(x, t, **_kw(weight=w, pos_weight=pw),
                                                    reduction=reduction)


def bce_logits_sample(g):
    shape = g.shape()
    args = [g.tensor(shape), g.param(shape, "unit")]  # (torch checks no target range here)
    weighted = g.flag()
    if weighted:
        args.append(g.fixed(shape, "pos"))
    if g.flag():  # pos_weight, broadcast along the last dim
        args.append(g.fixed(shape[-1:], "pos"))
    return args, {"weighted": weighted, "reduction": g.pick("mean", "sum", "none")}


# ----------------------------------------------------------------------------- the table
def _op(name, fn, sample, **kw):
    return OpInfo(name, fn, sample, **kw)


_ARITH = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "div": operator.truediv, "pow": operator.pow}
_DOMAIN_B = {"div": "real", "pow": "exponent"}
_DOMAIN_A = {"pow": "pos"}
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
            "gt": operator.gt, "ge": operator.ge}

TABLE = []
for _n, _o in _ARITH.items():
    TABLE += [
        _op(_n, lambda lib, a, b, o=_o: o(a, b),
            binary(_DOMAIN_A.get(_n, "real"), _DOMAIN_B.get(_n, "real")), dtypes=ALL),
        _op(f"{_n}_method", lambda lib, a, b, n=_n: getattr(a, n)(b),
            binary(_DOMAIN_A.get(_n, "real"), _DOMAIN_B.get(_n, "real")), dtypes=NUMERIC,
            covers=(_n,)),
        # (no python bool exponent: torch's pow backward then fails an internal assert)
        _op(f"{_n}_scalar", _scalar_op(_o),
            with_number(_DOMAIN_A.get(_n, "real"), _DOMAIN_B.get(_n, "real"),
                        ("float", "int") if _n == "pow" else ("float", "int", "bool")),
            dtypes=ALL, covers=(_n,)),
    ]
TABLE += [
    _op("add_alpha", lambda lib, a, b, alpha: lib.add(a, b, alpha=alpha),
        lambda g: (binary()(g)[0], {"alpha": g.pick(2, -1, 0.5)}), dtypes=FLOAT, covers=("add",)),
    _op("sub_alpha", lambda lib, a, b, alpha: lib.sub(a, b, alpha=alpha),
        lambda g: (binary()(g)[0], {"alpha": g.pick(2, -1, 0.5)}), dtypes=FLOAT, covers=("sub",)),
    _op("maximum", lambda lib, a, b: lib.maximum(a, b), binary(), dtypes=ALL),
    _op("minimum", lambda lib, a, b: a.minimum(b), binary(), dtypes=ALL),
    _op("max_tensor", lambda lib, a, b: a.max(b), binary(), dtypes=FLOAT, covers=("max",)),
]
for _n, _o in _COMPARE.items():
    TABLE.append(_op(_n, lambda lib, a, b, o=_o: o(a, b), binary(), dtypes=ALL, grad=False))
TABLE += [
    _op("compare_scalar", lambda lib, a, s, tensor_first: (a < s) if tensor_first else (s <= a),
        with_number(), dtypes=ALL, grad=False, covers=("lt", "le")),
    _op("logical_and", lambda lib, a, b: lib.logical_and(a, b), binary(), dtypes=ALL,
        grad=False),
    _op("logical_not", lambda lib, a: lib.logical_not(a), unary(), dtypes=ALL, grad=False),
    _op("isfinite", lambda lib, a: a.isfinite(), unary(), dtypes=ALL, grad=False),
    _op("isnan", lambda lib, a: lib.isnan(a), unary(), dtypes=ALL, grad=False),
    _op("sign", lambda lib, a: a.sign(), unary(), dtypes=ALL),
    _op("neg", lambda lib, a: -a, unary(), dtypes=ALL),
    _op("abs", lambda lib, a: a.abs(), unary(), dtypes=ALL),
    _op("relu", lambda lib, a: a.relu(), unary(), dtypes=ALL, activation=True),
    _op("square", lambda lib, a: a.square(), unary(), dtypes=ALL),
    _op("reciprocal", lambda lib, a: a.reciprocal(), unary(), dtypes=NUMERIC),
    _op("clone", lambda lib, a: a.clone(), unary(), dtypes=ALL),
    _op("contiguous", lambda lib, a: a.contiguous(), unary(), dtypes=ALL),
    _op("to", _cast, cast_sample, dtypes=ALL, covers=()),
]
for _n, _d in (("exp", "real"), ("log", "pos"), ("sqrt", "pos"), ("rsqrt", "pos"),
               ("sin", "real"), ("cos", "real"), ("tanh", "real"), ("sigmoid", "real")):
    TABLE.append(_op(_n, lambda lib, a, n=_n: getattr(lib, n)(a), unary(_d), dtypes=NUMERIC,
                     activation=_n in ("exp", "tanh", "sigmoid")))


def _clamp_sample(g):
    shape = g.shape()
    lo, hi = g.pick(None, -1.0, 0.0, 0.5, -1, 0, 2), g.pick(None, 1.0, 0.0, 2.5, 1, 2)
    if lo is None and hi is None:
        hi = 0.0
    return [g.tensor(shape)], {"min": lo, "max": hi, "form": g.pick("method", "clip", "function")}


def _clamp_inplace_sample(g):
    args, kw = _clamp_sample(g)
    return args, dict(kw, form=g.pick("clamp_", "clip_"))


def _clamp(lib, a, min=None, max=None, form="method"):
    if form == "method":
        return a.clamp(**_kw(min=min, max=max))
    if form == "clip":
        return a.clip(min, max)
    return lib.clamp(a, min, max)


TABLE += [
    _op("clamp", _clamp, _clamp_sample, dtypes=NUMERIC, covers=("clamp", "clip")),
    _op("where", _where, where_sample, dtypes=ALL),
    _op("masked_fill", lambda lib, a, m, value: a.masked_fill(m, value), masked_fill_sample,
        dtypes=ALL),
    # reductions
    _op("sum", lambda lib, a, dim=None, keepdim=False: a.sum(dim, keepdim=keepdim),
        reduction(), dtypes=ALL, accum=True),
    _op("mean", lambda lib, a, dim=None, keepdim=False: lib.mean(a, dim, keepdim=keepdim),
        reduction(), dtypes=ALL, accum=True),
    _op("var", _var("var"), reduction(correction=lambda g: g.pick(1, 0, 2, 3)), dtypes=NUMERIC,
        accum=True),
    _op("std", _var("std"), reduction(correction=lambda g: g.pick(1, 0, 2, 3)), dtypes=NUMERIC,
        accum=True),
    _op("amax", _amax("amax"), reduction(none=True), dtypes=ALL),
    _op("amin", _amax("amin"), reduction(none=True), dtypes=ALL),
    _op("max", _max_min("max"), max_min_sample, dtypes=ALL),
    _op("min", _max_min("min"), max_min_sample, dtypes=ALL),
    _op("argmax", _arg("argmax"), reduction(tuples=False), dtypes=NUMERIC, grad=False),
    _op("argmin", _arg("argmin"), reduction(tuples=False), dtypes=NUMERIC, grad=False),
    _op("all", lambda lib, a, dim=None, keepdim=False: a.all(**_kw(dim=dim), keepdim=keepdim),
        reduction(), dtypes=ALL, grad=False),
    _op("any", lambda lib, a, dim=None, keepdim=False: lib.any(a, **_kw(dim=dim),
                                                               keepdim=keepdim),
        reduction(), dtypes=ALL, grad=False),
    _op("logsumexp", lambda lib, a, dim, keepdim=False: a.logsumexp(dim, keepdim=keepdim),
        reduction(none=False), dtypes=FLOAT, activation=True),
    _op("softmax", _softmax("softmax"), softmax_sample, dtypes=FLOAT, activation=True),
    _op("log_softmax", _softmax("log_softmax"), softmax_sample, dtypes=FLOAT, activation=True),
    # shape ops
    _op("reshape", lambda lib, a, shape: a.reshape(shape), reshape_sample, dtypes=ALL),
    _op("view", lambda lib, a, shape, varargs: a.view(*shape) if varargs else a.view(shape),
        _with_varargs(reshape_sample), dtypes=ALL),
    _op("view_as", lambda lib, a, b: a.view_as(b) * 2, reshape_as_sample),
    _op("reshape_as", lambda lib, a, b: a.reshape_as(b) + b, reshape_as_sample),
    _op("flatten", lambda lib, a, start_dim, end_dim: a.flatten(start_dim, end_dim),
        flatten_sample, dtypes=ALL),
    _op("squeeze", lambda lib, a, dim=None: a.squeeze(**_kw(dim=dim)), squeeze_sample, dtypes=ALL),
    _op("unsqueeze", lambda lib, a, dim: a.unsqueeze(dim),
        lambda g: ((lambda s: ([g.tensor(s)], {"dim": g.dim(len(s), extra=1)}))(g.shape())),
        dtypes=ALL),
    _op("permute", lambda lib, a, dims, varargs: a.permute(*dims) if varargs else a.permute(dims),
        _with_varargs(permute_sample), dtypes=ALL),
    _op("transpose", lambda lib, a, d0, d1: lib.transpose(a, d0, d1),
        lambda g: ((lambda s: ([g.tensor(s)], {"d0": g.dim(len(s)), "d1": g.dim(len(s))}))(
            g.shape())), dtypes=ALL),
    _op("t", lambda lib, a: a.t(), unary(), dtypes=ALL),
    _op("T", lambda lib, a: a.T, lambda g: ([g.tensor(g.shape(max_dims=2))], {}), covers=()),
    _op("mT", lambda lib, a: a.mT, lambda g: ([g.tensor(g.shape(min_dims=2))], {}), covers=()),
    _op("expand", lambda lib, a, sizes, varargs: a.expand(*sizes) if varargs else a.expand(sizes),
        _with_varargs(expand_sample), dtypes=ALL),
    _op("expand_as", lambda lib, a, b: a.expand_as(b) * b, expand_as_sample),
    _op("repeat", lambda lib, a, sizes, varargs: a.repeat(*sizes) if varargs else a.repeat(sizes),
        _with_varargs(repeat_sample), dtypes=ALL),
    _op("cat", lambda lib, *ts, dim: lib.cat(list(ts), dim=dim), cat_sample, dtypes=ALL),
    _op("stack", lambda lib, *ts, dim: lib.stack(list(ts), dim), stack_sample, dtypes=ALL),
    _op("split", lambda lib, a, sections, dim: a.split(sections, dim), split_sample, dtypes=ALL),
    _op("chunk", lambda lib, a, chunks, dim: a.chunk(chunks, dim), chunk_sample, dtypes=ALL),
    # indexing
    _op("getitem", lambda lib, a, *ts, index: a[_resolve(index, ts)], getitem_sample,
        dtypes=ALL),
    _op("setitem", _setitem, setitem_sample, dtypes=ALL),
    _op("gather", lambda lib, a, i, dim: a.gather(dim, i), gather_sample, dtypes=ALL),
    _op("nonzero", lambda lib, a: a.nonzero(), unary(), dtypes=ALL, grad=False),
    # matmul
    _op("matmul", lambda lib, a, b: a @ b, matmul_sample, dtypes=NUMERIC, accum=True),
    _op("matmul_fn", lambda lib, a, b: lib.matmul(a, b), matmul_sample, accum=True,
        covers=("matmul",)),
    _op("mm", lambda lib, a, b: a.mm(b), lambda g: matmul_sample(g, "mm"), dtypes=NUMERIC,
        accum=True),
    _op("dot", lambda lib, a, b: a.dot(b), lambda g: matmul_sample(g, "vec_vec"),
        dtypes=NUMERIC, accum=True),
    # in-place ops (differentiable through a clone) and the error on a leaf that requires grad
    _op("inplace_unary", _inplace_unary, inplace_unary_sample, dtypes=ALL,
        covers=tuple(n + "_" for n in INPLACE_UNARY)),
    _op("inplace_binary", _inplace_binary, inplace_binary_sample, dtypes=ALL,
        covers=tuple(n + "_" for n in INPLACE_BINARY)),
    _op("clamp_", _clamp_, _clamp_inplace_sample, dtypes=NUMERIC, covers=("clamp_", "clip_")),
    _op("masked_fill_", _masked_fill_, masked_fill_sample, dtypes=ALL),
    _op("fill_", lambda lib, a, value: _updated(lib, a, "fill_", value),
        lambda g: ([g.tensor(g.shape())], {"value": g.number()}), dtypes=ALL),
    _op("zero_", lambda lib, a: _updated(lib, a, "zero_"), unary(), dtypes=ALL),
    _op("copy_", _copy_, copy_sample, dtypes=ALL),
    _op("inplace_on_leaf", _leaf_inplace, unary(), covers=()),
    # nn.functional activations
    _op("gelu", _gelu, unary(approximate=lambda g: g.pick("none", "tanh")), activation=True),
    _op("leaky_relu", _leaky_relu, unary(negative_slope=lambda g: g.pick(0.01, 0.2, -0.5, 1.5)),
        activation=True),
    # thresholds that beta * x never equals exactly: at beta * x == threshold torch's first
    # derivative is the smooth one but its second derivative is the linear one's (0)
    _op("softplus", _softplus, unary(beta=lambda g: g.pick(1.0, 2.0, 0.5),
                                     threshold=lambda g: g.pick(20.0, 1.5, 0.3)),
        activation=True),
    _op("F.relu", lambda lib, a: _f(lib).relu(a), unary(), dtypes=ALL, covers=("relu",)),
    _op("F.sigmoid_tanh", lambda lib, a: _f(lib).sigmoid(a) * _f(lib).tanh(a), unary(),
        covers=("sigmoid", "tanh")),
    # nn.functional layers and losses
    _op("linear", lambda lib, *a: _f(lib).linear(*a), linear_sample, accum=True),
    _op("conv2d", _conv2d, conv2d_sample, accum=True),
    _op("max_pool2d", _pool("max_pool2d"), max_pool2d_sample),
    _op("avg_pool2d", _pool("avg_pool2d"), avg_pool2d_sample, accum=True),
    _op("pad", _pad, pad_sample, dtypes=ALL),
    _op("layer_norm", _layer_norm, layer_norm_sample, accum=True),
    _op("batch_norm", _batch_norm, batch_norm_sample, accum=True),
    _op("dropout", _dropout, unary(p=lambda g: g.pick(0.0, 1.0), training=lambda g: g.flag())),
    _op("embedding", _embedding, embedding_sample),
    _op("one_hot", _one_hot, one_hot_sample, grad=False),
    _op("cross_entropy", _loss("cross_entropy"), lambda g: class_loss_sample(g, "cross_entropy"),
        accum=True),
    _op("nll_loss", _loss("nll_loss"), lambda g: class_loss_sample(g, "nll_loss"), accum=True),
    _op("mse_loss", _loss("mse_loss"), lambda g: pointwise_loss_sample(g, "mse_loss"),
        accum=True),
    _op("l1_loss", _loss("l1_loss"), lambda g: pointwise_loss_sample(g, "l1_loss"), accum=True),
    _op("smooth_l1_loss", _loss("smooth_l1_loss"),
        lambda g: pointwise_loss_sample(g, "smooth_l1_loss"), accum=True),
    _op("binary_cross_entropy", _loss("binary_cross_entropy"),
        lambda g: pointwise_loss_sample(g, "binary_cross_entropy"), accum=True),
    _op("binary_cross_entropy_with_logits", _bce_logits, bce_logits_sample, accum=True),
]

# Public tensorlite ops that no entry fuzzes, each with the reason.
EXCLUDED = {
    "to_device": "a move between devices: each backend here has one device (the CuPy "
                 "transfers are tested in test_cupy_backend.py)",
}

# Families of ops keep their entries in files of their own, tests/opinfo_<family>.py, each
# with a TABLE (built with the helpers above: ``from opinfo import ...``) and optionally an
# EXCLUDED dict; they are merged here.
for _path in sorted(pathlib.Path(__file__).parent.glob("opinfo_*.py")):
    _family = importlib.import_module(_path.stem)
    TABLE += _family.TABLE
    EXCLUDED.update(getattr(_family, "EXCLUDED", {}))

BY_NAME = {op.name: op for op in TABLE}
assert len(BY_NAME) == len(TABLE), "op names in TABLE must be unique"
