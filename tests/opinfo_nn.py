"""Fuzz entries for the nn.functional activations, distances, embedding options and losses of
issue 13 (tensorlite/nn/functional/{activation,distance,sparse,loss}.py); merged into
opinfo.TABLE (see opinfo.py)."""
import numpy as np

from opinfo import Arg, OpInfo, unary


def _f(lib):
    return lib.nn.functional


def _copy_if(a, inplace):
    """An in-place activation writes into a non-leaf copy (a leaf that requires grad may not be
    changed in place, in torch as here)."""
    return a * 1 if inplace else a


# -- activations ---------------------------------------------------------------------------------
def _act(name, **fixed):
    def fn(lib, a, inplace=False, **kw):
        f = getattr(_f(lib), name)
        if inplace:
            kw["inplace"] = True
        return f(_copy_if(a, inplace), **fixed, **kw)
    return fn


def _flag(g):
    return g.flag()


# name -> extra kwargs (functions of g); 'inplace' where torch's functional has it
_ACTS = {
    "silu": {"inplace": _flag},
    "mish": {"inplace": _flag},
    "elu": {"alpha": lambda g: g.pick(1.0, 0.5, 2.0), "inplace": _flag},
    "selu": {"inplace": _flag},
    "celu": {"alpha": lambda g: g.pick(1.0, 0.5, 2.0), "inplace": _flag},
    "hardtanh": {"min_val": lambda g: g.pick(-1.0, 0.0, -2.0),
                 "max_val": lambda g: g.pick(1.0, 2.0), "inplace": _flag},
    "relu6": {"inplace": _flag},
    "hardswish": {"inplace": _flag},
    "hardsigmoid": {"inplace": _flag},
    "logsigmoid": {},
    "softsign": {},
    "tanhshrink": {},
    "softshrink": {"lambd": lambda g: g.pick(0.5, 1.0, 0.0)},
    "hardshrink": {"lambd": lambda g: g.pick(0.5, 1.0, 0.0)},
    "threshold": {"threshold": lambda g: g.pick(0.0, 1.0, -0.5),
                  "value": lambda g: g.pick(0.0, -2.0, 5.0), "inplace": _flag},
    "rrelu": {"lower": lambda g: g.pick(0.125, 0.1), "upper": lambda g: g.pick(1 / 3, 0.5),
              "inplace": _flag},
}

# torch's gradient at NaN of these depends on where the element falls: its vectorized loops
# (runs of 8 or 16) give 0, the scalar tail gives the gradient (tensorlite gives the scalar
# loop's); their cases draw the other extremes but no NaN
_NAN_GRAD_BY_LAYOUT = {"elu", "selu", "celu", "hardtanh", "relu6", "hardswish", "softshrink",
                       "hardshrink", "threshold", "rrelu", "elu_", "selu_", "celu_",
                       "hardtanh_", "threshold_", "rrelu_", "leaky_relu_"}
# torch has no second derivative of hardsigmoid (it raises); tensorlite's is 0
_FIRST_ORDER_ONLY = {"hardsigmoid"}


def _no_nan(sample):
    def drawn(g):
        args, kw = sample(g)
        for a in args:
            if a.dtype.kind == "f":
                a.values = np.where(np.isnan(a.values), np.inf, a.values).astype(a.dtype)
        return args, kw
    return drawn


def _sample(name, kw):
    s = unary(**kw)
    return _no_nan(s) if name in _NAN_GRAD_BY_LAYOUT else s


TABLE = [OpInfo(n, _act(n), _sample(n, kw), activation=n not in _FIRST_ORDER_ONLY)
         for n, kw in _ACTS.items()]

# the in-place functional forms: name -> kwargs
_INPLACE = {"elu_": {"alpha": lambda g: g.pick(1.0, 0.5)}, "selu_": {}, "celu_": {},
            "hardtanh_": {"min_val": lambda g: g.pick(-1.0, 0.0)},
            "leaky_relu_": {"negative_slope": lambda g: g.pick(0.01, 0.3)},
            "threshold_": {"threshold": lambda g: g.pick(0.0, 1.0),
                           "value": lambda g: g.pick(0.0, -1.0)},
            "rrelu_": {}}


def _inplace_fn(name):
    def fn(lib, a, **kw):
        y = a * 1
        out = getattr(_f(lib), name)(y, **kw)
        assert out is y, f"{name} must return its input"
        return out
    return fn


TABLE += [OpInfo(n, _inplace_fn(n), _sample(n, kw)) for n, kw in _INPLACE.items()]


def _softmin(lib, a, dim):
    return _f(lib).softmin(a, dim)


def softmin_sample(g):
    shape = g.shape(min_dims=1)
    return [g.tensor(shape)], {"dim": g.dim(len(shape))}


def _glu(lib, a, dim):
    return _f(lib).glu(a, dim)


def glu_sample(g):
    shape = list(g.shape(min_dims=1, max_side=3))
    dim = g.dim(len(shape))
    if g.int(0, 4):  # mostly even halves; sometimes odd (torch raises)
        shape[dim] *= 2
    return [g.tensor(tuple(shape))], {"dim": dim}


def _prelu(lib, a, w):
    return _f(lib).prelu(a, w)


def prelu_sample(g):
    shape = g.shape(max_dims=4)
    c = shape[1] if len(shape) >= 2 else 1
    n = g.pick(1, c) if g.int(0, 5) else g.int(1, 3)  # sometimes a mismatching count
    return [g.tensor(shape), g.param((n,))], {}


TABLE += [
    OpInfo("softmin", _softmin, softmin_sample, activation=True),
    OpInfo("glu", _glu, glu_sample, activation=True),
    OpInfo("prelu", _prelu, prelu_sample, activation=True),
]


# -- distances and bilinear ---------------------------------------------------------------------
def _normalize(lib, a, **kw):
    return _f(lib).normalize(a, **kw)


def normalize_sample(g):
    shape = g.shape(min_dims=1)
    return [g.tensor(shape)], {"p": g.pick(2.0, 1.0, 3.0), "dim": g.dim(len(shape)),
                               "eps": g.pick(1e-12, 0.5)}


def _cosine_similarity(lib, a, b, **kw):
    return _f(lib).cosine_similarity(a, b, **kw)


def cosine_similarity_sample(g):
    (sa, sb), out = g.bshapes(2, min_dims=1, max_side=3)
    return [g.tensor(sa), g.tensor(sb)], {"dim": g.dim(len(out)), "eps": g.pick(1e-8, 0.5)}


def _pairwise_distance(lib, a, b, **kw):
    return _f(lib).pairwise_distance(a, b, **kw)


def pairwise_distance_sample(g):
    d = g.int(0, 3)
    lead = g.pick((), (g.int(0, 3),))
    sb = g.pick(lead + (d,), (d,), (1, d) if lead else (d,))
    return [g.tensor(lead + (d,)), g.tensor(sb)], {"p": g.pick(2.0, 1.0, 3.0),
                                                   "eps": g.pick(1e-6, 0.0),
                                                   "keepdim": g.flag()}


def _pdist(lib, a, p):
    return _f(lib).pdist(a, p)


def _bilinear(lib, a, b, w, bias=None):
    return _f(lib).bilinear(a, b, w, bias)


def bilinear_sample(g):
    lead = g.shape(max_dims=2, max_side=3)
    i, j, o = g.int(1, 3), g.int(1, 3), g.int(1, 3)
    args = [g.tensor(lead + (i,)), g.tensor(lead + (j,)), g.param((o, i, j))]
    if g.flag():
        args.append(g.param((o,)))
    return args, {}


TABLE += [
    OpInfo("normalize", _normalize, normalize_sample, accum=True),
    OpInfo("cosine_similarity", _cosine_similarity, cosine_similarity_sample, accum=True),
    OpInfo("pairwise_distance", _pairwise_distance, pairwise_distance_sample, accum=True),
    # (no ties: the gradient of a zero distance differs in torch's pdist backward for p < 2)
    # (N >= 1: torch's pdist backward crashes (segfault) on an empty (0, M) input)
    OpInfo("pdist", _pdist, lambda g: ([g.tensor((g.int(1, 4), g.int(1, 3)), mode="normal")],
                                       {"p": g.pick(2.0, 1.0, 3.0)}), accum=True),
    OpInfo("bilinear", _bilinear, bilinear_sample, accum=True),
]


# -- embedding options and embedding_bag ---------------------------------------------------------
def _embedding_opts(lib, idx, w, **kw):
    return _f(lib).embedding(idx, w, **kw)


def embedding_opts_sample(g):
    n, d = g.int(1, 4), g.int(1, 3)
    kw = {"scale_grad_by_freq": g.flag(), "padding_idx": g.pick(None, 0)}
    if g.flag():
        kw["max_norm"], kw["norm_type"] = g.pick(0.5, 1.0), g.pick(2.0, 1.0)
    return [g.index(g.shape(max_dims=2), 0, n - 1), g.param((n, d))], kw


def _embedding_bag(lib, idx, w, *rest, mode="mean", with_offsets=False, with_psw=False, **kw):
    rest = list(rest)
    offsets = rest.pop(0) if with_offsets else None
    psw = rest.pop(0) if with_psw else None
    return _f(lib).embedding_bag(idx, w, offsets, mode=mode, per_sample_weights=psw, **kw)


def embedding_bag_sample(g):
    n, d = g.int(1, 4), g.int(1, 3)
    mode = g.pick("sum", "mean", "max")
    kw = {"mode": mode, "padding_idx": g.pick(None, 0)}
    if g.flag():  # 2-D input: fixed-length bags
        idx = g.index((g.int(1, 3), g.int(1, 3)), 0, n - 1)
        args = [idx, g.param((n, d))]
    else:
        m = g.int(0, 5)
        idx = g.index((m,), 0, n - 1)
        cuts = sorted(g.int(0, m) for _ in range(g.int(0, 3)))
        last = g.flag()
        offs = [0] + cuts + ([m] if last else [])
        kw["include_last_offset"] = last
        args = [idx, g.param((n, d)), Arg(np.array(offs, dtype=np.int64), fixed=True)]
        kw["with_offsets"] = True
    if mode == "sum" and g.flag():
        args.append(g.param(args[0].shape))
        kw["with_psw"] = True
    if mode != "max" and g.flag():
        kw["max_norm"] = 1.0
    return args, kw


TABLE += [
    OpInfo("embedding_opts", _embedding_opts, embedding_opts_sample, covers=("embedding",)),
    OpInfo("embedding_bag", _embedding_bag, embedding_bag_sample, accum=True),
]


# -- losses --------------------------------------------------------------------------------------
def _loss(name):
    def fn(lib, *ts, **kw):
        return getattr(_f(lib), name)(*ts, **kw)
    return fn


def _red(g, extra=()):
    return g.pick("mean", "sum", "none", *extra)


def kl_div_sample(g):
    shape = g.shape()
    log_target = g.flag()
    target = g.tensor(shape, "real" if log_target else "unit")
    return [g.tensor(shape), target], {"reduction": _red(g, ("batchmean",)),
                                       "log_target": log_target}


def huber_sample(g):
    shape = g.shape()
    return [g.tensor(shape), g.tensor(shape)], {"reduction": _red(g),
                                                "delta": g.pick(1.0, 0.5, 2.0)}


def _sign_target(g, shape, values=(1.0, -1.0)):
    n = int(np.prod(shape))
    vals = [g.pick(*values) for _ in range(n)]
    return Arg(np.array(vals, dtype=g.dtype).reshape(shape), fixed=True)


def cosine_embedding_sample(g):
    d = g.int(1, 3)
    lead = g.pick((), (g.int(0, 3),))
    return ([g.tensor(lead + (d,)), g.tensor(lead + (d,)), _sign_target(g, lead, (1.0, -1.0))],
            {"margin": g.pick(0.0, 0.5, -0.2), "reduction": _red(g)})


def margin_ranking_sample(g):
    shape = g.shape(max_dims=2)
    return ([g.tensor(shape), g.tensor(shape), _sign_target(g, shape)],
            {"margin": g.pick(0.0, 0.5), "reduction": _red(g)})


def triplet_sample(g):
    d = g.int(1, 3)
    lead = g.pick((), (g.int(0, 3),))
    swap = g.flag()
    # with swap, min(d(a, n), d(p, n)) picks its gradient's side on exact ties; the three are
    # then drawn in one layout, so equal values give equal distances on every backend (a
    # kernel's summation order over a strided layout may round one of them apart)
    layout = "C" if swap else None
    return ([g.tensor(lead + (d,), layout=layout) for _ in range(3)],
            {"margin": g.pick(1.0, 0.5), "p": g.pick(2.0, 1.0, 3.0), "eps": g.pick(1e-6, 0.0),
             "swap": swap, "reduction": _red(g)})


def triplet_distance_sample(g):
    args, kw = triplet_sample(g)
    return args, {"margin": kw["margin"], "swap": kw["swap"], "reduction": kw["reduction"]}


def hinge_embedding_sample(g):
    shape = g.shape()
    return ([g.tensor(shape), _sign_target(g, shape, (1.0, -1.0, 1.0, -1.0, 0.0))],
            {"margin": g.pick(1.0, 0.5), "reduction": _red(g)})


def soft_margin_sample(g):
    shape = g.shape()
    return [g.tensor(shape), _sign_target(g, shape)], {"reduction": _red(g)}


def _multi_margin(lib, x, t, w=None, **kw):
    return _f(lib).multi_margin_loss(x, t, weight=w, **kw)


def multi_margin_sample(g):
    # (no empty batch: torch's 'mean' over 0 samples returns uninitialized memory)
    c = g.int(1, 4)
    batch = g.pick((), (g.int(1, 3),))
    args = [g.tensor(batch + (c,)), g.index(batch, 0, c - 1)]
    if g.flag():
        args.append(g.fixed((c,), "pos"))
    return args, {"p": g.pick(1, 2), "margin": g.pick(1.0, 0.5), "reduction": _red(g)}


def multilabel_margin_sample(g):
    # (no empty batch: torch's 'mean' over 0 samples returns uninitialized memory)
    c = g.int(1, 4)
    batch = g.pick((), (g.int(1, 3),))
    return ([g.tensor(batch + (c,)), g.index(batch + (c,), -1, c - 1)], {"reduction": _red(g)})


def _multilabel_soft(lib, x, t, w=None, **kw):
    return _f(lib).multilabel_soft_margin_loss(x, t, weight=w, **kw)


def multilabel_soft_sample(g):
    c = g.int(1, 4)
    batch = g.pick((), (g.int(0, 3),))
    args = [g.tensor(batch + (c,)), g.param(batch + (c,), "unit")]
    if g.flag():
        args.append(g.fixed((c,), "pos"))
    return args, {"reduction": _red(g)}


def poisson_sample(g):
    shape = g.shape()
    log_input = g.flag()
    return ([g.tensor(shape, "real" if log_input else "pos"), g.param(shape, "pos")],
            {"log_input": log_input, "full": g.flag(), "eps": g.pick(1e-8, 0.1),
             "reduction": _red(g)})


def _gaussian(lib, x, t, var, **kw):
    return _f(lib).gaussian_nll_loss(x, t, var, **kw)


def gaussian_sample(g):
    shape = g.shape(min_dims=1)
    vshape = g.pick(shape, shape[:-1], shape[:-1] + (1,))
    return ([g.tensor(shape), g.tensor(shape), g.param(vshape, "pos")],
            {"full": g.flag(), "eps": g.pick(1e-6, 0.3), "reduction": _red(g)})


def _ctc(lib, lp, targets, **kw):
    return _f(lib).ctc_loss(lp, targets, **kw)


def ctc_sample(g):
    T, C = g.int(1, 5), g.int(2, 4)
    N = g.int(1, 3)
    unbatched = g.int(0, 4) == 0
    blank = g.pick(0, C - 1)
    labels = [c for c in range(C) if c != blank]
    tl = [g.int(0, 3) for _ in range(1 if unbatched else N)]
    il = [g.int(0 if not unbatched else 1, T) for _ in tl]
    rows = [[g.pick(*labels) for _ in range(n)] for n in tl]
    S = max(tl + [1])
    shape = (T, C) if unbatched else (T, N, C)
    lp = g.tensor(shape, mode=g.finite_mode())
    if unbatched:  # lengths as tuples (a plain int raises TypeError in torch and here)
        targets = np.array(rows[0], dtype=np.int64)
        kw = {"input_lengths": (il[0],), "target_lengths": (tl[0],)}
    elif g.flag():  # padded (N, S)
        targets = np.array([r + [labels[0]] * (S - len(r)) for r in rows], dtype=np.int64)
        kw = {"input_lengths": il, "target_lengths": tl}
    else:  # concatenated
        targets = np.array([c for r in rows for c in r], dtype=np.int64)
        kw = {"input_lengths": il, "target_lengths": tl}
    kw.update(blank=blank, reduction=_red(g), zero_infinity=g.flag())
    return [lp, Arg(targets, fixed=True)], kw


TABLE += [
    OpInfo("kl_div", _loss("kl_div"), kl_div_sample, accum=True),
    OpInfo("huber_loss", _loss("huber_loss"), huber_sample, accum=True),
    OpInfo("cosine_embedding_loss", _loss("cosine_embedding_loss"), cosine_embedding_sample,
           accum=True),
    OpInfo("margin_ranking_loss", _loss("margin_ranking_loss"), margin_ranking_sample,
           accum=True),
    OpInfo("triplet_margin_loss", _loss("triplet_margin_loss"), triplet_sample, accum=True),
    OpInfo("triplet_margin_with_distance_loss", _loss("triplet_margin_with_distance_loss"),
           triplet_distance_sample, accum=True),
    OpInfo("hinge_embedding_loss", _loss("hinge_embedding_loss"), hinge_embedding_sample,
           accum=True),
    OpInfo("soft_margin_loss", _loss("soft_margin_loss"), soft_margin_sample, accum=True),
    OpInfo("multi_margin_loss", _multi_margin, multi_margin_sample, accum=True),
    OpInfo("multilabel_margin_loss", _loss("multilabel_margin_loss"), multilabel_margin_sample,
           accum=True),
    OpInfo("multilabel_soft_margin_loss", _multilabel_soft, multilabel_soft_sample, accum=True),
    OpInfo("poisson_nll_loss", _loss("poisson_nll_loss"), poisson_sample, accum=True),
    OpInfo("gaussian_nll_loss", _gaussian, gaussian_sample, accum=True),
    OpInfo("ctc_loss", _ctc, ctc_sample, accum=True),
]

EXCLUDED = {}
