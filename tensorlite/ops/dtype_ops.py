"""Ops that the small integer and the complex dtypes bring (issue 12): floor division and bit
shifts (with the ``//``, ``<<`` and ``>>`` operators), and the complex numbers' own ops:
``real imag angle conj conj_physical resolve_conj resolve_neg is_complex is_conj complex polar
view_as_real view_as_complex``, and ``tensorlite.linalg.eig`` / ``eigvals``.

Complex tensors are forward only: a complex tensor never requires grad here (a complex leaf is
refused by ``requires_grad_``, a float tensor that requires grad turned complex raises
NotImplementedError naming the op), so no gradient is ever silently wrong.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

from .. import dtypes
from ..tensor import Tensor, describe, wrap
from .common import backend_of, binary, raw, refuse_complex_grad, shape_of
from .pointwise import _broadcast_size
from .registry import op


def _operands(a: Any, b: Any) -> str:
    return ", ".join(describe(x) if isinstance(x, Tensor) else repr(x) for x in (a, b))


# -- floor division and shifts ------------------------------------------------------------------
@op(inplace=True)
def floor_divide(input: Tensor | float, other: Tensor | float) -> Tensor:
    """``input // other``: the quotient rounded down (Python's ``//``), as PyTorch's
    floor_divide; integer division by zero raises; no derivative (as PyTorch)."""
    from ..autograd.graph import record
    a, b, B = binary("floor_divide", input, other)
    t = a if isinstance(a, Tensor) else b
    if t.dtype == dtypes.bool_:
        raise NotImplementedError(f"floor_divide: not implemented for bool ({_operands(a, b)}); "
                                  "convert the operands with .long() first")
    if dtypes.is_complex(t.dtype):
        raise RuntimeError(f"floor_divide: not implemented for complex ({_operands(a, b)})")
    if dtypes.kind(t.dtype) == 1 and _broadcast_size(shape_of(a), shape_of(b)) and (
            bool(B.any(B.eq(b._data, 0))) if isinstance(b, Tensor) else b == 0):
        raise RuntimeError(f"floor_divide: ZeroDivisionError: integer division by zero "
                           f"({_operands(a, b)}); use float tensors for inf results")
    out = B.floor_divide(raw(a), raw(b))

    def backward(ctx: Any, g: Tensor) -> Any:
        raise RuntimeError("derivative for floor_divide is not implemented (as in PyTorch): "
                           "its result is piecewise constant; detach() it or use div")
    return record("floor_divide", out, (a, b), backward)


def _shift(name: str, prim: str, input: Any, other: Any) -> Tensor:
    a, b, B = binary(name, input, other)
    t = a if isinstance(a, Tensor) else b
    if dtypes.kind(t.dtype) != 1:
        raise NotImplementedError(f"{name}: not implemented for {t.dtype} ({_operands(a, b)}); "
                                  "shifts take integer tensors")
    return wrap(getattr(B, prim)(raw(a), raw(b)), t.device)


@op(inplace=True)
def bitwise_left_shift(input: Tensor | int, other: Tensor | int) -> Tensor:
    """``input << other`` for integer tensors (0 where the count is negative or too large)."""
    return _shift("bitwise_left_shift", "left_shift", input, other)


@op(inplace=True)
def bitwise_right_shift(input: Tensor | int, other: Tensor | int) -> Tensor:
    """``input >> other`` for integer tensors, arithmetic for signed ones."""
    return _shift("bitwise_right_shift", "right_shift", input, other)


# the operators: //, <<, >> (and reflected, and in-place)
for _name, _fn in (("floordiv", floor_divide), ("lshift", bitwise_left_shift),
                   ("rshift", bitwise_right_shift)):
    setattr(Tensor, f"__{_name}__", _fn)
    setattr(Tensor, f"__r{_name}__", lambda self, other, fn=_fn: fn(other, self))
    setattr(Tensor, f"__i{_name}__", getattr(Tensor, _fn.__name__ + "_"))


# -- complex numbers ------------------------------------------------------------------------------
def _tensor(name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    return x


@op(method=False)
def real(input: Tensor) -> Tensor:
    """The real parts of a complex tensor (sharing its memory); a real tensor itself."""
    x = _tensor("real", input)
    if not dtypes.is_complex(x.dtype):
        return x
    return wrap(backend_of(x, "real").real(x._data), x.device)


@op(method=False)
def imag(input: Tensor) -> Tensor:
    """The imaginary parts of a complex tensor (sharing its memory)."""
    x = _tensor("imag", input)
    if not dtypes.is_complex(x.dtype):
        raise RuntimeError(f"imag is not implemented for tensors with non-complex dtypes "
                           f"({describe(x)}); it has no imaginary part")
    return wrap(backend_of(x, "imag").imag(x._data), x.device)


Tensor.real = property(real)  # type: ignore[attr-defined]
Tensor.imag = property(imag)  # type: ignore[attr-defined]


@op()
def angle(input: Tensor) -> Tensor:
    """The argument of each element: atan2(imag, real); 0 or pi for real numbers (an integer
    tensor gives float32), in the real dtype."""
    x = _tensor("angle", input)
    if dtypes.kind(x.dtype) < 2:
        x = x.float()
    out = backend_of(x, "angle").angle(x._data)
    if dtypes.is_complex(x.dtype):
        return wrap(out, x.device)
    from ..autograd.graph import record
    from ..creation import zeros_like
    return record("angle", out, (x,), lambda ctx, g: (zeros_like(g),))  # (piecewise constant)


@op()
def conj_physical(input: Tensor) -> Tensor:
    """The complex conjugate, computed (a real tensor: itself)."""
    x = _tensor("conj_physical", input)
    if not dtypes.is_complex(x.dtype):
        return x
    return wrap(backend_of(x, "conj").conj(x._data), x.device)


@op()
def conj(input: Tensor) -> Tensor:
    """The complex conjugate (PyTorch's is a lazy view; here a computed tensor, so is_conj()
    is False and resolve_conj() returns it); a real tensor itself."""
    return conj_physical(_tensor("conj", input))


@op()
def resolve_conj(input: Tensor) -> Tensor:
    """``input`` (tensorlite's conjugates are never lazy)."""
    return _tensor("resolve_conj", input)


@op()
def resolve_neg(input: Tensor) -> Tensor:
    """``input`` (tensorlite has no lazy negation)."""
    return _tensor("resolve_neg", input)


@op()
def is_complex(input: Tensor) -> bool:
    """Whether ``input``'s dtype is complex64 or complex128."""
    return dtypes.is_complex(_tensor("is_complex", input).dtype)


@op()
def is_conj(input: Tensor) -> bool:
    """False: tensorlite never keeps a conjugate lazily."""
    _tensor("is_conj", input)
    return False


@op(method=False)
def complex(real: Tensor, imag: Tensor) -> Tensor:
    """``real + 1j * imag`` from two float tensors of one dtype (float32 -> complex64,
    float64 -> complex128), broadcast."""
    for n, t in (("real", real), ("imag", imag)):
        if not isinstance(t, Tensor):
            raise TypeError(f"complex(): argument '{n}' must be Tensor, not {type(t).__name__}")
    if real.dtype != imag.dtype or real.dtype not in (dtypes.float32, dtypes.float64):
        raise RuntimeError(f"complex: expected both inputs to be float or double tensors of "
                           f"one dtype, got {describe(real)} and {describe(imag)}")
    refuse_complex_grad("complex", real, imag)
    B = backend_of(real, "complex")
    out = B.add(real._data, B.mul(imag._data, 1j))
    return wrap(B.astype(out, dtypes.complex_of(real.dtype)), real.device)


@op(method=False)
def polar(abs: Tensor, angle: Tensor) -> Tensor:
    """``abs * (cos(angle) + 1j * sin(angle))`` from two float tensors of one dtype."""
    for n, t in (("abs", abs), ("angle", angle)):
        if not isinstance(t, Tensor):
            raise TypeError(f"polar(): argument '{n}' must be Tensor, not {type(t).__name__}")
    refuse_complex_grad("polar", abs, angle)
    return complex(abs.detach() * angle.detach().cos(), abs.detach() * angle.detach().sin())


@op()
def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor's numbers as real pairs, a last dim of 2 (real, imag): PyTorch's is a
    view of the same memory, this is a copy."""
    x = _tensor("view_as_real", input)
    if not dtypes.is_complex(x.dtype):
        raise RuntimeError(f"view_as_real is only supported for complex tensors, got "
                           f"{describe(x)}")
    B = backend_of(x, "view_as_real")
    return wrap(B.stack([B.real(x._data), B.imag(x._data)], axis=-1), x.device)


@op(method=False)
def view_as_complex(input: Tensor) -> Tensor:
    """A float tensor whose last dim is 2 (real, imag) as a complex tensor (a copy; PyTorch's
    is a view)."""
    x = _tensor("view_as_complex", input)
    if x.dtype not in (dtypes.float32, dtypes.float64) or not x.ndim or x.shape[-1] != 2:
        raise RuntimeError(f"view_as_complex: expected a float or double tensor whose last "
                           f"dimension is of size 2, got {describe(x)}")
    refuse_complex_grad("view_as_complex", x)
    return complex(x.detach()[..., 0], x.detach()[..., 1])


# -- linalg.eig / eigvals -------------------------------------------------------------------------
linalg_eig = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])


def _square(name: str, A: Any) -> Tensor:
    A = _tensor(name, A)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2:] if A.ndim >= 2 else tuple(A.shape)} matrices "
                           f"({describe(A)})")
    if dtypes.kind(A.dtype) < 2 or A.dtype in (dtypes.float16, dtypes.bfloat16):
        raise RuntimeError(f"linalg.{name}: expected a float, double, cfloat or cdouble tensor, "
                           f"got {describe(A)}")
    refuse_complex_grad(f"linalg.{name}", A)
    return A


def eig(A: Tensor, *, out: Any = None) -> Any:
    """(eigenvalues, eigenvectors) of general square matrices, complex (complex64 for float32
    and complex64 input, complex128 otherwise); eigenvectors are unit columns. Forward only."""
    A = _square("eig", A)
    w, v = backend_of(A, "linalg.eig").eig(A._data)
    return linalg_eig(wrap(w, A.device), wrap(v, A.device))


def eigvals(A: Tensor, *, out: Any = None) -> Tensor:
    """The eigenvalues of general square matrices (complex, as ``eig``'s). Forward only."""
    A = _square("eigvals", A)
    w, _ = backend_of(A, "linalg.eigvals").eig(A._data)
    return wrap(w, A.device)
