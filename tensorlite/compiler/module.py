"""``tensorlite.compile(model)``: the module with its forward compiled (torch's OptimizedModule:
the original is ``_orig_mod``, and the state dict's keys carry that prefix, as torch's)."""
from __future__ import annotations

from typing import Any

from ..nn.module import Module


class OptimizedModule(Module):
    """``model`` whose calls go through a compiled forward; everything else is the model's."""

    def __init__(self, model: Module, options: dict[str, Any]) -> None:
        super().__init__()
        self._orig_mod = model
        from . import CompiledFunction
        self.__dict__["_compiled"] = CompiledFunction(model.__call__, **options)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._orig_mod, name)


def compile_module(model: Module, options: dict[str, Any]) -> OptimizedModule:
    return OptimizedModule(model, options)
