"""Rprop: resilient backpropagation (torch.optim.Rprop)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..creation import full_like, zeros_like
from .optimizer import Optimizer, ParamsT, check_nonnegative

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["Rprop"]


class Rprop(Optimizer):
    def __init__(self, params: ParamsT, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_nonnegative(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                        maximize=maximize)
        # foreach / capturable / differentiable: torch's kernel choices, accepted and ignored
        # (each parameter's update is one backend call already), not kept in the groups
        super().__init__(params, defaults)

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        state = self.state[p]
        if not state:
            state["step"] = self._new_step()
            state["prev"] = zeros_like(p)
            state["step_size"] = full_like(g, float(group["lr"]))
        self._increment(state["step"])
        prev, size = state["prev"], state["step_size"]
        B.rprop_step(p._data, g._data, prev._data, size._data, etaminus, etaplus,
                     step_size_min, step_size_max, maximize=group["maximize"])
        self._bump(p, prev, size)
