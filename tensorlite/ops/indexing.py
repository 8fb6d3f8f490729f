"""Indexing and its adjoints: each forward here has a partner that sends the gradient back, and
the two are each other's backward, so gradients of any order work."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import _capture_hooks, dtypes
from ..autograd.graph import record
from ..backends.base import is_basic_index
from ..tensor import Tensor, describe, wrap
from .common import backend_of, cast, dims, shape_of, sum_to
from .registry import op

if TYPE_CHECKING:
    from ..autograd.graph import Context
    from .common import Number


def _raw_index(op: str, index: Any, t: Tensor, B: Any) -> tuple[Any, ...]:
    """Tensor and list indices as backend arrays; the rest (ints, slices, None, ...) unchanged."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            if i.device != t.device:
                raise RuntimeError(f"{op}: the index is on {i.device} but the tensor is on "
                                   f"{t.device}; move the index with .to()")
            if dtypes.kind(i.dtype) >= 2 or i.dtype in (dtypes.int8, dtypes.int16):
                raise IndexError(f"{op}: tensors used as indices must be long, int, byte or "
                                 f"bool tensors, got {i.dtype}")
            i = i._data if i.dtype != dtypes.uint8 else B.astype(i._data, dtypes.bool_)  # (a
            # uint8 index is a mask, as PyTorch's deprecated byte masks)
        elif isinstance(i, list):
            i = B.asarray(i)
            if i.size == 0:  # an empty list is an empty int64 index, not a float one
                i = B.astype(i, dtypes.int64)
        elif isinstance(i, slice) and i.step is not None and i.step <= 0:  # as PyTorch
            raise ValueError(f"{op}: slice step cannot be zero" if i.step == 0 else
                             f"{op}: step must be greater than zero, got slice step {i.step}")
        out.append(i)
    return tuple(out)


def _ints_first(index: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """PyTorch applies integer indices before advanced ones, NumPy treats them as advanced
    (``x[0, :, [1]]`` is (n, 1) in PyTorch, (1, n) in NumPy).  For an index that mixes the two,
    the (ints only, rest) pair to apply one after the other; None otherwise."""
    items = index if isinstance(index, tuple) else (index,)
    is_int = [isinstance(i, int) and not isinstance(i, bool) for i in items]
    advanced = [isinstance(i, (Tensor, list)) or hasattr(i, "__array_interface__") for i in items]
    if not any(is_int) or not any(advanced):
        return None
    ints = []
    for i, integer in zip(items, is_int):
        if integer or i is Ellipsis:
            ints.append(i)
        elif i is not None:  # a bool mask spans as many dims as it has
            span = i.ndim if getattr(i, "dtype", None) in (dtypes.bool_, dtypes.uint8) else 1
            ints.extend([slice(None)] * span)
    return tuple(ints), tuple(i for i, integer in zip(items, is_int) if not integer)


@op(method=False)
def getitem(input: Tensor, index: Any) -> Tensor:
    """``input[index]``: basic, advanced (repeated indices accumulate their gradient) and boolean."""
    if (split := _ints_first(index)) is not None:
        return getitem(getitem(input, split[0]), split[1])
    B = backend_of(input, "index")
    idx = _raw_index("index", index, input, B)
    basic = is_basic_index(idx)
    try:
        # a basic index always gives a view, even of one element: NumPy gives a copy (a scalar)
        # for x[0, 1] but a 0-d view for x[0, 1, ...], and x[0, 1].add_(1) must change x
        data = B.getitem(input._data, idx + (Ellipsis,) if basic and not any(
            i is Ellipsis for i in idx) else idx)
    except IndexError as e:
        raise IndexError(f"index: {e} (indexing a tensor of shape {list(input.shape)})") from None
    shape = input.shape
    return record("index", data, (input,), lambda ctx, g: (index_add(g, shape, idx),),
                  view_of=input if basic else None)


def index_add(values: Tensor, shape: tuple[int, ...], idx: tuple[Any, ...]) -> Tensor:
    """zeros(shape) with ``values`` added at ``idx`` (the adjoint of indexing)."""
    B = backend_of(values, "index_add")
    return record("index_add", B.index_add(shape, values.dtype, idx, values._data), (values,),
                  lambda ctx, g: (getitem(g, idx),))


@op(method=False)
def setitem(input: Tensor, index: Any, value: Tensor | Number) -> None:
    """``input[index] = value`` in place.  With no gradient flowing the values are written
    straight into the storage; when one flows (``input`` or ``value`` requires grad) it is
    ``put`` through inplace.apply_, so the overwritten positions get no gradient and
    ``value`` gets the gradient of the positions it fills."""
    from .inplace import _grad_flows, apply_, check_inplace
    if (split := _ints_first(index)) is not None:  # through the view the ints select
        return setitem(getitem(input, split[0]), split[1], value)
    B = backend_of(input, "setitem")
    idx = _raw_index("setitem", index, input, B)
    if type(value) is int and not 0 <= value <= 127 and dtypes.kind(input.dtype) == 1:
        from .inplace import _fits  # as PyTorch: the value must fit (-1 into uint8 is 255)
        _fits("setitem", value, input.dtype)
        value = dtypes.wrap_int(value, input.dtype)
    if isinstance(value, Tensor) and value.device != input.device:
        raise RuntimeError(f"setitem: value is {describe(value)} but the tensor is "
                           f"{describe(input)}")
    if _grad_flows(input, (value,)):
        apply_("setitem", input, put, idx, value)
        return
    check_inplace("setitem", input)
    try:
        _write(input._data, idx, value._data if isinstance(value, Tensor) else value)
    except ValueError:
        _write(input._data, idx, _fit(B, input._data, idx, value)._data)
    input._version[0] += 1


def _write(data: Any, idx: Any, value: Any) -> None:
    """``data[idx] = value``, recorded as a call under tensorlite.compile's capture (it writes
    an array without a backend primitive)."""
    if _capture_hooks.active:
        _capture_hooks.active[-1].call("setitem", _store, (data, idx, value), {})
    else:
        data[idx] = value


def _store(data: Any, idx: Any, value: Any) -> None:
    data[idx] = value


def put(input: Tensor, idx: tuple[Any, ...], value: Tensor | Number) -> Tensor:
    """A copy of ``input`` with ``value`` (a number or a tensor that broadcasts to the indexed
    region) written at the backend index ``idx``: setitem's out-of-place form.  Its backward
    gives the input the gradient with the written positions zeroed, and the value the
    gradient at ``idx`` summed back to its shape (cast to its dtype)."""
    B = backend_of(input, "setitem")
    data = B.copy(input._data)
    try:
        data[idx] = value._data if isinstance(value, Tensor) else value
    except ValueError:
        return put(input, idx, _fit(B, data, idx, value))
    if dtypes.kind(input.dtype) < 2:  # an integer or bool result carries no gradient
        return wrap(data, input.device)
    if not isinstance(value, Tensor):
        return record("index_put", data, (input,), lambda ctx, g: (put(g, idx, 0),))
    vshape, vdtype, vdevice = shape_of(value), value.dtype, value.device

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        need_input, need_value = ctx.needs_input_grad
        return (put(g, idx, 0) if need_input else None,
                cast(sum_to(getitem(g, idx), vshape),  # type: ignore[arg-type]
                     vdtype).to(vdevice) if need_value else None)
    return record("index_put", data, (input, value), backward)


def _fit(B: Any, data: Any, idx: tuple[Any, ...], value: Tensor | Number) -> Tensor:
    """``value`` without the leading dims of size 1 that it has beyond the region ``idx`` of
    ``data`` (PyTorch accepts them), or the error a value that does not fit gets."""
    region = B.getitem(data, idx).shape
    if not isinstance(value, Tensor) or value.ndim <= len(region) or any(
            n != 1 for n in value.shape[:value.ndim - len(region)]):
        raise RuntimeError(f"setitem: shape mismatch: value tensor of shape "
                           f"{list(getattr(value, 'shape', ()))} cannot be broadcast to indexing "
                           f"result of shape {list(region)}") from None
    return value.reshape(value.shape[value.ndim - len(region):])


@op(inplace=True)
def index_put(input: Tensor, indices: Sequence[Tensor], values: Tensor,
              accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``values`` written at ``input[indices]`` (``indices``: a tuple of
    int64 or bool tensors, one per leading dim; ``values``: a tensor of ``input``'s dtype that
    broadcasts to the indexed region).  ``accumulate=True`` adds instead, repeated indices
    adding up.  PyTorch's ``index_put``; ``index_put_`` is ``input[indices] = values`` in place,
    recorded on the tape like setitem."""
    B = backend_of(input, "index_put")
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got "
                        f"{type(indices).__name__}")
    for k, i in enumerate(indices):
        if not isinstance(i, Tensor):
            raise TypeError(f"index_put: expected Tensor as element {k} in indices, but got "
                            f"{type(i).__name__}")
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put: values must be a Tensor, got {type(values).__name__}")
    if values.dtype != input.dtype:
        raise RuntimeError(f"index_put: requires the source and destination dtypes to match, got "
                           f"{input.dtype} for the destination and {values.dtype} for the source "
                           "(convert values with .to(input.dtype))")
    if values.device != input.device:
        raise RuntimeError(f"index_put: values is {describe(values)} but the tensor is "
                           f"{describe(input)}")
    idx = _raw_index("index_put", tuple(indices), input, B)
    try:
        region = B.getitem(input._data, idx).shape
    except IndexError as e:
        raise IndexError(f"index_put: {e} (indexing a tensor of shape {list(input.shape)})") \
            from None
    if _broadcast_shape(values.shape, region) != region:
        raise RuntimeError(f"index_put: shape mismatch: value tensor of shape "
                           f"{list(values.shape)} cannot be broadcast to indexing result of shape "
                           f"{list(region)}")
    if accumulate:
        return input + index_add(values.expand(region), input.shape, idx)
    return put(input, idx, values)


def _broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...] | None:
    """The shape that shapes ``a`` and ``b`` broadcast to, or None when they do not."""
    n = max(len(a), len(b))
    out = []
    for m, k in zip((1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)):
        if m != k and 1 not in (m, k):
            return None
        out.append(k if m == 1 else m)
    return tuple(out)


@op(inplace=True)
def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``input`` with its elements where the bool ``mask`` is True replaced, in order, by the
    leading elements of ``source`` (PyTorch's masked_scatter: ``input`` and ``mask``
    broadcast together; ``source`` needs at least as many elements as ``mask`` has True)."""
    backend_of(input, "masked_scatter")
    if not isinstance(mask, Tensor) or mask.dtype != dtypes.bool_:
        raise RuntimeError(f"masked_scatter: only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if not isinstance(source, Tensor):
        raise TypeError(f"masked_scatter: source must be a Tensor, got {type(source).__name__}")
    if source.dtype != input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{input.dtype} and {source.dtype}")
    for t in (mask, source):
        if t.device != input.device:
            raise RuntimeError(f"masked_scatter: expected all tensors on the same device, got "
                               f"{describe(input)} and {describe(t)}")
    shape = _broadcast_shape(input.shape, mask.shape)
    if shape is None:
        raise RuntimeError(f"masked_scatter: mask of shape {list(mask.shape)} and input of shape "
                           f"{list(input.shape)} cannot be broadcast together")
    input, mask = input.expand(shape), mask.expand(shape)
    n = int(mask.sum().item())
    if source.numel() < n:
        raise RuntimeError(f"masked_scatter: number of elements of source ({source.numel()}) < "
                           f"number of ones in mask ({n})")
    return put(input, (mask._data,), source.reshape(-1)[:n])


@op()
def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Values along ``dim`` at ``index`` (an int64 tensor of the output's shape)."""
    B = backend_of(input, "gather")
    (axis,) = dims("gather", dim, input.ndim) or (0,)
    if not isinstance(index, Tensor) or dtypes.kind(index.dtype) != 1:
        raise TypeError(f"gather: index must be an integer tensor, got "
                        f"{getattr(index, 'dtype', type(index).__name__)}")
    if index.ndim != input.ndim:
        raise RuntimeError(f"gather: index {list(index.shape)} and input {list(input.shape)} "
                           "must have the same number of dimensions")
    if any(i > n for d, (i, n) in enumerate(zip(index.shape, input.shape)) if d != axis):
        raise RuntimeError(f"gather: index {list(index.shape)} is larger than input "
                           f"{list(input.shape)} outside dim {dim}")
    if index.numel():  # NumPy would wrap a negative index and name no op for one too large
        n, (lo, hi) = input.shape[axis], B.value_range(index._data)
        if lo < 0 or hi >= n:
            raise RuntimeError(f"gather: index {lo if lo < 0 else hi} is out of bounds for dimension "
                             f"{axis} with size {n} (input {describe(input)}); indices must lie "
                             f"in [0, {n - 1}]")
    if any(i < n for d, (i, n) in enumerate(zip(index.shape, input.shape)) if d != axis):
        # PyTorch reads only the leading block that the index covers
        input = getitem(input, tuple(slice(0, i) if d != axis else slice(None)
                                     for d, i in enumerate(index.shape)))
    shape = input.shape
    return record("gather", B.take_along_axis(input._data, index._data, axis), (input,),
                  lambda ctx, g: (scatter_add(g, shape, axis, index),))


def scatter_add(values: Tensor, shape: tuple[int, ...], dim: int, index: Tensor) -> Tensor:
    """zeros(shape) with ``values`` added along ``dim`` at ``index`` (the adjoint of gather)."""
    B = backend_of(values, "scatter_add")
    return record("scatter_add", B.scatter_add(shape, dim, index._data, values._data),
                  (values,), lambda ctx, g: (gather(g, dim, index),))


@op(inplace=True)
def masked_fill(input: Tensor, mask: Tensor, value: Tensor | Number) -> Tensor:
    """``value`` where the bool ``mask`` (broadcast to the input) is True."""
    B = backend_of(input, "masked_fill")
    if not isinstance(mask, Tensor) or mask.dtype != dtypes.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got "
                        f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if isinstance(value, Tensor):
        if value.ndim != 0 or value.requires_grad:
            raise RuntimeError("masked_fill: value must be a number or a 0-d tensor that does not "
                               "require grad")
        value = value.item()
    value = dtypes.fit_int("masked_fill", value, input.dtype)  # (-1 into uint8: 255)
    if mask.device != input.device:
        raise RuntimeError(f"masked_fill: mask is on {mask.device} but the input is on "
                           f"{input.device}")
    shape = _broadcast_shape(input.shape, mask.shape)
    if shape is not None and shape != input.shape:  # the input broadcasts too, as PyTorch
        input = input.expand(shape)
    try:
        data = B.masked_fill(input._data, mask._data, value)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {list(mask.shape)} cannot be broadcast to "
                         f"the input's shape {list(input.shape)}") from None
    if data.shape != input.shape:
        raise ValueError(f"masked_fill: mask of shape {list(mask.shape)} cannot be broadcast to "
                         f"the input's shape {list(input.shape)}")
    return record("masked_fill", data, (input,),
                  lambda ctx, g: (masked_fill(g, ctx.mask, 0.0),), save={"mask": mask})


@op()
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """The indices of the non-zero elements, one row each (int64, (count, ndim)); with
    ``as_tuple=True`` one 1-d tensor per dim (a 0-d input gives one)."""
    B = backend_of(input, "nonzero")
    rows = wrap(B.nonzero(input._data), input.device)
    if not as_tuple:
        return rows
    if input.ndim == 0:
        return (wrap(B.zeros((rows.shape[0],), dtype=dtypes.int64), input.device),)
    return tuple(wrap(B.copy(B.getitem(rows._data, (slice(None), d))), input.device)
                 for d in range(input.ndim))


@op()
def argwhere(input: Tensor) -> Tensor:
    """The indices of the non-zero elements, one row each: ``nonzero(input)``."""
    return nonzero(input)


# ----------------------------------------------------------------------------- issue 12's indexing
def _index_vector(op: str, index: Any, dtypes_: Sequence[str] = ("int64",),
                  what: str = "index") -> None:
    """Checks that ``index`` is a 0-d or 1-d integer tensor (errors as PyTorch's)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument '{what}' must be Tensor, not {type(index).__name__}")
    if str(index.dtype) not in dtypes_:
        error = IndexError if op == "index_fill" else RuntimeError
        raise error(f"{op}(): Expected dtype {'/'.join(dtypes_)} for {what}, got {index.dtype}")
    if index.ndim > 1:
        raise IndexError(f"{op}(): {what} is supposed to be a vector, got {describe(index)}")


def _check_range(op: str, index: Tensor, n: int,
                 error: type[Exception] = IndexError) -> None:
    if index.numel():
        lo, hi = backend_of(index, op).value_range(index._data)
        if lo < 0 or hi >= n:
            raise error(f"{op}: index {lo if lo < 0 else hi} is out of range for a dimension of "
                        f"size {n} (index out of range in self); indices must lie in "
                        f"[0, {n - 1}]")


@op()
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``dim`` at ``index`` (a 1-d integer tensor), in its order."""
    backend_of(input, "index_select")
    _index_vector("index_select", index, ("int64", "int32"))
    if input.ndim == 0:
        if index.numel() != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{index.numel()} value(s)")
        _check_range("index_select", index, 1)
        dims("index_select", dim, 0)
        return getitem(input.reshape(1), index.reshape(-1)).reshape(
            () if index.numel() == 1 else (index.numel(),))
    (axis,) = dims("index_select", dim, input.ndim)
    _check_range("index_select", index, input.shape[axis])
    return getitem(input, (slice(None),) * axis + (index.reshape(-1),))


@op()
def take(input: Tensor, index: Tensor) -> Tensor:
    """The elements of the flattened ``input`` at ``index`` (int64, any shape; negative
    indices count from the end): the result has ``index``'s shape."""
    backend_of(input, "take")
    if not isinstance(index, Tensor) or index.dtype != dtypes.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got "
                           f"{getattr(index, 'dtype', type(index).__name__)}")
    n = input.numel()
    if index.numel():
        lo, hi = backend_of(index, "take").value_range(index._data)
        if lo < -n or hi >= n:
            raise IndexError(f"take: out of range: tried to access index "
                             f"{lo if lo < -n else hi} on a tensor of {n} elements")
    if index.ndim == 0:
        return getitem(input.reshape(-1), index.reshape(1)).reshape(())
    return getitem(input.reshape(-1), index)


@op()
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` with the input and ``indices`` broadcast together outside ``dim``; with no
    dim, along the flattened input."""
    backend_of(input, "take_along_dim")
    if not isinstance(indices, Tensor) or dtypes.kind(indices.dtype) != 1:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{getattr(indices, 'dtype', type(indices).__name__)}")
    indices = indices.to(dtypes.int64)
    if dim is None:  # (views, as PyTorch: a tensor that cannot be viewed flat is refused)
        return gather(input.view(-1), 0, indices.view(-1))
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {input.ndim} dimensions for input, and "
                           f"{indices.ndim} dimensions for indices")
    (axis,) = dims("take_along_dim", dim, input.ndim) or (0,)
    if input.ndim == 0:
        return gather(input, 0, indices)
    sizes = list(input.shape)
    sizes[axis] = indices.shape[axis]
    shape = _broadcast_shape(tuple(sizes), indices.shape)
    if shape is None:
        raise RuntimeError(f"take_along_dim: shapes {list(input.shape)} and "
                           f"{list(indices.shape)} cannot be broadcast outside dim {dim}")
    ishape = list(shape)
    ishape[axis] = input.shape[axis]
    return gather(input.expand(tuple(ishape)), axis, indices.expand(shape))


@op()
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where the bool ``mask`` is True (the two broadcast together),
    as a 1-d tensor."""
    backend_of(input, "masked_select")
    if not isinstance(mask, Tensor) or mask.dtype != dtypes.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    shape = _broadcast_shape(input.shape, mask.shape)
    if shape is None:
        raise RuntimeError(f"masked_select: the size of the mask {list(mask.shape)} must match "
                           f"the size of the input {list(input.shape)} or broadcast to it")
    if shape == ():
        return getitem(input.reshape(1), mask.reshape(1))
    return getitem(input.expand(shape), mask.expand(shape))


# -- scatter and index_* writes: one recorded op over the backend's scatter_reduce
_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _scatter(op: str, input: Tensor, axis: int, index: Tensor, src: Any, reduce: str,
             include_self: bool = True) -> Tensor:
    """``input`` with ``src`` (a tensor of ``index``'s shape, or a number) combined in along
    ``axis`` at ``index`` by ``reduce`` ("set" or one of _REDUCES); its backward is PyTorch's
    (scatter_reduce_backward), written with tensor ops."""
    B = backend_of(input, op)
    is_tensor = isinstance(src, Tensor)
    if not is_tensor and index.numel() and dtypes.kind(input.dtype) == 1 and isinstance(
            src, float) and (
            src != src or src in (float("inf"), float("-inf"))):
        raise RuntimeError(f"{op}: value {src} cannot be converted to type {input.dtype} without "
                           "overflow")
    sdata = src._data if is_tensor else B.full(index.shape, src, dtype=input.dtype)
    block = tuple(slice(0, i) for i in index.shape)
    src_shape = src.shape if is_tensor else None
    if index.numel() == 0:  # nothing is written
        data = B.copy(input._data)
    else:
        if is_tensor and src.shape != index.shape:  # PyTorch reads the leading block of src
            sdata = B.getitem(sdata, block)
        data = B.scatter_reduce(input._data, axis, index._data, sdata, reduce, include_self)
    if dtypes.kind(input.dtype) < 2:  # an integer or bool result carries no gradient
        return wrap(data, input.device)
    inputs = (input, src) if is_tensor else (input,)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        needs = ctx.needs_input_grad
        need_self, need_src = needs[0], len(needs) > 1 and needs[1]
        gself = gsrc = None
        if reduce == "set":
            gself = _scatter(op, g, axis, index, 0, "set") if need_self else None
            gsrc = _gather_any(g, axis, index) if need_src else None
            return gself, _src_grad(op, gsrc, src_shape, index.shape)
        if reduce == "sum":
            gself, gsrc = g, (_gather_any(g, axis, index) if need_src else None)
        elif reduce == "mean":
            Bg = backend_of(g, op)
            count = (Bg.ones if include_self else Bg.zeros)(g.shape, dtype=g.dtype)
            if index.numel():
                count = Bg.scatter_reduce(count, axis, index._data,
                                          Bg.ones(index.shape, dtype=g.dtype), "sum", True)
            count = wrap(Bg.maximum(count, Bg.ones((), dtype=g.dtype)), g.device)
            gself = g / count
            gsrc = _gather_any(gself, axis, index) if need_src else None
        elif reduce in ("amax", "amin"):
            # (the whole src, as PyTorch's formula: a larger src broadcasts against the
            # values at the index, or fails to)
            x, s, y = ctx.x, ctx.src, ctx.y
            value = _gather_any(y, axis, index)
            self_is = (x == y).to(g.dtype)
            src_is = (s == value).to(g.dtype)
            share = g / _scatter(op, self_is, axis, index, src_is, "sum")
            gself = self_is * share
            gsrc = src_is * _gather_any(share, axis, index) if need_src else None
        else:  # prod
            x, s, y = ctx.x, ctx.src, ctx.y
            if need_self:
                masked_self = x.masked_fill(x == 0, 1)
                gself = g * _scatter(op, masked_self, axis, index, s, "prod", include_self) \
                    / masked_self
            if need_src:
                src_zero = s == 0
                zeros = wrap(backend_of(g, op).zeros(x.shape, dtype=x.dtype), g.device)
                n_zero = _gather_any(_scatter(op, zeros, axis, index, src_zero.to(x.dtype), "sum"),
                                axis, index)
                single = src_zero.logical_and(n_zero == 1)
                masked_src_result = _scatter(op, x, axis, index, s.masked_fill(single, 1), "prod",
                                             include_self)
                from .pointwise import where
                gsrc = where(single, _gather_any(g * masked_src_result, axis, index),
                             _gather_any(g * y, axis, index) / s.masked_fill(src_zero, 1))
        if not include_self and gself is not None:
            gself = _scatter(op, gself, axis, index, 0, "set")
        return (gself if need_self else None), _src_grad(op, gsrc, src_shape, index.shape)
    save = {"x": input, "src": src} if reduce in ("prod", "amax", "amin") else None
    return record(op, data, inputs, backward, save=save,
                  output="y" if save is not None else None)


def _gather_any(g: Tensor, axis: int, index: Tensor) -> Tensor:
    """``gather(g, axis, index)``; an empty index gives an empty result of its shape whatever
    its number of dims (PyTorch checks none then)."""
    if index.numel() == 0:
        return wrap(backend_of(g, "gather").zeros(index.shape, dtype=g.dtype), g.device)
    return gather(g, axis, index)


def _block(src: Tensor, block: tuple[slice, ...]) -> Tensor:
    return src if src.shape == tuple(b.stop for b in block) else getitem(src, block)


def _src_grad(op: str, g: Tensor | None, src_shape: Any, index_shape: tuple[int, ...]
              ) -> Tensor | None:
    """The gradient of src, of ``index``'s shape, given to a larger src as PyTorch does: summed
    to it where src's shape expands to the index's, otherwise refused (PyTorch's engine rejects
    the gradient of its scatter backward there)."""
    if g is None or g.shape == src_shape:
        return g
    lead = len(g.shape) - len(src_shape)
    if lead >= 0 and all(s in (1, i) for s, i in zip(src_shape, g.shape[lead:])):
        return sum_to(g, src_shape)
    raise RuntimeError(f"{op}: the gradient of src is not supported when src "
                       f"{list(src_shape)} is larger than index {list(index_shape)} (as in "
                       "PyTorch, whose backward gives src a gradient of the index's shape); "
                       "pass src[tuple(slice(0, n) for n in index.shape)] instead")


def _scatter_args(op: str, input: Tensor, dim: int, index: Tensor, src: Tensor | Number
                  ) -> tuple[Tensor, int, Tensor, Tensor | Number, tuple[int, ...]]:
    """Checks as PyTorch's; returns (input, axis, index, src, shape) with 0-d tensors as 1-d
    (``shape``: the input's, to give the result back) and ``src`` cut to ``index``'s shape."""
    B = backend_of(input, op)
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {index.dtype}")
    index = index.to(dtypes.int64)
    if index.device != input.device:
        raise RuntimeError(f"{op}: index is on {index.device} but the input is on {input.device}")
    axis: Any = dims(op, dim, input.ndim)
    shape = input.shape
    axis = axis[0] if axis else 0
    if isinstance(src, Tensor):
        if src.dtype != input.dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype, got "
                               f"{input.dtype} and {src.dtype}")
        if src.device != input.device:
            raise RuntimeError(f"{op}: src is on {src.device} but the input is on {input.device}")
    if index.numel() == 0:
        return (input if input.ndim else input.reshape(1)), axis, index, src, shape
    n = max(input.ndim, 1)
    if max(index.ndim, 1) != n or (isinstance(src, Tensor) and max(src.ndim, 1) != n):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"self tensor and src tensor (index {list(index.shape)}, self "
                           f"{list(input.shape)}"
                           + (f", src {list(src.shape)})" if isinstance(src, Tensor) else ")"))
    x = input if input.ndim else input.reshape(1)
    idx = index if index.ndim else index.reshape(1)
    s = src if not isinstance(src, Tensor) or src.ndim else src.reshape(1)
    if any(i > k for d, (i, k) in enumerate(zip(idx.shape, x.shape)) if d != axis) or (
            isinstance(s, Tensor) and any(i > k for i, k in zip(idx.shape, s.shape))):
        raise RuntimeError(f"{op}(): Expected index {list(index.shape)} to be smaller than self "
                           f"{list(input.shape)} apart from dimension {axis}"
                           + (f" and to be smaller size than src {list(src.shape)}"
                              if isinstance(src, Tensor) else ""))
    k = x.shape[axis]
    lo, hi = B.value_range(idx._data)
    if lo < 0 or hi >= k:
        raise RuntimeError(f"{op}: index {lo if lo < 0 else hi} is out of bounds for dimension "
                           f"{axis} with size {k}")
    return x, axis, idx, s, shape


def _scatter_with(op: str, input: Tensor, dim: int, index: Tensor, src: Tensor | Number,
                  reduce: str, include_self: bool = True) -> Tensor:
    x, axis, idx, s, shape = _scatter_args(op, input, dim, index, src)
    y = _scatter(op, x, axis, idx, s, reduce, include_self)
    return y if y.shape == shape else y.reshape(shape)


def _registered(name: str, fn: Callable[..., Any], **kw: Any) -> Callable[..., Any]:
    """Register ``fn`` as op ``name`` (its module name differs: indexing.py keeps the older
    helpers index_add and scatter_add that other modules import)."""
    fn.__name__ = fn.__qualname__ = name
    return op(**kw)(fn)


def _scatter_op(input: Tensor, dim: int, index: Tensor, src: Tensor | Number | None = None,
                value: Number | None = None, *, reduce: str | None = None) -> Tensor:
    if src is None and value is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' or 'value'")
    src = value if src is None else src
    if reduce is None:
        mode = "set"
    elif reduce in ("add", "multiply"):
        mode = "sum" if reduce == "add" else "prod"
    else:
        raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    if not isinstance(src, Tensor):
        from .common import number
        src = number("scatter", src)
    if reduce is None:
        return _scatter_with("scatter", input, dim, index, src, mode)
    if isinstance(src, Tensor):
        import warnings
        warnings.warn("The reduce argument of torch.scatter with Tensor src is deprecated and will "
                      "be removed in a future PyTorch release. Use torch.scatter_reduce instead "
                      "for more reduction options.", UserWarning, stacklevel=2)
    from ..autograd.grad_mode import no_grad

    with no_grad():
        y = _scatter_with("scatter", input, dim, index, src, mode)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        raise RuntimeError("scatter: the derivative of scatter with reduce= is not implemented "
                           "(as in PyTorch); use scatter_reduce(..., reduce='sum'|'prod') for a "
                           "differentiable reduction")
    return record("scatter", y._data, (input, src) if isinstance(src, Tensor) else (input,),
                  backward)


def _scatter_add_op(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' must be Tensor, not {type(src).__name__}")
    return _scatter_with("scatter_add", input, dim, index, src, "sum")


def _scatter_reduce_op(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                       include_self: bool = True) -> Tensor:
    if reduce not in _REDUCES:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, "
                           f"amax or amin, got {reduce}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' must be Tensor, not "
                        f"{type(src).__name__}")
    return _scatter_with("scatter_reduce", input, dim, index, src, reduce, include_self)


def _index_args(op: str, input: Tensor, dim: int, index: Tensor, source: Tensor | None = None
                ) -> tuple[int, Tensor] | None:
    """Checks of index_add/index_copy/index_fill; returns (axis, index broadcast along
    ``dim`` to the written region's shape) or None when nothing is written."""
    backend_of(input, op)
    _index_vector(op, index, ("int64",) if op != "index_add" else ("int64", "int32"))
    index = index.reshape(-1).to(dtypes.int64)
    (axis,) = dims(op, dim, input.ndim) or (0,)
    n = input.shape[axis] if input.ndim else 1
    region = list(input.shape) or [1]
    region[axis] = index.numel()
    if source is not None:
        if not isinstance(source, Tensor):
            raise TypeError(f"{op}(): argument 'source' must be Tensor, not "
                            f"{type(source).__name__}")
        if source.dtype != input.dtype:
            raise RuntimeError(f"{op}(): self ({input.dtype}) and source ({source.dtype}) must "
                               "have the same scalar type")
        if (op == "index_add" and input.ndim == 0 and source.ndim != 0) or (
                (source.shape or (1,)) != tuple(region) and not (
                    source.ndim == 0 and index.numel() == 1 and input.ndim <= 1)):
            raise RuntimeError(f"{op}(): source {list(source.shape)} must have the shape of "
                               f"the input {list(input.shape)} with dim {axis} of the index's "
                               f"length {index.numel()}, i.e. {region}")
    if input.numel() and (source is None or source.numel()):  # (torch: nothing to check else)
        _check_range(op, index, n)
    if index.numel() == 0 or 0 in region:
        return None
    view = [1] * len(region)
    view[axis] = -1
    return axis, index.reshape(view).expand(tuple(region))


def _index_write(op: str, input: Tensor, axis_index: tuple[int, Tensor], src: Tensor | Number,
                 reduce: str) -> Tensor:
    axis, idx = axis_index
    x = input if input.ndim else input.reshape(1)
    if isinstance(src, Tensor) and src.shape != idx.shape:
        src = src.reshape(idx.shape) if src.numel() == idx.numel() else src.expand(idx.shape)
    y = _scatter(op, x, axis, idx, src, reduce)
    return y if input.ndim else y.reshape(())


def _nothing_written(op: str, input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` (no element is written); ``source`` still takes PyTorch's gradient,
    ``index_select(g, dim, index)`` (which refuses what it refuses there)."""
    B = backend_of(input, op)
    data = B.copy(input._data)
    if dtypes.kind(input.dtype) < 2:
        return wrap(data, input.device)
    index = index.reshape(-1).to(dtypes.int64)
    return record(op, data, (input, source), lambda ctx, g: (
        g, index_select(g, dim, index) if ctx.needs_input_grad[1] else None))


def _index_add_op(input: Tensor, dim: int, index: Tensor, source: Tensor, *,
                  alpha: Number = 1) -> Tensor:
    args = _index_args("index_add", input, dim, index, source)
    if args is None:
        return _nothing_written("index_add", input, dim, index, source)
    return _index_write("index_add", input, args, source if alpha == 1 else source * alpha, "sum")


def _index_copy_op(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    args = _index_args("index_copy", input, dim, index, source)
    if args is None:
        return _nothing_written("index_copy", input, dim, index, source)
    return _index_write("index_copy", input, args, source, "set")


def _index_fill_op(input: Tensor, dim: int, index: Tensor, value: Tensor | Number) -> Tensor:
    args = _index_args("index_fill", input, dim, index)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_(): only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        if value.requires_grad:
            value = value.to(input.dtype)
        else:
            value = value.item()
    if args is None:
        return input.clone()
    if not isinstance(value, Tensor):
        from .common import number
        value = dtypes.fit_int("index_fill", number("index_fill", value), input.dtype)
    return _index_write("index_fill", input, args, value, "set")


_registered("scatter", _scatter_op, inplace=True)
_registered("scatter_add", _scatter_add_op, inplace=True)
_registered("scatter_reduce", _scatter_reduce_op, inplace=True)
_registered("index_add", _index_add_op, inplace=True)
_registered("index_copy", _index_copy_op, inplace=True)
_registered("index_fill", _index_fill_op, inplace=True)
