"""RAdam: Adam with a rectified adaptive learning rate (torch.optim.RAdam)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .optimizer import Optimizer, ParamsT, adam_defaults

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["RAdam"]


class RAdam(Optimizer):
    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = adam_defaults(lr, betas, eps, weight_decay, maximize=maximize,
                                 decoupled_weight_decay=decoupled_weight_decay)
        # foreach / capturable / differentiable: torch's kernel choices, accepted and ignored
        # (each parameter's update is one backend call already), not kept in the groups
        super().__init__(params, defaults)

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = float(group["lr"]), group["betas"]
        state = self._lazy_state(p, "exp_avg", "exp_avg_sq")
        step = self._increment(state["step"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        B.radam_step(p._data, g._data, m._data, v._data, step, lr, beta1, beta2,
                     group["eps"], weight_decay=group["weight_decay"],
                     decoupled_weight_decay=group["decoupled_weight_decay"],
                     maximize=group["maximize"])
        self._bump(p, m, v)

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        (beta1, beta2) = group["betas"]
        states = [self._lazy_state(p, "exp_avg", "exp_avg_sq") for p in params]
        steps = [self._increment(state["step"]) for state in states]
        ms = [state["exp_avg"] for state in states]
        vs = [state["exp_avg_sq"] for state in states]
        B.radam_steps([p._data for p in params], [g._data for g in grads],
                      [t._data for t in ms], [t._data for t in vs], steps, float(group["lr"]),
                      beta1, beta2, group["eps"], weight_decay=group["weight_decay"],
                      decoupled_weight_decay=group["decoupled_weight_decay"],
                      maximize=group["maximize"])
        self._bump(*params, *ms, *vs)
