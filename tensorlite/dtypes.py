"""dtypes are NumPy dtype objects (CuPy uses the same), with PyTorch's names and promotion rules."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    from typing_extensions import Self

# What a dtype argument accepts: a dtype, a NumPy scalar type or a name ("float32").
DTypeLike = Union[np.dtype, type, str]

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")
# PyTorch's other names (exported as tensorlite.float, tensorlite.long, ...).
ALIASES = {"half": float16, "float": float32, "double": float64, "int": int32, "long": int64,
           "bool": bool_}

ALL = (float16, float32, float64, int32, int64, bool_)
_KIND = {bool_: 0, int32: 1, int64: 1, float16: 2, float32: 2, float64: 2}
_DEFAULT_OF_KIND = [bool_, int64, float32]  # the float entry is set_default_dtype's


def get_default_dtype() -> np.dtype:
    """The dtype of Python floats and of floating-point factories given no dtype (float32 unless
    ``set_default_dtype`` changed it)."""
    return _DEFAULT_OF_KIND[2]


def set_default_dtype(d: DTypeLike) -> None:
    """Make ``d`` (float16, float32 or float64) the default floating-point dtype, process-wide as
    in PyTorch: of ``tensor([1.5])``, ``zeros(3)``, ``arange(0.5, 2)``, layers' parameters, ..."""
    try:
        dtype = None if d is None else as_dtype(d)  # np.dtype(None) would be float64
    except TypeError:
        dtype = None
    if dtype is None or _KIND[dtype] != 2:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type (float16, float32, float64), got {d!r}")
    _DEFAULT_OF_KIND[2] = dtype


def as_dtype(dtype: DTypeLike) -> np.dtype:
    """A supported dtype from a dtype, a NumPy type or a name; anything else is an error."""
    d = np.dtype(dtype)
    if d not in _KIND:
        raise TypeError(f"unsupported dtype {dtype!r}; tensorlite supports "
                        + ", ".join(map(str, ALL)))
    return d


def kind(dtype: np.dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating point."""
    return _KIND[dtype]


def is_floating_point(dtype: np.dtype) -> bool:
    return _KIND[dtype] == 2


def promote(a_dtype: np.dtype, a_ndim: int, b_dtype: np.dtype, b_ndim: int) -> np.dtype:
    """PyTorch's result dtype of two tensors: a dimensioned tensor outranks a 0-d one of the same
    kind; otherwise the higher kind wins, then the wider type within it."""
    if (a_ndim == 0) != (b_ndim == 0):
        (d, _), (z, _) = sorted(((a_dtype, a_ndim), (b_dtype, b_ndim)), key=lambda p: p[1] == 0)
        return z if _KIND[z] > _KIND[d] else d
    return max(a_dtype, b_dtype, key=lambda t: (_KIND[t], t.itemsize))


def scalar_kind(value: object) -> int:
    """The kind of a Python number (bool before int: bool is a subclass of int)."""
    return 0 if isinstance(value, (bool, np.bool_)) else 1 if isinstance(value, (int, np.integer)) else 2


def promote_scalar(dtype: np.dtype, value: object) -> np.dtype:
    """The dtype of ``tensor <op> python_number``: the tensor's, unless the number is of a higher kind."""
    k = scalar_kind(value)
    return dtype if k <= _KIND[dtype] else _DEFAULT_OF_KIND[k]


class FloatCasts:
    """``float()``, ``double()``, ``half()`` as ``self.to(dtype)``: shared by Tensor and
    nn.Module, whose ``to`` each know what to convert."""
    __slots__ = ()

    if TYPE_CHECKING:  # Tensor and Module each define their own
        def to(self, *args: Any, **kwargs: Any) -> Self: ...

    def float(self) -> Self:
        return self.to(float32)

    def double(self) -> Self:
        return self.to(float64)

    def half(self) -> Self:
        return self.to(float16)
