"""Adamax: Adam with the infinity norm (torch.optim.Adamax)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .optimizer import Optimizer, ParamsT, adam_defaults

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["Adamax"]


class Adamax(Optimizer):
    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        defaults = adam_defaults(lr, betas, eps, weight_decay, maximize=maximize)
        # foreach / capturable / differentiable: torch's kernel choices, accepted and ignored
        # (each parameter's update is one backend call already), not kept in the groups
        super().__init__(params, defaults)

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = float(group["lr"]), group["betas"]
        state = self._lazy_state(p, "exp_avg", "exp_inf")
        step = self._increment(state["step"])
        m, u = state["exp_avg"], state["exp_inf"]
        B.adamax_step(p._data, g._data, m._data, u._data, step, lr, beta1, beta2,
                      group["eps"], weight_decay=group["weight_decay"],
                      maximize=group["maximize"])
        self._bump(p, m, u)

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        (beta1, beta2) = group["betas"]
        states = [self._lazy_state(p, "exp_avg", "exp_inf") for p in params]
        steps = [self._increment(state["step"]) for state in states]
        ms = [state["exp_avg"] for state in states]
        us = [state["exp_inf"] for state in states]
        B.adamax_steps([p._data for p in params], [g._data for g in grads],
                       [t._data for t in ms], [t._data for t in us], steps, float(group["lr"]),
                       beta1, beta2, group["eps"], weight_decay=group["weight_decay"],
                       maximize=group["maximize"])
        self._bump(*params, *ms, *us)
