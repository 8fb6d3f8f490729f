"""Matrix products."""
from ..autograd.graph import record
from .common import binary, unbroadcast
from .registry import op


@op()
def matmul(input, other):
    """PyTorch's matmul: 1-D operands are promoted to a matrix and the added dim removed again;
    batch dims broadcast."""
    a, b, B = binary("matmul", input, other)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{list(a.shape)} and {list(b.shape)}")
    if a.ndim == 1 or b.ndim == 1:
        out = matmul(a.unsqueeze(0) if a.ndim == 1 else a, b.unsqueeze(-1) if b.ndim == 1 else b)
        if b.ndim == 1:
            out = out.squeeze(-1)
        return out.squeeze(-2 if b.ndim > 1 else -1) if a.ndim == 1 else out
    try:
        data = B.matmul(a._data, b._data)
    except ValueError:
        raise RuntimeError(f"matmul: shapes {list(a.shape)} and {list(b.shape)} cannot be "
                           f"multiplied ({a.shape[-2]}x{a.shape[-1]} and "
                           f"{b.shape[-2]}x{b.shape[-1]}; the inner sizes must match)") from None
    sa, sb = a.shape, b.shape
    return record("matmul", data, (a, b),
                  lambda ctx, g: unbroadcast(ctx, (lambda: g @ ctx.b.mT, sa),
                                             (lambda: ctx.a.mT @ g, sb)),
                  save={"a": a, "b": b})


@op()
def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expects two matrices, got shapes {list(input.shape)} and "
                           f"{list(mat2.shape)}")
    return matmul(input, mat2)


@op()
def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: expects two 1-D tensors, got shapes {list(input.shape)} and "
                           f"{list(other.shape)}")
    return matmul(input, other)
