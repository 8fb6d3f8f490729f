"""What the rest of tensorlite tells a capture in progress (tensorlite.compile; see
compiler/capture.py), kept import-free
so the core can call it: each check is one test of a list that is empty outside a capture.

- ``host``: a method that changes Python state a plan cannot express as array work (an
  optimizer's or scheduler's ``step``, ``zero_grad``): a capture records the call itself and
  runs it again on every replay.
- ``leaf``: the engine is about to accumulate a gradient into a leaf's ``.grad``.
- ``created``: a tensor was made (an array it holds that no recorded call made came from
  outside the backend: the capture refuses it rather than replay it as a constant).
- ``host_read``: the value of a tensor is being read on the host (``.numpy()``); the call cannot
  be captured.
- ``outside``: arrays are being worked on outside the backend (distributed collectives).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

active: list[Any] = []  # the capture in progress (at most one), see capture.Capture
_marked: set[Any] = set()  # the wrappers host() made (functools.wraps copies attributes)


def host(method: F) -> F:
    """Mark ``method`` as host work: under a capture the call is recorded, not its arrays."""
    if method in _marked:
        return method

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if active:
            return active[-1].host_call(method, self, args, kwargs)
        return method(self, *args, **kwargs)
    _marked.add(call)
    return call  # type: ignore[return-value]


def leaf(t: Any) -> None:
    if active:
        active[-1].watch(t)


def created(t: Any) -> None:
    active[-1].created.add(id(t))


def host_read(what: str) -> None:
    if active:
        active[-1].refuse(f"{what} reads a tensor's value on the host")


def outside(what: str) -> None:
    """Work on arrays that does not go through a backend (a collective over MPI or NCCL)."""
    if active:
        active[-1].refuse(f"{what} works on arrays outside the backend (not replayable)")
