"""The passes that optimize a captured trace before it becomes a plan.

Fusion: a run of consecutive elementwise calls over one shape and float dtype (arithmetic,
activations, their gradients, in-place accumulations; operands of the shape, numbers, one-element
arrays or rows broadcast down it) becomes one call of a kernel generated from the ops' scalar
descriptions (backends/scalar_ops.py ``sequence``; the backend's ``elementwise_kernel``: a Numba
loop on the numba backend, an ElementwiseKernel on cupy).  Values made and used only inside the
run stay in registers; the others are the kernel's results, an in-place target written where
it lives.  The reference backend generates no kernels, so there nothing is fused.

Memory: every array a plan makes and that does not leave the step (as a ``.grad``, a result, or
through a view) gets a buffer allocated once, shared by values whose lives do not overlap (by
shape and dtype), and written by the call that makes it (a fused kernel's results, a NumPy ufunc
or matmul through ``out=``).  ``memory_report`` gives the peak bytes of the values live at once,
as eager execution frees them and with the plan's buffers.
"""
from __future__ import annotations

from dataclasses import replace
from math import prod
from typing import Any

import numpy as np

from .. import backends
from ..backends.scalar_ops import OPS, activation_grad, sequence
from .capture import Call, Read, Ref, SetGrad, Trace, tree_map
from .plan import refs, uses

_UNARY = ("neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "erf")
_BINARY = ("add", "sub", "mul", "div", "maximum", "minimum")
PROGRAMS = {**{n: OPS[n].forward for n in _UNARY + _BINARY},
            **{f"{a}_grad": activation_grad(a) for a in ("relu", "tanh", "sigmoid")},
            "iadd": OPS["add"].forward, "isub": OPS["sub"].forward, "imul": OPS["mul"].forward}
_FLOATS = ("float32", "float64")
# Calls per generated kernel: Numba's compile time grows faster than the run's length (a run
# of 200 chain ops took 66 s), and runs of the same ops give the same source, compiled once.
MAX_RUN = 32


def optimize(trace: Trace, options: dict[str, bool]) -> Trace:
    trace.stats["eager_peak_bytes"] = trace.stats["peak_bytes"] = peak_bytes(trace)
    trace = fold_constants(trace)
    if options.get("fusion", True):
        trace = fuse(trace)
        trace.stats["peak_bytes"] = peak_bytes(trace)
    if options.get("memory", True):
        trace = plan_memory(trace)
    return trace


# -- constants ------------------------------------------------------------------------------------
def fold_constants(trace: Trace) -> Trace:
    """Calls of constants alone (``arange`` of positions, the ``ones`` a backward starts from,
    their reshapes) done once, now: their results become constants of the plan, unless they
    are written later, leave the step or draw random numbers."""
    from .plan import _IMPURE
    written = {v for item in trace.program if isinstance(item, Call) for v in item.writes}
    escaping = _escaping(trace)
    known: dict[int, Any] = {}   # value -> its array, for values that are constants
    program: list[Any] = []
    for item in trace.program:
        if isinstance(item, Read) and item.kind == "const":
            known[item.vid] = item.where  # type: ignore[attr-defined]
        if isinstance(item, Call) and not item.writes and item.name not in _IMPURE and \
                all(v in known for v in refs(item.args) + refs(item.kwargs)) and \
                isinstance(item.out, Ref) and item.out.vid not in written and \
                item.out.vid not in escaping and not _aliases(trace, item.out.vid, written):
            result = item.fn(*_bind(item.args, known), **_bind(item.kwargs, known))
            read = Read("const", result)
            read.vid = item.out.vid  # type: ignore[attr-defined]
            known[item.out.vid] = result
            program.append(read)
            continue
        program.append(item)
    return replace(trace, program=program)


def _aliases(trace: Trace, vid: int, written: set[int]) -> bool:
    """Whether ``vid`` views a value that is written, or is viewed by one."""
    base = trace.values[vid].base
    return (base is not None and base in written) or any(
        trace.values[w].base == vid for w in written)


def _bind(obj: Any, known: dict[int, Any]) -> Any:
    return tree_map(lambda o: known[o.vid] if isinstance(o, Ref) else o, obj)


# -- fusion ---------------------------------------------------------------------------------------
def _last_mentions(trace: Trace) -> dict[int, int]:
    last: dict[int, int] = {}
    for pos, item in enumerate(trace.program):
        for v in uses(item):
            last[v] = pos
    end = len(trace.program)
    for v in refs(trace.outputs):
        last[v] = end
    return last


def _member(trace: Trace, item: Any) -> tuple[tuple[int, ...], str, str] | None:
    """(shape, dtype, device) of an elementwise call fusion can take, else None."""
    if not isinstance(item, Call) or item.name not in PROGRAMS or item.kwargs:
        return None
    prog = PROGRAMS[item.name]
    vid = _out(item)
    if len(item.args) != len(prog.inputs) or vid is None:
        return None
    out = trace.values[vid]
    if str(out.dtype) not in _FLOATS:
        return None
    for a in item.args:
        if isinstance(a, Ref):
            v = trace.values[a.vid]
            if v.dtype != out.dtype or v.device != out.device or not _fits(v.shape, out.shape):
                return None
        elif type(a) not in (int, float):
            return None
    if item.writes:
        target = trace.values[item.writes[0]]
        if vid != item.writes[0] or target.shape != out.shape or \
                not target.contiguous or target.base is not None:
            return None
    return out.shape, str(out.dtype), out.device


def _out(item: Call) -> int | None:
    """The value a fusible call defines (an in-place one: its target)."""
    if isinstance(item.out, Ref):
        return item.out.vid
    return item.writes[0] if item.writes and item.out is None else None


def _fits(shape: tuple[int, ...], full: tuple[int, ...]) -> bool:
    """An operand of ``shape`` the generated kernels take against results of ``full``: the same
    shape, one element, or a row (the trailing dims) broadcast down the leading ones."""
    if shape == full or prod(shape) == 1:
        return True
    core = shape[next((i for i, s in enumerate(shape) if s != 1), len(shape)):]
    return len(core) <= len(full) and full[len(full) - len(core):] == core


def fuse(trace: Trace) -> Trace:
    """The trace with each run of two or more fusible calls replaced by one kernel call."""
    kernels: dict[Any, Any] = {}
    last = _last_mentions(trace)
    program: list[Any] = []
    run: list[Any] = []   # the open group's items (Reads and Calls)
    key: Any = None

    def close() -> None:
        members = [i for i in run if isinstance(i, Call)]
        if len(members) < 2:
            program.extend(run)
        else:
            end = max(pos for pos, _ in positions if _ is members[-1])
            program.extend(i for i in run if not isinstance(i, Call))
            call = _fused(trace, members, key, end, last, kernels)
            program.extend(members if call is None else [call])
        run.clear()
        positions.clear()

    positions: list[tuple[int, Any]] = []
    for pos, item in enumerate(trace.program):
        k = _member(trace, item)
        if k is not None and (k == key or not run) and len(run) < MAX_RUN:
            key = k
            run.append(item)
            positions.append((pos, item))
        elif isinstance(item, Read) and run:
            run.append(item)
            positions.append((pos, item))
        else:
            if run:
                close()
            key = None
            if k is not None:
                key = k
                run.append(item)
                positions.append((pos, item))
            else:
                program.append(item)
    if run:
        close()
    return replace(trace, program=program)


def _fused(trace: Trace, members: list[Call], key: Any, end: int, last: dict[int, int],
           kernels: dict[Any, Any]) -> Call | None:
    """One Call of a generated kernel doing ``members`` (the run ends at position ``end``)."""
    shape, dtype, device = key
    backend = backends.for_device(device)
    names: dict[int, str] = {}       # value -> the local holding its current contents
    inputs: list[int] = []           # values read from memory, in order
    made: set[int] = set()
    written: list[int] = []
    steps = []
    for k, call in enumerate(members):
        args: list[Any] = []
        for a in call.args:
            if isinstance(a, Ref):
                if a.vid not in names:
                    if a.vid in written:
                        return None
                    names[a.vid] = f"i{len(inputs)}"
                    inputs.append(a.vid)
                args.append(names[a.vid])
            else:
                args.append(a)
        local = f"t{k}"
        steps.append((local, PROGRAMS[call.name], args))
        out = _out(call)
        assert out is not None
        if call.writes:
            if any(trace.values[v].base == out for v in inputs):
                return None  # a view of the target is read: it would see the old values
            if out not in written:
                written.append(out)
        else:
            made.add(out)
        names[out] = local
    outs = [v for v in written if v not in made or last.get(v, -1) > end]
    outs += [v for v in made if v not in written and last.get(v, -1) > end]
    if not outs:
        return None
    prog = sequence(steps, [names[v] for v in outs], [f"i{k}" for k in range(len(inputs))])
    key = (prog.source(), device, tuple(trace.values[v].shape for v in inputs))
    kernel = kernels.get(key)
    if kernel is None:
        kernel = backend.elementwise_kernel(prog)
        if kernel is None:
            return None
        # compiled now, on zeros of the operands' shapes: the capture's call pays for it
        kernel(*(backend.zeros(s, dtype=np.dtype(dtype)) for s in key[2]),
               out=[None] * len(outs), shape=shape, dtype=np.dtype(dtype))
        kernels[key] = kernel
    targets = [Ref(v) if v in written and v not in made else None for v in outs]
    return Call("fused", kernel, tuple(Ref(v) for v in inputs),
                {"out": targets, "shape": shape, "dtype": np.dtype(dtype)},
                tuple(Ref(v) for v in outs),
                tuple(v for v in outs if v in written and v not in made))


# -- memory ----------------------------------------------------------------------------------------
def _made(trace: Trace) -> dict[int, int]:
    """value -> the position of the call that makes it (values with memory of their own)."""
    made: dict[int, int] = {}
    for pos, item in enumerate(trace.program):
        if isinstance(item, Call):
            for v in refs(item.out):
                v_ = trace.values[v]
                if v not in made and v_.read is None and v_.base is None and v not in item.writes:
                    made[v] = pos
    return made


def _escaping(trace: Trace) -> set[int]:
    """Values that outlive the step (a .grad, a result), with the values they view."""
    out = set(refs(trace.outputs))
    out.update(i.vid for i in trace.program if isinstance(i, SetGrad) and i.vid is not None)
    out.update(b for b in (trace.values[v].base for v in list(out)) if b is not None)
    return out


def _ends(trace: Trace) -> dict[int, int]:
    """value -> the last position where it or a view of it is mentioned."""
    end = _last_mentions(trace)
    for v, value in enumerate(trace.values):
        if value.base is not None and v in end:
            end[value.base] = max(end.get(value.base, 0), end[v])
    return end


def peak_bytes(trace: Trace, pooled: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    """The most bytes of made values alive at once, each freed after its last mention (the
    ``pooled`` ones not counted: the plan's buffers hold them)."""
    made, end = _made(trace), _ends(trace)
    delta: dict[int, int] = {}
    for v, pos in made.items():
        if v in pooled:
            continue
        nbytes = trace.values[v].nbytes
        delta[pos] = delta.get(pos, 0) + nbytes
        stop = end.get(v, pos) + 1
        delta[stop] = delta.get(stop, 0) - nbytes
    live = peak = 0
    for pos in sorted(delta):
        live += delta[pos]
        peak = max(peak, live)
    return peak


def _ufunc(fn: Any) -> bool:
    return type(fn).__name__ == "ufunc" and getattr(fn, "nout", 0) == 1


def plan_memory(trace: Trace) -> Trace:
    """Buffers for the values the plan makes (see the module docstring), allocated once."""
    made, end, escaping = _made(trace), _ends(trace), _escaping(trace)
    free: dict[Any, list[Any]] = {}
    active: list[tuple[int, Any, Any]] = []   # (end, key, buffer)
    program, pooled, allocated = list(trace.program), set(), 0
    for pos, item in enumerate(trace.program):
        if not isinstance(item, Call):
            continue
        still = []
        for stop, key, buf in active:
            (free.setdefault(key, []).append(buf) if stop < pos else still.append((stop, key, buf)))
        active = still
        fused = item.name == "fused"
        if not fused and not (_ufunc(item.fn) and "out" not in item.kwargs):
            continue
        targets = [v for v in refs(item.out) if made.get(v) == pos and v not in escaping
                   and trace.values[v].shape]
        if not targets:
            continue
        outs = list(item.kwargs["out"]) if fused else [None]
        for v in targets:
            value = trace.values[v]
            key = (value.shape, str(value.dtype), value.device)
            pool = free.get(key)
            if pool:
                buf = pool.pop()
            else:
                buf = backends.for_device(value.device).empty(value.shape, dtype=value.dtype)
                allocated += value.nbytes
            active.append((end.get(v, pos), key, buf))
            pooled.add(v)
            k = [r.vid for r in item.out].index(v) if fused else 0
            outs[k] = buf
        program[pos] = replace(item, kwargs={**item.kwargs, "out": outs if fused else outs[0]})
    optimized = replace(trace, program=program)
    optimized.stats = {**trace.stats, "pooled_bytes": allocated,
                       "peak_bytes": peak_bytes(optimized, pooled) + allocated}
    return optimized
