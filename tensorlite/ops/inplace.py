"""In-place updates for optimizers and initializers.  They are not recorded on the tape; each
bumps the tensor's version so a backward that saved the old values fails instead of lying."""
from ..autograd.grad_mode import state
from ..tensor import Tensor, describe
from .common import backend_of, number


def check_inplace(op, t):
    if state.grad_enabled and t.requires_grad:
        if t.grad_fn is None:
            raise RuntimeError(f"{op}: a leaf tensor that requires grad ({describe(t)}) is being "
                               "used in an in-place operation; do it inside "
                               "`with tensorlite.no_grad():`")
        raise RuntimeError(f"{op}: in-place ops on a tensor recorded on the tape ({describe(t)}) "
                           "are not supported; use the out-of-place op instead")
    B = backend_of(t, op)
    if not isinstance(t._data, B.xp.ndarray):  # a NumPy scalar from a 0-d op: give it storage
        t._data = B.xp.array(t._data)
    return B


def _operand(op, t, other):
    if isinstance(other, Tensor):
        if other.device != t.device:
            raise RuntimeError(f"{op}: expected both tensors on the same device, got "
                               f"{describe(t)} and {describe(other)}")
        return other._data
    return number(op, other)


def _update(op, prim, t, other):
    B = check_inplace(op, t)
    value = _operand(op, t, other)
    try:
        getattr(B, prim)(t._data, value)
    except (TypeError, ValueError) as e:  # NumPy's casting and broadcasting errors
        raise RuntimeError(f"{op}: cannot update {describe(t)} in place with "
                           f"{describe(other) if isinstance(other, Tensor) else repr(other)}: "
                           f"the result must keep the tensor's shape and dtype ({e})") from None
    t._version[0] += 1
    return t


def add_(self, other, *, alpha=1):
    return _update("add_", "iadd", self, other if alpha == 1 else other * alpha)


def sub_(self, other, *, alpha=1):
    return _update("sub_", "isub", self, other if alpha == 1 else other * alpha)


def mul_(self, other):
    return _update("mul_", "imul", self, other)


def copy_(self, src):
    if isinstance(src, Tensor) and src.device != self.device:
        src = src.to(self.device)
    return _update("copy_", "copyto", self, src)


def fill_(self, value):
    return _update("fill_", "fill", self, value)


def zero_(self):
    return fill_(self, 0)
