"""SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..creation import empty_like
from .optimizer import Optimizer, ParamsT, check_nonnegative

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    _sparse_grads = "dense"  # torch's sparse SGD update equals the dense one

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        # foreach / differentiable / fused: torch's kernel choices, accepted and ignored (each
        # group's update is one fused backend call already)
        check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), group["momentum"]
        options = dict(momentum=momentum, dampening=group["dampening"],
                       weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                       maximize=group["maximize"])
        buf, first = None, False
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = empty_like(p)
                first = True
        B.sgd_step(p._data, g._data, None if buf is None else buf._data, lr,
                   first=first, **options)
        self._bump(p, buf)

    def _update_group(self, params: list[Tensor], grads: list[Tensor], B: Any,
                      group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), group["momentum"]
        bufs: list[Tensor] = []
        firsts: list[bool] = []
        if momentum != 0:
            for p in params:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                firsts.append(buf is None)
                if buf is None:
                    buf = state["momentum_buffer"] = empty_like(p)
                bufs.append(buf)
        B.sgd_steps([p._data for p in params], [g._data for g in grads],
                    [b._data for b in bufs] if momentum != 0 else None, lr, momentum=momentum,
                    dampening=group["dampening"], weight_decay=group["weight_decay"],
                    nesterov=group["nesterov"], maximize=group["maximize"],
                    firsts=firsts or None)
        self._bump(*params, *bufs)
