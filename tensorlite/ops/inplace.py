"""In-place ops: ``t.add_(x)``, ``t += x``, ``t.exp_()``, ... write their result into ``t``'s storage.

Each is its out-of-place op plus one rule, as in PyTorch:
- when no gradient flows (grad mode off, or neither ``t`` nor an operand requires grad), the
  result goes straight into the storage (the optimizers' and initializers' path);
- when one flows, the out-of-place op is recorded on a copy of ``t``'s old values (its backward
  may need them) and ``t`` takes the op's place on the tape; a leaf that requires grad may
  change only under ``no_grad``, and a view (whose base's gradient would miss the change) not at
  all yet.
Every change bumps the tensor's version, so a backward that saved the old values fails instead
of lying.  The result keeps ``t``'s shape and dtype: a result that would broadcast ``t`` to a
larger shape, or need a cast from floating point to integer (or to bool), is refused.
"""
from .. import dtypes
from ..autograd.grad_mode import no_grad, state
from ..tensor import Tensor, describe, wrap
from .common import backend_of, cast, number


def check_inplace(op, t):
    """The backend of ``t``, once ``t`` may be changed in place with no gradient flowing."""
    if state.grad_enabled and t.requires_grad:
        _refuse(op, t)
    return _storage(op, t)


def _refuse(op, t):
    if t.grad_fn is None:
        raise RuntimeError(f"{op}: a leaf tensor that requires grad ({describe(t)}) is being "
                           "used in an in-place operation; do it inside "
                           "`with tensorlite.no_grad():`")
    if t._base is not None:
        raise RuntimeError(f"{op}: in-place change of a view ({describe(t)}) while a gradient "
                           "flows is not supported (the gradient of the tensor it views would "
                           "miss it); change the base tensor, or use the out-of-place op")


def _storage(op, t):
    B = backend_of(t, op)
    t._data = B.ensure_array(t._data)  # a NumPy scalar from a 0-d op gets storage
    return B


def _grad_flows(t, args):
    return state.grad_enabled and (t.requires_grad or any(
        isinstance(a, Tensor) and a.requires_grad for a in args))


def _store(op, t, y, B):
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


def _call(op, fn, t, args, kwargs):
    """``fn(t, *args, **kwargs)``; an error it raises in its own name is raised in ``op``'s."""
    try:
        return fn(t, *args, **kwargs)
    except (RuntimeError, TypeError, ValueError, NotImplementedError) as e:
        prefix = f"{fn.__name__}: "
        if str(e).startswith(prefix) and not str(e).startswith(op):
            raise type(e)(f"{op}: {str(e)[len(prefix):]}") from None
        raise


def apply_(op, t, fn, *args, **kwargs):
    """``t`` <- ``fn(t, *args, **kwargs)`` in place (see the module docstring); returns ``t``."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    if not _grad_flows(t, args):
        B = _storage(op, t)
        with no_grad():
            y = _call(op, fn, t, args, kwargs)
        _store(op, t, y, B)
        return t
    if t.requires_grad:
        _refuse(op, t)
    B = _storage(op, t)
    old = wrap(B.copy(t._data), t.device, t.requires_grad)
    old.grad_fn = t.grad_fn
    y = _call(op, fn, old, args, kwargs)
    if y.dtype != t.dtype and dtypes.kind(y.dtype) <= dtypes.kind(t.dtype):
        y = cast(y, t.dtype)  # e.g. float32 += float64: the gradient is cast back
    _store(op, t, y, B)
    t.grad_fn, t.requires_grad = y.grad_fn, y.requires_grad
    return t


def inplace(op, fn, fast=None):
    """The in-place method ``op`` of out-of-place ``fn``; ``fast`` names a backend primitive
    that updates the storage directly when no gradient flows (no temporary).  A bool operand
    takes the op itself, so the op's own dtype rules (PyTorch refuses bool subtraction) hold."""
    def method(self, *args, **kwargs):
        if fast is not None and not kwargs and not _grad_flows(self, args) \
                and not _any_bool(self, args):
            return _update(op, fast, self, *args)
        return apply_(op, self, fn, *args, **kwargs)
    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"In-place {fn.__name__}: the result is written into this tensor."
    return method


def _any_bool(t, args):
    return t.dtype == dtypes.bool_ or any(
        isinstance(a, bool) or (isinstance(a, Tensor) and a.dtype == dtypes.bool_) for a in args)


def _update(op, prim, t, *args):
    B = _storage(op, t)
    values = []
    for other in args:
        if isinstance(other, Tensor):
            if other.device != t.device:
                raise RuntimeError(f"{op}: expected both tensors on the same device, got "
                                   f"{describe(t)} and {describe(other)}")
            values.append(other._data)
        else:
            values.append(number(op, other))
    try:
        getattr(B, prim)(t._data, *values)
    except (TypeError, ValueError) as e:  # NumPy's casting and broadcasting errors
        others = ", ".join(describe(o) if isinstance(o, Tensor) else repr(o) for o in args)
        raise RuntimeError(f"{op}: cannot update {describe(t)} in place with {others}: the "
                           f"result must keep the tensor's shape and dtype ({e})") from None
    t._version[0] += 1
    return t
