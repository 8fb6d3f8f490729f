"""Module hooks, as torch.nn.Module's: forward pre-hooks, forward hooks and full backward
(pre-)hooks, per module (``Module.register_*_hook``) or for every module (the global
``register_module_*_hook`` here), and ``call``, the slow path of ``Module.__call__`` that runs
them in PyTorch's order:

    global then module forward pre-hooks   hook(module, args) -> None | new args (a non-tuple
                                           is wrapped); with_kwargs: hook(module, args, kwargs)
                                           -> None | (new args, new kwargs)
    forward
    global then module forward hooks       hook(module, args, output) -> None | new output;
                                           with_kwargs: hook(module, args, kwargs, output)
    on an exception, the always_call forward hooks not yet run, then the exception

Full backward hooks see a module call's gradients as tuples, one entry per positional
argument (grad_input) or per output (grad_output), as torch: None where there is no tensor
and where an output got no gradient, zeros for a tensor input that got none.  The pre-hooks
run when every gradient of the outputs is known: ``hook(module, grad_output) -> None | new
grad_output``; the hooks run when every gradient of the inputs is known: ``hook(module,
grad_input, grad_output) -> None | new grad_input``.  To gather them, the tensors going in and
coming out of the call pass through identity nodes that meet in one node on each side
(``_gather``); nothing of this exists while no backward hook is registered.
"""
from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..autograd.grad_mode import state
from ..autograd.graph import record
from ..tensor import Tensor, wrap

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..autograd.graph import Context
    from .module import Module

__all__ = ["RemovableHandle", "register_module_forward_pre_hook", "register_module_forward_hook",
           "register_module_full_backward_pre_hook", "register_module_full_backward_hook"]

_global_forward_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
_global_forward_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
_global_forward_hooks_with_kwargs: OrderedDict[int, bool] = OrderedDict()
_global_forward_hooks_always_called: OrderedDict[int, bool] = OrderedDict()
_global_backward_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
_global_backward_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()

# Whether a hook was ever registered, on any module or globally: until then Module.__call__
# reads only this flag (the tables of every module are checked once it is set).
registered = [False]


class RemovableHandle:
    """What registering a hook returns: ``remove()`` unregisters it (also on leaving a ``with``
    block).  Holds its tables weakly, so it keeps no module alive."""

    next_id = 0

    def __init__(self, hooks_dict: dict[int, Any], *,
                 extra_dict: dict[int, Any] | Iterable[dict[int, Any]] | None = None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        extra = [] if extra_dict is None else \
            [extra_dict] if isinstance(extra_dict, dict) else extra_dict
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            table = ref()
            if table is not None and self.id in table:
                del table[self.id]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def add(hooks: OrderedDict[int, Any], hook: Callable[..., Any], prepend: bool = False,
        flags: Iterable[tuple[dict[int, bool], bool]] = ()) -> RemovableHandle:
    """Put ``hook`` into the table ``hooks`` (first if ``prepend``), its id into each flag table
    whose condition holds (``flags``: (table, condition) pairs); the handle removes it from all."""
    handle = RemovableHandle(hooks, extra_dict=[table for table, _ in flags])
    registered[0] = True
    hooks[handle.id] = hook
    for table, condition in flags:
        if condition:
            table[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_module_forward_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A forward pre-hook of every module, run before the modules' own."""
    return add(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook: Callable[..., Any], *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """A forward hook of every module, run before the modules' own."""
    return add(_global_forward_hooks, hook,
               flags=((_global_forward_hooks_with_kwargs, with_kwargs),
                      (_global_forward_hooks_always_called, always_call)))


def register_module_full_backward_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A full backward pre-hook of every module, run before the modules' own."""
    return add(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A full backward hook of every module, run before the modules' own."""
    return add(_global_backward_hooks, hook)


def any_global() -> bool:
    return bool(_global_forward_pre_hooks or _global_forward_hooks or _global_backward_pre_hooks
                or _global_backward_hooks)


# -- the call -------------------------------------------------------------------------------------
def call(module: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``module.forward(*args, **kwargs)`` with every hook that applies, as torch's
    ``Module._call_impl``."""
    result = None
    called: set[int] = set()  # the always_call hooks that ran
    try:
        backward_hooks = [*_global_backward_hooks.values(), *module._backward_hooks.values()]
        backward_pre_hooks = [*_global_backward_pre_hooks.values(),
                              *module._backward_pre_hooks.values()]
        for hook_id, hook in (*_global_forward_pre_hooks.items(),
                              *module._forward_pre_hooks.items()):
            if hook_id in module._forward_pre_hooks_with_kwargs:
                out = hook(module, args, kwargs)
                if out is not None:
                    if not (isinstance(out, tuple) and len(out) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {out}.")
                    args, kwargs = out
            else:
                out = hook(module, args)
                if out is not None:
                    args = out if isinstance(out, tuple) else (out,)
        gather = None
        if backward_hooks or backward_pre_hooks:
            gather = _BackwardHook(module, backward_hooks, backward_pre_hooks)
            args = gather.setup_input_hook(args)
        result = module.forward(*args, **kwargs)
        for hook_id, hook in (*_global_forward_hooks.items(), *module._forward_hooks.items()):
            if (hook_id in module._forward_hooks_always_called
                    or hook_id in _global_forward_hooks_always_called):
                called.add(hook_id)
            if (hook_id in module._forward_hooks_with_kwargs
                    or hook_id in _global_forward_hooks_with_kwargs):
                out = hook(module, args, kwargs, result)
            else:
                out = hook(module, args, result)
            if out is not None:
                result = out
        if gather is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn("For backward hooks to be called, module output should be a "
                              f"Tensor or a tuple of Tensors but received {type(result)}",
                              stacklevel=3)
            result = gather.setup_output_hook(result)
        return result
    except Exception:
        for hook_id, hook in _global_forward_hooks.items():
            if hook_id in _global_forward_hooks_always_called and hook_id not in called:
                try:
                    out = hook(module, args, result)
                    result = result if out is None else out
                except Exception as e:
                    warnings.warn("global module forward hook with ``always_call=True`` raised "
                                  "an exception that was silenced as another error was raised "
                                  f"in forward: {e}", stacklevel=3)
        for hook_id, hook in module._forward_hooks.items():
            if hook_id in module._forward_hooks_always_called and hook_id not in called:
                try:
                    if hook_id in module._forward_hooks_with_kwargs:
                        out = hook(module, args, kwargs, result)
                    else:
                        out = hook(module, args, result)
                    result = result if out is None else out
                except Exception as e:
                    warnings.warn("module forward hook with ``always_call=True`` raised an "
                                  "exception that was silenced as another error was raised in "
                                  f"forward: {e}", stacklevel=3)
        raise


# -- full backward hooks --------------------------------------------------------------------
class _BackwardHook:
    """The full backward (pre-)hooks of one module call (torch.utils.hooks.BackwardHook)."""

    def __init__(self, module: Module, hooks: list[Callable[..., Any]],
                 pre_hooks: list[Callable[..., Any]]) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs: tuple[Any, ...] | None = None
        self.n_inputs = self.n_outputs = -1
        self.input_index: list[int] | None
        self.output_index: list[int] | None
        self.input_index = self.output_index = None  # positions of the tensors, or None

    def setup_input_hook(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        out, self.input_index = _gather(args, self._on_grad_inputs, zeros_for_none=True)
        self.n_inputs = len(args)
        return out

    def setup_output_hook(self, result: Any) -> Any:
        single = not isinstance(result, tuple)
        items = (result,) if single else result
        out, self.output_index = _gather(items, self._on_grad_outputs)
        self.n_outputs = len(items)
        return out[0] if single else out

    def _on_grad_outputs(self, grads: Sequence[Any]) -> tuple[Any, ...]:
        """The outputs' gradients (per tensor output): the pre-hooks may replace them."""
        self.grad_outputs = _pack(self.output_index, grads, self.n_outputs)
        for hook in self.pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is None:
                continue
            if len(new) != len(self.grad_outputs):
                raise RuntimeError("Backward pre hook returned an invalid number of grad_output, "
                                   f"got {len(new)}, but expected {len(self.grad_outputs)}")
            self.grad_outputs = new
        grad_outputs = self.grad_outputs
        if self.input_index is None:  # no input requires grad: the hooks run now
            warnings.warn("Full backward hook is firing when gradients are computed with "
                          "respect to module outputs since no inputs require gradients.",
                          stacklevel=2)
            none = (None,) * self.n_inputs
            for hook in self.hooks:
                new = hook(self.module, none, grad_outputs)
                if new is not None and not (isinstance(new, tuple)
                                            and all(g is None for g in new)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return tuple(grad_outputs[i] for i in self.output_index)  # type: ignore[union-attr]

    def _on_grad_inputs(self, grads: Sequence[Any]) -> tuple[Any, ...]:
        """The inputs' gradients (per tensor input): the hooks may replace them."""
        if self.grad_outputs is None:  # reached without passing the outputs (double backward)
            return tuple(grads)
        grad_inputs = _pack(self.input_index, grads, self.n_inputs)
        for hook in self.hooks:
            new = hook(self.module, grad_inputs, self.grad_outputs)
            if new is None:
                continue
            if len(new) != len(grad_inputs):
                raise RuntimeError("Backward hook returned an invalid number of grad_input, got "
                                   f"{len(new)}, but expected {len(grad_inputs)}")
            grad_inputs = new
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.input_index)  # type: ignore[union-attr]


def _pack(index: Any, values: Iterable[Any], size: int) -> tuple[Any, ...]:
    """``values`` at positions ``index`` of a ``size``-tuple of Nones."""
    out: list[Any] = [None] * size
    for i, v in zip(index, values):
        out[i] = v
    return tuple(out)


def _gather(items: Sequence[Any], on_grads: Callable[[list[Any]], Any],
            zeros_for_none: bool = False) -> tuple[Any, list[int] | None]:
    """``items`` with each tensor passed through an identity node, and the tensors' positions;
    ``items`` unchanged and None when grad mode is off or no tensor requires grad.

    The identity nodes all feed one node (``joint``); the engine runs it once every gradient
    that reaches them has arrived, and ``on_grads(gradients)`` (one per tensor, None where none
    came, or zeros if ``zeros_for_none``: torch's grad_input) returns the gradients it sends on
    to the tensors."""
    index = [i for i, t in enumerate(items) if isinstance(t, Tensor)]
    tensors = [items[i] for i in index]
    if not (state.grad_enabled and any(t.requires_grad for t in tensors)):
        return items, None
    arrived: list[Any] = [None] * len(tensors)
    first = tensors[0]
    token = wrap(first.backend.zeros((1,), dtype=first.dtype), first.device)

    def joint_backward(ctx: Context, _: Any) -> Any:
        grads = list(arrived)
        arrived[:] = [None] * len(arrived)
        if zeros_for_none:
            grads = [wrap(t.backend.zeros_like(t._data), t.device) if g is None else g
                     for g, t in zip(grads, tensors)]
        return on_grads(grads)
    joint = record("BackwardHookFunction", token._data, tuple(tensors), joint_backward)

    def identity(i: int, t: Tensor) -> Tensor:
        def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:
            arrived[i] = g
            return (token,)
        out = record("BackwardHookFunction", t._data, (joint,), backward, view_of=t)
        out.device = t.device
        return out
    out = list(items)
    for k, (i, t) in enumerate(zip(index, tensors)):
        if t.requires_grad:
            out[i] = identity(k, t)
    return tuple(out), index
