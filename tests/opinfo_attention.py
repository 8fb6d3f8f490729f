"""Fuzz entries for attention and RMS normalization (nn.functional)."""
from opinfo import OpInfo, _f

_REASON = ("a composite of scaled_dot_product_attention, linear and dropout, each fuzzed; "
           "tests/test_nn_transformer.py compares it with torch across its options")
EXCLUDED = {"multi_head_attention_forward": _REASON}


def _rms_norm(lib, x, w=None, normalized_shape=(), eps=None):
    return _f(lib).rms_norm(x, normalized_shape, w, eps)


def _rms_norm_sample(g):
    shape = g.shape(min_dims=1)
    k = g.int(1, len(shape))
    ns = shape[len(shape) - k:]
    args = [g.tensor(shape)]
    if g.flag():
        args.append(g.param(ns))
    return args, {"normalized_shape": ns, "eps": g.pick(None, 1e-5, 0.1)}


def _sdpa(lib, q, k, v, mask=None, is_causal=False, scale=None):
    return _f(lib).scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                                scale=scale)


def _sdpa_sample(g):
    batch = g.shape(min_dims=0, max_dims=2, min_side=1, max_side=3)
    L, S, E, Ev = g.int(1, 4), g.int(1, 4), g.int(1, 4), g.int(1, 4)
    # finite values: torch's fused kernel skips masked keys, so an inf or NaN meeting one never
    # reaches its result or gradients, where a composite's 0 * inf does
    finite = g.finite_mode()
    args = [g.tensor(batch + (L, E), mode=finite), g.tensor(batch + (S, E), mode=finite),
            g.tensor(batch + (S, Ev), mode=finite)]
    causal = g.flag()
    if not causal and g.flag():  # an additive float mask (a bool one can mask whole rows)
        args.append(g.tensor((L, S), mode=finite))
    return args, {"is_causal": causal, "scale": g.pick(None, 0.5)}


TABLE = [
    OpInfo("rms_norm", _rms_norm, _rms_norm_sample, accum=True),
    OpInfo("scaled_dot_product_attention", _sdpa, _sdpa_sample, accum=True),
]
