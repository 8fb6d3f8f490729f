"""Adadelta (torch.optim.Adadelta)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .optimizer import Optimizer, ParamsT, check_nonnegative

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        # foreach / capturable / differentiable: torch's kernel choices, accepted and ignored
        check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        state = self._lazy_state(p, "square_avg", "acc_delta")
        self._increment(state["step"])
        sq, acc = state["square_avg"], state["acc_delta"]
        B.adadelta_step(p._data, g._data, sq._data, acc._data, lr, group["rho"],
                        group["eps"], weight_decay=group["weight_decay"],
                        maximize=group["maximize"])
        self._bump(p, sq, acc)

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        states = [self._lazy_state(p, "square_avg", "acc_delta") for p in params]
        for state in states:
            self._increment(state["step"])
        sqs = [state["square_avg"] for state in states]
        accs = [state["acc_delta"] for state in states]
        B.adadelta_steps([p._data for p in params], [g._data for g in grads],
                         [t._data for t in sqs], [t._data for t in accs], float(group["lr"]),
                         group["rho"], group["eps"], weight_decay=group["weight_decay"],
                         maximize=group["maximize"])
        self._bump(*params, *sqs, *accs)
