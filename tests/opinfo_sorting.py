"""Fuzz entries of the sorting and selection ops (tensorlite/ops/sorting.py).

Ties: sort is stable here and in torch for the dims the fuzz draws (torch's CPU sort is stable
up to 16 elements even with stable=False); topk and kthvalue return torch's CPU indices on ties
(tests/test_sorting_ops.py checks longer dims).  topk with sorted=False is compared in index
order: torch's order there is its selection's.
"""
import numpy as np
from hypothesis import strategies as st

from opinfo import ALL, INF, NUMERIC, Arg, OpInfo, _kw

I64 = np.dtype(np.int64)


# -- sort, argsort, msort
def _sort(lib, a, form="function", **kw):
    if form == "method":
        return a.sort(**kw)
    if form == "positional" and "dim" in kw:  # (torch takes stable= only with dim and
        # descending as keywords, an overload quirk of its argument parser: not drawn)
        kw.pop("stable", None)
        return lib.sort(a, kw.pop("dim"), kw.pop("descending", False), **kw)
    return lib.sort(a, **kw)


def sort_sample(g):
    shape = g.shape()
    kw = _kw(dim=g.pick(None, g.dim(len(shape))), descending=g.pick(None, False, True),
             stable=g.pick(None, False, True))
    return [g.tensor(shape)], dict(kw, form=g.pick("function", "method", "positional"))


def _argsort(lib, a, form="function", **kw):
    return a.argsort(**kw) if form == "method" else lib.argsort(a, **kw)


# -- topk, kthvalue
def _topk(lib, a, k, form="function", **kw):
    values, indices = a.topk(k, **kw) if form == "method" else lib.topk(a, k, **kw)
    if kw.get("sorted", True) is False and indices.ndim:
        # the order of an unsorted result is the kernel's own: compared in index order
        dim = kw.get("dim", -1)
        order = indices.argsort(dim)
        values, indices = values.gather(dim, order), indices.gather(dim, order)
    return values, indices


def topk_sample(g):
    shape = g.shape()
    dim = g.dim(len(shape))
    n = shape[dim] if shape else 1
    x = g.tensor(shape)
    kw = _kw(dim=g.pick(None, dim) if dim in (-1, len(shape) - 1) else dim,
             largest=g.pick(None, True, False), sorted=g.pick(None, True, False))
    return [x], dict(kw, k=g.int(0, n + 1), form=g.pick("function", "method"))


def _kthvalue(lib, a, k, form="function", **kw):
    return a.kthvalue(k, **kw) if form == "method" else lib.kthvalue(a, k, **kw)


def kthvalue_sample(g):
    shape = g.shape()
    dim = g.dim(len(shape))
    n = shape[dim] if shape else 1
    x = g.tensor(shape)
    kw = _kw(dim=g.pick(None, dim) if dim in (-1, len(shape) - 1) else dim,
             keepdim=g.pick(None, False, True))
    return [x], dict(kw, k=g.int(0, n + 1), form=g.pick("function", "method"))


# -- unique, unique_consecutive
def _unique(name):
    def fn(lib, a, form="function", **kw):
        return getattr(a, name)(**kw) if form == "method" else getattr(lib, name)(a, **kw)
    return fn


def unique_sample(g, consecutive=False):
    shape = g.shape(max_dims=2 if g.flag() else 3)
    kw = _kw(return_inverse=g.pick(None, False, True), return_counts=g.pick(None, False, True),
             dim=g.pick(None, g.dim(len(shape))))
    if not consecutive:
        kw.update(_kw(sorted=g.pick(None, True, False)))
    return [g.tensor(shape)], dict(kw, form=g.pick("function", "method"))


# -- bincount, histc
def _bincount(lib, x, w=None, form="function", **kw):
    if form == "method":
        return x.bincount(**_kw(weights=w), **kw)
    return lib.bincount(x, **_kw(weights=w), **kw)


def bincount_sample(g):
    shape = g.pick((g.int(0, 6),), (g.int(0, 6),), (g.int(0, 6),), (), (2, 2))
    n = shape[0] if len(shape) == 1 else 1
    args = [g.index(shape, g.pick(0, 0, 0, -1), g.int(0, 6))]
    if g.flag():  # weights: the case's dtype (int64 and bool weights give float64)
        wshape = g.pick((n,), (n,), (n,), (n + 1,))
        args.append(g.tensor(wshape, mode=g.finite_mode(), layout="C"))
    kw = _kw(minlength=g.pick(None, 0, 3, 8, -1))
    return args, dict(kw, form=g.pick("function", "method"))


def _histc(lib, a, form="function", **kw):
    return a.histc(**kw) if form == "method" else lib.histc(a, **kw)


def histc_sample(g):
    lo, hi = g.pick((None, None), (0, 0), (-1.0, 1.0), (0.0, 3.0), (1, 1), (2.0, -2.0),
                    (-0.5, 0.25), (-INF, 1.0))
    kw = _kw(bins=g.pick(None, 1, 2, 3, 5, 7, 0), min=lo, max=hi)
    return [g.tensor(g.shape())], dict(kw, form=g.pick("function", "method"))


# -- searchsorted, bucketize
def _searchsorted(lib, seq, *rest, scalar=None, **kw):
    values = rest[0] if scalar is None else scalar
    if len(rest) > (scalar is None):
        kw["sorter"] = rest[-1]
    return lib.searchsorted(seq, values, **kw)


def searchsorted_sample(g):
    n = g.int(0, 5)
    lead = () if g.flag() else g.shape(max_dims=2, min_side=1, max_side=3)
    seq = g.tensor(lead + (n,))
    srt = np.sort(seq.values, axis=-1)  # NaNs last, as torch sorts them
    kw = _kw(right=g.pick(None, False, True), side=g.pick(None, None, "left", "right"),
             out_int32=g.pick(None, False, True))
    sorter = None
    if g.flag() and n:  # an unsorted sequence with the permutation that sorts it
        perm = np.stack([np.asarray(g.draw(st.permutations(range(n))))
                         for _ in range(int(np.prod(lead)))]).reshape(lead + (n,))
        seq.values = np.take_along_axis(srt, np.argsort(perm, axis=-1), -1)
        sorter = perm.astype(np.int64)
    else:
        seq.values = srt
    args = [seq]
    if not lead and g.flag():
        kw["scalar"] = g.number()
    else:
        vshape = lead + (g.int(0, 4),) if lead else g.shape()
        args.append(g.tensor(vshape, dtype=g.pick(g.dtype, g.dtype, I64)))
    if sorter is not None:
        args.append(Arg(sorter, fixed=True))
    return args, kw


def _bucketize(lib, *ts, scalar=None, **kw):
    x, b = ts if scalar is None else (scalar, ts[0])
    return lib.bucketize(x, b, **kw)


def bucketize_sample(g):
    b = g.tensor((g.int(0, 5),))
    b.values = np.sort(b.values)
    kw = _kw(right=g.pick(None, False, True), out_int32=g.pick(None, False, True))
    if g.flag():
        return [b], dict(kw, scalar=g.number())
    return [g.tensor(g.shape(), dtype=g.pick(g.dtype, I64)), b], kw


def _op(name, fn, sample, **kw):
    return OpInfo(name, fn, sample, **kw)


TABLE = [
    _op("sort", _sort, sort_sample, dtypes=ALL),
    _op("argsort", _argsort, sort_sample, dtypes=ALL, grad=False),
    _op("msort", lambda lib, a, form: a.msort() if form == "method" else lib.msort(a),
        lambda g: ([g.tensor(g.shape())], {"form": g.pick("function", "method")}), dtypes=ALL),
    _op("topk", _topk, topk_sample, dtypes=ALL),
    _op("kthvalue", _kthvalue, kthvalue_sample, dtypes=ALL),
    _op("unique", _unique("unique"), unique_sample, dtypes=ALL, grad=False),
    _op("unique_consecutive", _unique("unique_consecutive"),
        lambda g: unique_sample(g, consecutive=True), dtypes=ALL, grad=False),
    _op("bincount", _bincount, bincount_sample, dtypes=ALL, grad=False),
    _op("histc", _histc, histc_sample, dtypes=NUMERIC, grad=False),
    _op("searchsorted", _searchsorted, searchsorted_sample, dtypes=ALL, grad=False),
    _op("bucketize", _bucketize, bucketize_sample, dtypes=ALL, grad=False),
]
