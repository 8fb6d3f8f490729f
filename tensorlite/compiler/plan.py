"""A plan: a captured trace (capture.py) turned into one Python function that replays it.

The replay is generated source, one line per recorded call (``v7 = f3(v2, v5, axis=1)``), so a
replay pays a function call per primitive and nothing else: no Tensor objects, no tape, no
dispatch.  Each value is a local variable deleted after its last use (the memory eager execution
frees by reference counting is freed at the same points).  Host calls (an optimizer's step)
run as they are; gradients are assigned to the leaves where the capture saw them change.
Comparisons made with values read on the host (bounds checks) are checked again: those on the
call's arguments before anything is written (a different outcome runs the call eagerly), the
others where they were made (a different outcome raises).
"""
from __future__ import annotations

from typing import Any

from ..tensor import wrap
from .capture import (RANDOM, Branch, Call, Check, Host, Probe, Read, Ref, SetGrad, Trace,
                      _Leaf, _Output)

_IMPURE = RANDOM | {"fused"}  # calls that draw, or (a fused kernel) may write


class Diverged(Exception):
    """A replay's check found a branch the capture did not take."""


class Plan:
    """``plan(args)`` replays the trace for the argument tensors ``args`` (their ``_data``
    read in the captured order) and returns the captured function's kind of result."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.source, self._globals = generate(trace)
        code = compile(self.source, "<tensorlite.compile plan>", "exec")
        namespace = dict(self._globals)
        exec(code, namespace)
        self.run = namespace["replay"]
        self.precheck = namespace["precheck"]

    def __call__(self, args: list[Any]) -> Any:
        return self.run(args)

    @property
    def calls(self) -> int:
        return sum(isinstance(i, Call) for i in self.trace.program)


def generate(trace: Trace) -> tuple[str, dict[str, Any]]:
    """(source of ``replay(T)`` and ``precheck(T)``, the globals they read)."""
    consts: dict[int, str] = {}
    names: dict[str, Any] = {"_wrap": wrap, "_Diverged": Diverged}

    def const(obj: Any, prefix: str = "c") -> str:
        key = id(obj)
        if key not in consts:
            consts[key] = f"{prefix}{len(consts)}"
            names[consts[key]] = obj
        return consts[key]

    def expr(obj: Any) -> str:
        if isinstance(obj, Ref):
            return f"v{obj.vid}"
        if type(obj) is tuple:
            return "(" + "".join(expr(o) + ", " for o in obj) + ")"
        if type(obj) is list:
            return "[" + ", ".join(expr(o) for o in obj) + "]"
        if type(obj) is dict:
            return "{" + ", ".join(f"{k!r}: {expr(v)}" for k, v in obj.items()) + "}"
        if obj is None or type(obj) in (bool, int, str) or (
                type(obj) is float and obj == obj and abs(obj) != float("inf")):
            return repr(obj)
        return const(obj)

    def target(out: Any) -> str | None:
        if isinstance(out, Ref):
            return f"v{out.vid}"
        if type(out) in (tuple, list) and all(o is None or isinstance(o, Ref) for o in out):
            if not any(isinstance(o, Ref) for o in out):
                return None
            return "(" + "".join(("_" if o is None else f"v{o.vid}") + ", " for o in out) + ")"
        return None if out is None else "_r"

    def unpack(out: Any, at: str) -> list[str]:
        if isinstance(out, Ref):
            return [f"v{out.vid} = {at}"]
        if type(out) in (tuple, list):
            return [line for i, o in enumerate(out) for line in unpack(o, f"{at}[{i}]")]
        return []

    def call(fn: Any, args: Any, kwargs: dict[str, Any]) -> str:
        return f"{const(fn, 'f')}(" + "".join(expr(a) + ", " for a in args) + \
            "".join(f"{k}={expr(v)}, " for k, v in kwargs.items()) + ")"

    def emit(item: Any) -> tuple[list[str], str | None]:
        """(the item's lines, the condition under which a check fails, or None)."""
        if isinstance(item, Read):
            vid, where = item.vid, item.where  # type: ignore[attr-defined]
            return [{"arg": f"v{vid} = T[{where}]._data", "slot": f"v{vid} = T[{where}]",
                     "data": f"v{vid} = {const(where, 't')}._data",
                     "grad": f"v{vid} = {const(where, 't')}._grad._data",
                     "const": f"v{vid} = {const(where)}"}[item.kind]], None
        if isinstance(item, Call):
            tgt, text = target(item.out), call(item.fn, item.args, item.kwargs)
            if tgt == "_r":
                return [f"_r = {text}"] + unpack(item.out, "_r"), None
            return [f"{tgt} = {text}" if tgt else text], None
        if isinstance(item, Host):
            return [f"{const(item.fn, 'h')}({const(item.self, 'o')}, *{expr(item.args)}, "
                    f"**{expr(item.kwargs)})"], None
        if isinstance(item, SetGrad):
            t = const(item.tensor, "t") if item.arg is None else f"T[{item.arg}]"
            return [f"{t}._grad = None" if item.vid is None else
                    f"{t}._grad = _wrap(v{item.vid}, {t}.device)"], None
        if isinstance(item, Branch):
            return [], (f"{const(_value_range(trace, item.vid), 'f')}(v{item.vid})"
                        f"[{item.which}].{item.op}({item.other!r}) is not {item.outcome}")
        if isinstance(item, Check):
            return [], (f"tuple(bool(f) for f in {const(item.to_host, 'f')}(v{item.vid})) != "
                        f"{item.flags!r}")
        if isinstance(item, Probe):
            return [], f"{call(item.fn, item.args, item.kwargs)} != {expr(item.result)}"
        return [], None

    program = trace.program
    last = _last_uses(trace)
    defined: dict[int, int] = {}   # value -> the position of the item that first defines it
    for pos, item in enumerate(program):
        for v in (refs(item.out) if isinstance(item, Call) else
                  [item.vid] if isinstance(item, Read) else []):  # type: ignore[attr-defined]
            defined.setdefault(v, pos)
    lines: list[str] = []
    pre_positions: set[int] = set()
    pre_checks: list[tuple[int, str]] = []
    for pos, item in enumerate(program):
        body, failed = emit(item)
        lines += body
        if failed is not None:
            needed = _ancestors(program, defined, uses(item))
            if needed is not None:  # computable from the inputs alone: checked first
                pre_positions |= needed
                pre_checks.append((pos, failed))
            lines.append(f"if {failed}: raise _Diverged({item.where!r})")
        dead = last.pop(pos, ())
        if dead:
            lines.append("del " + ", ".join(f"v{v}" for v in dead))
    for leaf in refs_of_leaves(trace.outputs):
        names[f"_leaf_{id(leaf)}"] = leaf
    lines.append(f"return {_outputs(trace.outputs)}")
    pre: list[str] = []
    checks = iter(pre_checks)
    check = next(checks, None)
    for pos in range(len(program)):
        if pos in pre_positions:
            pre += emit(program[pos])[0]
        while check is not None and check[0] == pos:
            pre.append(f"if {check[1]}: return False")
            check = next(checks, None)
    source = ("def precheck(T):\n" + "".join(f"    {line}\n" for line in pre) +
              "    return True\n\n"
              "def replay(T):\n" + "".join(f"    {line}\n" for line in lines))
    return source, names


def _ancestors(program: list[Any], defined: dict[int, int], vids: list[int]) -> set[int] | None:
    """The positions of the items that compute ``vids`` from the plan's inputs, or None when
    one of them writes, draws random numbers or follows a host call (not computable first)."""
    needed: set[int] = set()
    todo = list(vids)
    while todo:
        pos = defined.get(todo.pop())
        if pos is None or pos in needed:
            continue
        item = program[pos]
        if isinstance(item, Call):
            if item.writes or item.name in _IMPURE or any(
                    isinstance(i, Host) for i in program[:pos]):
                return None
            todo += refs(item.args) + refs(item.kwargs)
        needed.add(pos)
    return needed


def refs_of_leaves(out: Any) -> list[Any]:
    """The tensors returned as they are (leaves that are not arguments)."""
    if isinstance(out, _Leaf):
        return [out.tensor] if out.arg is None else []
    if type(out) in (tuple, list):
        return [t for o in out for t in refs_of_leaves(o)]
    if type(out) is dict:
        return [t for o in out.values() for t in refs_of_leaves(o)]
    return []


def _outputs(out: Any) -> str:
    if isinstance(out, _Leaf):
        return f"T[{out.arg}]" if out.arg is not None else f"_leaf_{id(out.tensor)}"
    if isinstance(out, Ref):  # an array as it is (the halves of a compiled module's step)
        return f"v{out.vid}"
    if isinstance(out, _Output):
        return f"_wrap(v{out.vid}, {str(out.device)!r})"
    if type(out) is tuple:
        return "(" + "".join(_outputs(o) + ", " for o in out) + ")"
    if type(out) is list:
        return "[" + ", ".join(_outputs(o) for o in out) + "]"
    if type(out) is dict:
        return "{" + ", ".join(f"{k!r}: {_outputs(v)}" for k, v in out.items()) + "}"
    return repr(out)


def refs(obj: Any) -> list[int]:
    """The value numbers in an argument or result template."""
    if isinstance(obj, Ref):
        return [obj.vid]
    if isinstance(obj, _Output):
        return [obj.vid]
    if type(obj) in (tuple, list):
        return [v for o in obj for v in refs(o)]
    if type(obj) is dict:
        return [v for o in obj.values() for v in refs(o)]
    return []


def uses(item: Any) -> list[int]:
    """The values an item of the program mentions (reads, writes or defines)."""
    if isinstance(item, Call):
        return refs(item.args) + refs(item.kwargs) + refs(item.out)
    if isinstance(item, SetGrad):
        return [] if item.vid is None else [item.vid]
    if isinstance(item, (Branch, Check)):
        return [item.vid]
    if isinstance(item, Probe):
        return refs(item.args) + refs(item.kwargs)
    if isinstance(item, Read):
        return [item.vid]  # type: ignore[attr-defined]
    return []


def _last_uses(trace: Trace) -> dict[int, list[int]]:
    """position -> the values whose last mention is there (outputs live to the end)."""
    last: dict[int, int] = {}
    for pos, item in enumerate(trace.program):
        for v in uses(item):
            last[v] = pos
    for v in refs(trace.outputs):
        last.pop(v, None)
    at: dict[int, list[int]] = {}
    for v, pos in last.items():
        at.setdefault(pos, []).append(v)
    return at


def _value_range(trace: Trace, vid: int) -> Any:
    from ..backends import for_device
    return for_device(trace.values[vid].device).value_range
