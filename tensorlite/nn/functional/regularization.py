"""Dropout: zero random elements in training and scale the rest (torch.nn.functional.dropout)."""
from __future__ import annotations

from ...autograd.graph import record
from ...tensor import Tensor, wrap
from ._common import float_backend

__all__ = ["dropout"]


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
            ) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (training only;
    otherwise the input itself is returned)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    B = float_backend("dropout", input)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        mask = B.zeros(input.shape, dtype=input.dtype)
    else:
        mask = B.dropout_mask(input.shape, p, input.dtype)
    return record("dropout", B.mul(input._data, mask), (input,), lambda ctx, g: (g * ctx.mask,),
                  save={"mask": wrap(mask, input.device)})
