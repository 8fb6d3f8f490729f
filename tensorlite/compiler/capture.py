"""Capture: run a function eagerly once and write down the backend work it did.

During a capture every device's backend is replaced by a ``Recorder`` that passes each primitive
call through to the real backend and writes it into the plan as one ``Call``: the bound
primitive, its arguments with each array replaced by a ``Ref`` to a value, and the values its
result defines.  A value is an array the plan makes (the result of a recorded call) or one it
reads from outside (``Read``): an argument of the function, a tensor's data or a tensor's
gradient (found where the function can reach them: its arguments, closure, globals, modules and
optimizers), or, failing all, a constant.

What the recorder cannot see is handled at the boundary:
- Host work (``_capture_hooks.host``: an optimizer's ``step``, ``zero_grad``, a scheduler's
  ``step``) is recorded as one ``Host`` call and run again, in Python, on every replay: it reads
  the learning rate, the step counts and the gradients as they are then.
- Gradients the engine assigns to leaves (``.grad``) are recorded as ``SetGrad`` where they
  change: before each host call and at the end.
- A value read on the host (``.item()``, ``bool(t)``, ``.numpy()``, ``.tolist()``) or a shape
  that depends on values (``nonzero``) makes the capture fail: the call finishes eagerly and
  the caller warns, naming the op and the line.
- Bounds checks of index tensors (``value_range``) return numbers that record the comparisons
  made with them, so a replay can check that every branch goes the same way.
"""
from __future__ import annotations

import functools
import gc
import os
import sys
import weakref
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import numpy as np

from .. import _capture_hooks, backends
from ..backends.contract import CONTRACT, PRIMITIVES
from ..tensor import Tensor

# primitives whose result is read on the host, or whose shape depends on the values
HOST_READS = {"to_host": "reading a tensor's value on the host (.item(), bool(), .tolist())",
              "get_state": "reading the random generator's state",
              "nonzero": "nonzero (its result's shape depends on the values)",
              "unique": "unique (its result's shape depends on the values)",
              "bincount": "bincount (its result's shape depends on the values)"}
INPLACE = frozenset(CONTRACT["InPlace"]) | {"setitem"}  # the first argument is written
RANDOM: frozenset[str] = frozenset(CONTRACT["Random"]) | {"dropout_mask"}  # they draw
_PRIMITIVES = frozenset(PRIMITIVES)
_SCALARS = (int, float, bool, str, type(None))
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Uncapturable(Exception):
    """The function did something a plan cannot replay; ``str`` says what and where."""


@dataclass(eq=False)
class Ref:
    """An array in a recorded call: value number ``vid``."""
    vid: int


@dataclass(eq=False)
class Read:
    """Where a value from outside the plan is found on each replay: ``kind`` "arg" (the
    ``where``-th tensor of the call's arguments), "slot" (the ``where``-th array given to the
    replay), "data" or "grad" (of tensor ``where``), or "const" (``where`` is the array)."""
    kind: str
    where: Any


@dataclass(eq=False)
class Call:
    name: str
    fn: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    out: Any            # the result with each array a Ref (None: nothing the plan needs)
    writes: tuple[int, ...] = ()  # values written in place


@dataclass(eq=False)
class Host:
    fn: Any
    self: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(eq=False)
class SetGrad:
    """``tensor._grad`` becomes value ``vid`` (None: None); ``arg``: the tensor is that
    argument of the call (the replay's argument, not the captured one)."""
    tensor: Tensor
    vid: int | None
    arg: int | None = None


@dataclass(eq=False)
class Branch:
    """A comparison the function made with a number read from values (a bounds check):
    ``value_range(values[vid])[which] <op> other`` was ``outcome`` when captured."""
    vid: int
    which: int
    op: str
    other: Any
    outcome: bool
    where: str


@dataclass(eq=False)
class Check:
    """Flags read on the host for a check that raises when one is set (``ops.common.
    host_check``): ``to_host(values[vid])`` was ``flags`` when captured."""
    to_host: Any
    vid: int
    flags: tuple[bool, ...]
    where: str


@dataclass(eq=False)
class Probe:
    """A call whose result holds numbers the function read on the host (counts of ignored or
    out-of-range targets): a replay calls it again and goes on only if they are the same."""
    fn: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any
    where: str


@dataclass(eq=False)
class Value:
    shape: tuple[int, ...]
    dtype: Any
    nbytes: int
    device: str
    read: Read | None = None       # None: made by the plan
    base: int | None = None        # the value whose memory this one views (None: its own)
    contiguous: bool = True        # C-contiguous


@dataclass
class Trace:
    """What a capture wrote down: the program and its values."""
    program: list[Any] = field(default_factory=list)   # Read Call Host SetGrad Branch Check Probe
    values: list[Value] = field(default_factory=list)
    outputs: Any = None     # the function's result, tensors as Refs
    entry_grads: list[tuple[Tensor, bool]] = field(default_factory=list)  # (leaf, grad is None)
    modules: list[Any] = field(default_factory=list)   # whose train/eval mode is guarded
    stats: dict[str, Any] = field(default_factory=dict)  # what the passes report
    # id(module) -> its numbers and flags when the capture began (the guard compares a call's
    # entry with the capture's entry: a step may switch modes itself)
    entry_scalars: dict[int, dict[str, Any]] = field(default_factory=dict)


def user_line() -> str:
    """file:line of the innermost frame outside tensorlite (where the user's code is)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


class Recorder:
    """A backend's stand-in during a capture: a primitive is called through ``capture.call``;
    anything else (``name``, ``device``, helpers) is the backend's own."""

    def __init__(self, capture: Capture, backend: Any) -> None:
        self._capture, self._backend = capture, backend

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._backend, name)
        if name not in _PRIMITIVES or not callable(attr):
            return attr
        capture = self._capture

        def call(*args: Any, **kwargs: Any) -> Any:
            return capture.call(name, attr, args, kwargs)
        return call

    def __repr__(self) -> str:
        return f"<recording {self._backend!r}>"


class Capture:
    """Records one run of a function (see the module docstring); use as a context manager."""

    def __init__(self, roots: list[Any], args: list[Tensor]) -> None:
        self.trace = Trace()
        self.failure: str | None = None
        self._ids: dict[int, int] = {}       # id(array) -> value number, while the array lives
        self._refs: dict[int, Any] = {}      # id(array) -> weakref (or the array: no weakrefs)
        self._paused = 0
        self._watched: dict[int, tuple[Tensor, Any]] = {}   # id(leaf) -> (leaf, its .grad then)
        self._index: dict[int, Read] = {}
        self._args = args
        self._arg_index = {id(t): i for i, t in enumerate(args)}
        self.created: set[int] = set()  # ids of the tensors made during the capture
        for i, t in enumerate(args):
            self._index.setdefault(id(t._data), Read("arg", i))
        self._modules: dict[int, Any] = {}
        for root in roots:
            self._discover(root, depth=2)
        self.trace.modules = list(self._modules.values())
        self.trace.entry_scalars = {
            id(m): {k: v for k, v in m.__dict__.items() if type(v) in _SCALARS}
            for m in self.trace.modules}

    # -- finding what the function can reach ---------------------------------------------------
    def _discover(self, obj: Any, depth: int) -> None:
        from ..nn.module import Module
        from ..optim.optimizer import Optimizer
        if isinstance(obj, Tensor):
            self._tensor(obj)
            if obj.requires_grad and obj.grad_fn is None:
                self.watch(obj)
        elif isinstance(obj, Module):
            for m in obj.modules():
                self._modules.setdefault(id(m), m)
            for p in obj.parameters():
                self._tensor(p)
                self.watch(p)
            for b in obj.buffers():
                self._tensor(b)
        elif isinstance(obj, Optimizer):
            for group in obj.param_groups:
                for p in group["params"]:
                    self._tensor(p)
                    self.watch(p)
        elif depth and isinstance(obj, (list, tuple)):
            for o in obj[:64]:
                self._discover(o, depth - 1)
        elif depth and isinstance(obj, dict):
            for o in list(obj.values())[:64]:
                self._discover(o, depth - 1)

    def _tensor(self, t: Tensor) -> None:
        self._index.setdefault(id(t._data), Read("data", t))
        if t._grad is not None:
            self._index.setdefault(id(t._grad._data), Read("grad", t))

    def watch(self, t: Tensor) -> None:
        """Follow ``t``'s ``.grad`` (a leaf the engine or an optimizer touches)."""
        if id(t) not in self._watched:
            self._watched[id(t)] = (t, t._grad)
            if id(t) not in self._arg_index:  # (an argument's is part of the signature)
                self.trace.entry_grads.append((t, t._grad is None))
            self._tensor(t)

    # -- the context ----------------------------------------------------------------------------
    def __enter__(self) -> Capture:
        self._saved = dict(backends.active)
        for device, backend in self._saved.items():
            backends.active[device] = Recorder(self, backend)
        _capture_hooks.active.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _capture_hooks.active.remove(self)
        backends.active.clear()
        backends.active.update(self._saved)
        if exc[0] is None and self.failure is None:
            self._sync_grads()

    def refuse(self, why: str) -> None:
        """The capture cannot be replayed: remember the first reason (with the user's line)
        and record nothing more; the function goes on eagerly."""
        if self.failure is None:
            self.failure = f"{why} at {user_line()}"
        self._paused += 1  # never resumed: the rest of the call runs unrecorded

    # -- values -----------------------------------------------------------------------------------
    def _value(self, arr: Any, read: Read | None) -> int:
        vid = len(self.trace.values)
        self.trace.values.append(Value(tuple(arr.shape), arr.dtype, int(arr.nbytes),
                                       "cpu" if type(arr).__module__ == "numpy" else "cuda",
                                       read, None, bool(arr.flags.c_contiguous)))
        key = id(arr)
        self._ids[key] = vid
        try:  # forget the id when the array dies: ids are reused, and counting references
            self._refs[key] = weakref.ref(arr, functools.partial(self._forgotten, key))
        except TypeError:  # (no weak references to this array type: keep it alive instead)
            self._refs[key] = arr
        if read is not None:
            self.trace.program.append(read)
            read.vid = vid  # type: ignore[attr-defined]
        return vid

    def slot(self, arr: Any, k: int) -> int:
        """Take ``arr`` as the ``k``-th array handed to the replay."""
        return self._value(arr, Read("slot", k))

    def _forgotten(self, key: int, _: Any) -> None:
        self._forget(key)

    def _forget(self, key: int) -> None:
        self._ids.pop(key, None)
        self._refs.pop(key, None)

    def ref(self, arr: Any) -> int:
        """The value number of ``arr``, which the plan either made or reads from outside."""
        vid = self._ids.get(id(arr))
        if vid is not None:
            return vid
        read = self._index.get(id(arr))
        if read is not None and _located(read, self._args) is not arr:
            read = None  # (an id of an array that died since the index was made)
        read = read or self._find(arr)
        if read is None:
            if getattr(arr, "base", None) is not None and id(_root(arr)) in self._ids:
                raise Uncapturable("an array view made outside the backend (tensorlite bug)")
            read = Read("const", arr)
        return self._value(arr, read)

    def _find(self, arr: Any) -> Read | None:
        """The tensor that holds ``arr`` (its data, or another tensor's gradient), found by
        the garbage collector's list of referrers: for arrays the discovery missed."""
        for t in gc.get_referrers(arr):
            if isinstance(t, Tensor) and t._data is arr:
                if id(t) in self.created:
                    raise Uncapturable("an array made outside the backend (tensorlite bug: "
                                       "every op must go through backend primitives)")
                for owner in gc.get_referrers(t):
                    if isinstance(owner, Tensor) and owner._grad is t:
                        return Read("grad", owner)
                return Read("data", t)
        return None

    def _template(self, obj: Any) -> Any:
        return tree_map(lambda a: Ref(self.ref(a)) if _is_array(a) else a, obj)

    def _result(self, obj: Any) -> Any:
        if _is_array(obj):
            vid = self._ids.get(id(obj))
            return Ref(vid if vid is not None else self._made(obj))
        if type(obj) in (tuple, list):
            return type(obj)(self._result(o) for o in obj)
        return None

    def _made(self, arr: Any) -> int:
        vid = self._value(arr, None)
        base = getattr(arr, "base", None)
        if base is not None:
            root = self._ids.get(id(_root(arr)))
            self.trace.values[vid].base = root
        return vid

    # -- what the recorder sees -----------------------------------------------------------------
    def call(self, name: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._paused:
            return fn(*args, **kwargs)
        if name in HOST_READS:
            self.refuse(f"{HOST_READS[name]}")
            return fn(*args, **kwargs)
        try:
            targs, tkwargs = self._template(args), self._template(kwargs)
        except Uncapturable as e:
            self.refuse(str(e))
            return fn(*args, **kwargs)
        result = _own(fn(*args, **kwargs))
        if name == "private":   # (a question about memory, not values: nothing to replay)
            return result
        if name == "value_range":
            return self._range(targs[0].vid, result)
        if _numbers(result):
            if type(result) in (tuple, list) and any(_is_array(r) for r in result):
                self.refuse(f"{name} returns numbers read from the values")
            else:
                self.trace.program.append(Probe(fn, targs, tkwargs, result, user_line()))
            return result
        if not (result is None or _is_array(result) or type(result) in (tuple, list)):
            self.refuse(f"{name} returns {type(result).__name__}")
            return result
        writes: tuple[int, ...] = (targs[0].vid,) if name in INPLACE and targs and \
            isinstance(targs[0], Ref) else ()
        if "out" in tkwargs and isinstance(tkwargs["out"], Ref):
            writes += (tkwargs["out"].vid,)
        self.trace.program.append(Call(name, fn, targs, tkwargs, self._result(result), writes))
        return result

    def checked_read(self, B: Any, flags: Any) -> tuple[bool, ...]:
        backend = B._backend if isinstance(B, Recorder) else B
        result = tuple(bool(f) for f in backend.to_host(flags))
        if not self._paused:
            self.trace.program.append(Check(backend.to_host, self.ref(flags), result,
                                            user_line()))
        return result

    def _range(self, vid: int, result: tuple[int, int]) -> tuple[Any, ...]:
        line = user_line()
        return tuple(_Traced(v, self, vid, i, line) for i, v in enumerate(result))

    def host_call(self, method: Any, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                  ) -> Any:
        if self._paused:
            return method(obj, *args, **kwargs)
        if any(callable(a) for a in args) or any(callable(a) for a in kwargs.values()):
            self.refuse(f"{type(obj).__name__}.{method.__name__} with a closure")
            return method(obj, *args, **kwargs)
        self._discover(obj, depth=0)
        self._sync_grads()
        self.trace.program.append(Host(method, obj, args, kwargs))
        self._paused += 1
        try:
            return method(obj, *args, **kwargs)
        finally:
            self._paused -= 1
            self._watched = {k: (t, t._grad) for k, (t, _) in self._watched.items()}
            for t, _ in self._watched.values():  # the host may have replaced gradients
                self._tensor(t)

    def _sync_grads(self) -> None:
        """Record each watched leaf's ``.grad`` that changed since it was last seen."""
        for key, (t, seen) in list(self._watched.items()):
            g = t._grad
            if g is not seen and not self._paused:
                try:
                    vid = None if g is None else self.ref(g._data)
                except Uncapturable as e:
                    self.refuse(str(e))
                    return
                self.trace.program.append(SetGrad(t, vid, self._arg_index.get(id(t))))
                self._watched[key] = (t, g)

    def output(self, result: Any) -> None:
        self.trace.outputs = self._outputs(result)

    def _outputs(self, obj: Any) -> Any:
        if isinstance(obj, Tensor) and obj.requires_grad and obj.grad_fn is None:
            read = self._index.get(id(obj._data))  # a leaf returned as it is: the same
            return _Leaf(obj, read.where if read is not None and read.kind == "arg" else None)
        if isinstance(obj, Tensor):
            node = obj.grad_fn
            if node is not None and node.backward is not None:
                raise Uncapturable(
                    "the function returns a tensor whose autograd graph is still alive (a "
                    "forward with grad enabled); a plan replays arrays, not the tape: compile "
                    "the whole training step (forward, backward, optimizer step), or call the "
                    "model under no_grad")
            return _Output(self.ref(obj._data), obj.device, obj.dtype)
        if type(obj) in (tuple, list):
            return type(obj)(self._outputs(o) for o in obj)
        if type(obj) is dict:
            return {k: self._outputs(v) for k, v in obj.items()}
        if obj is None or isinstance(obj, (str, bool)):
            return obj
        raise Uncapturable(f"the function returns a {type(obj).__name__}; a compiled function "
                           "returns tensors (in tuples, lists or dicts) or None")


@dataclass(eq=False)
class _Output:
    vid: int
    device: str
    dtype: Any


@dataclass(eq=False)
class _Leaf:
    tensor: Tensor
    arg: int | None   # the argument it is (else the tensor itself, a parameter)


class _Traced(int):
    """A number read from values (``value_range``) that records the comparisons made with it."""
    _capture: Capture
    _vid: int
    _which: int
    _line: str

    def __new__(cls, value: int, capture: Capture, vid: int, which: int, line: str) -> _Traced:
        self = super().__new__(cls, value)
        self._capture, self._vid, self._which, self._line = capture, vid, which, line
        return self

    def _compare(self, op: str, other: Any) -> bool:
        outcome = getattr(int(self), op)(other)
        if outcome is NotImplemented:
            return outcome
        if not self._capture._paused:
            self._capture.trace.program.append(
                Branch(self._vid, self._which, op, int(other), bool(outcome), self._line))
        return bool(outcome)

    def __lt__(self, other: Any) -> bool: return self._compare("__lt__", other)
    def __le__(self, other: Any) -> bool: return self._compare("__le__", other)
    def __gt__(self, other: Any) -> bool: return self._compare("__gt__", other)
    def __ge__(self, other: Any) -> bool: return self._compare("__ge__", other)
    def __eq__(self, other: Any) -> bool: return self._compare("__eq__", other)
    def __ne__(self, other: Any) -> bool: return self._compare("__ne__", other)
    __hash__ = int.__hash__


def tree_map(fn: Any, obj: Any) -> Any:
    """``obj`` (nested tuples, lists and dicts) with ``fn`` applied to each other element."""
    if type(obj) in (tuple, list):
        return type(obj)(tree_map(fn, o) for o in obj)
    if type(obj) is dict:
        return {k: tree_map(fn, v) for k, v in obj.items()}
    return fn(obj)


def _own(result: Any) -> Any:
    """``result`` with each NumPy scalar made a 0-d array: values are told apart by identity,
    and NumPy's ``True_``/``False_`` (and small scalars) are shared objects."""
    if isinstance(result, np.generic):
        return np.array(result)
    if type(result) in (tuple, list) and any(isinstance(r, np.generic) for r in result):
        return type(result)(np.array(r) if isinstance(r, np.generic) else r for r in result)
    return result


def _numbers(obj: Any) -> bool:
    """Whether ``obj`` is a Python number, or a tuple or list holding one."""
    if type(obj) in (tuple, list):
        return any(type(o) in (int, float, bool) for o in obj)
    return type(obj) in (int, float, bool)


def user_stacklevel() -> int:
    """The ``stacklevel`` of warnings.warn, called from the caller of this function, that
    points at the innermost frame outside tensorlite."""
    frame: FrameType | None = sys._getframe(2)
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def _located(read: Read, args: list[Tensor]) -> Any:
    """The array at ``read``'s place now (None if there is none)."""
    if read.kind == "arg":
        return args[read.where]._data
    if read.kind == "data":
        return read.where._data
    if read.kind == "grad":
        g = read.where._grad
        return None if g is None else g._data
    return read.where


def _is_array(obj: Any) -> bool:
    return hasattr(obj, "__array_interface__") or hasattr(obj, "__cuda_array_interface__")


def _root(arr: Any) -> Any:
    while getattr(arr, "base", None) is not None and _is_array(arr.base):
        arr = arr.base
    return arr
