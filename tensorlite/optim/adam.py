"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .optimizer import Optimizer, ParamsT, adam_defaults

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        # foreach / capturable / differentiable / fused: torch's kernel choices, accepted and
        # ignored (each group's update is one fused backend call already)
        defaults = adam_defaults(lr, betas, eps, weight_decay, amsgrad=amsgrad,
                                 maximize=maximize,
                                 decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = float(group["lr"]), group["betas"]
        amsgrad = group["amsgrad"]
        options = dict(weight_decay=group["weight_decay"], maximize=group["maximize"],
                       decoupled_weight_decay=group["decoupled_weight_decay"])
        state = self._lazy_state(p, "exp_avg", "exp_avg_sq",
                                 *(("max_exp_avg_sq",) if amsgrad else ()))
        step = self._increment(state["step"])
        m, v, vmax = state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq")
        B.adam_step(p._data, g._data, m._data, v._data,
                    state["max_exp_avg_sq"]._data if amsgrad else None, step, lr, beta1, beta2,
                    group["eps"], **options)
        self._bump(p, m, v, vmax if amsgrad else None)

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = float(group["lr"]), group["betas"]
        amsgrad = group["amsgrad"]
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else \
            ("exp_avg", "exp_avg_sq")
        states = [self._lazy_state(p, *names) for p in params]
        steps = [self._increment(state["step"]) for state in states]
        ms = [state["exp_avg"] for state in states]
        vs = [state["exp_avg_sq"] for state in states]
        vmaxs = [state["max_exp_avg_sq"] for state in states] if amsgrad else []
        B.adam_steps([p._data for p in params], [g._data for g in grads],
                     [m._data for m in ms], [v._data for v in vs],
                     [u._data for u in vmaxs] if amsgrad else None, steps, lr, beta1, beta2,
                     group["eps"], weight_decay=group["weight_decay"],
                     maximize=group["maximize"],
                     decoupled_weight_decay=group["decoupled_weight_decay"])
        self._bump(*params, *ms, *vs, *vmaxs)

    def _check_param(self, p: Tensor, group: dict[str, Any], gi: int, pi: int) -> None:
        state = self.state.get(p)
        if group["amsgrad"] and state and "max_exp_avg_sq" not in state:
            raise RuntimeError(f"{type(self).__name__}: amsgrad=True but the state of parameter "
                               f"{pi} in param group {gi} has no 'max_exp_avg_sq' (it was "
                               "created or loaded with amsgrad=False); no parameter was updated")


class AdamW(Adam):
    """Adam with decoupled weight decay: the parameters shrink by ``lr * weight_decay`` each
    step instead of the decay entering the moment estimates."""

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
