"""Weight normalization with forward pre-hooks (the older torch.nn.utils.weight_norm API):
``weight = g * v / ||v||`` with ``g`` and ``v`` the parameters ``<name>_g`` and ``<name>_v``.
``tensorlite.nn.utils.parametrizations.weight_norm`` is the newer form."""
from __future__ import annotations

import warnings
from typing import Any, TypeVar

from ...tensor import Tensor
from ..module import Module, Parameter

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm", "norm_except_dim",
           "_weight_norm"]

T_module = TypeVar("T_module", bound=Module)


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dim but ``dim`` (kept, the others size 1), as
    ``torch.norm_except_dim``; ``dim=-1`` gives the norm of the whole tensor (0-d)."""
    from ...ops.linalg import vector_norm
    if dim == -1:
        return vector_norm(v, pow)
    d = dim % v.ndim
    others = tuple(i for i in range(v.ndim) if i != d)
    if not others:  # a 1-D tensor: the norm of each element alone
        return v.abs() if pow else (v != 0).to(v.dtype)
    return vector_norm(v, pow, dim=others, keepdim=True)


def _weight_norm(v: Tensor, g: Tensor, dim: int = 0) -> Tensor:
    """``v * (g / norm_except_dim(v, 2, dim))`` (torch._weight_norm)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and
    ``<name>_v``."""
    name: str
    dim: int

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"),
                            self.dim)

    @staticmethod
    def apply(module: Module, name: str, dim: int | None) -> WeightNorm:
        warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                      "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning,
                      stacklevel=3)
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g",
                                  Parameter(norm_except_dim(weight, 2, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Replace the parameter ``name`` of ``module`` by a magnitude ``<name>_g`` and a direction
    ``<name>_v`` (``weight = g * v / ||v||``, the norm over every dim but ``dim``; ``dim=None``
    for the whole tensor), recomputed before each forward.  Deprecated in torch in favor of
    ``parametrizations.weight_norm``; kept with its FutureWarning."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: T_module, name: str = "weight") -> T_module:
    """Undo ``weight_norm``: ``name`` is a plain parameter again (its current value)."""
    return _remove_hook(module, WeightNorm, name, "weight_norm")


def _remove_hook(module: T_module, kind: type[Any], name: str, label: str) -> T_module:
    """Remove ``module``'s forward pre-hook of class ``kind`` for parameter ``name`` (its
    ``remove`` leaves a plain parameter), or raise ValueError naming ``label``."""
    hooks: dict[int, Any] = module._forward_pre_hooks
    for k, hook in hooks.items():
        if isinstance(hook, kind) and hook.name == name:
            hook.remove(module)
            del hooks[k]
            return module
    raise ValueError(f"{label} of '{name}' not found in {module}")
