"""CUDA-graph replay of a plan whose values live on "cuda" (the cupy backend).

``graphed(plan)`` wraps a Plan (plan.py) in a ``GraphedPlan`` with the same interface (callable
``plan(T)``, ``precheck``, ``source``, ``calls``, ``trace``; ``guard`` is set on it by build).
Its calls go through three stages:

1. probe (the first call): the program runs item by item on a private non-default stream (a
   plain replay, which also compiles each generated kernel); after each call it has run, the
   call is captured once more into a throwaway graph (``begin_capture``, the call, ``end_capture``:
   captured work does not run) to learn whether CuPy can capture it.
2. capture (the second call): the program is split into segments (below); each segment is
   captured into a graph on the stream, with its memory from a private memory pool, and launched;
   the items between segments run as in a plain replay.
3. launch (every later call): each argument the graphs read is copied into the buffer the graph
   was captured with (a graph reads fixed addresses), then each segment is one
   ``graph.launch(stream)`` and the items between them run as in a plain replay.

What stays outside the graphs, run as a plain replay would run it, between segment launches:
- host calls (``capture.Host``: an optimizer's step, zero_grad, a scheduler's step): they read
  Python numbers (learning rate, bias corrections, step counts) on each step;
- bounds checks, flag reads and numbers read back (``Branch``, ``Check``, ``Probe``): host
  reads of device values;
- random draws (the ``Random`` primitives): the generator's state must advance on each replay,
  and CuPy's generators in a captured graph would replay the same draws (cuRAND itself does not
  support stream capture, cupy/cupy#6290);
- any call CuPy refuses to capture, found by the probe: every cuBLAS call (CuPy raises
  NotImplementedError for cuBLAS during a capture, so matmul and linear run between segments),
  device-to-host reads, host-to-device copies (``cupy.asarray`` of host data in a primitive).
The output of such a call that a later graph reads is copied into the buffer that graph was
captured with.

Memory: every value a graph makes is kept for the graph's life (the plain replay frees values
after their last use), and the work memory of the captured calls comes from a private pool that
is never handed to other code.  Results: a returned tensor made by a graph is a copy (a caller
keeping last step's loss keeps it); a leaf's ``.grad`` assigned from a graph's value ALIASES the
graph's buffer, as with torch's CUDA graphs: the next call overwrites it (copy ``.grad`` to keep
it across steps).  Arguments written in place by the program are copied back at the end of each
call.

A read tensor (a parameter's data, a gradient) whose array is no longer the one the graphs were
captured with (``load_state_dict`` replaced it, gradients kept across steps) makes that call run
as a plain replay and the next one capture again; after ``MAX_CAPTURES`` captures, and whenever
capturing is unsupported (no ``Stream.begin_capture``, or CuPy raising during a capture), the
plan falls back to plain replay, with no warning.  All the work of a call is ordered after the
caller's current stream and the caller's stream waits for it (CUDA events), so callers see no
difference but speed.
"""
from __future__ import annotations

from typing import Any

from ..tensor import wrap
from .capture import RANDOM, Branch, Call, Check, Host, Probe, Read, Ref, SetGrad, _Leaf, _Output
from .plan import Diverged, refs, uses

__all__ = ["graphed", "GraphedPlan", "MAX_CAPTURES", "RANDOM"]

MAX_CAPTURES = 3  # captures (and failed captures) before a plan stays a plain replay
_ARGS = ("arg", "slot")  # reads of what the caller hands over: copied into the graphs' buffers


def graphed(plan: Any) -> Any:
    """``plan`` replayed through CUDA graphs where CuPy supports stream capture, else ``plan``."""
    try:
        import cupy
        stream_type = cupy.cuda.Stream
    except Exception:  # no CuPy, or one without streams: a plain replay
        return plan
    if not hasattr(stream_type, "begin_capture"):
        return plan
    program = plan.trace.program
    if not any(isinstance(i, Call) for i in program):
        return plan
    # items or results this module does not know how to replay (added to plan.py since): plain
    if not all(isinstance(i, _ITEMS) for i in program) or not _known(plan.trace.outputs):
        return plan
    return GraphedPlan(plan, cupy)


_ITEMS = (Read, Call, Host, SetGrad, Branch, Check, Probe)  # what GraphedPlan._item runs


def _known(out: Any) -> bool:
    if isinstance(out, (_Output, _Leaf, Ref)) or out is None or type(out) in (str, bool):
        return True
    if type(out) in (tuple, list):
        return all(_known(o) for o in out)
    if type(out) is dict:
        return all(_known(o) for o in out.values())
    return False


class _Segment:
    """A run of capturable calls (and the reads before them) replayed as one graph."""

    def __init__(self) -> None:
        self.reads: list[Read] = []
        self.calls: list[Call] = []
        self.graph: Any = None


class GraphedPlan:
    """A Plan replayed as CUDA graphs (see the module docstring).  ``stage`` is "probe",
    "capture", "launch" or "plain"; ``launches`` counts graph launches, ``captures`` captures;
    ``eager`` is the set of program positions kept out of the graphs, ``why_plain`` says why a
    plan fell back to plain replay."""

    def __init__(self, plan: Any, cupy: Any) -> None:
        self.plan = plan
        self.trace = plan.trace
        self.source = plan.source
        self.precheck = plan.precheck
        self._cupy = cupy
        self.stage = "probe"
        self.why_plain: str | None = None
        self.launches = 0
        self.captures = 0
        self.segments: list[_Segment] = []
        self._steps: list[tuple[str, Any]] = []
        self._env: dict[int, Any] = {}
        self._stream: Any = None
        self._pools: list[Any] = []
        program = self.trace.program
        self.eager: set[int] = {
            pos for pos, item in enumerate(program)
            if isinstance(item, Call) and item.name in RANDOM}
        # the first position each value is defined at (a Read, or a call's result)
        self._defined: dict[int, int] = {}
        for pos, item in enumerate(program):
            outs = [item.vid] if isinstance(item, Read) else (  # type: ignore[attr-defined]
                refs(item.out) if isinstance(item, Call) else [])
            for v in outs:
                self._defined.setdefault(v, pos)
        # arguments written in place (directly or through a view): copied back after each call
        values = self.trace.values
        self._written_args: list[tuple[int, Read]] = []
        written = {values[v].base if values[v].base is not None else v
                   for item in program if isinstance(item, Call) for v in item.writes}
        for item in program:
            if isinstance(item, Read) and item.kind in _ARGS and \
                    item.vid in written:  # type: ignore[attr-defined]
                self._written_args.append((item.vid, item))  # type: ignore[attr-defined]

    @property
    def calls(self) -> int:
        return int(self.plan.calls)

    def __repr__(self) -> str:
        return (f"<GraphedPlan {self.stage}: {len(self.segments)} graphs, "
                f"{len(self.eager)} calls outside them>")

    # -- a call -----------------------------------------------------------------------------------
    def __call__(self, T: list[Any]) -> Any:
        if self.stage == "plain":
            return self.plan(T)
        cuda = self._cupy.cuda
        if self._stream is None:
            try:
                self._stream = cuda.Stream(non_blocking=True)
            except Exception as e:
                return self._plain(f"no stream ({type(e).__name__}: {e})", T)
        caller = cuda.get_current_stream()
        stream = self._stream
        stream.wait_event(caller.record())
        try:
            with stream:
                if self.stage == "probe":
                    result = self._run_probe(T)
                elif self.stage == "capture":
                    result = self._run_capture(T)
                else:
                    result = self._run_launch(T)
        finally:
            caller.wait_event(stream.record())
        return result

    def _plain(self, why: str, T: list[Any] | None = None) -> Any:
        self.stage, self.why_plain = "plain", why
        self.segments, self._steps, self._env = [], [], {}
        return None if T is None else self.plan(T)

    # -- the stages -----------------------------------------------------------------------------
    def _run_probe(self, T: list[Any]) -> Any:
        from ..backends import for_device
        backend = for_device("cuda")
        drew: list[str] = []

        def watch(name: str, method: Any) -> Any:
            def draw(*args: Any, **kwargs: Any) -> Any:
                drew.append(name)
                return method(*args, **kwargs)
            return draw
        env: dict[int, Any] = {}
        for pos, item in enumerate(self.trace.program):
            if not isinstance(item, Call) or pos in self.eager:
                self._item(item, env, T)
                continue
            # a call that draws random numbers (through a Random primitive of the backend, as
            # dropout_mask does) stays outside the graphs, and is not captured again
            owner = getattr(item.fn, "__self__", backend)
            patched = [n for n in RANDOM if callable(getattr(owner, n, None)) and
                       n not in getattr(owner, "__dict__", {n: None})]
            del drew[:]
            try:
                for n in patched:
                    setattr(owner, n, watch(n, getattr(owner, n)))
                self._item(item, env, T)
            finally:
                for n in patched:
                    try:
                        delattr(owner, n)
                    except AttributeError:
                        pass
            if drew or not self._capturable(item, env):
                self.eager.add(pos)
        self._split()
        self.stage = "capture" if self.segments else "plain"
        if not self.segments:
            self.why_plain = "no call could be captured"
        return self._outputs(env, T, copy=set())

    def _capturable(self, item: Call, env: dict[int, Any]) -> bool:
        """Whether CuPy captures ``item`` (which has just run): captured into a throwaway graph,
        which does not run it.  A call that copies host data to the device (``cupy.asarray`` of
        a host number or array) is not: CuPy would capture a copy from a staging buffer that
        holds other data by the time the graph is launched."""
        cupy = self._cupy
        cuda, stream = cupy.cuda, self._stream
        pool = cuda.MemoryPool()
        uploads: list[str] = []

        def watch(name: str, fn: Any) -> Any:
            def call(obj: Any, *args: Any, **kwargs: Any) -> Any:
                if not isinstance(obj, cupy.ndarray):
                    uploads.append(name)
                return fn(obj, *args, **kwargs)
            return call
        names = [n for n in ("asarray", "array", "ascontiguousarray") if hasattr(cupy, n)]
        own = {n: vars(cupy)[n] for n in names if n in vars(cupy)}
        ok = True
        try:
            for n in names:
                setattr(cupy, n, watch(n, getattr(cupy, n)))
            with cuda.using_allocator(pool.malloc):
                stream.begin_capture()
                try:
                    item.fn(*_resolve(item.args, env), **_resolve(item.kwargs, env))
                except Exception:
                    ok = False
                finally:
                    stream.end_capture()
        except Exception:
            ok = False
        finally:
            for n in names:
                if n in own:
                    setattr(cupy, n, own[n])
                else:
                    delattr(cupy, n)
        pool.free_all_blocks()
        return ok and not uploads

    def _split(self) -> None:
        """The program as steps: ("seg", segment) or ("item", item run as in a plain replay)."""
        steps: list[tuple[str, Any]] = []
        segment: _Segment | None = None
        for pos, item in enumerate(self.trace.program):
            if isinstance(item, Read) or (isinstance(item, Call) and pos not in self.eager):
                if segment is None:
                    segment = _Segment()
                    steps.append(("seg", segment))
                if isinstance(item, Read):
                    segment.reads.append(item)
                else:
                    segment.calls.append(item)
            else:
                segment = None
                steps.append(("item", item))
        self._steps = steps
        self.segments = [s for kind, s in steps if kind == "seg" and s.calls]
        self._graph_vids = {v for s in self.segments for c in s.calls for v in uses(c)}
        program, defined = self.trace.program, self._defined
        # values a graph makes (kept in its buffers: copied where they are returned)
        self._made_by_graph = {v for v, pos in defined.items()
                               if isinstance(program[pos], Call) and pos not in self.eager}
        # values made outside the graphs that a graph reads: copied into the captured buffer
        self._fixed = {v for v in self._graph_vids
                       if v in defined and isinstance(program[defined[v]], Call)
                       and defined[v] in self.eager}

    def _run_capture(self, T: list[Any]) -> Any:
        if self.captures >= MAX_CAPTURES:
            return self._plain(f"{self.captures} captures", T)
        self.captures += 1
        cuda = self._cupy.cuda
        pool = cuda.MemoryPool()
        for old in self._pools:  # the memory of graphs captured before, unused now
            old.free_all_blocks()
        env: dict[int, Any] = {}
        self._env = env
        self._pools.append(pool)
        steps = self._steps
        for index, (kind, step) in enumerate(steps):
            if kind == "item":
                self._item(step, env, T)
                continue
            for read in step.reads:
                self._read(read, env, T, private=True)
            if not step.calls:
                continue
            current = None
            try:
                with cuda.using_allocator(pool.malloc):
                    self._stream.begin_capture()
                    try:
                        for current in step.calls:
                            self._item(current, env, T)
                        current = None
                    finally:
                        step.graph = self._stream.end_capture()
            except Exception:  # nothing of this segment ran: the rest of the call runs plainly
                for call in step.calls:
                    self._item(call, env, T)
                result = self._finish_plainly(T, env, steps[index + 1:])
                if current is not None:  # keep that call out of the graphs from now on
                    self.eager.add(self._position(current))
                self._split()
                return result
            step.graph.launch(self._stream)
            self.launches += 1
        self.stage = "launch"
        self._copy_back(env, T)
        return self._outputs(env, T, copy=self._made_by_graph)

    def _position(self, item: Any) -> int:
        return next(pos for pos, i in enumerate(self.trace.program) if i is item)

    def _finish_plainly(self, T: list[Any], env: dict[int, Any],
                        rest: list[tuple[str, Any]]) -> Any:
        """Run the steps ``rest`` as a plain replay; the next call captures the graphs again."""
        for kind, step in rest:
            if kind == "item":
                self._item(step, env, T)
            else:
                for item in [*step.reads, *step.calls]:
                    self._item(item, env, T)
        for segment in self.segments:
            segment.graph = None
        self.stage, self._env = "capture", {}
        self._copy_back(env, T)
        return self._outputs(env, T, copy=set())

    def _run_launch(self, T: list[Any]) -> Any:
        env = self._env
        stream = self._stream
        steps = self._steps
        for index, (kind, step) in enumerate(steps):
            if kind == "item":
                if isinstance(step, Call) and any(v in self._fixed for v in refs(step.out)):
                    self._fixed_call(step, env)
                else:
                    self._item(step, env, T)
                continue
            for n, read in enumerate(step.reads):
                if not self._read(read, env, T, private=False):
                    # a read tensor's array is not the one captured: this call runs plainly
                    # from here, the next one captures again
                    for item in [*step.reads[n:], *step.calls]:
                        self._item(item, env, T)
                    return self._finish_plainly(T, env, steps[index + 1:])
            if step.graph is not None:
                step.graph.launch(stream)
                self.launches += 1
        self._copy_back(env, T)
        return self._outputs(env, T, copy=self._made_by_graph)

    # -- items ----------------------------------------------------------------------------------
    def _read(self, read: Read, env: dict[int, Any], T: list[Any], private: bool) -> bool:
        """Fetch a read value.  ``private`` (capturing): an argument a graph reads gets a buffer
        of its own; otherwise (launching) it is copied into that buffer, and a tensor's data or
        gradient a graph reads must be the array captured (False if not)."""
        vid = read.vid  # type: ignore[attr-defined]
        array = _fetch(read, T)
        if vid not in self._graph_vids or read.kind == "const":
            env[vid] = array
        elif read.kind in _ARGS:
            if private:
                env[vid] = array.copy()
            else:
                env[vid][...] = array
        elif private:
            env[vid] = array
        elif env.get(vid) is not array:
            return False
        return True

    def _fixed_call(self, item: Call, env: dict[int, Any]) -> None:
        """A call outside the graphs whose result a graph reads: its result is copied into the
        array the graph was captured with."""
        result = item.fn(*_resolve(item.args, env), **_resolve(item.kwargs, env))
        fresh: dict[int, Any] = {}
        _unpack(item.out, result, fresh)
        for v, array in fresh.items():
            if v in self._fixed and env.get(v) is not None and env[v] is not array:
                env[v][...] = array
            else:
                env[v] = array

    def _item(self, item: Any, env: dict[int, Any], T: list[Any]) -> None:
        """Run one program item as the plain replay (plan.generate) does."""
        if isinstance(item, Call):
            result = item.fn(*_resolve(item.args, env), **_resolve(item.kwargs, env))
            _unpack(item.out, result, env)
        elif isinstance(item, Read):
            env[item.vid] = _fetch(item, T)  # type: ignore[attr-defined]
        elif isinstance(item, Host):
            item.fn(item.self, *item.args, **item.kwargs)
        elif isinstance(item, SetGrad):
            t = item.tensor if item.arg is None else T[item.arg]
            t._grad = None if item.vid is None else wrap(env[item.vid], t.device)
        elif isinstance(item, Branch):
            from ..backends import for_device
            value_range = for_device(self.trace.values[item.vid].device).value_range
            if getattr(value_range(env[item.vid])[item.which], item.op)(item.other) \
                    is not item.outcome:
                raise Diverged(item.where)
        elif isinstance(item, Check):
            if tuple(bool(f) for f in item.to_host(env[item.vid])) != item.flags:
                raise Diverged(item.where)
        elif isinstance(item, Probe):
            if item.fn(*_resolve(item.args, env), **_resolve(item.kwargs, env)) != \
                    _resolve(item.result, env):
                raise Diverged(item.where)

    def _copy_back(self, env: dict[int, Any], T: list[Any]) -> None:
        for vid, read in self._written_args:
            array = _fetch(read, T)
            if env.get(vid) is not None and env[vid] is not array:
                array[...] = env[vid]

    def _outputs(self, env: dict[int, Any], T: list[Any], copy: set[int]) -> Any:
        def array(vid: int) -> Any:
            if vid in copy:
                return env[vid].copy()
            read = self.trace.values[vid].read
            return _fetch(read, T) if read is not None and read.kind in _ARGS else env[vid]

        def build(out: Any) -> Any:
            if isinstance(out, _Leaf):  # a leaf returned as itself
                return T[out.arg] if out.arg is not None else out.tensor
            if isinstance(out, Ref):  # an array as it is
                return array(out.vid)
            if isinstance(out, _Output):
                return wrap(array(out.vid), str(out.device))
            if type(out) is tuple:
                return tuple(build(o) for o in out)
            if type(out) is list:
                return [build(o) for o in out]
            if type(out) is dict:
                return {k: build(v) for k, v in out.items()}
            return out
        return build(self.trace.outputs)


def _fetch(read: Read, T: list[Any]) -> Any:
    if read.kind == "arg":
        return T[read.where]._data
    if read.kind == "slot":
        return T[read.where]
    if read.kind == "data":
        return read.where._data
    if read.kind == "grad":
        return read.where._grad._data
    return read.where


def _resolve(obj: Any, env: dict[int, Any]) -> Any:
    if isinstance(obj, Ref):
        return env[obj.vid]
    if type(obj) is tuple:
        return tuple(_resolve(o, env) for o in obj)
    if type(obj) is list:
        return [_resolve(o, env) for o in obj]
    if type(obj) is dict:
        return {k: _resolve(v, env) for k, v in obj.items()}
    return obj


def _unpack(out: Any, result: Any, env: dict[int, Any]) -> None:
    if isinstance(out, Ref):
        env[out.vid] = result
    elif type(out) in (tuple, list):
        for i, o in enumerate(out):
            if o is not None:
                _unpack(o, result[i], env)
