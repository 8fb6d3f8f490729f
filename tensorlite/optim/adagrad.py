"""Adagrad (torch.optim.Adagrad)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..creation import full_like
from .optimizer import Optimizer, ParamsT, check_nonnegative

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    _sparse_grads = "dense"  # torch's sparse Adagrad update equals the dense one

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        # foreach / differentiable / fused: torch's kernel choices, accepted and ignored
        check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                          initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:  # torch creates Adagrad's state up front
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        state["step"] = self._new_step()
        state["sum"] = full_like(p, group["initial_accumulator_value"])
        return state

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        state = self.state[p] or self._init_state(p, group)  # a group added later
        step = self._increment(state["step"])
        B.adagrad_step(p._data, g._data, state["sum"]._data, step, lr,
                       lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                       eps=group["eps"], maximize=group["maximize"])
        self._bump(p, state["sum"])

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        states = [self.state[p] or self._init_state(p, group) for p in params]
        steps = [self._increment(state["step"]) for state in states]
        sums = [state["sum"] for state in states]
        B.adagrad_steps([p._data for p in params], [g._data for g in grads],
                        [t._data for t in sums], steps, float(group["lr"]),
                        lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                        eps=group["eps"], maximize=group["maximize"])
        self._bump(*params, *sums)
