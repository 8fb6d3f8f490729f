"""What every op needs: its backend, coerced operands, and the adjoint of broadcasting."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Union, overload

from .. import _capture_hooks, dtypes
from ..autograd.grad_mode import state
from ..autograd.graph import record
from ..backends import active, for_device
from ..tensor import Tensor, describe, wrap

if TYPE_CHECKING:
    from ..autograd.graph import Context
    from ..dtypes import DTypeLike

# A Python number operand of an op (bool, int or float).
Number = Union[bool, int, float]


def backend_of(t: Tensor, op: str) -> Any:
    """The backend that runs ``op`` on tensor ``t`` (a TypeError names the op if ``t`` is no tensor)."""
    try:
        return active[t.device]
    except AttributeError:
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}") from None
    except KeyError:
        return for_device(t.device)


def host_check(B: Any, flags: Any) -> tuple[bool, ...]:
    """The bools of the device array ``flags``, read on the host for a check that raises when
    one is set.  Under tensorlite.compile the read is recorded as a check: a replay reads the
    flags again and stops if they differ from the captured ones."""
    if _capture_hooks.active:
        return _capture_hooks.active[-1].checked_read(B, flags)
    return tuple(bool(f) for f in B.to_host(flags))


def number(op: str, value: object) -> Number:
    """A Python number operand (NumPy scalars become Python numbers); anything else is an error."""
    if isinstance(value, (int, float, bool, complex)):
        return value  # type: ignore[return-value]  # (complex: a complex dtype's scalar)
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():  # numpy scalar / 0-d array
        return value.item()  # type: ignore[attr-defined]
    raise TypeError(f"{op}: unsupported operand type {type(value).__name__}; expected a Tensor "
                    "or a Python number")


def binary(op: str, a: Tensor | Number, b: Tensor | Number) -> tuple[Any, Any, Any]:
    """Coerce the operands of a binary op: tensors on one device with one dtype (PyTorch's
    promotion), Python numbers kept as numbers.  Returns ``(a, b, backend)`` (typed Any: which
    operand is a tensor is known to the caller, not to mypy)."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a.device != b.device:
                raise RuntimeError(f"{op}: expected all tensors on the same device, got "
                                   f"{describe(a)} and {describe(b)}; move one with .to()")
            da, db = a._data.dtype, b._data.dtype
            if da is not db and da != db:  # (builtin dtypes are singletons: `is` decides fast)
                dt = dtypes.promote(da, a.ndim, db, b.ndim)
                a, b = (a if da == dt else cast(a, dt)), (b if db == dt else cast(b, dt))
        elif type(b) is not float or a._data.dtype.kind != "f":  # fast path: float and number
            b = number(op, b)
            dt = dtypes.promote_scalar(a._data.dtype, b)
            if dt != a._data.dtype:
                a = cast(a, dt)
            elif type(b) is int and not 0 <= b <= 127:  # as PyTorch: wrapped into the dtype
                b = dtypes.wrap_int(b, dt)
        try:
            return a, b, active[a.device]
        except KeyError:
            return a, b, for_device(a.device)
    a = number(op, a)
    if not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected a Tensor operand, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    dt = dtypes.promote_scalar(b._data.dtype, a)
    if dt != b._data.dtype:
        b = cast(b, dt)
    elif type(a) is int and not 0 <= a <= 127:  # as PyTorch: wrapped into the dtype
        a = dtypes.wrap_int(a, dt)
    return a, b, backend_of(b, op)


def raw(x: Tensor | Number) -> Any:
    """The backend array of a tensor; a number stays a number."""
    return x._data if isinstance(x, Tensor) else x


def broadcasting(op: str, fn: Callable[[Any, Any], Any], a: Tensor | Number,
                 b: Tensor | Number) -> Any:
    """``fn(a, b)`` on the raw operands, with a broadcasting failure reported in our words."""
    try:
        return fn(a._data if isinstance(a, Tensor) else a, b._data if isinstance(b, Tensor) else b)
    except ValueError:
        raise broadcast_error(op, a, b) from None


def broadcast_error(op: str, a: Tensor | Number, b: Tensor | Number) -> ValueError:
    """The error of operands that do not broadcast together."""
    return ValueError(f"{op}: shapes {_shape_str(a)} and {_shape_str(b)} cannot be broadcast "
                      "together; each dimension must match or be 1 (reshape or unsqueeze an "
                      "operand)")


def _shape_str(x: Tensor | Number) -> list[int] | str:
    return list(x.shape) if isinstance(x, Tensor) else "(scalar)"


def shape_of(x: Tensor | Number) -> tuple[int, ...] | None:
    """The shape of an operand (a number has none: it takes no gradient)."""
    return x._data.shape if isinstance(x, Tensor) else None


def unbroadcast(ctx: Context, *grads: tuple[Tensor | Callable[[], Tensor], tuple[int, ...] | None]
                ) -> list[Tensor | None]:
    """Per input, ``(gradient, shape)``: the gradient summed down to the input's shape, or None
    where the engine wants none (``ctx.needs_input_grad``).  A gradient may be given as a
    function that computes it, so an unwanted one costs nothing."""
    # (runs for every binary op of a backward: kept lean)
    out: list[Tensor | None] = []
    for need, (g, shape) in zip(ctx.needs_input_grad, grads):
        if not need:
            out.append(None)
            continue
        if not isinstance(g, Tensor):  # a function that computes it
            g = g()
        out.append(g if g._data.shape == shape else sum_to(g, shape))
    return out


@overload
def sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor: ...
@overload
def sum_to(g: Tensor, shape: None) -> None: ...


def sum_to(g: Tensor, shape: tuple[int, ...] | None) -> Tensor | None:
    """The adjoint of broadcasting: sum ``g`` down to ``shape`` (None: no gradient wanted)."""
    if shape is None or g._data.shape == shape:
        return g if shape is not None else None
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axes, keepdim=True).reshape(shape) if axes else g.reshape(shape)


def dims(op: str, dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Normalize ``dim`` (None, an int or a sequence, negative allowed) to a tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    items = (dim,) if isinstance(dim, int) else tuple(dim)
    if not items and ndim:  # PyTorch's dim=() / [] means every dimension
        return tuple(range(ndim))
    out = []
    for d in items:
        lo, hi = -max(ndim, 1), max(ndim, 1) - 1
        if not lo <= d <= hi:
            raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                             f"[{lo}, {hi}], but got {d})")
        if ndim:  # a 0-d tensor accepts dim 0 / -1 and has no axis to reduce
            out.append(d % ndim)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {dim} appears more than once")
    return tuple(out)


def floating(x: Tensor, op: str) -> Tensor:
    """``x`` as a floating point tensor: ops like exp give float32 for integer input, as PyTorch."""
    backend_of(x, op)
    return x if dtypes.kind(x.dtype) >= 2 else cast(x, dtypes.float32)  # (complex stays)


def refuse_complex_grad(name: str, *inputs: Any) -> None:
    """Refuse to build a complex result from inputs that require grad: tensorlite has no
    complex autograd, and a gradient would be silently wrong."""
    if state.grad_enabled and any(isinstance(t, Tensor) and t.requires_grad for t in inputs):
        raise NotImplementedError(
            f"{name}: gradients through complex dtypes are not implemented in tensorlite "
            f"({', '.join(describe(t) for t in inputs if isinstance(t, Tensor))} require grad); "
            "detach() the inputs, or keep the computation in real dtypes")


def cast(input: Tensor, dtype: DTypeLike) -> Tensor:
    """``input`` as ``dtype``; the gradient is cast back to the input's dtype."""
    dtype = dtypes.as_dtype(dtype)
    if dtype == input.dtype:
        return input
    data = backend_of(input, "to").astype(input._data, dtype)
    if dtypes.kind(dtype) < 2:  # an integer or bool result carries no gradient
        return wrap(data, input.device)
    if dtype.kind == "c":
        refuse_complex_grad(f"to {dtype}", input)
    src = input.dtype
    return record("to", data, (input,), lambda ctx, g: (cast(g, src),))
