"""dtypes are NumPy dtype objects (CuPy uses the same), with PyTorch's names and promotion rules."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import ml_dtypes
import numpy as np

if TYPE_CHECKING:
    from typing_extensions import Self

# What a dtype argument accepts: a dtype, a NumPy scalar type or a name ("float32").
DTypeLike = Union[np.dtype, type, str]

float16 = np.dtype("float16")
bfloat16 = np.dtype(ml_dtypes.bfloat16)  # NumPy's through ml_dtypes (its dtype.kind is "V")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
uint8 = np.dtype("uint8")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")
complex64 = np.dtype("complex64")
complex128 = np.dtype("complex128")
# PyTorch's other names (exported as tensorlite.float, tensorlite.long, ...).
ALIASES: dict[str, np.dtype] = {
    "half": float16, "float": float32, "double": float64, "short": int16, "int": int32,
    "long": int64, "bool": bool_, "cfloat": complex64, "cdouble": complex128}

ALL = (float16, bfloat16, float32, float64, uint8, int8, int16, int32, int64, bool_, complex64,
       complex128)
# PyTorch's categories: 0 bool, 1 integers, 2 floating point, 3 complex.
_KIND = {bool_: 0, uint8: 1, int8: 1, int16: 1, int32: 1, int64: 1, float16: 2, bfloat16: 2,
         float32: 2, float64: 2, complex64: 3, complex128: 3}
_DEFAULT_OF_KIND = [bool_, int64, float32, complex64]  # float: set_default_dtype's; complex follows
_BY_NAME: dict[str, np.dtype | None] = {str(d): d for d in ALL}
_BY_NAME.update(ALIASES, complex32=None, chalf=None)


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
                        f"default type (float16, bfloat16, float32, float64), got {d!r}")
    _DEFAULT_OF_KIND[2] = dtype
    _DEFAULT_OF_KIND[3] = complex_of(dtype)


def as_dtype(dtype: DTypeLike) -> np.dtype:
    """A supported dtype from a dtype, a NumPy type or a name; anything else is an error."""
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in _BY_NAME:
        named = _BY_NAME[dtype.removeprefix("torch.")]
        if named is None:
            raise TypeError(f"unsupported dtype {dtype!r}: NumPy has no complex32; use complex64")
        return named
    try:
        d = np.dtype(dtype)
    except TypeError:
        d = np.dtype(object)  # (not a dtype: refused below)
    if d not in _KIND:
        raise TypeError(f"unsupported dtype {dtype!r}; tensorlite supports "
                        + ", ".join(map(str, ALL)))
    return d


def kind(dtype: np.dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating point, 3 for complex."""
    return _KIND[dtype]


def is_complex(dtype: np.dtype) -> bool:
    return _KIND[dtype] == 3


def complex_of(dtype: np.dtype) -> np.dtype:
    """The complex dtype whose parts are ``dtype`` (a float): complex128 for float64, complex64
    otherwise (PyTorch's complex32 for float16 has no NumPy dtype)."""
    return complex128 if dtype in (float64, complex128) else complex64


def real_of(dtype: np.dtype) -> np.dtype:
    """The dtype of a complex dtype's parts (float32 for complex64); other dtypes unchanged."""
    parts: dict[np.dtype, np.dtype] = {complex64: float32, complex128: float64}
    return parts.get(dtype, dtype)


def _promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's table (c10's promoteTypes) for two dtypes of the same standing."""
    if a == b:
        return a
    ka, kb = _KIND[a], _KIND[b]
    if ka != kb:
        (hi, khi), (lo, klo) = sorted(((a, ka), (b, kb)), key=lambda p: -p[1])
        if khi == 3 and klo == 2:  # complex with a float: parts wide enough for both
            return complex128 if float64 in (lo, real_of(hi)) else complex64
        return hi
    if ka == 1 and uint8 in (a, b):  # uint8 with a signed type: int16 holds both int8 and uint8
        other = b if a == uint8 else a
        return int16 if other == int8 else other
    if {a, b} == {float16, bfloat16}:
        return float32
    return max(a, b, key=lambda t: t.itemsize)


def is_floating_point(dtype: np.dtype) -> bool:
    return _KIND[dtype] == 2


def promote(a_dtype: np.dtype, a_ndim: int, b_dtype: np.dtype, b_ndim: int) -> np.dtype:
    """PyTorch's result dtype of two tensors: a dimensioned tensor outranks a 0-d one of the same
    kind (or lower); otherwise PyTorch's promotion table (``promote_types``)."""
    if a_dtype == b_dtype:
        return a_dtype
    if (a_ndim == 0) != (b_ndim == 0):
        (d, _), (z, _) = sorted(((a_dtype, a_ndim), (b_dtype, b_ndim)), key=lambda p: p[1] == 0)
        if _KIND[z] <= _KIND[d]:
            return d
        return complex_of(d) if _KIND[z] == 3 and _KIND[d] == 2 else z
    return _promote_types(a_dtype, b_dtype)


def scalar_kind(value: object) -> int:
    """The kind of a Python number (bool before int: bool is a subclass of int)."""
    return (0 if isinstance(value, (bool, np.bool_)) else 1 if isinstance(value, (int, np.integer))
            else 3 if isinstance(value, (complex, np.complexfloating)) else 2)


def wrap_int(value: int, dtype: np.dtype) -> Any:
    """A Python int operand of an op on an integer tensor of ``dtype``, wrapped into its range
    (two's complement, as PyTorch converts a scalar: ``uint8 + 300`` adds 44); other dtypes'
    operands unchanged."""
    if _KIND.get(dtype) != 1:
        return value
    bits = dtype.itemsize * 8
    low = 0 if dtype == uint8 else -(1 << (bits - 1))
    return (value - low) % (1 << bits) + low if not low <= value < low + (1 << bits) else value


def fit_int(op: str, value: Any, dtype: np.dtype) -> Any:
    """A Python int written into an integer tensor of ``dtype`` (a fill value), as PyTorch:
    it must lie in the dtype's range (for an unsigned one -max..max, a negative value wrapping:
    -1 into uint8 is 255), else RuntimeError; other values and dtypes unchanged."""
    if type(value) is not int or 0 <= value <= 127 or _KIND.get(dtype) != 1:
        return value
    info = np.iinfo(dtype)
    if not (-int(info.max) if info.min == 0 else int(info.min)) <= value <= int(info.max):
        raise RuntimeError(f"{op}: value cannot be converted to type {dtype} without overflow "
                           f"({value} is outside {info.min}..{info.max})")
    return wrap_int(value, dtype)


def promote_scalar(dtype: np.dtype, value: object) -> np.dtype:
    """The dtype of ``tensor <op> python_number``: the tensor's, unless the number is of a higher
    kind (a complex number with a float tensor: the complex dtype of its precision)."""
    k = scalar_kind(value)
    if k <= _KIND[dtype]:
        return dtype
    return complex_of(dtype) if k == 3 and _KIND[dtype] == 2 else _DEFAULT_OF_KIND[k]


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

    def bfloat16(self) -> Self:
        return self.to(bfloat16)


# -- PyTorch's dtype queries ----------------------------------------------------------------
class finfo:
    """The limits of a floating-point dtype, as ``torch.finfo`` (the default dtype when none)."""

    def __init__(self, type: DTypeLike | None = None) -> None:
        d = real_of(get_default_dtype() if type is None else as_dtype(type))
        if _KIND[d] != 2:
            raise TypeError(f"finfo: {d} is not a floating point dtype; use iinfo")
        info = ml_dtypes.finfo(d)
        self.bits, self.eps = info.bits, float(info.eps)
        self.resolution = 10.0 ** -info.precision  # (a power of ten, as torch reports it)
        self.max, self.min = float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.dtype = str(d)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """The limits of an integer dtype, as ``torch.iinfo``."""

    def __init__(self, type: DTypeLike) -> None:
        d = as_dtype(type)
        if _KIND[d] != 1:
            raise TypeError(f"iinfo: {d} is not an integer dtype; use finfo")
        info = np.iinfo(d)
        self.bits, self.max, self.min, self.dtype = info.bits, int(info.max), int(info.min), str(d)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def promote_types(type1: DTypeLike, type2: DTypeLike) -> np.dtype:
    """The dtype two tensors of these dtypes promote to (``torch.promote_types``)."""
    return promote(as_dtype(type1), 1, as_dtype(type2), 1)


def result_type(tensor1: Any, tensor2: Any) -> np.dtype:
    """The dtype of an arithmetic op on two tensors or numbers (``torch.result_type``)."""
    a, b = (getattr(x, "dtype", None) for x in (tensor1, tensor2))
    if a is not None and b is not None:
        return promote(a, tensor1.ndim, b, tensor2.ndim)
    if a is not None or b is not None:
        t, n = (tensor1, tensor2) if a is not None else (tensor2, tensor1)
        return promote_scalar(t.dtype, n)
    return _DEFAULT_OF_KIND[max(scalar_kind(tensor1), scalar_kind(tensor2))]


def can_cast(from_: DTypeLike, to: DTypeLike) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` into ``to`` in an op's result: never to a
    lower kind (complex to float, float to integer, number to bool)."""
    return _KIND[as_dtype(from_)] <= _KIND[as_dtype(to)]
