"""``tensorlite.compile``: capture a function (a whole training step) once, replay it after.

The first call with a new signature runs the function eagerly under a capture (capture.py),
which writes down every backend primitive it calls; the trace becomes a plan (plan.py), which
is optimized (fuse.py: elementwise chains into generated kernels, buffers planned by liveness)
and replayed by later calls with the same signature without running the function's Python.

Signature: the structure of the arguments, each tensor's shape, dtype, device,
requires_grad and whether its ``.grad`` is None, which share an array, every other argument's
value, grad mode, the default dtype, the active backends.  A plan also checks, before it runs
(``guard``), the Python state it was captured under: the values the function reads from its
globals and closure, the reached modules' flags, parameters, buffers and hooks, each leaf's
``.grad`` being None or not (docs/architecture.md lists it all); and re-evaluates the checks
on values it can compute from the inputs (``precheck``: bounds, target counts).  Anything else
captures again, up to ``cache_size`` plans.  A call that cannot be captured (a value read on
the host) runs eagerly, with one warning naming the op and the line, and so does every later
call with that signature.
"""
from __future__ import annotations

import functools
import operator
import types
import warnings
from collections.abc import Callable
from typing import Any

from .. import _capture_hooks, backends, dtypes
from ..autograd.grad_mode import state as _grad_state
from ..tensor import Tensor
from .capture import Capture, Uncapturable, user_stacklevel
from .plan import Diverged, Plan

__all__ = ["compile", "CompiledFunction"]

_EAGER = "eager"  # a signature whose call could not be captured


class CompiledFunction:
    """``fn`` compiled (see the module docstring); calling it captures or replays.

    ``fusion``: merge chains of elementwise calls into generated kernels (backends that
    generate kernels: numba, cupy); ``memory``: give the plan's own intermediates buffers
    allocated once; ``cuda_graph``: on the cupy backend, replay as CUDA graphs between host
    calls.  Each can be switched off to compare (the results agree to float rounding)."""

    def __init__(self, fn: Callable[..., Any], *, fusion: bool = True, memory: bool = True,
                 cuda_graph: bool = True, cache_size: int = 8) -> None:
        self.fn = fn
        self.options = {"fusion": fusion, "memory": memory, "cuda_graph": cuda_graph}
        self.cache_size = cache_size
        self._plans: dict[Any, list[Any]] = {}  # signature -> its plans, the last served first
        self._made: list[Plan] = []  # every plan, in the order they were captured
        self._warned: set[str] = set()
        self.captures = 0  # how many times a call was captured (a test reads it)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<tensorlite.compile of {getattr(self.fn, '__qualname__', self.fn)!r}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:  # a decorated method
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _capture_hooks.active:  # inside another capture: run as written, so it records
            return self.fn(*args, **kwargs)
        tensors: list[Tensor] = []
        key = (_signature((args, kwargs), tensors), _grad_state.grad_enabled,
               _grad_state.inference, tuple(map(id, backends.active.values())),
               _aliasing(tensors), dtypes.get_default_dtype())
        entries = self._plans.get(key)
        if entries is not None:
            for i, plan in enumerate(entries):
                if plan is _EAGER:
                    return self.fn(*args, **kwargs)
                if plan.guard() and plan.precheck(tensors):
                    if i:  # the plan that serves is tried first next time
                        entries.insert(0, entries.pop(i))
                    try:
                        return plan(tensors)
                    except Diverged as e:
                        raise RuntimeError(
                            f"tensorlite.compile: a check on values ({e}) went the other way "
                            "than when the step was captured, after the replay had begun; "
                            "compile only the part of the step after it") from None
        if self.captures >= self.cache_size:
            self._warn("cache", f"tensorlite.compile: {self!r} has {self.cache_size} plans "
                       "(cache_size); calls that match none of them run eagerly")
            return self.fn(*args, **kwargs)
        return self._capture(key, args, kwargs, tensors)

    def _capture(self, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                 tensors: list[Tensor]) -> Any:
        self.captures += 1
        state = _python_state(self.fn)
        capture = Capture(_roots(self.fn, args, kwargs), tensors)
        with capture:
            result = self.fn(*args, **kwargs)
            if capture.failure is None:
                try:
                    capture.output(result)
                except Uncapturable as e:
                    capture.failure = str(e)
        entries = self._plans.setdefault(key, [])
        if capture.failure is not None:
            entries.append(_EAGER)
            self._warn(capture.failure, f"tensorlite.compile: cannot capture {self!r}: "
                       f"{capture.failure}; calls with this signature run eagerly")
            return result
        plan = build(capture.trace, self.options, state)
        entries.append(plan)
        self._made.append(plan)
        return result

    def _warn(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            warnings.warn(message, RuntimeWarning, stacklevel=user_stacklevel())

    def plans(self) -> list[Any]:
        """Every plan made so far, in capture order (to inspect: ``plan.source``, ``plan.calls``,
        ``plan.trace.stats``: peak bytes planned against eager's)."""
        return list(self._made)


def build(trace: Any, options: dict[str, bool], state: Any = ()) -> Plan:
    """The trace as an optimized, guarded plan; ``state``: (container, key, value, by
    identity) of Python values the function reads (``_python_state``), checked too."""
    from .fuse import optimize
    plan = Plan(optimize(trace, options))
    if options.get("cuda_graph") and any(v.device == "cuda" for v in trace.values):
        from .cuda_graph import graphed
        plan = graphed(plan)
    from ..nn import hooks as nn_hooks
    from ..nn.module import _HOOK_TABLES
    checks = list(state)
    tables = [getattr(nn_hooks, n) for n in dir(nn_hooks) if n.startswith("_global_")
              and n.endswith("hooks") and isinstance(getattr(nn_hooks, n), dict)]
    for m in trace.modules:  # each module's numbers and flags, parameters, buffers, hooks
        d = m.__dict__
        entry = trace.entry_scalars.get(id(m))
        checks += [(d, k, v, False) for k, v in (entry if entry is not None else d).items()
                   if type(v) in _SCALARS]
        for table in ("_parameters", "_buffers", "_modules"):
            if isinstance(d.get(table), dict):
                checks += [(d[table], k, v, True) for k, v in d[table].items()]
        tables += [d[t] for t in _HOOK_TABLES if isinstance(d.get(t), dict)]
    # grouped by container, each group compared at C speed: keys, then types and values (a
    # number compared only with a number: a tensor's == would read it), or identities
    groups: dict[int, tuple[Any, list[Any], list[Any], bool]] = {}
    for d, k, v, same in checks:
        group = groups.setdefault(id(d) * 2 + same, (d, [], [], same))
        group[1].append(k)
        group[2].append(v)
    by_value = [(d, tuple(keys), tuple(map(type, vals)), tuple(vals))
                for d, keys, vals, same in groups.values() if not same]
    by_identity = [(d, tuple(keys), tuple(vals)) for d, keys, vals, same in groups.values()
                   if same]
    lens = tuple(map(len, tables))
    keyed = [(t, tuple(t)) for t in tables if t]
    params = [p for m in trace.modules
              for p in m.__dict__.get("_parameters", {}).values() if p is not None]
    flags = [(p.requires_grad, p._data.dtype, len(p._hooks or ())) for p in params]
    grads = [t for t, _ in trace.entry_grads]
    nones = [none for _, none in trace.entry_grads]

    def get(d: Any, keys: tuple[Any, ...]) -> tuple[Any, ...]:
        if type(d) is _Cell:
            return (d.get(),)
        return tuple(map(d.get, keys))

    def guard() -> bool:
        for d, keys, kinds, vals in by_value:
            now = get(d, keys)
            if tuple(map(type, now)) != kinds or now != vals:
                return False
        for d, keys, vals in by_identity:
            if not all(map(operator.is_, get(d, keys), vals)):
                return False
        if tuple(map(len, tables)) != lens or any(tuple(t) != k for t, k in keyed):
            return False
        if [(p.requires_grad, p._data.dtype, len(p._hooks or ())) for p in params] != flags:
            return False
        return [t._grad is None for t in grads] == nones
    plan.guard = guard  # type: ignore[attr-defined]
    return plan


_SCALARS = (int, float, bool, str, type(None))
_MISSING = object()


class _Cell:
    """A closure cell seen as a one-entry container (``get``)."""
    __slots__ = ("cell",)

    def __init__(self, cell: Any) -> None:
        self.cell = cell

    def get(self, *_: Any) -> Any:
        try:
            return self.cell.cell_contents
        except ValueError:
            return _MISSING


def _python_state(fn: Any) -> list[tuple[Any, Any, Any, bool]]:
    """The Python values ``fn`` reads that a replay would not see change: the globals it names
    and its closure's cells, numbers and strings by value, tensors, modules and optimizers by
    identity (a rebound name must capture again)."""
    from ..nn.module import Module
    from ..optim.optimizer import Optimizer
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    out: list[tuple[Any, Any, Any, bool]] = []
    if code is None:
        return out
    g = getattr(fn, "__globals__", {})
    cells = [(_Cell(c), None) for c in getattr(fn, "__closure__", None) or ()]
    for d, k in [(g, n) for n in code.co_names if n in g] + cells:
        v = d.get(k)
        if type(v) in _SCALARS:
            out.append((d, k, v, False))
        elif isinstance(v, (Tensor, Module, Optimizer)):
            out.append((d, k, v, True))
        else:  # a config the function reads numbers from: a dict, a namespace, a dataclass
            inner = v if type(v) is dict else getattr(v, "__dict__", None) if not isinstance(
                v, (type, types.ModuleType, types.FunctionType, functools.partial)) else None
            if type(inner) is dict and len(inner) <= 256:
                out += [(inner, ik, iv, False) for ik, iv in inner.items()
                        if type(iv) in _SCALARS]
    return out


def _signature(obj: Any, tensors: list[Tensor]) -> Any:
    """A hashable description of a call's arguments; their tensors appended to ``tensors``."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return ("T", obj.shape, obj.dtype, obj.device, obj.requires_grad, obj._grad is None)
    if type(obj) in (tuple, list):
        return (type(obj).__name__, *(_signature(o, tensors) for o in obj))
    if type(obj) is dict:
        return ("dict", *((k, _signature(v, tensors)) for k, v in obj.items()))
    try:
        hash(obj)
    except TypeError:
        return ("id", id(obj))
    return (type(obj).__name__, obj)


def _aliasing(tensors: list[Tensor]) -> tuple[int, ...]:
    """Which argument tensors share an array (f(x, x) is captured apart from f(x, y))."""
    first: dict[int, int] = {}
    return tuple(first.setdefault(id(t._data), i) for i, t in enumerate(tensors))


def _roots(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """What ``fn`` can reach: its arguments, bound object, closure and the globals it names."""
    roots = [*args, *kwargs.values()]
    while isinstance(fn, functools.partial):
        roots += [*fn.args, *fn.keywords.values()]
        fn = fn.func
    roots.append(getattr(fn, "__self__", None))
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            roots.append(cell.cell_contents)
        except ValueError:
            pass
    if code is not None:
        g = getattr(fn, "__globals__", {})
        roots += [g[n] for n in code.co_names if n in g]
    return [r for r in roots if r is not None]


def compile(model: Any = None, *, fullgraph: bool = False, dynamic: Any = None,
            backend: Any = None, mode: Any = None, options: dict[str, Any] | None = None,
            disable: bool = False, fusion: bool = True, memory: bool = True,
            cuda_graph: bool = True, cache_size: int = 8) -> Any:
    """Compile a function (or a Module's forward) as ``torch.compile``: ``compile(fn)``,
    ``@compile``, ``@compile(fusion=False)``, ``model = compile(model)``.  torch's ``fullgraph``,
    ``dynamic``, ``backend``, ``mode`` and ``options`` are accepted and ignored; ``disable``
    returns the function itself.  See CompiledFunction for ``fusion``, ``memory`` and
    ``cuda_graph``."""
    def wrap(target: Any) -> Any:
        if not callable(target):
            raise RuntimeError(f"tensorlite.compile: expected a function or a Module to "
                               f"compile, got {type(target).__name__}")
        if disable:
            return target
        opts: dict[str, Any] = dict(fusion=fusion, memory=memory, cuda_graph=cuda_graph,
                                    cache_size=cache_size)
        from ..nn.module import Module
        if isinstance(target, Module):
            from .module import compile_module
            return compile_module(target, opts)
        return CompiledFunction(target, **opts)
    return wrap if model is None else wrap(model)
