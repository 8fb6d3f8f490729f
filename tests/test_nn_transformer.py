"""Attention and transformers against torch: F.scaled_dot_product_attention,
F.multi_head_attention_forward through nn.MultiheadAttention, the Transformer family, and
RMSNorm / F.rms_norm, on every backend.

Modules are built from one expression on both libraries (``lambda nn: nn.MultiheadAttention(8,
2)``), torch's parameters are randomized and loaded into the tensorlite twin through
load_state_dict (strict: the parameter names and shapes are torch's), and the outputs, the
gradients of every input and of every parameter (random upstream gradients) are compared, in
float64 and float32.  Dropout > 0 is checked in eval mode (deterministic) and for its seeding
and statistics in train mode.
"""
import math
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
import tensorlite.nn as nn
import tensorlite.nn.functional as tlF
from helpers import assert_close, tl_tensor, to_np

TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}
GTOL = {np.float64: dict(rtol=1e-8, atol=1e-9), np.float32: dict(rtol=1e-3, atol=1e-4)}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
TH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def randn(*shape):
    return np.random.standard_normal(shape)


# ---------------------------------------------------------------------------- the comparison
def _lib_inputs(lib, leaves, consts, dtype):
    """The same inputs for tensorlite or torch: ``leaves`` float arrays requiring grad, then
    ``consts`` (masks: bool kept, floats cast to ``dtype``), by name."""
    out, grads = {}, []
    for name, a in leaves.items():
        a = np.ascontiguousarray(a, dtype=dtype)
        t = (tl_tensor(a, requires_grad=True) if lib is tl
             else torch.from_numpy(a.copy()).requires_grad_())
        out[name] = t
        grads.append(t)
    for name, a in consts.items():
        if a is None:
            out[name] = None
            continue
        a = np.ascontiguousarray(a if a.dtype == np.bool_ else a.astype(dtype))
        out[name] = tl_tensor(a) if lib is tl else torch.from_numpy(a.copy())
    return out, grads


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def compare(fn, leaves, consts=None, dtype=np.float64, th_mod=None, tl_mod=None, what=""):
    """``fn(lib, mod, inputs)`` on both libraries; outputs, input and parameter gradients."""
    consts = consts or {}
    tl_in, tl_leaves = _lib_inputs(tl, leaves, consts, dtype)
    th_in, th_leaves = _lib_inputs(torch, leaves, consts, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        th_out = _as_tuple(fn(torch, th_mod, th_in))
        tl_out = _as_tuple(fn(tl, tl_mod, tl_in))
    assert len(tl_out) == len(th_out)
    pairs = []
    for i, (a, e) in enumerate(zip(tl_out, th_out)):
        if e is None:
            assert a is None, f"{what} output {i}: torch gives None, got {type(a)}"
            continue
        assert isinstance(a, tl.Tensor), f"{what} output {i} is {type(a)}"
        assert_close(a, e, what=f"{what} {np.dtype(dtype)} output {i}", **TOL[dtype])
        if e.requires_grad:
            assert a.requires_grad, f"{what} output {i} does not require grad"
            pairs.append((a, e))
    if not pairs:
        return tl_out, th_out
    gs = [np.random.standard_normal(tuple(e.shape)).astype(dtype) for _, e in pairs]
    th_params = [] if th_mod is None else list(th_mod.named_parameters())
    tl_params = [] if tl_mod is None else [tl_mod.get_parameter(n) for n, _ in th_params]
    th_targets = th_leaves + [p for _, p in th_params]
    tl_targets = tl_leaves + tl_params
    th_grads = torch.autograd.grad([e for _, e in pairs], th_targets,
                                   [torch.from_numpy(g) for g in gs], allow_unused=True)
    tl_grads = tl.autograd.grad([a for a, _ in pairs], tl_targets,
                                [tl_tensor(g) for g in gs], allow_unused=True)
    names = list(leaves) + [n for n, _ in th_params]
    for name, g, e in zip(names, tl_grads, th_grads):
        label = f"{what} {np.dtype(dtype)} grad of {name}"
        if e is None:
            assert g is None or not np.any(to_np(g)), f"{label}: torch gives none"
            continue
        assert g is not None, f"{label}: None, torch gives one"
        assert_close(g, e, what=label, **GTOL[dtype])
    return tl_out, th_out


def randomize(th_mod, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in th_mod.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)


def twins(make, dtype, train=False, seed=0):
    """torch's module (random parameters) and its tensorlite twin, in ``dtype``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        th_mod = make(torch.nn).to(TH_DTYPE[dtype])
        tl_mod = make(nn)
    tl_mod = tl_mod.double() if dtype == np.float64 else tl_mod.float()
    tl_mod = tl_mod.to(tl.get_backend().device)
    randomize(th_mod, seed)
    result = tl_mod.load_state_dict({k: tl_tensor(v.detach().numpy().copy())
                                     for k, v in th_mod.state_dict().items()})
    assert tuple(result) == ([], [])
    th_mod.train(train), tl_mod.train(train)
    return th_mod, tl_mod


def bool_mask(*shape, p=0.3, keep_col=None):
    m = np.random.random_sample(shape) < p
    if keep_col is not None:
        m[..., keep_col] = False  # never every key masked, unless a test wants it
    return m


# ---------------------------------------------------------------------------- sdpa
def _sdpa(**kw):
    return lambda lib, mod, x: lib.nn.functional.scaled_dot_product_attention(
        x["q"], x["k"], x["v"], attn_mask=x.get("mask"), **kw)


SDPA = [
    ("4d", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), None, {}),
    ("3d", (3, 4, 5), (3, 6, 5), (3, 6, 5), None, {}),
    ("2d", (4, 5), (6, 5), (6, 3), None, {}),
    ("5d", (2, 2, 2, 3, 4), (2, 2, 2, 5, 4), (2, 2, 2, 5, 4), None, {}),
    ("broadcast_batch", (2, 3, 4, 5), (1, 3, 6, 5), (1, 3, 6, 5), None, {}),
    ("scale", (2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 5), None, dict(scale=0.37)),
    ("scale_zero", (2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 5), None, dict(scale=0.0)),
    ("causal_square", (2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), None, dict(is_causal=True)),
    ("causal_L_lt_S", (2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 4), None, dict(is_causal=True)),
    ("causal_L_gt_S", (2, 2, 6, 4), (2, 2, 3, 4), (2, 2, 3, 4), None, dict(is_causal=True)),
    ("bool_mask_LS", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), "bool_LS", {}),
    ("bool_mask_full", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), "bool_full", {}),
    ("float_mask_LS", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), "float_LS", {}),
    ("float_mask_B1LS", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), "float_B1LS", {}),
    ("bool_mask_dead_row", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), "bool_dead", {}),
    ("float_mask_dead_row", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), "float_dead", {}),
    ("causal_and_bool_mask", (2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), "bool_LS55",
     dict(is_causal=True)),
    ("gqa", (2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 5), None, dict(enable_gqa=True)),
    ("gqa_causal_3d", (4, 3, 5), (1, 3, 5), (1, 3, 5), None,
     dict(enable_gqa=True, is_causal=True)),
    ("gqa_same_heads", (2, 2, 3, 5), (2, 2, 6, 5), (2, 2, 6, 5), None, dict(enable_gqa=True)),
    ("empty_keys", (2, 2, 3, 4), (2, 2, 0, 4), (2, 2, 0, 4), None, {}),
    ("empty_keys_mask", (2, 2, 3, 4), (2, 2, 0, 4), (2, 2, 0, 4), "float_L0", {}),
    ("empty_queries", (2, 2, 0, 4), (2, 2, 3, 4), (2, 2, 3, 4), None, dict(is_causal=True)),
    ("single_key", (2, 2, 3, 4), (2, 2, 1, 4), (2, 2, 1, 4), None, {}),
]


def _mask(kind, dtype):
    if kind is None:
        return None
    if kind == "bool_LS":
        return bool_mask(4, 6, p=0.6, keep_col=2) == False  # noqa: E712  True = keep
    if kind == "bool_LS55":
        return bool_mask(5, 5, p=0.5, keep_col=0) == False  # noqa: E712
    if kind == "bool_full":
        return bool_mask(2, 3, 4, 6, p=0.6, keep_col=5) == False  # noqa: E712
    if kind == "float_LS":
        return randn(4, 6)
    if kind == "float_B1LS":
        m = randn(2, 1, 4, 6)
        m[0, 0, 1, 3] = -np.inf
        return m
    if kind == "bool_dead":
        m = np.ones((4, 6), bool)
        m[1] = False
        m[3, :5] = False
        return m
    if kind == "float_dead":
        m = randn(2, 3, 4, 6)
        m[0, 1, 2] = -np.inf
        m[1, :, 0] = -np.inf
        return m
    if kind == "float_L0":
        return np.zeros((3, 0))
    raise AssertionError(kind)


@pytest.mark.parametrize("case", SDPA, ids=[c[0] for c in SDPA])
@DTYPES
def test_sdpa_matches_torch(backend, case, dtype):
    _, qs, ks, vs, mask, kw = case
    leaves = {"q": randn(*qs), "k": randn(*ks), "v": randn(*vs)}
    compare(_sdpa(**kw), leaves, {"mask": _mask(mask, dtype)}, dtype, what=case[0])


def test_sdpa_dead_rows_give_zeros_and_zero_grads(backend):
    """torch's safe softmax: a query row with every key masked out gives 0 (not NaN) and
    passes no gradient (checked in its own right, beside the torch comparison)."""
    q, k, v = (tl_tensor(randn(1, 2, 3, 4), requires_grad=True) for _ in range(3))
    mask = np.ones((3, 3), bool)
    mask[1] = False
    out = tlF.scaled_dot_product_attention(q, k, v, attn_mask=tl_tensor(mask))
    o = to_np(out)
    assert not np.isnan(o).any() and not np.any(o[:, :, 1]) and np.all(o[:, :, 0] != 0)
    out.backward(tl_tensor(randn(1, 2, 3, 4)))
    gq = to_np(q.grad)
    assert not np.isnan(gq).any() and not np.any(gq[:, :, 1]) and np.any(gq[:, :, 0])


def test_sdpa_causal_equals_explicit_mask(backend):
    q, k, v = (tl_tensor(randn(2, 3, 5, 4)) for _ in range(3))
    keep = tl_tensor(np.tril(np.ones((5, 5), bool)))
    a = tlF.scaled_dot_product_attention(q, k, v, is_causal=True)
    b = tlF.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-6, atol=1e-7)
    # ... and is not the unmasked attention
    c = tlF.scaled_dot_product_attention(q, k, v)
    assert np.abs(to_np(a) - to_np(c)).max() > 1e-3


def test_sdpa_gradcheck_and_second_order(backend):
    q = tl_tensor(randn(1, 2, 3, 4), requires_grad=True)
    k = tl_tensor(randn(1, 2, 4, 4), requires_grad=True)
    v = tl_tensor(randn(1, 2, 4, 2), requires_grad=True)
    m = tl_tensor(randn(3, 4))

    def f(q, k, v):
        return tlF.scaled_dot_product_attention(q, k, v, attn_mask=m)

    def g(q, k, v):
        return tlF.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7)
    assert tl.autograd.gradcheck(f, (q, k, v))
    assert tl.autograd.gradcheck(g, (q, k, v))
    assert tl.autograd.gradgradcheck(f, (q, k, v))


def test_sdpa_double_backward_matches_torch(backend):
    arrays = [randn(1, 2, 3, 4), randn(1, 2, 4, 4), randn(1, 2, 4, 4)]
    up = randn(1, 2, 3, 4)

    def run(lib, mk):
        q, k, v = (mk(a) for a in arrays)
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        gq, = lib.autograd.grad(out, q, mk(up, False), create_graph=True)
        (gq * gq).sum().backward()
        return [k.grad, v.grad]
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.MATH):  # torch's CPU flash kernel has no double backward
        th = run(torch, lambda a, r=True: torch.from_numpy(a.copy()).requires_grad_(r))
    tlr = run(tl, lambda a, r=True: tl_tensor(a, requires_grad=r))
    for a, e in zip(tlr, th):
        assert_close(a, e, what="second order", rtol=1e-8, atol=1e-10)


def test_sdpa_dropout_is_seeded_and_scales(backend):
    """With value the identity, the output is the dropped-out probabilities: each is 0 or the
    undropped probability / (1 - p); the same seed gives the same mask."""
    L, S, p = 16, 16, 0.4
    q, k = tl_tensor(randn(4, L, 8)), tl_tensor(randn(4, S, 8))
    v = tl_tensor(np.broadcast_to(np.eye(S), (4, S, S)).copy())
    probs = to_np(tlF.scaled_dot_product_attention(q, k, v))
    tl.manual_seed(7)
    a = to_np(tlF.scaled_dot_product_attention(q, k, v, dropout_p=p))
    tl.manual_seed(7)
    b = to_np(tlF.scaled_dot_product_attention(q, k, v, dropout_p=p))
    np.testing.assert_array_equal(a, b)
    kept = a != 0
    assert 0.45 < kept.mean() < 0.75, kept.mean()
    np.testing.assert_allclose(a[kept], probs[kept] / (1 - p), rtol=1e-5)
    c = to_np(tlF.scaled_dot_product_attention(q, k, v, dropout_p=p))
    assert np.any((c != 0) != kept), "a fresh mask on the next call"
    assert not np.any(to_np(tlF.scaled_dot_product_attention(q, k, v, dropout_p=1.0)))


ERRORS = [
    ("dtype_mismatch", lambda lib, x: (x(2, 3, 4), x(2, 3, 4).double(), x(2, 3, 4)), {}),
    ("one_dim", lambda lib, x: (x(4), x(4), x(4)), {}),
    ("int_mask", lambda lib, x: (x(3, 4), x(3, 4), x(3, 4)),
     dict(attn_mask=lambda lib: lib.ones(3, 3, dtype=lib.int64))),
    ("double_mask_float_query", lambda lib, x: (x(3, 4), x(3, 4), x(3, 4)),
     dict(attn_mask=lambda lib: lib.zeros(3, 3, dtype=lib.float64))),
    ("gqa_not_dividing", lambda lib, x: (x(1, 4, 3, 4), x(1, 3, 3, 4), x(1, 3, 3, 4)),
     dict(enable_gqa=True)),
    ("heads_without_gqa", lambda lib, x: (x(1, 4, 3, 4), x(1, 2, 3, 4), x(1, 2, 3, 4)), {}),
    ("bad_dropout", lambda lib, x: (x(3, 4), x(3, 4), x(3, 4)), dict(dropout_p=1.5)),
    ("mask_shape", lambda lib, x: (x(3, 4), x(3, 4), x(3, 4)),
     dict(attn_mask=lambda lib: lib.zeros(3, 5))),
    ("batch_mismatch", lambda lib, x: (x(2, 3, 4), x(3, 3, 4), x(3, 3, 4)), {}),
]


@pytest.mark.parametrize("make, kw", [pytest.param(m, k, id=i) for i, m, k in ERRORS])
def test_sdpa_errors_like_torch(backend, make, kw):
    def run(lib):
        x = (lambda *s: tl.randn(*s)) if lib is tl else (lambda *s: torch.randn(*s))
        kwargs = {k: (v(lib) if callable(v) else v) for k, v in kw.items()}
        return lib.nn.functional.scaled_dot_product_attention(*make(lib, x), **kwargs)
    with pytest.raises(Exception) as th_err:
        run(torch)
    with pytest.raises(Exception) as tl_err:
        run(tl)
    assert isinstance(tl_err.value, type(th_err.value)) or \
        issubclass(type(th_err.value), type(tl_err.value)), (tl_err.value, th_err.value)


def test_sdpa_causal_builds_no_float_bias(backend, monkeypatch):
    """is_causal masks with a bool (L, S) mask: no float (L, S) bias tensor (torch's
    reference composes a zeros(L, S) bias) and nothing of size (..., L, S) but the scores."""
    from tensorlite.nn.functional import attention
    made = []
    real_zeros = attention.zeros
    monkeypatch.setattr(attention, "zeros", lambda *a, **k: made.append(a) or real_zeros(*a, **k))
    q = tl_tensor(randn(1, 1, 64, 4))
    tlF.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert made == []
    keep = attention._causal_keep(64, 64, q.device)
    assert keep.dtype == tl.bool and tuple(keep.shape) == (64, 64)


# ---------------------------------------------------------------------------- MultiheadAttention
def _mha_call(self_attn=True, **kw):
    def fn(lib, mod, x):
        if self_attn:
            q = k = v = x["x"]
        else:
            q, k, v = x["q"], x["k"], x.get("v", x["k"])
        masks = {n: x[n] for n in ("key_padding_mask", "attn_mask") if x.get(n) is not None}
        return mod(q, k, v, **masks, **kw)
    return fn


def _mha_inputs(L, S, N, E, kdim=None, vdim=None, batch_first=False, self_attn=True,
                shared_kv=True):
    def seq(n, e):
        if N is None:
            return randn(n, e)
        return randn(N, n, e) if batch_first else randn(n, N, e)
    if self_attn:
        return {"x": seq(L, E)}
    d = {"q": seq(L, E), "k": seq(S, kdim or E)}
    if not shared_kv:
        d["v"] = seq(S, vdim or E)
    return d


def _kpm(N, S, kind):
    if kind is None:
        return None
    shape = (S,) if N is None else (N, S)
    m = np.zeros(shape, bool)
    m[..., S - 2:] = True  # padding at the end
    if N is not None and N > 1:
        m[1, 1] = True
    return m if kind == "bool" else np.where(m, -np.inf, 0.0) + (randn(*shape) * 0.1)


def _attn_mask(L, S, kind, heads=2, N=3):
    if kind is None:
        return None
    if kind == "bool":
        return bool_mask(L, S, p=0.4, keep_col=0)
    if kind == "float":
        return randn(L, S)
    if kind == "bool3d":
        return bool_mask(N * heads, L, S, p=0.4, keep_col=0)
    if kind == "float3d":
        return randn(N * heads, L, S)
    if kind == "causal":
        return np.triu(np.full((L, S), -np.inf), 1)
    if kind == "dead":
        m = bool_mask(L, S, p=0.3, keep_col=0)
        m[1] = True
        return m
    raise AssertionError(kind)


MHA = [
    # id, ctor kwargs, self_attn, shared_kv, N, kpm, attn_mask, call kwargs
    ("self_seqfirst", {}, True, True, 3, None, None, {}),
    ("self_batchfirst", dict(batch_first=True), True, True, 3, None, None, {}),
    ("cross_seqfirst", {}, False, True, 3, None, None, {}),
    ("cross_kv_distinct", dict(batch_first=True), False, False, 3, None, None, {}),
    ("kdim_vdim", dict(kdim=5, vdim=3), False, False, 3, None, None, {}),
    ("kdim_vdim_bf_noweights", dict(kdim=5, vdim=3, batch_first=True), False, False, 3, "bool",
     "bool", dict(need_weights=False)),
    ("no_bias", dict(bias=False), True, True, 3, None, "float", {}),
    ("bias_kv", dict(add_bias_kv=True), False, True, 3, "bool", "bool", {}),
    ("zero_attn", dict(add_zero_attn=True), True, True, 3, "bool", "float", {}),
    ("bias_kv_zero_attn_nw", dict(add_bias_kv=True, add_zero_attn=True, batch_first=True),
     False, False, 3, "bool", "bool3d", dict(need_weights=False)),
    ("kpm_bool", {}, True, True, 3, "bool", None, {}),
    ("kpm_float", dict(batch_first=True), True, True, 3, "float", None, {}),
    ("kpm_and_mask", {}, False, True, 3, "bool", "bool", {}),
    ("mask_3d", dict(batch_first=True), True, True, 3, None, "float3d", {}),
    ("per_head_weights", {}, True, True, 3, "bool", "bool", dict(average_attn_weights=False)),
    ("no_weights", dict(batch_first=True), True, True, 3, "bool", "float",
     dict(need_weights=False)),
    ("no_weights_3d_mask", {}, False, True, 3, None, "bool3d", dict(need_weights=False)),
    ("is_causal_hint", dict(batch_first=True), True, True, 3, None, "causal",
     dict(need_weights=False, is_causal=True)),
    ("is_causal_hint_kpm", {}, True, True, 3, "bool", "causal",
     dict(need_weights=False, is_causal=True)),
    ("is_causal_hint_weights", {}, True, True, 3, None, "causal",
     dict(need_weights=True, is_causal=True)),
    ("unbatched", {}, True, True, None, "bool", "bool", {}),
    ("unbatched_batchfirst_nw", dict(batch_first=True), False, False, None, "bool", "float",
     dict(need_weights=False)),
    ("one_head", dict(num_heads=1), True, True, 2, None, None, {}),
    ("four_heads", dict(num_heads=4), False, True, 2, "bool", None, dict(need_weights=False)),
    ("eval_dropout", dict(dropout=0.5), True, True, 3, "bool", "bool", {}),
    ("dead_row_weights_nan", {}, True, True, 3, None, "dead", {}),
    ("dead_row_no_weights_zero", {}, True, True, 3, None, "dead", dict(need_weights=False)),
]


@pytest.mark.parametrize("case", MHA, ids=[c[0] for c in MHA])
@DTYPES
def test_multihead_attention_matches_torch(backend, case, dtype):
    name, ctor, self_attn, shared_kv, N, kpm, mask, call = case
    ctor = dict(ctor)
    E, heads = 8, ctor.pop("num_heads", 2)
    L, S = 4, (4 if self_attn else 5)
    th_mod, tl_mod = twins(lambda nn: nn.MultiheadAttention(E, heads, **ctor), dtype)
    leaves = _mha_inputs(L, S, N, E, ctor.get("kdim"), ctor.get("vdim"),
                         ctor.get("batch_first", False), self_attn, shared_kv)
    consts = {"key_padding_mask": _kpm(N, S, kpm),
              "attn_mask": _attn_mask(L, S, mask, heads, N or 1)}
    if mask in ("bool3d", "float3d") and N is None:
        consts["attn_mask"] = consts["attn_mask"][:heads]
    compare(_mha_call(self_attn, **call), leaves, consts, dtype, th_mod, tl_mod, what=name)


def test_multihead_attention_train_mode_dropout0(backend):
    th_mod, tl_mod = twins(lambda nn: nn.MultiheadAttention(8, 2, batch_first=True),
                           np.float64, train=True)
    compare(_mha_call(True), {"x": randn(2, 5, 8)},
            {"key_padding_mask": _kpm(2, 5, "bool"), "attn_mask": None}, np.float64,
            th_mod, tl_mod)


def test_multihead_attention_dropout_in_training(backend):
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True).to(backend.device)
    x = tl_tensor(randn(2, 6, 8).astype(np.float32))
    tl.manual_seed(3)
    a, wa = mha(x, x, x)
    tl.manual_seed(3)
    b, wb = mha(x, x, x)
    np.testing.assert_array_equal(to_np(a), to_np(b))
    w = to_np(wa)  # averaged over 2 heads of dropped-out probabilities: many zeros are gone,
    assert np.isclose(w.sum(-1), 1.0, atol=1e-6).mean() < 0.5  # but rows no longer sum to 1
    mha.eval()
    c, wc = mha(x, x, x)
    np.testing.assert_allclose(to_np(wc).sum(-1), 1.0, rtol=1e-5)
    assert np.abs(to_np(c) - to_np(a)).max() > 1e-3


def test_multihead_attention_parameters_like_torch():
    for kw in [{}, dict(kdim=5, vdim=3), dict(bias=False), dict(add_bias_kv=True),
               dict(kdim=5, add_bias_kv=True, bias=False)]:
        th = torch.nn.MultiheadAttention(8, 2, **kw)
        ours = nn.MultiheadAttention(8, 2, **kw)
        th_sd, our_sd = th.state_dict(), ours.state_dict()
        assert list(our_sd) == list(th_sd), kw
        for k in th_sd:
            assert tuple(our_sd[k].shape) == tuple(th_sd[k].shape), (kw, k)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in th.named_parameters()]
        assert type(ours.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
        assert isinstance(ours.out_proj, nn.Linear)
        for attr in ("embed_dim", "kdim", "vdim", "num_heads", "head_dim", "dropout",
                     "batch_first", "_qkv_same_embed_dim", "add_zero_attn"):
            assert getattr(ours, attr) == getattr(th, attr), attr
        assert (ours.bias_k is None) == (th.bias_k is None)
    assert repr(nn.MultiheadAttention(8, 2)) == repr(torch.nn.MultiheadAttention(8, 2))


def test_multihead_attention_init_statistics():
    E = 256
    ours = nn.MultiheadAttention(E, 4, add_bias_kv=True)
    w = to_np(ours.in_proj_weight)
    bound = math.sqrt(6.0 / (E + 3 * E))  # xavier_uniform_ on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert not np.any(to_np(ours.in_proj_bias)) and not np.any(to_np(ours.out_proj.bias))
    wo = to_np(ours.out_proj.weight)  # Linear's default: U(+-1/sqrt(E))
    assert abs(np.abs(wo).max() - 1 / math.sqrt(E)) < 0.02 / math.sqrt(E)
    bk = to_np(ours.bias_k)  # xavier_normal_ on (1, 1, E): fan_in = 1 * E, fan_out = 1 * E
    assert abs(bk.std() - math.sqrt(2.0 / (2 * E))) < 0.25 * math.sqrt(2.0 / (2 * E))
    sep = nn.MultiheadAttention(E, 4, kdim=128, vdim=64)
    kb = math.sqrt(6.0 / (E + 128))
    assert abs(np.abs(to_np(sep.k_proj_weight)).max() - kb) < 0.01 * kb


MHA_ERRORS = [
    ("embed_not_divisible", lambda nn: nn.MultiheadAttention(10, 3), None),
    ("zero_heads", lambda nn: nn.MultiheadAttention(8, 0), None),
    ("4d_query", lambda nn: nn.MultiheadAttention(8, 2), lambda lib: (lib.zeros(1, 2, 3, 8),) * 3),
    ("key_2d_query_3d", lambda nn: nn.MultiheadAttention(8, 2),
     lambda lib: (lib.zeros(3, 2, 8), lib.zeros(3, 8), lib.zeros(3, 8))),
    ("wrong_embed", lambda nn: nn.MultiheadAttention(8, 2), lambda lib: (lib.zeros(3, 2, 6),) * 3),
    ("bad_2d_mask", lambda nn: nn.MultiheadAttention(8, 2),
     lambda lib: (lib.zeros(3, 2, 8),) * 3 + (None, True, lib.zeros(3, 4))),
    ("bad_3d_mask", lambda nn: nn.MultiheadAttention(8, 2),
     lambda lib: (lib.zeros(3, 2, 8),) * 3 + (None, True, lib.zeros(2, 3, 3))),
    ("int_mask", lambda nn: nn.MultiheadAttention(8, 2),
     lambda lib: (lib.zeros(3, 2, 8),) * 3 + (None, True, lib.zeros(3, 3, dtype=lib.int64))),
    ("bad_kpm", lambda nn: nn.MultiheadAttention(8, 2),
     lambda lib: (lib.zeros(3, 2, 8),) * 3 + (lib.zeros(2, 4, dtype=lib.bool),)),
    ("causal_without_mask", lambda nn: nn.MultiheadAttention(8, 2),
     lambda lib: (lib.zeros(3, 2, 8),) * 3 + (None, False, None, True, True)),
]


@pytest.mark.parametrize("make, args", [pytest.param(m, a, id=i) for i, m, a in MHA_ERRORS])
def test_multihead_attention_errors_like_torch(make, args):
    def run(lib):
        mod = make(lib.nn)
        return mod(*args(lib))
    with pytest.raises(Exception) as th_err:
        run(torch)
    with pytest.raises(type(th_err.value)):
        run(tl)


def test_mismatched_mask_types_warn_like_torch():
    mha = nn.MultiheadAttention(8, 2)
    x = tl.zeros(3, 2, 8)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        mha(x, x, x, key_padding_mask=tl.zeros(2, 3, dtype=tl.bool), attn_mask=tl.zeros(3, 3))


# ---------------------------------------------------------------------------- transformer layers
def _relu_module(nn):
    return nn.ReLU()


LAYERS = [
    ("enc_default", "enc", {}, None, None),
    ("enc_batchfirst_gelu", "enc", dict(batch_first=True, activation="gelu"), "bool", None),
    ("enc_norm_first", "enc", dict(norm_first=True), "bool", "float"),
    ("enc_norm_first_bf", "enc", dict(norm_first=True, batch_first=True), None, "causal"),
    ("enc_callable_act", "enc", dict(activation=lambda x: x.tanh()), None, "bool"),
    ("enc_module_act", "enc", dict(activation="module_relu"), "float", None),
    ("enc_no_bias_eps", "enc", dict(bias=False, layer_norm_eps=1e-3), "bool", None),
    ("enc_eval_dropout", "enc", dict(dropout=0.5, batch_first=True), "bool", "bool"),
    ("dec_default", "dec", {}, None, None),
    ("dec_masks", "dec", dict(batch_first=True), "bool", "causal"),
    ("dec_norm_first_gelu", "dec", dict(norm_first=True, activation="gelu"), "bool", "bool"),
    ("dec_eval_dropout", "dec", dict(dropout=0.3, batch_first=True), "float", "float"),
]


def _ctor(kind, kw):
    def make(nnlib):
        kw2 = dict(kw)
        if kw2.get("activation") == "module_relu":
            kw2["activation"] = nnlib.ReLU()
        cls = nnlib.TransformerEncoderLayer if kind == "enc" else nnlib.TransformerDecoderLayer
        return cls(8, 2, dim_feedforward=12, **{"dropout": 0.0, **kw2})
    return make


def _seq(N, L, E, batch_first):
    return randn(N, L, E) if batch_first else randn(L, N, E)


@pytest.mark.parametrize("case", LAYERS, ids=[c[0] for c in LAYERS])
@DTYPES
def test_transformer_layer_matches_torch(backend, case, dtype):
    name, kind, kw, kpm, mask = case
    th_mod, tl_mod = twins(_ctor(kind, kw), dtype)
    bf = kw.get("batch_first", False)
    N, L, S = 3, 5, 4
    if kind == "enc":
        leaves = {"src": _seq(N, L, 8, bf)}
        consts = {"kpm": _kpm(N, L, kpm), "mask": _attn_mask(L, L, mask)}

        def fn(lib, mod, x):
            return mod(x["src"], src_mask=x["mask"], src_key_padding_mask=x["kpm"],
                       is_causal=mask == "causal")
    else:
        leaves = {"tgt": _seq(N, L, 8, bf), "memory": _seq(N, S, 8, bf)}
        consts = {"tgt_kpm": _kpm(N, L, kpm), "mem_kpm": _kpm(N, S, kpm),
                  "tgt_mask": _attn_mask(L, L, mask),
                  "mem_mask": None if mask == "causal" else _attn_mask(L, S, mask)}

        def fn(lib, mod, x):
            return mod(x["tgt"], x["memory"], tgt_mask=x["tgt_mask"], memory_mask=x["mem_mask"],
                       tgt_key_padding_mask=x["tgt_kpm"], memory_key_padding_mask=x["mem_kpm"],
                       tgt_is_causal=mask == "causal")
    compare(fn, leaves, consts, dtype, th_mod, tl_mod, what=name)


def test_transformer_layer_train_mode_dropout0(backend):
    th_mod, tl_mod = twins(_ctor("dec", dict(batch_first=True)), np.float64, train=True)
    compare(lambda lib, mod, x: mod(x["t"], x["m"]), {"t": randn(2, 3, 8), "m": randn(2, 4, 8)},
            {}, np.float64, th_mod, tl_mod)


def test_transformer_layer_unbatched(backend):
    th_mod, tl_mod = twins(_ctor("enc", dict(batch_first=True)), np.float64)
    compare(lambda lib, mod, x: mod(x["s"], src_key_padding_mask=x["kpm"]), {"s": randn(5, 8)},
            {"kpm": _kpm(None, 5, "bool")}, np.float64, th_mod, tl_mod)


def test_layer_attributes_like_torch():
    for kw in [{}, dict(activation="gelu"), dict(activation=lambda x: x)]:
        th = torch.nn.TransformerEncoderLayer(8, 2, **kw)
        ours = nn.TransformerEncoderLayer(8, 2, **kw)
        assert ours.activation_relu_or_gelu == th.activation_relu_or_gelu
        assert list(ours.state_dict()) == list(th.state_dict())
    assert nn.TransformerEncoderLayer(8, 2, activation="gelu").activation is tlF.gelu
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    th = torch.nn.TransformerDecoderLayer(8, 2, norm_first=True)
    ours = nn.TransformerDecoderLayer(8, 2, norm_first=True)
    assert list(ours.state_dict()) == list(th.state_dict()) and ours.norm_first


# ---------------------------------------------------------------------------- stacks
def _encoder(num_layers=2, norm=True, **kw):
    def make(nnlib):
        layer = nnlib.TransformerEncoderLayer(8, 2, 12, dropout=0.0, **kw)
        return nnlib.TransformerEncoder(layer, num_layers, nnlib.LayerNorm(8) if norm else None)
    return make


def _decoder(num_layers=2, norm=True, **kw):
    def make(nnlib):
        layer = nnlib.TransformerDecoderLayer(8, 2, 12, dropout=0.0, **kw)
        return nnlib.TransformerDecoder(layer, num_layers, nnlib.LayerNorm(8) if norm else None)
    return make


@pytest.mark.parametrize("bf", [False, True], ids=["seqfirst", "batchfirst"])
@pytest.mark.parametrize("masks", ["none", "causal", "kpm_mask", "causal_hint"])
@DTYPES
def test_transformer_encoder_matches_torch(backend, bf, masks, dtype):
    th_mod, tl_mod = twins(_encoder(batch_first=bf, norm=masks != "none"), dtype)
    L = 5
    consts = {"mask": None, "kpm": None}
    if masks in ("causal", "causal_hint"):
        consts["mask"] = np.triu(np.full((L, L), -np.inf), 1)
    if masks == "kpm_mask":
        consts["mask"], consts["kpm"] = _attn_mask(L, L, "bool"), _kpm(3, L, "bool")
    hint = True if masks == "causal_hint" else None

    def fn(lib, mod, x):
        return mod(x["src"], mask=x["mask"], src_key_padding_mask=x["kpm"], is_causal=hint)
    compare(fn, {"src": _seq(3, L, 8, bf)}, consts, dtype, th_mod, tl_mod, what=masks)


@pytest.mark.parametrize("bf", [False, True], ids=["seqfirst", "batchfirst"])
@DTYPES
def test_transformer_decoder_matches_torch(backend, bf, dtype):
    th_mod, tl_mod = twins(_decoder(batch_first=bf, norm_first=True), dtype)
    L, S = 5, 4
    consts = {"tm": np.triu(np.full((L, L), -np.inf), 1), "tk": _kpm(2, L, "bool"),
              "mk": _kpm(2, S, "bool"), "mm": _attn_mask(L, S, "float")}

    def fn(lib, mod, x):
        return mod(x["t"], x["m"], tgt_mask=x["tm"], memory_mask=x["mm"],
                   tgt_key_padding_mask=x["tk"], memory_key_padding_mask=x["mk"])
    compare(fn, {"t": _seq(2, L, 8, bf), "m": _seq(2, S, 8, bf)}, consts, dtype, th_mod, tl_mod)


def test_encoder_nested_tensor_warning_like_torch():
    for kw in [dict(batch_first=True), dict(batch_first=False), dict(batch_first=True,
               norm_first=True), dict(batch_first=True, activation=lambda x: x)]:
        with warnings.catch_warnings(record=True) as th_w:
            warnings.simplefilter("always")
            torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **kw), 2)
        with warnings.catch_warnings(record=True) as our_w:
            warnings.simplefilter("always")
            enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **kw), 2)
        th_msgs = [str(w.message) for w in th_w if "enable_nested_tensor" in str(w.message)]
        our_msgs = [str(w.message) for w in our_w if "enable_nested_tensor" in str(w.message)]
        assert our_msgs == th_msgs, kw
        assert enc.use_nested_tensor == (not th_msgs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 2, enable_nested_tensor=False)


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_encoder_eval_padding_like_torch(backend, grad):
    """In eval mode without grad torch's encoder runs on nested tensors and returns 0 at the
    (left-aligned) padded positions; with grad, every position is computed."""
    th_mod, tl_mod = twins(_encoder(batch_first=True, norm=False), np.float32)
    x = randn(3, 6, 8).astype(np.float32)
    kpm = np.zeros((3, 6), bool)
    kpm[0, 4:] = True
    kpm[2, 1:] = True
    ctx_th = torch.enable_grad() if grad else torch.no_grad()
    ctx_tl = tl.enable_grad() if grad else tl.no_grad()
    with ctx_th:
        e = th_mod(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(kpm))
    with ctx_tl:
        a = tl_mod(tl_tensor(x), src_key_padding_mask=tl_tensor(kpm))
    assert_close(a, e, what="encoder eval", rtol=2e-4, atol=2e-5)
    assert np.any(to_np(a)[kpm]) == grad


def test_transformer_encoder_layers_are_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 12)
    enc = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    ws = [m.linear1.weight for m in enc.layers]
    assert len({id(w) for w in ws}) == 3 and all(w is not layer.linear1.weight for w in ws)
    np.testing.assert_array_equal(to_np(ws[0]), to_np(layer.linear1.weight))
    assert enc.num_layers == 3 and enc.norm is None and not enc.enable_nested_tensor


# ---------------------------------------------------------------------------- Transformer
@pytest.mark.parametrize("bf", [False, True], ids=["seqfirst", "batchfirst"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["postnorm", "prenorm"])
@DTYPES
def test_transformer_matches_torch(backend, bf, norm_first, dtype):
    make = lambda nnlib: nnlib.Transformer(d_model=8, nhead=2, num_encoder_layers=2,  # noqa
                                           num_decoder_layers=2, dim_feedforward=12,
                                           dropout=0.2, batch_first=bf, norm_first=norm_first,
                                           activation="gelu" if norm_first else "relu")
    th_mod, tl_mod = twins(make, dtype)
    N, S, L = 2, 5, 4
    consts = {"tm": np.triu(np.full((L, L), -np.inf), 1), "sk": _kpm(N, S, "bool"),
              "tk": _kpm(N, L, "bool"), "mk": _kpm(N, S, "bool"), "sm": _attn_mask(S, S, "bool"),
              "mm": _attn_mask(L, S, "float")}

    def fn(lib, mod, x):
        return mod(x["src"], x["tgt"], src_mask=x["sm"], tgt_mask=x["tm"], memory_mask=x["mm"],
                   src_key_padding_mask=x["sk"], tgt_key_padding_mask=x["tk"],
                   memory_key_padding_mask=x["mk"])
    compare(fn, {"src": _seq(N, S, 8, bf), "tgt": _seq(N, L, 8, bf)}, consts, dtype, th_mod,
            tl_mod)


def test_transformer_is_causal_flags(backend):
    make = lambda nnlib: nnlib.Transformer(8, 2, 1, 1, 12, dropout=0.0)  # noqa: E731
    th_mod, tl_mod = twins(make, np.float64)
    L = 4
    consts = {"tm": np.triu(np.full((L, L), -np.inf), 1)}
    compare(lambda lib, mod, x: mod(x["s"], x["t"], tgt_mask=x["tm"], tgt_is_causal=True),
            {"s": randn(3, 2, 8), "t": randn(L, 2, 8)}, consts, np.float64, th_mod, tl_mod)
    compare(lambda lib, mod, x: mod(x["s"], x["t"], src_mask=x["tm"], src_is_causal=True),
            {"s": randn(L, 2, 8), "t": randn(3, 2, 8)}, consts, np.float64, th_mod, tl_mod)


def test_transformer_train_mode_is_seeded_and_differs_from_eval(backend):
    model = nn.Transformer(8, 2, 1, 1, 12, dropout=0.3, batch_first=True).to(backend.device)
    src, tgt = tl_tensor(randn(2, 5, 8).astype(np.float32)), tl_tensor(randn(2, 4, 8)
                                                                       .astype(np.float32))
    tl.manual_seed(11)
    a = to_np(model(src, tgt))
    tl.manual_seed(11)
    b = to_np(model(src, tgt))
    np.testing.assert_array_equal(a, b)
    model.eval()
    c = to_np(model(src, tgt))
    assert np.abs(a - c).max() > 1e-3


def test_transformer_init_and_params_like_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        th = torch.nn.Transformer(64, 4, 2, 2, 128)
        ours = nn.Transformer(64, 4, 2, 2, 128)
    th_sd, our_sd = th.state_dict(), ours.state_dict()
    assert list(our_sd) == list(th_sd)
    for k in th_sd:
        assert tuple(our_sd[k].shape) == tuple(th_sd[k].shape), k
        t, o = th_sd[k].numpy(), to_np(our_sd[k])
        if t.ndim > 1:  # xavier_uniform_ everywhere: same bound, same spread
            bound = math.sqrt(6.0 / (t.shape[0] + t.shape[1]))
            assert np.abs(o).max() <= bound and abs(o.std() - t.std()) < 0.12 * t.std(), k
        else:  # LayerNorm ones/zeros, zero attention biases, Linear biases U(+-1/sqrt(in))
            assert abs(np.abs(o).max() - np.abs(t).max()) <= 0.25 * np.abs(t).max() + 1e-12, k
    assert ours.d_model == 64 and ours.nhead == 4 and not ours.batch_first


def test_transformer_forward_errors_like_torch():
    for lib, mod in ((torch, torch.nn), (tl, nn)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = mod.Transformer(8, 2, 1, 1, 12)
        with pytest.raises(RuntimeError, match="batch number of src and tgt"):
            model(lib.zeros(3, 2, 8), lib.zeros(3, 4, 8))
        with pytest.raises(RuntimeError, match="feature number"):
            model(lib.zeros(3, 2, 8), lib.zeros(3, 2, 6))


@pytest.mark.parametrize("sz", [1, 4])
def test_generate_square_subsequent_mask(sz):
    a = nn.Transformer.generate_square_subsequent_mask(sz)
    e = torch.nn.Transformer.generate_square_subsequent_mask(sz)
    assert_close(a, e, what="mask", rtol=0, atol=0)
    b = nn.Transformer.generate_square_subsequent_mask(sz, dtype=tl.float64)
    assert b.dtype == tl.float64


def test_custom_encoder_decoder():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 12), 1,
                                enable_nested_tensor=False)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 12), 1)
    model = nn.Transformer(8, 2, custom_encoder=enc, custom_decoder=dec)
    assert model.encoder is enc and model.decoder is dec
    assert tuple(model(tl.randn(3, 2, 8), tl.randn(4, 2, 8)).shape) == (4, 2, 8)


# ---------------------------------------------------------------------------- RMSNorm
RMS = [
    ("last_dim", lambda nn: nn.RMSNorm(6), (3, 4, 6)),
    ("two_dims", lambda nn: nn.RMSNorm([4, 6]), (3, 4, 6)),
    ("eps", lambda nn: nn.RMSNorm(6, eps=0.5), (2, 6)),
    ("no_affine", lambda nn: nn.RMSNorm(6, elementwise_affine=False), (2, 3, 6)),
    ("1d_input", lambda nn: nn.RMSNorm(5), (5,)),
]


@pytest.mark.parametrize("make, shape", [pytest.param(m, s, id=i) for i, m, s in RMS])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@DTYPES
def test_rmsnorm_matches_torch(backend, make, shape, train, dtype):
    th_mod, tl_mod = twins(make, dtype, train=train)
    x = randn(*shape)
    x.flat[0] = 0.0
    compare(lambda lib, mod, x: mod(x["x"]), {"x": x}, {}, dtype, th_mod, tl_mod)


@DTYPES
def test_rms_norm_functional(backend, dtype):
    w = randn(4)
    compare(lambda lib, mod, x: lib.nn.functional.rms_norm(x["x"], (4,), x["w"], eps=1e-3),
            {"x": randn(2, 3, 4) * 1e-2, "w": w}, {}, dtype)
    compare(lambda lib, mod, x: lib.nn.functional.rms_norm(x["x"], [3, 4]),
            {"x": randn(2, 3, 4) * 1e-4}, {}, dtype)  # tiny values: the default eps matters


def test_rms_norm_second_order(backend):
    x = tl_tensor(randn(2, 5), requires_grad=True)
    w = tl_tensor(randn(5), requires_grad=True)
    f = lambda x, w: tlF.rms_norm(x, (5,), w)  # noqa: E731
    assert tl.autograd.gradcheck(f, (x, w))
    assert tl.autograd.gradgradcheck(f, (x, w))


def test_rmsnorm_repr_init_and_errors():
    assert repr(nn.RMSNorm(4)) == repr(torch.nn.RMSNorm(4))
    assert repr(nn.RMSNorm([3, 4], eps=1e-3, elementwise_affine=False)) == \
        repr(torch.nn.RMSNorm([3, 4], eps=1e-3, elementwise_affine=False))
    assert np.all(to_np(nn.RMSNorm(7).weight) == 1) and nn.RMSNorm(7, elementwise_affine=False) \
        .weight is None
    assert list(nn.RMSNorm(7).state_dict()) == list(torch.nn.RMSNorm(7).state_dict())
    for lib in (torch, tl):
        x = lib.zeros(2, 3, 4)
        with pytest.raises(RuntimeError, match="normalized_shape"):
            lib.nn.functional.rms_norm(x, (3,))
        with pytest.raises(RuntimeError, match="weight"):
            lib.nn.functional.rms_norm(x, (4,), lib.ones(3))
        with pytest.raises(RuntimeError, match="at least 1-dimensional"):
            lib.nn.functional.rms_norm(x, [])
    with pytest.raises(TypeError):
        tlF.rms_norm(tl.zeros(2, 4, dtype=tl.int64), (4,))


def test_rms_norm_float16_computes_in_float32():
    x = np.random.standard_normal((3, 8)).astype(np.float16)
    a = tlF.rms_norm(tl.tensor(x), (8,))
    e = torch.nn.functional.rms_norm(torch.from_numpy(x), (8,))
    assert a.dtype == tl.float16
    np.testing.assert_allclose(to_np(a).astype(np.float32), e.numpy().astype(np.float32),
                               rtol=2e-3, atol=2e-3)
