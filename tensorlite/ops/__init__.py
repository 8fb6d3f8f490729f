"""Every differentiable op, and the table that installs them as Tensor methods and operators."""
from ..tensor import Tensor, wrap
from .common import backend_of, cast, number
from .indexing import gather, getitem, masked_fill, nonzero, setitem
from .inplace import inplace
from .linalg import dot, matmul, mm
from .movement import (cat, chunk, contiguous, expand, expand_as, flatten, permute, repeat,
                       reshape, reshape_as, split, squeeze, stack, t, transpose, unsqueeze, view,
                       view_as)
from .pointwise import (abs, add, cast, clamp, clip, clone, cos, div, eq, exp, ge, gt,
                        isfinite, isnan, le, log, logical_and, logical_not, lt, maximum, minimum,
                        mul, ne, neg, pow, reciprocal, relu, rsqrt, sigmoid, sign, sin, sqrt,
                        square, sub, tanh, to_device, where)
from .reduce import (all, amax, amin, any, argmax, argmin, log_softmax, logsumexp, max, mean,
                     min, softmax, std, sum, var)

# Tensor methods, installed by name (aliases such as view = reshape keep their own name).
_METHODS = """
abs add all amax amin any argmax argmin chunk clamp clip clone contiguous cos div eq exp expand
expand_as flatten gather ge gt isfinite isnan le log log_softmax logical_and logical_not
logsumexp lt masked_fill matmul max maximum mean min minimum mul ne neg nonzero permute pow
reciprocal relu repeat reshape reshape_as rsqrt sigmoid sign sin softmax split sqrt square
squeeze std sub sum t tanh transpose unsqueeze var view view_as
dot mm
""".split()
for _name in _METHODS:
    setattr(Tensor, _name, globals()[_name])


# In-place variants, each its out-of-place op written into the tensor (see inplace.py); the
# value is the backend primitive that does it with no temporary when no gradient flows.
_INPLACE = dict.fromkeys("""
div pow clamp clip neg exp log sqrt rsqrt abs sin cos tanh sigmoid relu reciprocal square sign
masked_fill""".split())
_INPLACE.update(add="iadd", sub="isub", mul="imul")
for _name, _fast in _INPLACE.items():
    setattr(Tensor, _name + "_", inplace(_name + "_", globals()[_name], _fast))


def _copy_of(self, src):
    """``src`` as ``self``'s device, dtype and shape: copy_'s out-of-place form."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_: src must be a Tensor, got {type(src).__name__}")
    return cast(src.to(self.device), self.dtype).expand(self.shape)


def _filled(self, value):
    return wrap(backend_of(self, "fill_").full(self.shape, number("fill_", value), dtype=self.dtype),
                self.device)


_copy = inplace("copy_", _copy_of, "copyto")


def copy_(self, src):
    return _copy(self, src.to(self.device) if isinstance(src, Tensor) else src)


fill_ = inplace("fill_", _filled, "fill")


def zero_(self):
    return fill_(self, 0)


Tensor.copy_, Tensor.fill_, Tensor.zero_ = copy_, fill_, zero_
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
Tensor.__and__ = Tensor.__rand__ = logical_and
Tensor.__invert__ = logical_not
Tensor.T = property(lambda self: self.permute(tuple(range(self.ndim))[::-1]))
Tensor.mT = property(lambda self: self.transpose(-2, -1))
