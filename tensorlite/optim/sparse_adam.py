"""SparseAdam: Adam that updates only the entries a gradient touches (torch.optim.SparseAdam).

torch takes sparse COO gradients only (``nn.Embedding(sparse=True)``) and updates the moments
and parameter at their materialized entries.  Here a sparse COO gradient works the same way,
and a dense gradient is accepted too: its nonzero entries are the ones updated (torch's
documented meaning of SparseAdam: the mask of the gradient's nonzero values), so a model whose
embedding gradient comes out dense trains as it would in torch.
"""
from __future__ import annotations

from typing import Any

from ..creation import ones_like, zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, adam_defaults

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    _scalar_state: frozenset[str] = frozenset()  # torch keeps SparseAdam's step a Python int
    _sparse_grads = "keep"

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False) -> None:
        defaults = adam_defaults(lr, betas, eps, maximize=maximize)
        super().__init__(params, defaults)
        sparse_params = [[gi, pi] for gi, group in enumerate(self.param_groups)
                         for pi, p in enumerate(group["params"]) if p.is_sparse]
        if sparse_params:
            raise ValueError(f"Sparse params at indices {sparse_params}: SparseAdam requires "
                             "dense parameter tensors")

    def _update(self, p: Tensor, g: Tensor, B: Any, group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = float(group["lr"]), group["betas"]
        if g.is_sparse:
            g = g.coalesce()
            mask = _ones_at(g) != 0
            g = g.to_dense()
        else:
            mask = g != 0
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
        state["step"] += 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        B.sparse_adam_step(p._data, B.ensure_array(g._data), B.ensure_array(mask._data),
                           m._data, v._data, state["step"], lr, beta1, beta2,
                           group["eps"], maximize=group["maximize"])
        self._bump(p, m, v)


def _ones_at(g: Tensor) -> Tensor:
    """A dense tensor that is 1 where the (coalesced) sparse ``g`` has an entry, else 0."""
    from ..sparse import sparse_coo_tensor
    return sparse_coo_tensor(g._indices(), ones_like(g._values()), tuple(g.shape)).to_dense()
