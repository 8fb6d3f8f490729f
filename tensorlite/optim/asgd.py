"""ASGD: averaged stochastic gradient descent (torch.optim.ASGD)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import dtypes
from ..creation import full, ones, zeros_like
from .optimizer import Optimizer, ParamsT, check_nonnegative

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["ASGD"]


class ASGD(Optimizer):
    # eta and mu: 0-d float32 tensors, as torch keeps them (their values are float32-rounded)
    _scalar_state = frozenset({"step", "eta", "mu"})

    def __init__(self, params: ParamsT, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_nonnegative(lr=lr, weight_decay=weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        # foreach / capturable / differentiable: torch's kernel choices, accepted and ignored
        # (each parameter's update is one backend call already), not kept in the groups
        super().__init__(params, defaults)

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr, lambd, alpha, t0 = float(group["lr"]), group["lambd"], group["alpha"], group["t0"]
        state = self.state[p]
        if not state:
            state["step"] = self._new_step()
            state["eta"] = full((), lr, dtype=dtypes.float32, device="cpu")
            state["mu"] = ones((), dtype=dtypes.float32, device="cpu")
            state["ax"] = zeros_like(p)
        step = self._increment(state["step"])
        ax, eta, mu = state["ax"], state["eta"], state["mu"]
        B.asgd_step(p._data, g._data, ax._data, eta.item(), mu.item(), lambd,
                    weight_decay=group["weight_decay"], maximize=group["maximize"])
        eta.fill_(lr / ((1 + lambd * lr * step) ** alpha))
        mu.fill_(1 / max(1, step - t0))
        self._bump(p, ax)

    def _check_param(self, p: Any, group: dict[str, Any], gi: int, pi: int) -> None:
        state = self.state.get(p)
        if state and not {"eta", "mu", "ax"} <= set(state):
            raise RuntimeError(f"ASGD: the state of parameter {pi} in param group {gi} lacks "
                               "'eta', 'mu' or 'ax' (was it loaded from another optimizer?); "
                               "no parameter was updated")
