"""``tensorlite.compile(model)``: the module with its calls compiled (torch's OptimizedModule:
the original is ``_orig_mod``, and the state dict's keys carry that prefix, as torch's).

Without a gradient to compute (``no_grad``, or nothing requiring grad) a call is a compiled
function of its arguments.  With one, the capture runs the forward and then, in the same
capture, the backward for placeholder output gradients (``autograd.grad`` of every output that
requires grad with respect to the parameters and the input tensors that require grad).  The
trace splits there into two plans: the forward, which also returns the values the backward
reads, and the backward, of the output gradients and those values.  A replay runs the forward
plan and puts one tape node (an autograd.Function) on the outputs whose backward runs the
backward plan, so ``loss.backward()``, gradient accumulation, hooks on the loss and an
optimizer outside the compiled module all work as in eager.
"""
from __future__ import annotations

import warnings
from typing import Any

from .. import _capture_hooks, backends
from ..autograd.function import Function
from ..autograd.grad_mode import state as _grad_state
from ..nn.module import Module
from ..tensor import Tensor, wrap
from .capture import Capture, Read, Ref, Trace, Uncapturable, tree_map, user_stacklevel
from .plan import uses

_EAGER = "eager"


class OptimizedModule(Module):
    """``model`` whose calls go through compiled plans; everything else is the model's."""

    def __init__(self, model: Module, options: dict[str, Any]) -> None:
        super().__init__()
        self._orig_mod = model
        from . import CompiledFunction
        self.__dict__["_compiled"] = CompiledFunction(model.__call__, **options)
        self.__dict__["_options"] = options
        self.__dict__["_steps"] = {}  # signature -> [_Step or _EAGER]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        from . import _signature
        model = self._orig_mod
        if _capture_hooks.active:  # inside a compiled step's capture: recorded by it
            return model(*args, **kwargs)
        if not _grad_state.grad_enabled:
            return self._compiled(*args, **kwargs)
        tensors: list[Tensor] = []
        sig = _signature((args, kwargs), tensors)
        wrt = [p for p in model.parameters() if p.requires_grad] + \
            [t for t in tensors if t.requires_grad]
        if not wrt:
            return self._compiled(*args, **kwargs)
        key = (sig, _grad_state.inference, tuple(map(id, backends.active.values())),
               tuple(map(id, wrt)))
        entries = self._steps.setdefault(key, [])
        for step in entries:
            if step is _EAGER:
                return model(*args, **kwargs)
            if step.guard() and step.forward.precheck(tensors):
                return step(tensors, wrt)
        if len(entries) >= self._options.get("cache_size", 8):
            return model(*args, **kwargs)
        result, step = _capture(model, args, kwargs, tensors, wrt, self._options)
        entries.append(step if isinstance(step, _Step) else _EAGER)
        if not isinstance(step, _Step):
            warnings.warn(f"tensorlite.compile: cannot capture {type(model).__name__}'s forward "
                          f"and backward: {step}; calls with this signature run eagerly",
                          RuntimeWarning, stacklevel=user_stacklevel())
        return result

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._orig_mod, name)


def compile_module(model: Module, options: dict[str, Any]) -> OptimizedModule:
    return OptimizedModule(model, options)


def _flatten(obj: Any, out: list[Tensor]) -> Any:
    """``obj`` with each tensor replaced by its index in ``out`` (appended)."""
    def slot(o: Any) -> Any:
        if isinstance(o, Tensor):
            out.append(o)
            return _Slot(len(out) - 1)
        return o
    return tree_map(slot, obj)


def _unflatten(template: Any, tensors: list[Tensor]) -> Any:
    return tree_map(lambda o: tensors[o.k] if isinstance(o, _Slot) else o, template)


class _Slot:
    def __init__(self, k: int) -> None:
        self.k = k


def _capture(model: Module, args: tuple[Any, ...], kwargs: dict[str, Any],
             tensors: list[Tensor], wrt: list[Tensor], options: dict[str, Any]) -> Any:
    """(the eager result, a _Step or the reason there is none)."""
    from ..autograd.engine import grad
    capture = Capture([model, *args, *kwargs.values()], tensors)
    with capture:
        result = model(*args, **kwargs)
        outs: list[Tensor] = []
        template = _flatten(result, outs)
        diff = [k for k, t in enumerate(outs) if t.requires_grad]
        if capture.failure is not None:
            return result, capture.failure
        if not diff:
            return result, "no output requires grad"
        boundary = len(capture.trace.program)
        capture._paused += 1   # placeholders for the outputs' gradients: replay inputs
        seeds = [wrap(outs[k].backend.ones(tuple(outs[k].shape), dtype=outs[k]._data.dtype),
                      outs[k].device) for k in diff]
        capture._paused -= 1
        for k, s in enumerate(seeds):
            capture.slot(s._data, k)
        try:
            grads = grad([outs[k] for k in diff], wrt, grad_outputs=seeds, retain_graph=True,
                         allow_unused=True)
            out_refs = tuple(Ref(capture.ref(t._data)) for t in outs)
            grad_refs = tuple(None if g is None else Ref(capture.ref(g._data)) for g in grads)
        except Uncapturable as e:
            return result, str(e)
    if capture.failure is not None:
        return result, capture.failure
    return result, _Step(capture.trace, boundary, template, diff, out_refs, grad_refs,
                         len(seeds), options)


class _Step:
    """A compiled module call with its backward: two plans sharing the values between them."""

    def __init__(self, trace: Trace, boundary: int, template: Any, diff: list[int],
                 out_refs: tuple[Ref, ...], grad_refs: tuple[Ref | None, ...], n_seeds: int,
                 options: dict[str, Any]) -> None:
        from . import build
        program = trace.program
        early = {v for item in program[:boundary] for v in uses(item)}
        saved = sorted({v for item in program[boundary:] for v in uses(item)} & early)
        reads = []
        for j, v in enumerate(saved):
            read = Read("slot", n_seeds + j)
            read.vid = v  # type: ignore[attr-defined]
            reads.append(read)
        forward = Trace(program[:boundary], trace.values,
                        (out_refs, tuple(Ref(v) for v in saved)),
                        trace.entry_grads, trace.modules)
        backward = Trace(reads + program[boundary:], trace.values, grad_refs, [], [])
        self.forward, self.backward = build(forward, options), build(backward, options)
        self.guard = self.forward.guard  # type: ignore[attr-defined]
        self.template, self.diff, self.devices = template, diff, \
            [trace.values[r.vid].device for r in out_refs]
        step = self

        class Replay(Function):
            @staticmethod
            def forward(ctx: Any, tensors: list[Tensor], *wrt: Tensor) -> Any:
                outs, saved = step.forward(tensors)
                ctx.saved, ctx.devices = saved, [t.device for t in wrt]
                result = tuple(wrap(a, d) for a, d in zip(outs, step.devices))
                ctx.mark_non_differentiable(*(t for k, t in enumerate(result)
                                              if k not in step.diff))
                return result

            @staticmethod
            def backward(ctx: Any, *gs: Any) -> Any:
                arrays = [gs[k]._data for k in step.diff] + list(ctx.saved)
                grads = step.backward(arrays)
                return (None, *(None if g is None else wrap(g, d)
                                for g, d in zip(grads, ctx.devices)))
        self.Replay = Replay

    def __call__(self, tensors: list[Tensor], wrt: list[Tensor]) -> Any:
        return _unflatten(self.template, list(self.Replay.apply(tensors, *wrt)))
