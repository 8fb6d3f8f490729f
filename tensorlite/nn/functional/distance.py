"""Distances and similarities between vectors: normalize, cosine_similarity, pairwise_distance,
pdist, and the bilinear form (bilinear).

Each is a composition of tensor ops, so gradients (and gradients of gradients) come from them;
where PyTorch clamps a norm under no_grad (cosine_similarity's eps) the clamp is a tape node
whose gradient is the identity, as that in-place clamp is in torch's graph.
"""
from __future__ import annotations

from collections.abc import Sequence

from ... import dtypes
from ...autograd.grad_mode import no_grad
from ...autograd.graph import record
from ...ops.scan import norm as _norm
from ...ops.common import binary
from ...tensor import Tensor, describe
from ._common import check_tensor

__all__ = ["normalize", "cosine_similarity", "pairwise_distance", "pdist", "bilinear"]


def _floating(op: str, *tensors: Tensor) -> None:
    for t in tensors:
        check_tensor(op, t)
        if not dtypes.is_floating_point(t.dtype):
            raise RuntimeError(f"{op}: expected a floating point tensor, got {describe(t)}; "
                               "convert it with .float()")


def _check_dim(op: str, ndim: int, dim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, "
                         f"{n - 1}], but got {dim})")
    return dim % n


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim``, the norm clamped below at ``eps``."""
    _floating("normalize", input)
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported by tensorlite; assign the "
                                  "result instead")
    _check_dim("normalize", input.ndim, dim)
    denom = _norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / denom


def _clamp_min_value(t: Tensor, eps: float) -> Tensor:
    """``t`` with values clamped below at ``eps``, its gradient passed through unchanged (torch
    clamps the norms in place under no_grad)."""
    with no_grad():
        c = t.clamp(min=eps)
    return record("clamp_min_nograd", c._data, (t,), lambda ctx, g: (g,))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``dim`` (x1 and x2
    broadcast together)."""
    _floating("cosine_similarity", x1, x2)
    x1, x2, _ = binary("cosine_similarity", x1, x2)
    ndim = max(x1.ndim, x2.ndim)
    _check_dim("cosine_similarity", ndim, dim)
    try:
        shape = _broadcast(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"cosine_similarity: the shapes of x1 {tuple(x1.shape)} and x2 "
                           f"{tuple(x2.shape)} do not broadcast") from None
    x1, x2 = x1.expand(shape), x2.expand(shape)
    n1 = _clamp_min_value(_norm(x1, 2, dim, keepdim=True), eps)
    n2 = _clamp_min_value(_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _broadcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise ValueError
        out.append(y if x == 1 else x)
    return tuple(out)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dim."""
    _floating("pairwise_distance", x1, x2)
    ndim = max(x1.ndim, x2.ndim)
    try:
        _broadcast(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"pairwise_distance: the shapes of x1 {tuple(x1.shape)} and x2 "
                           f"{tuple(x2.shape)} do not broadcast") from None
    return _norm(x1 - x2 + eps, p, ndim - 1 if ndim else None, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm distance between each pair of rows of an (N, M) input: N(N-1)/2
    values, the upper triangle of cdist(input, input) row by row."""
    _floating("pdist", input)
    if input.ndim != 2:
        raise RuntimeError(f"pdist: only supports 2D tensors, got: {input.ndim}D input "
                           f"{describe(input)}")
    if p < 0:
        raise RuntimeError(f"pdist: only supports non-negative p values, got {p}")
    from ...creation import tensor as _tensor
    n = input.shape[0]
    rows = [i for i in range(n) for _ in range(i + 1, n)]
    cols = [j for i in range(n) for j in range(i + 1, n)]
    if not rows:
        return input.sum(1)[:0] * 0 if n else input.sum(1)
    ri = _tensor(rows, dtype=dtypes.int64, device=input.device)
    ci = _tensor(cols, dtype=dtypes.int64, device=input.device)
    return _norm(input[ri] - input[ci], p, 1)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None
             ) -> Tensor:
    """y[..., o] = input1[..., i] weight[o, i, j] input2[..., j] (+ bias[o])."""
    _floating("bilinear", input1, input2, weight)
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear: expected a 3-D weight (out_features, in1_features, "
                           f"in2_features), got {describe(weight)}")
    if input1.ndim == 0 or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear: input1 {describe(input1)} and input2 {describe(input2)} "
                           "must have the same size except for the last dim")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear: input1 {describe(input1)} and input2 {describe(input2)} "
                           f"do not fit weight {describe(weight)}: expected last dims "
                           f"{weight.shape[1]} and {weight.shape[2]}")
    from ...ops.linalg import einsum
    y = einsum("...i,oij,...j->...o", input1, weight, input2)
    if bias is not None:
        check_tensor("bilinear", bias, "bias")
        if bias.shape != (weight.shape[0],):
            raise RuntimeError(f"bilinear: bias {describe(bias)} must have shape "
                               f"({weight.shape[0]},)")
        y = y + bias
    return y
