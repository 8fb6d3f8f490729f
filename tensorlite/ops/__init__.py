"""Every differentiable op, and the table that installs them as Tensor methods and operators."""
from ..tensor import Tensor
from .indexing import gather, getitem, masked_fill, nonzero, setitem
from .inplace import add_, copy_, fill_, mul_, sub_, zero_
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
add_ copy_ fill_ mul_ sub_ zero_ dot mm
""".split()
for _name in _METHODS:
    setattr(Tensor, _name, globals()[_name])

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
