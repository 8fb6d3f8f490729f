"""Shape ops: they move or repeat elements, and their gradients move them back."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..autograd.grad_mode import no_grad, state
from ..autograd.graph import record
from ..tensor import Tensor, describe, wrap
from .. import dtypes
from .common import backend_of, dims, sum_to
from .indexing import getitem
from .registry import op

if TYPE_CHECKING:
    from ..autograd.graph import Context


def _sizes(args: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3)), as PyTorch does."""
    if len(args) == 1 and not isinstance(args[0], int):
        return tuple(args[0])
    return tuple(args)


@op()
def reshape(input: Tensor, *shape: int | Sequence[int]) -> Tensor:
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
def view(input: Tensor, *shape: int | Sequence[int]) -> Tensor:
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
def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other.shape)


@op()
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other.shape)


@op()
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
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
def squeeze(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    axes = dims("squeeze", dim, input.ndim)
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if not (i in axes and n == 1)))


@op()
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    if not -input.ndim - 1 <= dim <= input.ndim:
        raise IndexError(f"unsqueeze: dimension out of range (expected to be in range of "
                         f"[{-input.ndim - 1}, {input.ndim}], but got {dim})")
    dim = dim % (input.ndim + 1)
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


@op()
def permute(input: Tensor, *dims_: int | Sequence[int]) -> Tensor:
    order = dims("permute", _sizes(dims_), input.ndim)
    if len(order) != input.ndim:
        raise RuntimeError(f"permute: got {len(order)} dims for a tensor of {input.ndim} dims")
    B = backend_of(input, "permute")
    inverse = tuple(order.index(i) for i in range(len(order)))
    return record("permute", B.transpose(input._data, order), (input,),
                  lambda ctx, g: (g.permute(inverse),), view_of=input)


@op(aliases=("swapaxes", "swapdims"))
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    if input.ndim == 0:
        return input
    (a,), (b,) = dims("transpose", dim0, input.ndim), dims("transpose", dim1, input.ndim)
    order = list(range(input.ndim))
    order[a], order[b] = b, a
    return permute(input, order)


@op()
def t(input: Tensor) -> Tensor:
    if input.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got {input.ndim}")
    return transpose(input, 0, -1) if input.ndim == 2 else input


@op()
def expand(input: Tensor, *sizes: int | Sequence[int]) -> Tensor:
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
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


@op()
def repeat(input: Tensor, *sizes: int | Sequence[int]) -> Tensor:
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


@op(method=False, aliases=("concat",))
def cat(tensors: Sequence[Tensor], dim: int = 0, *, out: Tensor | None = None) -> Tensor:
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
def stack(tensors: Sequence[Tensor], dim: int = 0, *, out: Tensor | None = None) -> Tensor:
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


def _into(out: Tensor, name: str, tensors: Iterable[Any], compute: Callable[[], Tensor]
          ) -> Tensor:
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
def split(input: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
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
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    if chunks <= 0:
        raise RuntimeError(f"chunk: expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[dims("chunk", dim, input.ndim)[0]]
    # ceil(n / chunks) per chunk; an empty dimension gives `chunks` empty tensors, as PyTorch
    return split(input, -(-n // chunks) if n else [0] * chunks, dim)


@op()
def contiguous(input: Tensor) -> Tensor:
    if input.ndim == 0:  # always contiguous (the primitive would make it 1-d)
        return input
    B = backend_of(input, "contiguous")
    data = B.ascontiguousarray(input._data)
    if data is input._data:
        return input
    return record("contiguous", data, (input,), lambda ctx, g: (g,))


# ----------------------------------------------------------------------------- issue 12's shape ops
def _axis(op: str, dim: int, ndim: int) -> int:
    """One dim, normalized (IndexError as PyTorch); a 0-d tensor has none to give."""
    (axis,) = dims(op, dim, ndim) or (0,)
    return axis


def _ints(op: str, value: Any) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple (a 0-d integer tensor counts as an int)."""
    if isinstance(value, Tensor):
        if value.ndim:
            return tuple(int(v) for v in value.tolist())
        return (int(value.item()),)
    if isinstance(value, int):
        return (value,)
    try:
        return tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}: expected an int or a sequence of ints, got "
                        f"{type(value).__name__}") from None


def _long(like: Tensor, values: Iterable[int]) -> Tensor:
    """An int64 tensor of the Python ints ``values`` on ``like``'s device."""
    B = backend_of(like, "index")
    return wrap(B.astype(B.asarray(list(values)), dtypes.int64), like.device)


@op()
def narrow(input: Tensor, dim: int, start: int | Tensor, length: int) -> Tensor:
    """``length`` elements of ``dim`` from ``start``: a view (PyTorch's narrow)."""
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    axis = _axis("narrow", dim, input.ndim)
    if isinstance(start, Tensor):
        if start.ndim or dtypes.kind(start.dtype) != 1:
            raise RuntimeError("narrow(): start must be a 0-dim integral Tensor")
        start = int(start.item())
    n = input.shape[axis]
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], "
                         f"but got {start})")
    start = start + n if start < 0 else start
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
    if start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                           f"({n}) of dim {dim} (tensor {list(input.shape)})")
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))


@op()
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``dim``, each a view without that dim."""
    if input.ndim == 0:
        raise IndexError("unbind: dimension specified as 0 but tensor has no dimensions")
    axis = _axis("unbind", dim, input.ndim)
    lead = (slice(None),) * axis
    return tuple(getitem(input, lead + (i,)) for i in range(input.shape[axis]))


@op(aliases=("moveaxis",))
def movedim(input: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """``input`` with the dims ``source`` moved to the positions ``destination``, the others
    keeping their order: a view."""
    src = _ints("movedim", source)
    dst = _ints("movedim", destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    src, dst = dims("movedim", src, input.ndim), dims("movedim", dst, input.ndim)
    if input.ndim == 0:
        return permute(input, ())
    order: list[int | None] = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter([i for i in range(input.ndim) if i not in src])
    return permute(input, [o if o is not None else next(rest) for o in order])


@op()
def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """``dim`` split into the dims ``sizes`` (one of them may be -1)."""
    sizes = _ints("unflatten", sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if input.ndim == 0:
        raise IndexError("unflatten: dimension specified as 0 but tensor has no dimensions")
    axis = _axis("unflatten", dim, input.ndim)
    n = input.shape[axis]
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (
            -1 in sizes and (known == 0 or n % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(input, input.shape[:axis] + sizes + input.shape[axis + 1:])


def _in_place_view(name: str, t: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """``t`` becomes the view ``fn(t)`` (its shape and strides change, its storage stays):
    squeeze_, unsqueeze_, t_, transpose_.  Bumps the version, as PyTorch."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    if state.grad_enabled and t.requires_grad and t.grad_fn is None:
        raise RuntimeError(f"{name}: a leaf tensor that requires grad ({describe(t)}) is being "
                           "used in an in-place operation; do it inside "
                           "`with tensorlite.no_grad():`, or use the out-of-place op")
    v = fn(t)
    t._data = v._data
    if v.grad_fn is not None:
        t.grad_fn, t.requires_grad = v.grad_fn, True
    t._version[0] += 1
    return t


Tensor.squeeze_ = lambda self, dim=None: _in_place_view(  # type: ignore[attr-defined]
    "squeeze_", self, lambda t: squeeze(t, dim))
Tensor.unsqueeze_ = lambda self, dim: _in_place_view(  # type: ignore[attr-defined]
    "unsqueeze_", self, lambda t: unsqueeze(t, dim))
Tensor.t_ = lambda self: _in_place_view("t_", self, t)  # type: ignore[attr-defined]
Tensor.transpose_ = Tensor.swapaxes_ = Tensor.swapdims_ = (  # type: ignore[attr-defined]
    lambda self, dim0, dim1: _in_place_view("transpose_", self,
                                            lambda t_: transpose(t_, dim0, dim1)))


@op(method=False)
def concatenate(tensors: Sequence[Tensor], axis: int = 0, out: Tensor | None = None
                ) -> Tensor:
    """``cat`` with NumPy's argument name."""
    return cat(tensors, axis, out=out)


def _tensor_list(op: str, tensors: tuple[Any, ...]) -> tuple[list[Any], bool]:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0]), True
    for t_ in tensors:
        if not isinstance(t_, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t_).__name__}")
    return list(tensors), len(tensors) != 1


def _atleast(op: str, n: int, tensors: tuple[Any, ...]) -> Any:
    ts, many = _tensor_list(op, tensors)
    out = []
    for x in ts:
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(x).__name__}")
        if x.ndim >= n:
            out.append(x)
        elif n == 3 and x.ndim == 2:
            out.append(unsqueeze(x, -1))
        elif n == 3 and x.ndim == 1:
            out.append(reshape(x, (1, x.shape[0], 1)))
        else:
            out.append(reshape(x, (1,) * (n - x.ndim) + x.shape))
    return tuple(out) if many else out[0]


@op(method=False)
def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,))."""
    return _atleast("atleast_1d", 1, tensors)


@op(method=False)
def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims (leading dims of size 1 added)."""
    return _atleast("atleast_2d", 2, tensors)


@op(method=False)
def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast("atleast_3d", 3, tensors)


def _sequence(op: str, tensors: Any) -> list[Any]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be a tuple or list of Tensors, got "
                        f"{type(tensors).__name__}")
    return list(tensors)


@op(method=False)
def hstack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """The tensors joined column-wise: along dim 0 when all are 1-d, else dim 1."""
    ts = list(_atleast("hstack", 1, (_sequence("hstack", tensors),)))
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1, out=out)


@op(method=False, aliases=("row_stack",))
def vstack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """The tensors (each at least 2-d) joined along dim 0."""
    ts = _sequence("vstack", tensors)
    return cat(list(_atleast("vstack", 2, (ts,))), 0, out=out)


@op(method=False)
def dstack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """The tensors (each at least 3-d) joined along dim 2."""
    ts = _sequence("dstack", tensors)
    return cat(list(_atleast("dstack", 3, (ts,))), 2, out=out)


@op(method=False)
def column_stack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """The tensors as columns: 0-d and 1-d ones become (n, 1), then joined along dim 1."""
    ts = [reshape(x, (x.numel(), 1)) if isinstance(x, Tensor) and x.ndim <= 1 else x
          for x in _sequence("column_stack", tensors)]
    return cat(ts, 1, out=out)


@op()
def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:
    """``input`` expanded to ``size`` (a view; -1 keeps a dim)."""
    return expand(input, tuple(size))


def _broadcast(op: str, shapes: Sequence[Sequence[int]]) -> tuple[int, ...]:
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        for i, k in enumerate((1,) * (n - len(s)) + tuple(s)):
            if k != 1:
                if out[i] != 1 and out[i] != k:
                    raise RuntimeError(f"{op}: the size of tensor a ({out[i]}) must match the size "
                                       f"of tensor b ({k}) at non-singleton dimension {i} "
                                       f"(shapes {[list(x) for x in shapes]})")
                out[i] = k
            elif out[i] == 1 and k == 1:
                pass
    # a 0-size dim broadcasts against 1 only
    return tuple(out)


@op(method=False)
def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape (views)."""
    ts, _ = _tensor_list("broadcast_tensors", tensors)
    shape = _broadcast("broadcast_tensors", [x.shape for x in ts])
    return tuple(expand(x, shape) for x in ts)


@op(method=False)
def broadcast_shapes(*shapes: int | Sequence[int]) -> tuple[int, ...]:
    """The shape that tensors of ``shapes`` broadcast to."""
    return tuple(_broadcast("broadcast_shapes", [(s,) if isinstance(s, int) else tuple(s)
                                                 for s in shapes]))


@op(method=False)
def meshgrid(*tensors: Tensor | Sequence[Tensor], indexing: str | None = None
             ) -> tuple[Tensor, ...]:
    """Coordinate grids of 0-d or 1-d tensors: ``indexing="ij"`` (matrix, the default) or
    ``"xy"`` (Cartesian: the first two dims swapped)."""
    ts, _ = _tensor_list("meshgrid", tensors)
    if not ts:
        raise RuntimeError("meshgrid: expects a non-empty TensorList")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f"{indexing}")
    for x in ts:
        if x.ndim > 1:
            raise RuntimeError(f"meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                               f"{describe(x)}")
        if x.dtype != ts[0].dtype or x.device != ts[0].device:
            raise RuntimeError(f"meshgrid: expects all tensors to have the same dtype and device, "
                               f"got {describe(ts[0])} and {describe(x)}")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(x.numel() for x in ts)
    grids = [expand(reshape(x, tuple(-1 if j == i else 1 for j in range(len(ts)))), shape)
             for i, x in enumerate(ts)]
    if swap:  # the outputs in the order of the inputs again
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


@op()
def flip(input: Tensor, *args: int | Sequence[int], dims: int | Sequence[int] | None = None
         ) -> Tensor:
    """``input`` with the order of the elements of ``dims`` reversed (a copy, as PyTorch)."""
    d = dims if dims is not None else (args[0] if len(args) == 1 else args)
    axes = _dims_of("flip", _ints("flip", d), input.ndim)
    B = backend_of(input, "flip")
    index = tuple(slice(None, None, -1) if a in axes else slice(None)
                  for a in range(input.ndim)) + (Ellipsis,)
    data = B.copy(B.getitem(input._data, index))
    return record("flip", data, (input,), lambda ctx, g: (flip(g, axes),))


def _dims_of(op: str, d: Sequence[int], ndim: int) -> tuple[int, ...]:
    return dims(op, d, ndim) if d else ()


@op()
def fliplr(input: Tensor) -> Tensor:
    """``input`` with dim 1 reversed (at least 2-d)."""
    if input.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d, got {describe(input)}")
    return flip(input, (1,))


@op()
def flipud(input: Tensor) -> Tensor:
    """``input`` with dim 0 reversed (at least 1-d)."""
    if input.ndim < 1:
        raise RuntimeError(f"flipud: Input must be >= 1-d, got {describe(input)}")
    return flip(input, (0,))


@op()
def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
         ) -> Tensor:
    """``input`` with the elements of ``dims`` shifted by ``shifts`` (wrapping around); with no
    dims, of the flattened tensor."""
    shifts = _ints("roll", shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                               "dims:0")
        return reshape(roll(reshape(input, -1), shifts, 0), input.shape)
    axes = _ints("roll", dims)
    if len(shifts) != len(axes):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(axes)}")
    if input.ndim == 0:
        raise IndexError(f"roll: dimension specified as {axes[0]} but tensor has no dimensions")
    y = input
    for s, d in zip(shifts, axes):
        axis = _axis("roll", d, input.ndim)
        n = y.shape[axis]
        if n == 0 or s % n == 0:
            continue
        k = n - s % n
        lead = (slice(None),) * axis
        y = cat([getitem(y, lead + (slice(k, None),)), getitem(y, lead + (slice(0, k),))], axis)
    return y if y is not input else input.clone()


@op()
def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """``input`` rotated by 90 degrees ``k`` times in the plane of ``dims``, from the first
    towards the second."""
    dims_ = _ints("rot90", dims)
    if len(dims_) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims_)}")
    if input.ndim < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {input.ndim}")
    if dims_[0] == dims_[1] or abs(dims_[0] - dims_[1]) == input.ndim:
        raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = "
                           f"{dims_[0]} and dim1 = {dims_[1]}")
    a, b = (_axis("rot90", d, input.ndim) for d in dims_)
    k %= 4
    if k == 1:
        return transpose(flip(input, (b,)), a, b)
    if k == 2:
        return flip(input, (a, b))
    if k == 3:
        return transpose(flip(input, (a,)), a, b)
    return input.clone()


@op()
def tile(input: Tensor, *dims_: int | Sequence[int]) -> Tensor:
    """``input`` repeated ``dims[d]`` times along each dim (leading 1s added to the shorter of
    the two, as PyTorch)."""
    reps = _sizes(dims_)
    reps = (1,) * (input.ndim - len(reps)) + tuple(reps)
    return repeat(input, reps)


@op()
def repeat_interleave(input: Tensor, repeats: int | Tensor | None = None, dim: int | None = None,
                      *, output_size: int | None = None) -> Tensor:
    """Each element (each slice of ``dim``; of the flattened tensor when dim is None) repeated
    ``repeats`` times (an int, or a tensor with one count per element).  Called with one int64
    tensor of counts, the indices repeated that way."""
    if repeats is None:  # repeat_interleave(counts)
        counts = input
        if counts.ndim != 1 or dtypes.kind(counts.dtype) != 1:
            raise RuntimeError(f"repeat_interleave: repeats must be a 1-d integer tensor, got "
                               f"{describe(counts)}")
        reps = [int(r) for r in counts.tolist()]
        if any(r < 0 for r in reps):
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        return _long(counts, [i for i, r in enumerate(reps) for _ in range(r)])
    if dim is None:
        input, axis = reshape(input, -1), 0
    else:
        if input.ndim == 0:
            raise IndexError(f"repeat_interleave: dimension {dim} is out of range for a 0-d "
                             "tensor (leave dim=None to repeat its element)")
        axis = _axis("repeat_interleave", dim, input.ndim)
    n = input.shape[axis]
    if isinstance(repeats, Tensor):
        if repeats.ndim > 1 or dtypes.kind(repeats.dtype) != 1:
            raise RuntimeError(f"repeat_interleave: repeats must be 0-dim or 1-dim integer tensor, "
                               f"got {describe(repeats)}")
        reps = [int(r) for r in repeats.reshape(-1).tolist()]
        if repeats.ndim == 1 and len(reps) != n:
            if len(reps) == 1:
                reps = reps * n
            else:
                raise RuntimeError(f"repeat_interleave: repeats must have the same size as input "
                                   f"along dim, but got repeats.size(0) = {len(reps)} and "
                                   f"input.size({axis}) = {n}")
        elif repeats.ndim == 0:
            reps = reps * n
    else:
        reps = [int(repeats)] * n
    if any(r < 0 for r in reps):
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    if output_size is not None and output_size != sum(reps):
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the "
                           f"sum of repeats {sum(reps)}")
    index = _long(input, [i for i, r in enumerate(reps) for _ in range(r)])
    return getitem(input, (slice(None),) * axis + (index,))


def _unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """The windows of ``size`` elements every ``step`` along ``dimension``, as a new last dim:
    a view (PyTorch's Tensor.unfold)."""
    x = input if input.ndim else reshape(input, 1)
    axis = _axis("unfold", dimension, x.ndim)
    n = x.shape[axis]
    if size > n:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {axis} is {n} but size "
                           f"is {size}")
    if size < 0:
        raise RuntimeError(f"unfold: size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    B = backend_of(x, "unfold")
    data = B.unfold(x._data, axis, size, step)
    if input.ndim == 0:
        data = B.reshape(data, (size,))
    shape, count = input.shape, data.shape[axis] if input.ndim else 1

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:
        if not input.ndim:
            return (g.sum().reshape(()),)
        # each window's elements are added back at their positions along the dim
        gm = movedim(g, -1, axis + 1)  # (..., count, size, ...)
        flat = reshape(gm, gm.shape[:axis] + (count * size,) + gm.shape[axis + 2:])
        pos = _long(g, [w * step + j for w in range(count) for j in range(size)])
        zeros = wrap(backend_of(g, "unfold").zeros(shape, dtype=g.dtype), g.device)
        return (zeros.index_add(axis, pos, flat),)
    return record("unfold", data, (input,), backward, view_of=input)


Tensor.unfold = _unfold  # type: ignore[attr-defined]
