"""The op registry: each op registers itself where it is defined.

``@op(...)`` above an op's function records it in ``REGISTRY`` and installs it as a Tensor
method (and, when asked, its in-place method ``name_``, built by inplace.py).
ops/__init__.py exports every registered op as a function of ``tensorlite.ops`` (and so of
``tensorlite``).  Whatever needs the list of ops (the fuzz's coverage check, docs) reads
``REGISTRY``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from ..tensor import Tensor
from .inplace import inplace as _inplace_method


@dataclass(frozen=True)
class Op:
    """A registered op: ``fn`` is ``tensorlite.<name>``; ``method``: whether ``Tensor.<name>``
    is ``fn`` too; ``inplace``: the name of its in-place Tensor method, or None; ``alias_of``:
    the op's own name when ``name`` is another name for it (``view`` for ``reshape``)."""
    name: str
    fn: Callable[..., Any]
    method: bool
    inplace: Optional[str]
    alias_of: Optional[str] = None


REGISTRY: dict[str, Op] = {}  # name -> Op, in the order the ops were defined


F = TypeVar("F", bound=Callable[..., Any])


def op(*, method: bool = True, inplace: bool = False, fast: str | None = None,
       aliases: Sequence[str] = ()) -> Callable[[F], F]:
    """Register the function below (or passed) as the op named by its ``__name__``, and under
    each name of ``aliases``: a function of tensorlite, a Tensor method unless ``method`` is
    False, and with ``inplace`` the in-place method ``name_`` (the result written into the
    tensor); ``fast`` names the backend primitive that an in-place call uses when no gradient
    flows (``"iadd"``: no temporary).  Returns the function unchanged."""
    def register(fn: F) -> F:
        for name in (fn.__name__, *aliases):
            known = REGISTRY.get(name)
            if known is not None and (known.fn.__module__, known.fn.__qualname__) != (
                    fn.__module__, fn.__qualname__):
                raise ValueError(f"op {name!r} is registered twice ({known.fn.__module__} and "
                                 f"{fn.__module__})")
            in_place = name + "_" if inplace else None
            REGISTRY[name] = Op(name, fn, method, in_place,
                                None if name == fn.__name__ else fn.__name__)
            if method:
                setattr(Tensor, name, fn)
            if in_place:
                setattr(Tensor, in_place, _inplace_method(in_place, fn, fast))
        return fn
    return register
