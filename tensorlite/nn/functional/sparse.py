"""Integer indices in, rows or one-hot vectors out: embedding, embedding_bag and one_hot."""
from __future__ import annotations

from ... import dtypes
from ...autograd.graph import record
from ...ops.common import backend_of
from ...ops.indexing import index_add, masked_fill
from ...tensor import Tensor, describe, wrap
from ._common import check_tensor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...autograd.graph import Context

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _renorm_rows(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """torch's embedding_renorm_: the rows of ``weight`` that ``input`` names and whose
    ``norm_type``-norm exceeds ``max_norm`` are scaled in place to norm max_norm (no gradient)."""
    from ...autograd.grad_mode import no_grad
    from ...ops.scan import norm as _norm
    from ...ops.sorting import unique
    from ...ops.pointwise import where
    if not input.numel():
        return
    with no_grad():
        idx = unique(input.reshape(-1))
        rows = weight[idx]
        norms = _norm(rows, norm_type, 1, keepdim=True)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[idx] = rows * scale


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` at the integer ``input``; repeated indices accumulate their gradient
    and the ``padding_idx`` row gets none.  ``max_norm``: the rows looked up are first
    renormalized in place to at most that ``norm_type``-norm, as torch; ``scale_grad_by_freq``:
    each row's gradient is divided by its index's count in ``input``; ``sparse=True`` is
    accepted and gives a dense gradient (tensorlite has no sparse gradients)."""
    check_tensor("embedding", input)
    check_tensor("embedding", weight, "weight")
    if dtypes.kind(input.dtype) != 1:
        raise TypeError(f"embedding: indices must be an integer tensor (int64 or int32), got "
                        f"{describe(input)}")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                           f"{describe(weight)}")
    if input.device != weight.device:
        raise RuntimeError(f"embedding: indices are {describe(input)} but weight is "
                           f"{describe(weight)}; move one with .to()")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings ({n})")
        padding_idx %= n
    B = backend_of(weight, "embedding")
    idx = input._data
    if input.numel():
        lo, hi = B.value_range(idx)
        if lo < 0 or hi >= n:
            raise IndexError(f"embedding: index {lo if lo < 0 else hi} is out of range for a "
                             f"weight with {n} rows (valid: 0..{n - 1})")
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    shape = weight.shape

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:
        indices = ctx.indices
        if padding_idx is not None:
            g = masked_fill(g, (indices == padding_idx).unsqueeze(-1), 0.0)
        if scale_grad_by_freq:
            from ...ops.sorting import bincount
            counts = bincount(indices.reshape(-1), minlength=n)
            g = g / counts[indices].unsqueeze(-1).to(g.dtype)
        return (index_add(g, shape, (indices._data,)),)
    return record("embedding", B.getitem(weight._data, idx), (weight,), backward,
                  save={"indices": input})


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape (*, num_classes) with a 1 at each index of ``tensor``."""
    check_tensor("one_hot", tensor)
    if dtypes.kind(tensor.dtype) != 1:
        raise RuntimeError(f"one_hot is only applicable to index tensors of an integer type, got "
                           f"{describe(tensor)}")
    B = backend_of(tensor, "one_hot")
    idx = tensor._data
    lo, hi = B.value_range(idx) if tensor.numel() else (0, -1)
    if num_classes == -1:
        if not tensor.numel():
            raise RuntimeError("one_hot: can not infer the total number of classes from an empty "
                               "tensor; pass num_classes")
        num_classes = hi + 1
    if lo < 0:
        raise RuntimeError("one_hot: class values must be non-negative")
    if hi >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                           f"({num_classes}), got {hi}")
    hit = B.eq(B.reshape(idx, tuple(tensor.shape) + (1,)), B.arange(num_classes, dtype=idx.dtype))
    return wrap(B.astype(hit, dtypes.int64), tensor.device)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of the ``weight`` rows of each bag of indices, without the
    intermediate embeddings: bags are the rows of a 2-D ``input``, or the slices
    input[offsets[i]:offsets[i+1]] of a 1-D one.  ``per_sample_weights`` (mode 'sum') weighs
    each index; ``padding_idx`` entries are left out of their bag (and of its count); an empty
    bag gives zeros."""
    from ...creation import arange, zeros
    from ...ops.pointwise import where
    op = "embedding_bag"
    check_tensor(op, input)
    check_tensor(op, weight, "weight")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    if dtypes.kind(input.dtype) != 1:
        raise TypeError(f"{op}: indices must be an integer tensor, got {describe(input)}")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.ndim}")
    if per_sample_weights is not None:
        check_tensor(op, per_sample_weights, "per_sample_weights")
        if mode != "sum":
            raise NotImplementedError(f"{op}: per_sample_weights was not None. "
                                      "per_sample_weights is only supported for mode='sum' (got "
                                      f"mode='{mode}')")
        if per_sample_weights.shape != input.shape:
            raise ValueError(f"{op}: per_sample_weights {describe(per_sample_weights)} must have "
                             f"the shape of input {describe(input)}")
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{op}: max mode does not support scaling the gradient by the "
                         "frequency")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: if input is 2D, then offsets has to be None, as input is "
                             "treated is a mini-batch of fixed length sequences")
        nb, length = input.shape
        offsets = arange(0, nb * length, max(length, 1), device=input.device)[:nb]
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
        include_last_offset = False
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op}: offsets has to be a 1D Tensor but got None")
        check_tensor(op, offsets, "offsets")
        if offsets.ndim != 1:
            raise ValueError(f"{op}: offsets has to be a 1D Tensor, got {describe(offsets)}")
    else:
        raise ValueError(f"{op}: input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if offsets.numel() and int(offsets[0]) != 0:
        raise RuntimeError(f"{op}: offsets[0] has to be 0, i.e., the first sequence in the "
                           f"mini-batch has to start from position 0. However, got "
                           f"{int(offsets[0])}")
    starts = offsets[:-1] if include_last_offset else offsets
    nbags, n = starts.shape[0], input.shape[0]
    rows = embedding(input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq)
    pos = arange(n, device=input.device)
    bag = (pos.unsqueeze(1) >= starts.unsqueeze(0)).long().sum(1) - 1      # (n,)
    member = bag.unsqueeze(0) == arange(nbags, device=input.device).unsqueeze(1)  # (B, n)
    if include_last_offset and offsets.numel():
        member = member & (pos < offsets[-1]).unsqueeze(0)
    if padding_idx is not None:
        pidx = padding_idx % weight.shape[0]
        member = member & (input != pidx).unsqueeze(0)
    if mode == "max":
        if not n:
            return zeros((nbags, weight.shape[1]), dtype=weight.dtype, device=weight.device)
        spread = where(member.unsqueeze(2), rows.unsqueeze(0), -float("inf"))  # (B, n, D)
        # the first maximal entry of each bag takes the whole gradient, as torch's max_indices
        first = spread.argmax(1, keepdim=True)
        out = spread.gather(1, first).squeeze(1)
        return where(member.any(1).unsqueeze(1), out, 0.0)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    out = where(member.unsqueeze(2), rows.unsqueeze(0), 0.0).sum(1)      # (B, D)
    if mode == "mean":
        count = member.sum(1).unsqueeze(1).to(weight.dtype)
        out = out / count.clamp(min=1.0)
    return out
