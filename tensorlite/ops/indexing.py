"""Indexing and its adjoints: each forward here has a partner that sends the gradient back, and
the two are each other's backward, so gradients of any order work."""
from .. import dtypes
from ..autograd.graph import record
from ..backends.base import is_basic_index
from ..tensor import Tensor, describe, wrap
from .common import backend_of, cast, dims, shape_of, sum_to
from .registry import op


def _raw_index(op, index, t, B):
    """Tensor and list indices as backend arrays; the rest (ints, slices, None, ...) unchanged."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            if i.device != t.device:
                raise RuntimeError(f"{op}: the index is on {i.device} but the tensor is on "
                                   f"{t.device}; move the index with .to()")
            if dtypes.kind(i.dtype) == 2:
                raise IndexError(f"{op}: tensors used as indices must be long, int or bool, "
                                 f"got {i.dtype}")
            i = i._data
        elif isinstance(i, list):
            i = B.asarray(i)
            if i.size == 0:  # an empty list is an empty int64 index, not a float one
                i = B.astype(i, dtypes.int64)
        elif isinstance(i, slice) and i.step is not None and i.step <= 0:  # as PyTorch
            raise ValueError(f"{op}: slice step cannot be zero" if i.step == 0 else
                             f"{op}: step must be greater than zero, got slice step {i.step}")
        out.append(i)
    return tuple(out)


def _ints_first(index):
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
            span = i.ndim if getattr(i, "dtype", None) == dtypes.bool_ else 1
            ints.extend([slice(None)] * span)
    return tuple(ints), tuple(i for i, integer in zip(items, is_int) if not integer)


@op(method=False)
def getitem(input, index):
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


def index_add(values, shape, idx):
    """zeros(shape) with ``values`` added at ``idx`` (the adjoint of indexing)."""
    B = backend_of(values, "index_add")
    return record("index_add", B.index_add(shape, values.dtype, idx, values._data), (values,),
                  lambda ctx, g: (getitem(g, idx),))


@op(method=False)
def setitem(input, index, value):
    """``input[index] = value`` in place.  With no gradient flowing the values are written
    straight into the storage; when one flows (``input`` or ``value`` requires grad) it is
    ``put`` through inplace.apply_, so the overwritten positions get no gradient and
    ``value`` gets the gradient of the positions it fills."""
    from .inplace import _grad_flows, apply_, check_inplace
    if (split := _ints_first(index)) is not None:  # through the view the ints select
        return setitem(getitem(input, split[0]), split[1], value)
    B = backend_of(input, "setitem")
    idx = _raw_index("setitem", index, input, B)
    if isinstance(value, Tensor) and value.device != input.device:
        raise RuntimeError(f"setitem: value is {describe(value)} but the tensor is "
                           f"{describe(input)}")
    if _grad_flows(input, (value,)):
        apply_("setitem", input, put, idx, value)
        return
    check_inplace("setitem", input)
    try:
        input._data[idx] = value._data if isinstance(value, Tensor) else value
    except ValueError:
        input._data[idx] = _fit(B, input._data, idx, value)._data
    input._version[0] += 1


def put(input, idx, value):
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

    def backward(ctx, g):
        need_input, need_value = ctx.needs_input_grad
        return (put(g, idx, 0) if need_input else None,
                cast(sum_to(getitem(g, idx), vshape), vdtype).to(vdevice) if need_value else None)
    return record("index_put", data, (input, value), backward)


def _fit(B, data, idx, value):
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
def index_put(input, indices, values, accumulate=False):
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


def _broadcast_shape(a, b):
    """The shape that shapes ``a`` and ``b`` broadcast to, or None when they do not."""
    n = max(len(a), len(b))
    out = []
    for m, k in zip((1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)):
        if m != k and 1 not in (m, k):
            return None
        out.append(k if m == 1 else m)
    return tuple(out)


@op(inplace=True)
def masked_scatter(input, mask, source):
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
def gather(input, dim, index):
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


def scatter_add(values, shape, dim, index):
    """zeros(shape) with ``values`` added along ``dim`` at ``index`` (the adjoint of gather)."""
    B = backend_of(values, "scatter_add")
    return record("scatter_add", B.scatter_add(shape, dim, index._data, values._data),
                  (values,), lambda ctx, g: (gather(g, dim, index),))


@op(inplace=True)
def masked_fill(input, mask, value):
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
    if mask.device != input.device:
        raise RuntimeError(f"masked_fill: mask is on {mask.device} but the input is on "
                           f"{input.device}")
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
def nonzero(input):
    B = backend_of(input, "nonzero")
    return wrap(B.nonzero(input._data), input.device)
