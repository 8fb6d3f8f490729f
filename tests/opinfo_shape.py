"""Fuzz entries of issue 12's shape and indexing ops (tensorlite/ops/movement.py and
tensorlite/ops/indexing.py): flips and rolls, tiling and repeating, broadcasting, views
(narrow, unbind, movedim, unflatten, Tensor.unfold), stacking, selection by index or mask, the
scatter family and the index_* writes with their in-place forms, against torch."""
import numpy as np
from hypothesis import strategies as st

from opinfo import ALL, FLOAT, NUMERIC, Arg, OpInfo, _kw, _updated

I64 = np.dtype(np.int64)


def _form(g):
    return g.pick("function", "method")


def _call(lib, name, a, *args, form="function", **kw):
    return getattr(a, name)(*args, **kw) if form == "method" else getattr(lib, name)(a, *args,
                                                                                     **kw)


def _some_dims(g, ndim, min_size=0):
    n = max(ndim, 1)
    axes = g.draw(st.lists(st.integers(0, n - 1), min_size=min_size, max_size=n, unique=True))
    return tuple(a - n if g.flag() else a for a in axes)


# -- flips, rolls, rotations
def flip_sample(g):
    shape = g.shape()
    return [g.tensor(shape)], {"dims": _some_dims(g, len(shape), 1), "form": g.pick(
        "function", "method", "varargs")}


def _flip(lib, a, dims, form):
    if form == "varargs":
        return a.flip(*dims)
    return _call(lib, "flip", a, dims, form=form)


def roll_sample(g):
    shape = g.shape()
    if g.int(0, 3) == 0:
        return [g.tensor(shape)], {"shifts": g.int(-5, 5), "form": _form(g)}
    axes = _some_dims(g, len(shape), 1)
    shifts = tuple(g.int(-5, 5) for _ in axes)
    if len(axes) == 1 and g.flag():
        axes, shifts = axes[0], shifts[0]
    return [g.tensor(shape)], {"shifts": shifts, "dims": axes, "form": _form(g)}


def rot90_sample(g):
    shape = g.shape(min_dims=1)
    kw = _kw(k=g.pick(None, 0, 1, 2, 3, -1, 5))
    if g.flag():
        kw["dims"] = tuple(g.dim(len(shape)) for _ in range(g.pick(2, 2, 2, 1)))
    return [g.tensor(shape)], dict(kw, form=_form(g))


# -- repeating
def repeat_interleave_sample(g):
    shape = g.shape(max_side=3)
    dim = g.pick(None, g.dim(len(shape)))
    n = int(np.prod(shape)) if dim is None else (shape[dim] if shape else 1)
    kind = g.pick("int", "tensor", "tensor0")
    args = [g.tensor(shape)]
    if kind == "int":
        kw = {"repeats": g.int(0, 3)}
    else:
        size = () if kind == "tensor0" else (n if g.int(0, 5) else g.int(0, 3),)
        args.append(g.index(size, 0, 3))
        kw = {}
    return args, dict(_kw(dim=dim, **kw), form=_form(g))


def _repeat_interleave(lib, a, r=None, form="function", **kw):
    return _call(lib, "repeat_interleave", a, r if r is not None else kw.pop("repeats"),
                 form=form, **kw)


def tile_sample(g):
    shape = g.shape(max_dims=3, max_side=3)
    reps = tuple(g.int(0, 3) for _ in range(g.int(0, len(shape) + 1)))
    return [g.tensor(shape)], {"reps": reps, "form": g.pick("function", "method", "varargs")}


def _tile(lib, a, reps, form):
    if form == "varargs" and reps:
        return a.tile(*reps)
    return _call(lib, "tile", a, reps, form="method" if form == "varargs" else form)


# -- broadcasting
def broadcast_to_sample(g):
    shape = g.shape(max_side=3)
    (target,), _ = g.bshapes(1)
    full = tuple(target[:max(len(target) - len(shape), 0)]) + tuple(
        n if n != 1 else g.int(0, 3) for n in shape)
    if g.int(0, 5) == 0:  # now and then a target it cannot reach
        full = tuple(target)
    return [g.tensor(shape)], {"size": full, "form": _form(g)}


def broadcast_tensors_sample(g):
    k = g.int(1, 3)
    shapes, _ = g.bshapes(k)
    if g.int(0, 6) == 0:
        shapes = tuple(shapes) + (g.shape(),)
    return [g.tensor(s) for s in shapes], {}


def broadcast_shapes_sample(g):
    shapes, _ = g.bshapes(g.int(1, 3))
    if g.int(0, 6) == 0:
        shapes = tuple(shapes) + (g.shape(),)
    return [], {"shapes": [g.pick(s, list(s)) if len(s) != 1 else g.pick(s, s[0])
                           for s in shapes]}


def meshgrid_sample(g):
    k = g.int(1, 3)
    ts = [g.tensor(g.shape(max_dims=1) if g.int(0, 6) else g.shape(min_dims=2, max_dims=2))
          for _ in range(k)]
    return ts, {"indexing": g.pick("ij", "xy"), "as_list": g.flag()}


def _meshgrid(lib, *ts, indexing, as_list):
    return lib.meshgrid(list(ts), indexing=indexing) if as_list else lib.meshgrid(
        *ts, indexing=indexing)


# -- views
def narrow_sample(g):
    shape = g.shape(min_dims=1) if g.int(0, 8) else ()
    dim = g.dim(len(shape))
    n = shape[dim] if shape else 0
    start = g.int(-n - 1, n + 1)
    length = g.int(0, n + 1) if g.int(0, 8) else -1
    return [g.tensor(shape)], {"dim": dim, "start": start, "length": length, "form": _form(g)}


def unbind_sample(g):
    shape = g.shape() if g.int(0, 8) else ()
    return [g.tensor(shape)], dict(_kw(dim=g.pick(None, g.dim(len(shape)))), form=_form(g))


def movedim_sample(g):
    shape = g.shape()
    nd = max(len(shape), 1)
    if g.flag():
        src, dst = g.dim(len(shape)), g.dim(len(shape))
    else:
        k = g.int(0, nd)
        src = tuple(g.draw(st.permutations(range(nd)))[:k])
        dst = tuple(g.draw(st.permutations(range(nd)))[:k if g.int(0, 8) else max(k - 1, 0)])
        src = tuple(s - nd if g.flag() else s for s in src)
    return [g.tensor(shape)], {"source": src, "destination": dst,
                               "name": g.pick("movedim", "moveaxis"), "form": _form(g)}


def _movedim(lib, a, source, destination, name, form):
    return _call(lib, name, a, source, destination, form=form)


def swapaxes_sample(g):
    shape = g.shape()
    return [g.tensor(shape)], {"d0": g.dim(len(shape)), "d1": g.dim(len(shape)),
                               "name": g.pick("swapaxes", "swapdims"), "form": _form(g)}


def unflatten_sample(g):
    shape = g.shape(min_dims=1)
    dim = g.dim(len(shape))
    n = shape[dim]
    opts = [(n,), (1, n), (n, 1), (-1,), (n, -1) if n else (0, 2)]
    for d in (2, 3):
        if n and n % d == 0:
            opts += [(d, n // d), (-1, d)]
    sizes = g.pick(*opts) if g.int(0, 8) else (n + 1, 1)
    return [g.tensor(shape)], {"dim": dim, "sizes": sizes, "form": _form(g)}


def unfold_sample(g):
    shape = g.shape(max_dims=3) if g.int(0, 8) else ()
    dim = g.dim(len(shape))
    n = shape[dim] if shape else 1
    return [g.tensor(shape)], {"dimension": dim, "size": g.int(0, n + (g.int(0, 8) == 0)),
                               "step": g.int(1, 3)}


# -- stacking
def stack_many_sample(g):
    shape = g.shape(max_side=3)
    k = g.int(1, 3)
    tensors = []
    for _ in range(k):
        s = list(shape)
        if s and g.flag():
            s[min(1, len(s) - 1) if g.flag() else 0] = g.int(0, 3)
        tensors.append(g.tensor(tuple(s)))
    return tensors, {"name": g.pick("hstack", "vstack", "dstack", "column_stack",
                                    "row_stack")}


def _stack_many(lib, *ts, name):
    return getattr(lib, name)(list(ts) if len(ts) % 2 else tuple(ts))


def concat_sample(g):
    shape = list(g.shape(min_dims=1))
    dim = g.dim(len(shape))
    tensors = []
    for _ in range(g.int(1, 3)):
        s = list(shape)
        s[dim] = g.int(0, 3)
        tensors.append(g.tensor(tuple(s)))
    return tensors, {"dim": dim, "name": g.pick("concat", "concatenate")}


def _concat(lib, *ts, dim, name):
    if name == "concatenate":
        return lib.concatenate(list(ts), axis=dim)
    return lib.concat(list(ts), dim=dim)


def atleast_sample(g):
    k = g.int(1, 3)
    return [g.tensor(g.shape()) for _ in range(k)], {"n": g.pick(1, 2, 3),
                                                     "as_list": g.flag()}


def _atleast(lib, *ts, n, as_list):
    f = getattr(lib, f"atleast_{n}d")
    return f(list(ts)) if as_list else f(*ts)


# -- selection
def take_sample(g):
    shape = g.shape()
    n = int(np.prod(shape))
    return [g.tensor(shape), g.index(g.shape(max_dims=2, max_side=3), -n - (g.int(0, 8) == 0),
                                     max(n - 1, 0) + (g.int(0, 8) == 0))], {"form": _form(g)}


def take_along_dim_sample(g):
    shape = g.shape(max_side=3)
    if g.int(0, 3) == 0:
        n = int(np.prod(shape))
        return [g.tensor(shape), g.index(g.shape(max_dims=2, max_side=3), 0, max(n - 1, 0))], \
            {"form": _form(g)}
    dim = g.dim(len(shape))
    axis = dim % max(len(shape), 1)
    n = shape[axis] if shape else 1
    ishape = tuple(g.int(0, 3) if i == axis else g.pick(s, 1) for i, s in enumerate(shape))
    if shape and g.int(0, 3) == 0:  # the input broadcast instead
        shape = tuple(1 if i != axis and g.flag() else s for i, s in enumerate(shape))
        ishape = tuple(g.int(1, 3) if i != axis and shape[i] == 1 else s
                       for i, s in enumerate(ishape))
    return [g.tensor(shape), g.index(ishape, 0, max(n - 1, 0))], {"dim": dim, "form": _form(g)}


def index_select_sample(g):
    shape = g.shape()
    dim = g.dim(len(shape))
    n = shape[dim] if shape else 1
    lo, hi = (-1 if g.int(0, 8) == 0 else 0), (n if g.int(0, 8) == 0 else n - 1)
    index = g.index(g.pick((g.int(0, 4),), ()), lo, max(lo, hi))
    return [g.tensor(shape), index], {"dim": dim, "form": _form(g)}


def masked_select_sample(g):
    (sa, sm), _ = g.bshapes(2)
    return [g.tensor(sa), g.mask(sm)], {"form": _form(g)}


def nonzero_sample(g):
    return [g.tensor(g.shape(), mode=g.pick("ties", g.mode))], {"as_tuple": g.flag(),
                                                                 "name": g.pick("nonzero",
                                                                                "argwhere"),
                                                                 "form": _form(g)}


def _nonzero(lib, a, as_tuple, name, form):
    if name == "argwhere":
        return _call(lib, "argwhere", a, form=form)
    return _call(lib, "nonzero", a, form=form, as_tuple=as_tuple)


# -- scatter family
def _unique_index(g, ishape, axis, n):
    """int64 indices of ``ishape`` whose values along ``axis`` are distinct (< n)."""
    rng = np.random.default_rng(g.int(0, 2**31))
    full = list(ishape)
    full[axis] = n
    order = np.argsort(rng.random(full), axis=axis)
    return Arg(order[tuple(slice(0, k) for k in ishape)].astype(np.int64), fixed=True)


def scatter_sample(g, reduce=None, unique=False, value=False):
    shape = g.shape(max_side=3)
    dim = g.dim(len(shape))
    axis = dim % max(len(shape), 1)
    full = shape or (1,)
    n = full[axis]
    ishape = tuple(g.int(0, n if unique else 4) if i == axis else g.int(0, s)
                   for i, s in enumerate(full))
    if not shape and g.flag():
        ishape = ()
    if unique:
        index = _unique_index(g, ishape, axis, n) if ishape else g.index((), 0, n - 1)
    else:
        index = g.index(ishape, -1 if g.int(0, 10) == 0 else 0,
                        n if g.int(0, 10) == 0 else max(n - 1, 0))
    args = [g.tensor(shape), index]
    kw = {"dim": dim}
    if value:
        kw["value"] = g.number(kinds=("float", "int"))
    else:
        sshape = tuple(i + g.int(0, 1) for i in ishape) if ishape else ()
        args.append(g.tensor(sshape))
    if reduce is not None:
        kw["reduce"] = reduce
    return args, kw


def _scatter(lib, a, i, s=None, *, dim, value=None, form="function", inplace=False, **kw):
    src = s if s is not None else value
    if inplace:
        return _updated(lib, a, "scatter_", dim, i, src, **kw)
    return _call(lib, "scatter", a, dim, i, src, form=form, **kw)


def _scatter_add(lib, a, i, s, *, dim, form="function", inplace=False):
    if inplace:
        return _updated(lib, a, "scatter_add_", dim, i, s)
    return _call(lib, "scatter_add", a, dim, i, s, form=form)


def scatter_reduce_sample(g):
    reduce = g.pick("sum", "prod", "mean", "amax", "amin")
    args, kw = scatter_sample(g)
    # (prod over repeated zeros: torch's own backward is then a different formula's)
    return args, dict(kw, reduce=reduce, include_self=g.flag())


def _scatter_reduce(lib, a, i, s, *, dim, reduce, include_self, inplace=False):
    if inplace:
        return _updated(lib, a, "scatter_reduce_", dim, i, s, reduce, include_self=include_self)
    return lib.scatter_reduce(a, dim, i, s, reduce, include_self=include_self)


def index_write_sample(g, kind):
    """index_add / index_copy / index_fill: an input, a 1-d index along dim (distinct for copy
    and fill, as torch leaves repeated ones undefined) and a source or a value."""
    shape = g.shape(max_side=3)
    dim = g.dim(len(shape))
    n = shape[dim] if shape else 1
    if kind == "add":
        k = g.int(0, 4)
        vals = [g.int(0, max(n - 1, 0)) for _ in range(k)] if n else []
        if g.int(0, 10) == 0:
            vals.append(n)
    else:  # (a 0-d input gets one index: torch's backward refuses other counts there)
        vals = g.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=n, unique=True,
                               min_size=0 if shape else 1)) if n else []
    index = Arg(np.array(vals, dtype=np.int64), fixed=True)
    if len(vals) == 1 and g.flag():
        index = Arg(np.array(vals[0], dtype=np.int64), fixed=True)
    args = [g.tensor(shape), index]
    kw = {"dim": dim, "form": _form(g)}
    if kind == "fill":
        kw["value"] = g.number(kinds=("float", "int"))
    else:
        sshape = list(shape) or []
        if shape:
            sshape[dim] = len(vals)
        elif index.values.ndim:
            sshape = [len(vals)]
        args.append(g.tensor(tuple(sshape)))
        if kind == "add" and g.flag():
            kw["alpha"] = g.pick(2, -1)
    return args, kw


def _index_write(name):
    def fn(lib, a, i, s=None, *, dim, form="function", value=None, inplace=False, **kw):
        operand = s if s is not None else value
        if inplace:
            return _updated(lib, a, name + "_", dim, i, operand, **kw)
        return _call(lib, name, a, dim, i, operand, form=form, **kw)
    return fn


def _with_inplace(sample):
    def s(g):
        args, kw = sample(g)
        kw.pop("form", None)
        return args, dict(kw, inplace=True)
    return s


# -- in-place view and clamp methods
def _view_inplace(lib, a, name, args):
    return _updated(lib, a, name, *args)


def view_inplace_sample(g):
    shape = g.shape(max_side=2)
    name = g.pick("squeeze_", "unsqueeze_", "t_")
    if name == "squeeze_":
        args = g.pick((), (g.dim(len(shape)),))
    elif name == "unsqueeze_":
        args = (g.dim(len(shape), extra=1),)
    else:
        args = ()
    return [g.tensor(shape)], {"name": name, "args": args}


def clamp_side_sample(g):
    return [g.tensor(g.shape())], {"name": g.pick("clamp_min_", "clamp_max_"),
                                   "bound": g.pick(-1.0, 0.0, 0.5, 1, 2)}


TABLE = [
    OpInfo("flip", _flip, flip_sample, dtypes=ALL),
    OpInfo("fliplr", lambda lib, a, form: _call(lib, "fliplr", a, form=form),
           lambda g: ([g.tensor(g.shape())], {"form": _form(g)}), dtypes=ALL),
    OpInfo("flipud", lambda lib, a, form: _call(lib, "flipud", a, form=form),
           lambda g: ([g.tensor(g.shape())], {"form": _form(g)}), dtypes=ALL),
    OpInfo("roll", lambda lib, a, form, **kw: _call(lib, "roll", a, form=form, **kw),
           roll_sample, dtypes=ALL),
    OpInfo("rot90", lambda lib, a, form, **kw: _call(lib, "rot90", a, form=form, **kw),
           rot90_sample, dtypes=ALL),
    OpInfo("repeat_interleave", _repeat_interleave, repeat_interleave_sample, dtypes=ALL),
    OpInfo("repeat_interleave_counts", lambda lib, r: lib.repeat_interleave(r),
           lambda g: ([g.index((g.int(0, 4),), 0, 3)], {}), dtypes=(I64,), grad=False,
           covers=("repeat_interleave",)),
    OpInfo("tile", _tile, tile_sample, dtypes=ALL),
    OpInfo("broadcast_to", lambda lib, a, size, form: _call(lib, "broadcast_to", a, size,
                                                            form=form),
           broadcast_to_sample, dtypes=ALL),
    OpInfo("broadcast_tensors", lambda lib, *ts: lib.broadcast_tensors(*ts),
           broadcast_tensors_sample, dtypes=ALL),
    OpInfo("broadcast_shapes", lambda lib, shapes: lib.broadcast_shapes(*shapes),
           broadcast_shapes_sample, grad=False),
    OpInfo("meshgrid", _meshgrid, meshgrid_sample, dtypes=ALL),
    OpInfo("narrow", lambda lib, a, dim, start, length, form: _call(
        lib, "narrow", a, dim, start, length, form=form), narrow_sample, dtypes=ALL),
    OpInfo("unbind", lambda lib, a, form, **kw: _call(lib, "unbind", a, form=form, **kw),
           unbind_sample, dtypes=ALL),
    OpInfo("movedim", _movedim, movedim_sample, dtypes=ALL, covers=("movedim", "moveaxis")),
    OpInfo("swapaxes", lambda lib, a, d0, d1, name, form: _call(lib, name, a, d0, d1, form=form),
           swapaxes_sample, dtypes=ALL, covers=("swapaxes", "swapdims")),
    OpInfo("unflatten", lambda lib, a, dim, sizes, form: _call(lib, "unflatten", a, dim, sizes,
                                                               form=form),
           unflatten_sample, dtypes=ALL),
    OpInfo("Tensor.unfold", lambda lib, a, **kw: a.unfold(**kw), unfold_sample, dtypes=ALL,
           covers=()),
    OpInfo("stack_family", _stack_many, stack_many_sample, dtypes=ALL,
           covers=("hstack", "vstack", "dstack", "column_stack", "row_stack")),
    OpInfo("concat", _concat, concat_sample, dtypes=ALL, covers=("concat", "concatenate")),
    OpInfo("atleast_nd", _atleast, atleast_sample, dtypes=ALL,
           covers=("atleast_1d", "atleast_2d", "atleast_3d")),
    OpInfo("take", lambda lib, a, i, form: _call(lib, "take", a, i, form=form), take_sample,
           dtypes=ALL),
    OpInfo("take_along_dim", lambda lib, a, i, form, **kw: _call(lib, "take_along_dim", a, i,
                                                                 form=form, **kw),
           take_along_dim_sample, dtypes=ALL),
    OpInfo("index_select", lambda lib, a, i, dim, form: _call(lib, "index_select", a, dim, i,
                                                              form=form),
           index_select_sample, dtypes=ALL),
    OpInfo("masked_select", lambda lib, a, m, form: _call(lib, "masked_select", a, m, form=form),
           masked_select_sample, dtypes=ALL),
    OpInfo("nonzero_as_tuple", _nonzero, nonzero_sample, dtypes=ALL, grad=False,
           covers=("nonzero", "argwhere")),
    OpInfo("scatter", _scatter, lambda g: dict_form(scatter_sample(g, unique=True), g),
           dtypes=ALL),
    OpInfo("scatter_value", _scatter,
           lambda g: dict_form(scatter_sample(g, unique=True, value=True), g), dtypes=NUMERIC,
           covers=("scatter",)),
    # (reduce=: forward as torch; torch has no derivative there, so both backwards raise)
    OpInfo("scatter_reduce_arg", _scatter,
           lambda g: dict_form(scatter_sample(g, reduce=g.pick("add", "multiply"),
                                              value=g.flag()), g),
           dtypes=NUMERIC, covers=("scatter",)),
    OpInfo("scatter_", _scatter, _with_inplace(lambda g: scatter_sample(g, unique=True)),
           dtypes=ALL),
    OpInfo("scatter_add", _scatter_add, lambda g: dict_form(scatter_sample(g), g),
           dtypes=NUMERIC),
    OpInfo("scatter_add_", _scatter_add, _with_inplace(scatter_sample), dtypes=NUMERIC),
    OpInfo("scatter_reduce", _scatter_reduce, scatter_reduce_sample, dtypes=FLOAT),
    OpInfo("scatter_reduce_int", _scatter_reduce, scatter_reduce_sample, dtypes=(I64,),
           covers=("scatter_reduce",)),
    OpInfo("scatter_reduce_", _scatter_reduce, _with_inplace(scatter_reduce_sample),
           dtypes=FLOAT),
    OpInfo("index_add", _index_write("index_add"), lambda g: index_write_sample(g, "add"),
           dtypes=NUMERIC),
    OpInfo("index_add_", _index_write("index_add"),
           _with_inplace(lambda g: index_write_sample(g, "add")), dtypes=NUMERIC),
    OpInfo("index_copy", _index_write("index_copy"), lambda g: index_write_sample(g, "copy"),
           dtypes=ALL),
    OpInfo("index_copy_", _index_write("index_copy"),
           _with_inplace(lambda g: index_write_sample(g, "copy")), dtypes=ALL),
    OpInfo("index_fill", _index_write("index_fill"), lambda g: index_write_sample(g, "fill"),
           dtypes=NUMERIC),
    OpInfo("index_fill_", _index_write("index_fill"),
           _with_inplace(lambda g: index_write_sample(g, "fill")), dtypes=NUMERIC),
    OpInfo("view_inplace", lambda lib, a, name, args: _view_inplace(lib, a, name, args),
           view_inplace_sample, dtypes=ALL, covers=()),
    OpInfo("clamp_side_", lambda lib, a, name, bound: _updated(lib, a, name, bound),
           clamp_side_sample, dtypes=NUMERIC, covers=("clamp_min_", "clamp_max_")),
]


def dict_form(sampled, g):
    args, kw = sampled
    return args, dict(kw, form=_form(g))


EXCLUDED = {
    "detach_": "not an op on values: detaches the tensor from the tape in place "
               "(tensorlite.detach_ is Tensor.detach_, as torch.detach_; "
               "tests/test_shape_ops.py checks it)",
}
