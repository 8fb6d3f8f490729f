"""Integer indices in, rows or one-hot vectors out: embedding and one_hot."""
from ... import dtypes
from ...autograd.graph import record
from ...ops.common import backend_of
from ...ops.indexing import index_add, masked_fill
from ...tensor import describe, wrap
from ._common import check_tensor

__all__ = ["embedding", "one_hot"]


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` at the integer ``input``; repeated indices accumulate their gradient
    and the ``padding_idx`` row gets none."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not "
                                  "supported by tensorlite")
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
    shape = weight.shape

    def backward(ctx, g):
        indices = ctx.indices
        if padding_idx is not None:
            g = masked_fill(g, (indices == padding_idx).unsqueeze(-1), 0.0)
        return (index_add(g, shape, (indices._data,)),)
    return record("embedding", B.getitem(weight._data, idx), (weight,), backward,
                  save={"indices": input})


def one_hot(tensor, num_classes=-1):
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
