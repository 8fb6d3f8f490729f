"""Adagrad (torch.optim.Adagrad)."""
from ..autograd.grad_mode import no_grad
from ..creation import full_like
from .optimizer import Optimizer, check_nonnegative

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                          initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:  # torch creates Adagrad's state up front
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = self._new_step()
        state["sum"] = full_like(p, group["initial_accumulator_value"])
        return state

    @no_grad()
    def step(self, closure=None):
        loss = self._begin_step(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            for p, g, B in self._with_grad(group):
                state = self.state[p] or self._init_state(p, group)  # a group added later
                step = self._increment(state["step"])
                B.adagrad_step(p._data, g._data, state["sum"]._data, step, lr,
                               lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                               eps=group["eps"], maximize=group["maximize"])
                self._bump(p, state["sum"])
        return loss
