"""NAdam: Adam with Nesterov momentum (torch.optim.NAdam)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import dtypes
from ..creation import ones, zeros_like
from .optimizer import Optimizer, ParamsT, adam_defaults, check_nonnegative

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["NAdam"]


class NAdam(Optimizer):
    _scalar_state = frozenset({"step", "mu_product"})

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = adam_defaults(lr, betas, eps, weight_decay)
        check_nonnegative(momentum_decay=momentum_decay)  # after weight_decay, as torch
        defaults.update(momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        # foreach / capturable / differentiable: torch's kernel choices, accepted and ignored
        # (each parameter's update is one backend call already), not kept in the groups
        super().__init__(params, defaults)

    def _advance(self, p: Tensor, group: dict[str, Any]) -> tuple[Any, float, float, float]:
        """p's state made on its first step, its step counted and mu_product advanced:
        (step, mu, mu_next, mu_product), the momentum schedule as torch's."""
        beta1, momentum_decay = group["betas"][0], group["momentum_decay"]
        state = self.state[p]
        if not state:
            state["step"] = self._new_step()
            state["mu_product"] = ones((), dtype=dtypes.float32, device="cpu")
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
        step = self._increment(state["step"])
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product = state["mu_product"]
        mu_product.mul_(mu)  # in float32, as torch
        return step, mu, mu_next, mu_product.item()

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = float(group["lr"]), group["betas"]
        step, mu, mu_next, mu_product = self._advance(p, group)
        m, v = self.state[p]["exp_avg"], self.state[p]["exp_avg_sq"]
        B.nadam_step(p._data, g._data, m._data, v._data, step, lr, beta1, beta2,
                     group["eps"], mu, mu_next, mu_product,
                     weight_decay=group["weight_decay"],
                     decoupled_weight_decay=group["decoupled_weight_decay"],
                     maximize=group["maximize"])
        self._bump(p, m, v)

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        (beta1, beta2) = group["betas"]
        steps, mus, mu_nexts, mu_products = zip(*(self._advance(p, group) for p in params))
        ms = [self.state[p]["exp_avg"] for p in params]
        vs = [self.state[p]["exp_avg_sq"] for p in params]
        B.nadam_steps([p._data for p in params], [g._data for g in grads],
                      [t._data for t in ms], [t._data for t in vs], list(steps),
                      float(group["lr"]), beta1, beta2, group["eps"], list(mus),
                      list(mu_nexts), list(mu_products),
                      weight_decay=group["weight_decay"],
                      decoupled_weight_decay=group["decoupled_weight_decay"],
                      maximize=group["maximize"])
        self._bump(*params, *ms, *vs)

    def _check_param(self, p: Any, group: dict[str, Any], gi: int, pi: int) -> None:
        state = self.state.get(p)
        if state and "mu_product" not in state:
            raise RuntimeError(f"NAdam: the state of parameter {pi} in param group {gi} has no "
                               "'mu_product' (was it loaded from another optimizer?); no "
                               "parameter was updated")
