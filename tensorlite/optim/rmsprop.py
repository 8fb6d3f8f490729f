"""RMSprop, plain, centered and with momentum (torch.optim.RMSprop)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .optimizer import Optimizer, ParamsT, check_nonnegative

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        # capturable / foreach / differentiable: torch's kernel choices, accepted and ignored
        check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay,
                          alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr, momentum, centered = float(group["lr"]), group["momentum"], group["centered"]
        state = self._lazy_state(p, "square_avg",
                                 *(("momentum_buffer",) if momentum > 0 else ()),
                                 *(("grad_avg",) if centered else ()))
        self._increment(state["step"])
        sq = state["square_avg"]
        buf = state["momentum_buffer"] if momentum > 0 else None
        avg = state["grad_avg"] if centered else None
        B.rmsprop_step(p._data, g._data, sq._data, None if avg is None else avg._data,
                       None if buf is None else buf._data, lr, group["alpha"],
                       group["eps"], weight_decay=group["weight_decay"],
                       momentum=momentum, maximize=group["maximize"])
        self._bump(p, sq, buf, avg)

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        momentum, centered = group["momentum"], group["centered"]
        states = [self._lazy_state(p, "square_avg",
                                   *(("momentum_buffer",) if momentum > 0 else ()),
                                   *(("grad_avg",) if centered else ())) for p in params]
        for state in states:
            self._increment(state["step"])
        sqs = [state["square_avg"] for state in states]
        bufs = [state["momentum_buffer"] for state in states] if momentum > 0 else []
        avgs = [state["grad_avg"] for state in states] if centered else []
        B.rmsprop_steps([p._data for p in params], [g._data for g in grads],
                        [t._data for t in sqs], [t._data for t in avgs] if centered else None,
                        [t._data for t in bufs] if momentum > 0 else None, float(group["lr"]),
                        group["alpha"], group["eps"], weight_decay=group["weight_decay"],
                        momentum=momentum, maximize=group["maximize"])
        self._bump(*params, *sqs, *bufs, *avgs)
