"""In-place ops: ``t.add_(x)``, ``t += x``, ``t.exp_()``, ... write their result into ``t``'s storage.

Each is its out-of-place op plus one rule, as in PyTorch:
- when no gradient flows (grad mode off, or neither ``t`` nor an operand requires grad), the
  result goes straight into the storage (the optimizers' and initializers' path);
- when one flows, the out-of-place op is recorded on a copy of ``t``'s old values (its backward
  may need them) and ``t`` takes the op's place on the tape; a leaf that requires grad may
  change only under ``no_grad``;
- a view ``t`` of a base ``b`` (``buf[0][1] = v``, ``row = buf[0]; row.add_(w)``) changes ``b``
  too, so ``b`` takes a place on the tape as well, as PyTorch's CopySlices: its new value is its
  old value with the view's elements replaced by the op's result, so the overwritten elements
  get no gradient and the op's operands get the gradient of the elements they wrote.  A view
  of a leaf that requires grad is refused, as the leaf itself; so is, for now, a view of a
  tensor computed by other ops than writes (see ``_apply_to_view``).
Every change bumps the tensor's version, so a backward that saved the old values fails instead
of lying.  The result keeps ``t``'s shape and dtype: a result that would broadcast ``t`` to a
larger shape, or need a cast from floating point to integer (or to bool), is refused.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import dtypes
from ..autograd.grad_mode import no_grad, state
from ..autograd.graph import record
from ..tensor import Tensor, describe, wrap
from .common import backend_of, cast, number

if TYPE_CHECKING:
    from ..autograd.graph import Context


def check_inplace(op: str, t: Tensor) -> Any:
    """The backend of ``t``, once ``t`` may be changed in place with no gradient flowing."""
    if state.grad_enabled and t.requires_grad:
        _refuse(op, t)
    return _storage(op, t)


def _refuse(op: str, t: Tensor) -> None:
    if t.grad_fn is None:
        raise RuntimeError(f"{op}: a leaf tensor that requires grad ({describe(t)}) is being "
                           "used in an in-place operation; do it inside "
                           "`with tensorlite.no_grad():`")
    if t._base is not None:
        raise RuntimeError(f"{op}: in-place change of a view ({describe(t)}) that requires grad "
                           "outside the tape (the gradient of the tensor it views would miss "
                           "it); use the in-place op itself, or the out-of-place op")


def _storage(op: str, t: Tensor) -> Any:
    B = backend_of(t, op)
    t._data = B.ensure_array(t._data)  # a NumPy scalar from a 0-d op gets storage
    return B


def _grad_flows(t: Tensor, args: Sequence[Any], kwargs: dict[str, Any] | None = None) -> bool:
    return state.grad_enabled and (t.requires_grad or any(
        isinstance(a, Tensor) and a.requires_grad for a in args) or (kwargs is not None and any(
            isinstance(a, Tensor) and a.requires_grad for a in kwargs.values())))


def _store(op: str, t: Tensor, y: Tensor, B: Any) -> None:
    """Write ``y``'s values into ``t``'s storage, refusing a change of shape or kind."""
    if y.shape != t.shape:
        raise RuntimeError(f"{op}: the result has shape {list(y.shape)}, but an in-place op must "
                           f"keep the shape of {describe(t)}; use the out-of-place op")
    if dtypes.kind(y.dtype) > dtypes.kind(t.dtype):
        raise RuntimeError(f"{op}: result type {y.dtype} can't be cast to the tensor's dtype "
                           f"({describe(t)}); use the out-of-place op or convert the tensor first")
    if y.device != t.device:
        raise RuntimeError(f"{op}: expected all tensors on the same device, got {describe(t)} "
                           f"and {describe(y)}")
    B.copyto(t._data, y._data)
    t._version[0] += 1


def _call(op: str, fn: Callable[..., Tensor], t: Tensor, args: Sequence[Any],
          kwargs: dict[str, Any]) -> Tensor:
    """``fn(t, *args, **kwargs)``; an error it raises in its own name is raised in ``op``'s."""
    try:
        return fn(t, *args, **kwargs)
    except (RuntimeError, TypeError, ValueError, NotImplementedError) as e:
        prefix = f"{fn.__name__}: "
        if str(e).startswith(prefix) and not str(e).startswith(op):
            raise type(e)(f"{op}: {str(e)[len(prefix):]}") from None
        raise


def apply_(op: str, t: Tensor, fn: Callable[..., Tensor], *args: Any, **kwargs: Any) -> Tensor:
    """``t`` <- ``fn(t, *args, **kwargs)`` in place (see the module docstring); returns ``t``."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    if not _grad_flows(t, args, kwargs):
        B = _storage(op, t)
        with no_grad():
            y = _call(op, fn, t, args, kwargs)
        _store(op, t, y, B)
        return t
    base = t._base
    if base is not None:
        pos = _positions(op, t, base)
        if pos is not None:
            return _apply_to_view(op, t, base, pos, fn, args, kwargs)
    if t.requires_grad and t.grad_fn is None:
        _refuse(op, t)
    B = _storage(op, t)
    old = wrap(B.copy(t._data), t.device, t.requires_grad)
    old.grad_fn = t.grad_fn
    y = _result(op, fn, old, args, kwargs, t)
    _store(op, t, y, B)
    t.grad_fn, t.requires_grad = y.grad_fn, y.requires_grad
    return t


def _result(op: str, fn: Callable[..., Tensor], old: Tensor, args: Sequence[Any],
            kwargs: dict[str, Any], t: Tensor) -> Tensor:
    y = _call(op, fn, old, args, kwargs)
    if y.dtype != t.dtype and dtypes.kind(y.dtype) <= dtypes.kind(t.dtype):
        y = cast(y, t.dtype)  # e.g. float32 += float64: the gradient is cast back
    return y


def _apply_to_view(op: str, t: Tensor, base: Tensor, pos: Tensor, fn: Callable[..., Tensor],
                   args: Sequence[Any], kwargs: dict[str, Any]) -> Tensor:
    """``t`` <- ``fn(t, ...)`` for a view ``t`` of ``base`` whose elements are at the flat
    positions ``pos`` of ``base``: the op is recorded on the view's old values, taken from a copy
    of the base's old values, and the base takes the place of "its old values with ``pos``
    replaced by the result" on the tape (PyTorch's CopySlices); the view, whose values are the
    result, takes the op's place.  Other views of the base, taken before, catch up when next
    used (``rebase``).  A view of a leaf that requires grad is refused, as in PyTorch."""
    from .indexing import getitem, put
    if base.requires_grad:
        if base.grad_fn is None:
            raise RuntimeError(f"{op}: a view of a leaf tensor that requires grad "
                               f"({describe(base)}) is being used in an in-place operation; do it "
                               "inside `with tensorlite.no_grad():`")
    B = _storage(op, base)
    old = wrap(B.copy(base._data), base.device, base.requires_grad)
    old.grad_fn = base.grad_fn
    y = _result(op, fn, getitem(old.reshape(-1), pos), args, kwargs, t)
    _store(op, t, y, B)  # writes into the base's storage too
    shape, idx = base.shape, (pos._data,)

    def copy_slices(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        flat = g.reshape(-1)
        need_old, need_y = ctx.needs_input_grad
        return (put(flat, idx, 0).reshape(shape) if need_old else None,
                getitem(flat, idx) if need_y else None)
    new = record("copy_slices", base._data, (old, y), copy_slices)
    base.grad_fn, base.requires_grad = new.grad_fn, new.requires_grad
    t.grad_fn, t.requires_grad, t._seen = y.grad_fn, y.requires_grad, base.grad_fn
    return t


def rebase(view: Tensor) -> None:
    """Give ``view`` a history read from its base's current one: its base was changed in place
    while a gradient flowed after the view's own history was made, so the view's values (which
    share the base's storage) come from that change, and so must its gradient (PyTorch
    regenerates such a view's grad_fn the same way).  ``record`` calls this for such a view."""
    from .indexing import index_put
    base: Tensor = view._base  # type: ignore[assignment]  # (a view's base is set)
    view._seen = base.grad_fn
    pos = _positions("view", view, base)
    if pos is None:  # it no longer shares the base's storage
        return
    if not base.requires_grad:
        view.grad_fn, view.requires_grad = None, False
        return
    B, shape, n = backend_of(base, "view"), base.shape, base.numel()
    flat = pos.reshape(-1)

    # the view's gradient, put back at its places in the base
    def as_strided(ctx: Context, g: Tensor) -> tuple[Tensor]:
        zeros = wrap(B.zeros((n,), dtype=g.dtype), g.device)
        return (index_put(zeros, (flat,), g.reshape(-1), accumulate=True).reshape(shape),)
    new = record("as_strided", view._data, (base,), as_strided)
    view.grad_fn, view.requires_grad = new.grad_fn, new.requires_grad


def _positions(op: str, t: Tensor, base: Tensor) -> Tensor | None:
    """The flat (C order) positions in ``base`` of the elements of its view ``t``, as an int64
    tensor of ``t``'s shape; None when ``t`` does not share ``base``'s storage (a reshape that
    had to copy: then ``t`` changes alone)."""
    B = backend_of(base, op)
    try:
        pos = B.view_positions(t._data, base._data)
    except ValueError:
        raise RuntimeError(f"{op}: in-place change of a view ({describe(t)}) of a tensor that is "
                           f"not contiguous ({describe(base)}) while a gradient flows is not "
                           "supported; make that tensor contiguous (.contiguous()) before taking "
                           "the view, or use the out-of-place op") from None
    return None if pos is None else wrap(pos, t.device)


def inplace(op: str, fn: Callable[..., Tensor], fast: str | None = None) -> Callable[..., Tensor]:
    """The in-place method ``op`` of out-of-place ``fn``; ``fast`` names a backend primitive
    that updates the storage directly when no gradient flows (no temporary).  A bool operand
    takes the op itself, so the op's own dtype rules (PyTorch refuses bool subtraction) hold."""
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if fast is not None and not kwargs and not _grad_flows(self, args) \
                and not _any_bool(self, args):
            return _update(op, fast, self, *args)
        return apply_(op, self, fn, *args, **kwargs)
    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"In-place {fn.__name__}: the result is written into this tensor."
    return method


def _any_bool(t: Tensor, args: Sequence[Any]) -> bool:
    return t.dtype == dtypes.bool_ or any(
        isinstance(a, bool) or (isinstance(a, Tensor) and a.dtype == dtypes.bool_) for a in args)


def _fits(op: str, value: int, dtype: Any) -> None:
    """PyTorch's check of a value written into an integer tensor (an unsigned one takes
    -max..max, a negative value wrapping)."""
    info = dtypes.iinfo(dtype)
    if not (-info.max if info.min == 0 else info.min) <= value <= info.max:
        raise RuntimeError(f"{op}: value cannot be converted to type {dtype} without overflow "
                           f"({value} is outside {info.min}..{info.max})")


def _update(op: str, prim: str, t: Tensor, *args: Any) -> Tensor:
    B = _storage(op, t)
    values: list[Any] = []
    for other in args:
        if isinstance(other, Tensor):
            if other.device != t.device:
                raise RuntimeError(f"{op}: expected both tensors on the same device, got "
                                   f"{describe(t)} and {describe(other)}")
            same_kind_ints = other.dtype != t.dtype and dtypes.kind(other.dtype) == 1 == \
                dtypes.kind(t.dtype)  # (uint8 += int8: PyTorch's int16 result, cast back)
            values.append(B.astype(other._data, t.dtype) if same_kind_ints else other._data)
        else:
            value = number(op, other)
            if type(value) is int and not 0 <= value <= 127 and dtypes.kind(t.dtype) == 1:
                if prim == "fill":  # as PyTorch: a fill value must fit (-1 into uint8: 255)
                    _fits(op, value, t.dtype)
                value = dtypes.wrap_int(value, t.dtype)  # an operand wraps, as PyTorch's
            values.append(value)
    try:
        getattr(B, prim)(t._data, *values)
    except (TypeError, ValueError) as e:  # NumPy's casting and broadcasting errors
        others = ", ".join(describe(o) if isinstance(o, Tensor) else repr(o) for o in args)
        raise RuntimeError(f"{op}: cannot update {describe(t)} in place with {others}: the "
                           f"result must keep the tensor's shape and dtype ({e})") from None
    t._version[0] += 1
    return t
