"""Every differentiable op.  Each op registers itself where it is defined (``@op``, see
registry.py: its function, Tensor method and in-place method); this package exports every
registered op as a function (``tensorlite.exp``, ...) and installs the operators and PyTorch's
other names for Tensor methods, below."""
from typing import TYPE_CHECKING, Any

from ..tensor import Tensor, wrap
from . import indexing, linalg, movement, pointwise, random, reduce, scan, sorting  # noqa: F401  (they register their ops)
from . import dtype_ops  # noqa: F401,E402  (floor_divide, shifts, complex ops)
from .. import dtypes
from ..autograd.graph import record
from .common import backend_of, cast, number, sum_to
from .common import dims as dims_
from .inplace import inplace
from . import registry
from .registry import REGISTRY
# (the ops that operators and other names below stand for)
from .indexing import getitem, setitem
from .linalg import matmul
from .pointwise import (abs, add, div, eq, ge, gt, le, logical_and, logical_not, lt, mul, ne, neg,
                        pow, sub)

globals().update((name, entry.fn) for name, entry in REGISTRY.items())
if TYPE_CHECKING:  # every registered op is an attribute, installed by the line above
    def __getattr__(name: str) -> Any: ...
# The out-of-place ops that are Tensor methods, by name (tests/test_fuzz.py reads it; REGISTRY
# has every op).
_METHODS = [name for name, entry in REGISTRY.items() if entry.method and not name.endswith("_")]


# In-place methods with no out-of-place op of their own.
def _copy_of(self, src):
    """``src`` as ``self``'s device, dtype and shape: copy_'s out-of-place form."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_: src must be a Tensor, got {type(src).__name__}")
    y = cast(src.to(self.device), self.dtype).expand(self.shape)
    if dtypes.kind(self.dtype) < 2:  # an integer or bool tensor carries no gradient
        return y
    # recorded on both: the old values get a zero gradient (as PyTorch, an edge to them), src
    # the gradient summed to its shape, in its dtype, on its device
    sshape, sdtype, sdevice = src.shape, src.dtype, src.device

    def backward(ctx, g):
        need_old, need_src = ctx.needs_input_grad
        zero = wrap(backend_of(g, "copy_").zeros_like(g._data), g.device) if need_old else None
        gs = cast(sum_to(g, sshape), sdtype).to(sdevice) if need_src else None
        return zero, gs
    return record("copy_", y._data, (self, src), backward)


def _filled(self, value):
    return wrap(backend_of(self, "fill_").full(self.shape, number("fill_", value), dtype=self.dtype),
                self.device)


_copy = inplace("copy_", _copy_of, "copyto")


@registry.op()
def copy_(self, src):
    return _copy(self, src.to(self.device) if isinstance(src, Tensor) else src)


fill_ = registry.op()(inplace("fill_", _filled, "fill"))


@registry.op()
def zero_(self):
    return fill_(self, 0)

# Operators, and PyTorch's other names for Tensor methods (Tensor methods only).
add_, sub_, mul_, div_ = Tensor.add_, Tensor.sub_, Tensor.mul_, Tensor.div_
Tensor.multiply_, Tensor.subtract_, Tensor.divide_, Tensor.true_divide_ = mul_, sub_, div_, div_
Tensor.clamp_min_ = lambda self, min: Tensor.clamp_(self, min=min)
Tensor.clamp_max_ = lambda self, max: Tensor.clamp_(self, max=max)
# Python's augmented assignments are these in-place ops, as in PyTorch (`p -= lr * p.grad`
# changes p); without them Python would rebind the name to a new tensor.
Tensor.__iadd__, Tensor.__isub__, Tensor.__imul__ = add_, sub_, mul_
Tensor.__itruediv__ = Tensor.__idiv__ = div_
Tensor.__ipow__ = Tensor.pow_

Tensor.multiply, Tensor.subtract, Tensor.divide, Tensor.true_divide = mul, sub, div, div
Tensor.negative = neg
Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem
Tensor.__neg__ = neg
Tensor.__abs__ = abs
Tensor.__add__ = Tensor.__radd__ = add
Tensor.__mul__ = Tensor.__rmul__ = mul
Tensor.__sub__ = sub
Tensor.__rsub__ = lambda self, other: sub(other, self)
Tensor.__truediv__ = div
Tensor.__rtruediv__ = lambda self, other: div(other, self)
Tensor.__pow__ = pow
Tensor.__rpow__ = lambda self, other: pow(other, self)
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)
Tensor.__eq__, Tensor.__ne__ = eq, ne
Tensor.__lt__, Tensor.__le__, Tensor.__gt__, Tensor.__ge__ = lt, le, gt, ge
Tensor.__and__ = Tensor.__rand__ = REGISTRY["bitwise_and"].fn  # (on bools: logical, as torch)
Tensor.__invert__ = REGISTRY["bitwise_not"].fn
Tensor.T = property(lambda self: self.permute(tuple(range(self.ndim))[::-1]))
Tensor.mT = property(lambda self: self.transpose(-2, -1))

# PyTorch's in-place functions of its namespace (``torch.exp_(x)``: ``x.exp_()``), the names
# it has (torch 2.x's ``torch.<name>_``); each is exported where Tensor has that in-place method.
_TORCH_INPLACE_FUNCTIONS = """abs_ acos_ acosh_ addmv_ alpha_dropout_ arccos_ arccosh_ arcsin_
    arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_ ceil_ celu_ clamp_ clamp_max_
    clamp_min_ clip_ cos_ cosh_ deg2rad_ detach_ dropout_ erf_ erfc_ exp2_ exp_ expm1_
    feature_alpha_dropout_ feature_dropout_ fill_ fix_ floor_ frac_ index_put_ log10_ log1p_
    log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ relu_ round_ rrelu_ rsqrt_
    selu_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ threshold_ trunc_ xlogy_
    zero_""".split()
for _name in _TORCH_INPLACE_FUNCTIONS:
    if _name not in globals() and callable(getattr(Tensor, _name, None)):
        globals()[_name] = getattr(Tensor, _name)


def _mT(self):
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got "
                           f"{self.ndim}-D tensor.")
    return self.transpose(-2, -1)


Tensor.mT = property(_mT)


def _stride(self, dim=None):
    """The step between elements of each dim, in elements (PyTorch's stride())."""
    data = self._data
    size = data.itemsize
    steps = tuple(s // size for s in getattr(data, "strides", ()))
    if dim is None:
        return steps
    (axis,) = dims_("stride", dim, self.ndim) or (None,)
    if axis is None:
        raise IndexError("stride: dimension specified as 0 but tensor has no dimensions")
    return steps[axis]


def _is_contiguous(self, memory_format=None):
    """Whether the elements lie in C order without gaps (dims of size 1 ignored, as PyTorch)."""
    expected = 1
    if 0 in self.shape:
        return True
    for n, s in reversed(list(zip(self.shape, _stride(self)))):
        if n != 1:
            if s != expected:
                return False
            expected *= n
    return True


Tensor.stride = _stride
Tensor.is_contiguous = _is_contiguous
Tensor.element_size = lambda self: self._data.itemsize
Tensor.type_as = lambda self, other: self.to(device=other.device, dtype=other.dtype)
