"""Fuzz entries of the scans and the reductions of tensorlite/ops/scan.py (merged into
opinfo.TABLE): cumulative ops, products, norms and distances, medians, modes, quantiles,
NaN-ignoring reductions, var_mean/std_mean, count_nonzero and aminmax."""
import math

from opinfo import ALL, NUMERIC, OpInfo, _kw, reduction

INF = math.inf


# -- samples
def _dim_sample(min_dims=0, domain="real", **extra):
    """A tensor and one int dim (negative ones too)."""
    def sample(g):
        shape = g.shape(min_dims=min_dims)
        kw = {"dim": g.dim(len(shape))}
        kw.update({k: f(g) for k, f in extra.items()})
        return [g.tensor(shape, domain)], kw
    return sample


def _optional_dim_sample(g, finite=False):
    shape = g.shape()
    t = g.tensor(shape, mode=g.finite_mode() if finite else None)
    if g.flag():
        return [t], {}
    return [t], {"dim": g.dim(len(shape)), "keepdim": g.pick(None, False, True)}


def _prod(lib, a, dim=None, keepdim=None, dtype=None, form="method"):
    kw = _kw(keepdim=keepdim, dtype=getattr(lib, dtype) if dtype else None)
    if dim is None:
        kw.pop("keepdim", None)
        return a.prod(**kw) if form == "method" else lib.prod(a, **kw)
    return a.prod(dim, **kw) if form == "method" else lib.prod(a, dim, **kw)


def _prod_sample(g):
    shape = g.shape()
    kw = {"form": g.pick("method", "function"), "dtype": g.pick(None, None, "float64", "int64")}
    if g.flag():
        kw.update(dim=g.dim(len(shape)), keepdim=g.pick(None, False, True))
    # ties mode draws exact zeros (one or several per slice): PyTorch's zero-safe gradient
    return [g.tensor(shape)], kw


def _scan(name):
    def fn(lib, a, dim, dtype=None, form="method"):
        kw = _kw(dtype=getattr(lib, dtype) if dtype else None)
        return getattr(a, name)(dim, **kw) if form == "method" else \
            getattr(lib, name)(a, dim=dim, **kw)
    return fn


def _scan_sample(dtype_choice=True):
    def sample(g):
        shape = g.shape()
        kw = {"dim": g.dim(len(shape)), "form": g.pick("method", "function")}
        if dtype_choice:
            kw["dtype"] = g.pick(None, None, "float64", "int64")
        return [g.tensor(shape)], kw
    return sample


def _scan_(name):
    def fn(lib, a, dim, dtype=None, form=None):
        c = a.clone()
        out = getattr(c, name + "_")(dim, **_kw(dtype=getattr(lib, dtype) if dtype else None))
        assert out is c
        return c
    return fn


def _cumext(name):
    def fn(lib, a, dim):
        return tuple(getattr(lib, name)(a, dim))  # (values, indices)
    return fn


_P = (2, 1, INF, -INF, 0, 3, 0.5, 1.5, -1, 2.5)


def _norm(lib, a, p="fro", dim=None, keepdim=False, form="method"):
    kw = _kw(dim=dim)
    if form == "method":
        return a.norm(p, keepdim=keepdim, **kw)
    return lib.norm(a, p=p, keepdim=keepdim, **kw)


def _norm_sample(g):
    shape = g.shape()
    p = g.pick("fro", "nuc", *_P)
    kw = {"p": p, "keepdim": g.flag(), "form": g.pick("method", "function")}
    kind = g.pick("none", "int", "tuple")
    if kind == "int":
        kw["dim"] = g.dim(len(shape))
    elif kind == "tuple" and len(shape) >= 2:
        kw["dim"] = (g.dim(len(shape)), g.dim(len(shape)))  # now and then twice: an error
    return [g.tensor(shape)], kw


def _dist_sample(g):
    (sa, sb), _ = g.bshapes(2)
    return [g.tensor(sa), g.tensor(sb)], {"p": g.pick(*_P)}


def _cdist_sample(g):
    (ba, bb), _ = g.bshapes(2, max_dims=2, max_side=3)
    m = g.int(0, 3)
    pa, pb = g.int(0, 3), g.int(0, 3)
    mb = m if g.int(0, 9) else g.int(0, 3)  # now and then mismatched columns: an error
    return [g.tensor(ba + (pa, m)), g.tensor(bb + (pb, mb))], \
        {"p": g.pick(2.0, 1.0, 0.0, INF, 0.5, 1.5, 3.0)}


def _median(name):
    def fn(lib, a, dim=None, keepdim=None, form="method"):
        f = getattr(a, name) if form == "method" else lambda *x, **k: getattr(lib, name)(a, *x, **k)
        if dim is None:
            return f()
        out = f(dim, **_kw(keepdim=keepdim))
        assert out.values is out[0] and out.indices is out[1]
        return tuple(out)
    return fn


def _median_sample(g):
    args, kw = _optional_dim_sample(g)
    return args, dict(kw, form=g.pick("method", "function"))


def _mode(lib, a, dim=None, keepdim=None):
    out = a.mode(**_kw(dim=dim, keepdim=keepdim))
    return out.values, out.indices


def _mode_sample(g):
    # no NaN: PyTorch's CPU mode sorts with std::sort, whose order of NaNs is unspecified
    args, kw = _optional_dim_sample(g, finite=True)
    return args, kw


def _quantile(name):
    def fn(lib, a, *q, qs=None, dim=None, keepdim=False, interpolation="linear"):
        qq = q[0] if q else qs
        return getattr(lib, name)(a, qq, dim, keepdim, interpolation=interpolation)
    return fn


def _quantile_sample(g):
    """At most 16 elements per reduced slice: PyTorch's quantile sorts with std::sort, which
    keeps tied elements in order (so the gradient goes where ours does) only up to 16."""
    with_dim = g.flag()
    shape = g.shape() if with_dim else g.shape(max_dims=2)
    args = [g.tensor(shape)]
    kw = {"keepdim": g.flag(),
          "interpolation": g.pick("linear", "lower", "higher", "midpoint", "nearest")}
    if with_dim:
        kw["dim"] = g.dim(len(shape))
    if g.flag():
        args.append(g.fixed((g.int(0, 3),), "unit"))  # a 1-d q tensor
    elif g.flag():
        args.append(g.fixed((), "unit"))  # a 0-d q tensor
    else:
        kw["qs"] = g.pick(0.0, 0.25, 0.5, 0.3, 1.0, 0.7)
    return args, kw


def _nan(name):
    def fn(lib, a, dim=None, keepdim=False, dtype=None):
        kw = _kw(dtype=getattr(lib, dtype) if dtype else None)
        return getattr(lib, name)(a, dim, keepdim, **kw)
    return fn


def _moment_mean(name):
    def fn(lib, a, dim=None, keepdim=False, correction=1):
        return getattr(lib, name)(a, dim, correction=correction, keepdim=keepdim)
    return fn


def _moment_sample(g):
    """Finite values: PyTorch's var_mean takes its mean by Welford's running update in memory
    order, so where an infinity turns it to NaN depends on the layout (tests/test_scan_ops.py
    checks the contiguous case)."""
    shape = g.shape()
    return [g.tensor(shape, mode=g.finite_mode())], {
        "dim": g.dims(len(shape)), "keepdim": g.flag(), "correction": g.pick(1, 0, 2)}


def _count_nonzero(lib, a, dim=None):
    return a.count_nonzero(dim) if dim is not None else lib.count_nonzero(a)


def _aminmax(lib, a, dim=None, keepdim=False):
    out = a.aminmax(**_kw(dim=dim), keepdim=keepdim)
    assert out.min is out[0] and out.max is out[1]
    return tuple(out)


def _aminmax_sample(g):
    shape = g.shape()
    kw = {"keepdim": g.flag()}
    if g.flag():
        kw["dim"] = g.dim(len(shape))
    return [g.tensor(shape)], kw


TABLE = [
    OpInfo("prod", _prod, _prod_sample, dtypes=ALL, accum=True),
    OpInfo("cumsum", _scan("cumsum"), _scan_sample(), dtypes=ALL, accum=True),
    OpInfo("cumprod", _scan("cumprod"), _scan_sample(), dtypes=ALL, accum=True),
    OpInfo("cumsum_", _scan_("cumsum"), _scan_sample(), dtypes=ALL, accum=True),
    OpInfo("cumprod_", _scan_("cumprod"), _scan_sample(), dtypes=ALL, accum=True),
    OpInfo("cummax", _cumext("cummax"), _dim_sample(), dtypes=ALL),
    OpInfo("cummin", _cumext("cummin"), _dim_sample(), dtypes=ALL),
    OpInfo("logcumsumexp", _scan("logcumsumexp"), _scan_sample(dtype_choice=False),
           dtypes=NUMERIC, accum=True),
    OpInfo("norm", _norm, _norm_sample, dtypes=NUMERIC, accum=True),
    OpInfo("dist", lambda lib, a, b, p: a.dist(b, p), _dist_sample, dtypes=NUMERIC, accum=True),
    OpInfo("cdist", lambda lib, a, b, p: lib.cdist(a, b, p), _cdist_sample, accum=True),
    OpInfo("median", _median("median"), _median_sample, dtypes=ALL),
    OpInfo("nanmedian", _median("nanmedian"), _median_sample, dtypes=NUMERIC),
    OpInfo("mode", _mode, _mode_sample, dtypes=ALL),
    OpInfo("quantile", _quantile("quantile"), _quantile_sample, dtypes=NUMERIC),
    OpInfo("nanquantile", _quantile("nanquantile"), _quantile_sample),
    OpInfo("nansum", _nan("nansum"),
           reduction(dtype=lambda g: g.pick(None, None, "float64")), dtypes=ALL, accum=True),
    OpInfo("nanmean", _nan("nanmean"), reduction(), dtypes=NUMERIC, accum=True),
    OpInfo("var_mean", _moment_mean("var_mean"), _moment_sample, dtypes=NUMERIC, accum=True),
    OpInfo("std_mean", _moment_mean("std_mean"), _moment_sample, accum=True),
    OpInfo("count_nonzero", _count_nonzero, reduction(keepdim=False), dtypes=ALL, grad=False),
    OpInfo("aminmax", _aminmax, _aminmax_sample, dtypes=ALL),
]
