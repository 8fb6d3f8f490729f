"""Shape ops: they move or repeat elements, and their gradients move them back."""
import warnings

from ..autograd.grad_mode import no_grad, state
from ..autograd.graph import record
from ..tensor import Tensor, describe
from .. import dtypes
from .common import backend_of, dims, sum_to
from .indexing import getitem
from .registry import op


def _sizes(args):
    """Accept both f(2, 3) and f((2, 3)), as PyTorch does."""
    if len(args) == 1 and not isinstance(args[0], int):
        return tuple(args[0])
    return tuple(args)


@op()
def reshape(input, *shape):
    shape = _sizes(shape)
    B = backend_of(input, "reshape")
    try:
        data = B.reshape(input._data, shape)
    except ValueError:
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for an input of size "
                           f"{input.numel()} (shape {list(input.shape)})") from None
    src = input.shape
    return record("reshape", data, (input,), lambda ctx, g: (g.reshape(src),), view_of=input)


@op()
def view(input, *shape):
    """``input`` with a new shape, always a view: PyTorch's rule, refused (RuntimeError) where
    the existing strides cannot express the new shape (reshape copies there instead)."""
    shape = _sizes(shape)
    B = backend_of(input, "view")
    try:
        data = B.reshape_view(input._data, shape)
    except ValueError:
        try:
            B.reshape(input._data, shape)
        except ValueError:
            raise RuntimeError(f"view: shape {list(shape)} is invalid for an input of size "
                               f"{input.numel()} (shape {list(input.shape)})") from None
        raise RuntimeError(f"view: view size is not compatible with input tensor's size and "
                           f"stride (at least one dimension spans across two contiguous "
                           f"subspaces); input shape {list(input.shape)}, view shape "
                           f"{list(shape)}. Use .reshape(...) instead.") from None
    src = input.shape
    return record("view", data, (input,), lambda ctx, g: (g.reshape(src),), view_of=input)


@op()
def view_as(input, other):
    return view(input, other.shape)


@op()
def reshape_as(input, other):
    return reshape(input, other.shape)


@op()
def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return reshape(input, 1)
    (start,), (end,) = dims("flatten", start_dim, input.ndim), dims("flatten", end_dim, input.ndim)
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape
    n = 1
    for s in shape[start:end + 1]:
        n *= s
    return reshape(input, shape[:start] + (n,) + shape[end + 1:])


@op()
def squeeze(input, dim=None):
    axes = dims("squeeze", dim, input.ndim)
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if not (i in axes and n == 1)))


@op()
def unsqueeze(input, dim):
    if not -input.ndim - 1 <= dim <= input.ndim:
        raise IndexError(f"unsqueeze: dimension out of range (expected to be in range of "
                         f"[{-input.ndim - 1}, {input.ndim}], but got {dim})")
    dim = dim % (input.ndim + 1)
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


@op()
def permute(input, *dims_):
    order = dims("permute", _sizes(dims_), input.ndim)
    if len(order) != input.ndim:
        raise RuntimeError(f"permute: got {len(order)} dims for a tensor of {input.ndim} dims")
    B = backend_of(input, "permute")
    inverse = tuple(order.index(i) for i in range(len(order)))
    return record("permute", B.transpose(input._data, order), (input,),
                  lambda ctx, g: (g.permute(inverse),), view_of=input)


@op()
def transpose(input, dim0, dim1):
    if input.ndim == 0:
        return input
    (a,), (b,) = dims("transpose", dim0, input.ndim), dims("transpose", dim1, input.ndim)
    order = list(range(input.ndim))
    order[a], order[b] = b, a
    return permute(input, order)


@op()
def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got {input.ndim}")
    return transpose(input, 0, -1) if input.ndim == 2 else input


@op()
def expand(input, *sizes):
    sizes = _sizes(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                           f"number of dimensions ({input.ndim})")
    for i, s in enumerate(sizes):
        if s < 0 and not (s == -1 and i >= lead):
            raise RuntimeError(
                f"expand: size {s} at dim {i} of target {list(sizes)} is not allowed; -1 keeps "
                f"an existing dimension of the tensor {list(input.shape)}, and the {lead} new "
                f"leading dimension(s) need sizes >= 0")
    shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if shape == input.shape:
        return input
    for i, n in enumerate(input.shape):
        if n != 1 and n != shape[lead + i]:
            raise RuntimeError(f"expand: the expanded size {shape[lead + i]} must match the "
                               f"existing size {n} at non-singleton dimension {lead + i}; "
                               f"target {list(sizes)}, tensor {list(input.shape)}")
    B = backend_of(input, "expand")
    src = input.shape
    return record("expand", B.broadcast_to(input._data, shape), (input,),
                  lambda ctx, g: (sum_to(g, src),), view_of=input)


@op()
def expand_as(input, other):
    return expand(input, other.shape)


@op()
def repeat(input, *sizes):
    sizes = _sizes(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"repeat: the number of repeats ({len(sizes)}) can not be smaller "
                           f"than the number of dimensions ({input.ndim})")
    B = backend_of(input, "repeat")
    shape = input.shape
    # each copy's gradient is summed back onto the original
    split = tuple(x for r, s in zip(sizes, (1,) * (len(sizes) - input.ndim) + shape)
                  for x in (r, s))
    backward = lambda ctx, g: (g.reshape(split).sum(tuple(range(0, len(split), 2))).reshape(shape),)
    return record("repeat", B.tile(input._data, sizes), (input,), backward)


@op(method=False)
def cat(tensors, dim=0, *, out=None):
    """The tensors joined along ``dim``.  ``out=``: the result is written into ``out`` (resized
    when its shape differs), which PyTorch allows only while no gradient is involved."""
    if out is not None:
        return _into(out, "cat", tensors, lambda: cat(tensors, dim))
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    for t_ in tensors[1:]:
        if t_.device != first.device:
            raise RuntimeError(f"cat: expected all tensors on the same device, got "
                               f"{describe(first)} and {describe(t_)}")
        if t_.ndim != first.ndim:
            raise RuntimeError(f"cat: tensors must have the same number of dimensions, got "
                               f"{list(first.shape)} and {list(t_.shape)}")
    dt = first.dtype
    for t_ in tensors[1:]:
        dt = dtypes.promote(dt, 1, t_.dtype, 1)
    tensors = [t_.to(dt) for t_ in tensors]
    (axis,) = dims("cat", dim, first.ndim)
    B = backend_of(first, "cat")
    try:
        data = B.concatenate([t_._data for t_ in tensors], axis=axis)
    except ValueError:
        raise RuntimeError("cat: sizes of tensors must match except in dimension "
                           f"{dim}; got {[list(t_.shape) for t_ in tensors]}") from None
    bounds, start = [], 0
    for t_ in tensors:
        bounds.append(slice(start, start + t_.shape[axis]))
        start += t_.shape[axis]
    lead = (slice(None),) * axis
    return record("cat", data, tuple(tensors),
                  lambda ctx, g: tuple(getitem(g, lead + (s,)) if need else None
                                       for s, need in zip(bounds, ctx.needs_input_grad)))


@op(method=False)
def stack(tensors, dim=0, *, out=None):
    if out is not None:
        return _into(out, "stack", tensors, lambda: stack(tensors, dim))
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {t_.shape for t_ in tensors}
    if len(shapes) != 1:
        raise RuntimeError(f"stack: expects each tensor to be equal size, got "
                           f"{[list(t_.shape) for t_ in tensors]}")
    return cat([unsqueeze(t_, dim) for t_ in tensors], dim)


def _into(out, name, tensors, compute):
    """``compute()`` written into ``out`` (an op's ``out=``): refused while a gradient is
    involved, as PyTorch (the result would have to take ``out``'s place on the tape); ``out``
    takes the result's shape (a warning when it had elements, as PyTorch) and keeps its dtype,
    which the result must be castable to."""
    tensors = list(tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: out must be a Tensor, got {type(out).__name__}")
    if state.grad_enabled and (out.requires_grad or any(
            isinstance(t_, Tensor) and t_.requires_grad for t_ in tensors)):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad; call "
                           f"{name} without out= (or under tensorlite.no_grad())")
    with no_grad():
        y = compute()
    if out.device != y.device:
        raise RuntimeError(f"{name}: out is {describe(out)} but the result is on {y.device}")
    if dtypes.kind(y.dtype) > dtypes.kind(out.dtype):
        raise TypeError(f"{name}: input types can't be cast to the desired output type "
                        f"{out.dtype} (the result is {y.dtype}, out is {describe(out)})")
    B = backend_of(out, name)
    if out.shape != y.shape:
        if out._base is not None:
            raise RuntimeError(f"{name}: out ({describe(out)}) is a view and cannot be resized to "
                               f"the result's shape {list(y.shape)}")
        if out.numel():
            warnings.warn(f"{name}: an output with one or more elements was resized since it had "
                          f"shape {list(out.shape)}, which does not match the required output "
                          f"shape {list(y.shape)}", UserWarning, stacklevel=3)
        out._data = B.astype(y._data, out.dtype) if y.dtype != out.dtype else y._data
    else:
        B.copyto(out._data, y._data)
    out._version[0] += 1
    return out


@op()
def split(input, split_size_or_sections, dim=0):
    (axis,) = dims("split", dim, input.ndim)
    n = input.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n):
            raise RuntimeError(f"split: split_size must be positive (0 only for a dimension of "
                               f"size 0), got {size} for size {n} of dim {dim}")
        # at least one piece, as PyTorch: an empty dimension splits into one empty tensor
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split: sections {sizes} do not add up to size {n} of dim {dim}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(input, (slice(None),) * axis + (slice(start, start + s),)))
        start += s
    return tuple(out)


@op()
def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError(f"chunk: expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[dims("chunk", dim, input.ndim)[0]]
    # ceil(n / chunks) per chunk; an empty dimension gives `chunks` empty tensors, as PyTorch
    return split(input, -(-n // chunks) if n else [0] * chunks, dim)


@op()
def contiguous(input):
    if input.ndim == 0:  # always contiguous (the primitive would make it 1-d)
        return input
    B = backend_of(input, "contiguous")
    data = B.ascontiguousarray(input._data)
    if data is input._data:
        return input
    return record("contiguous", data, (input,), lambda ctx, g: (g,))
