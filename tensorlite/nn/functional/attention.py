"""Attention: scaled_dot_product_attention and multi_head_attention_forward (torch.nn.functional's).

Without a mask tensor or dropout (nanoGPT's ``is_causal=True`` call, float32/float64, the same
leading dims), scaled_dot_product_attention is ONE tape node over the backend primitives
``attention`` / ``attention_backward`` (the numba backend's: BLAS products over the (batch,
head) stack and a causal softmax kernel that skips masked keys); its node is named as PyTorch's
CPU flash kernel's, and under create_graph its backward is written with tensor ops, so it is
differentiable again.  Otherwise both functions are compositions of differentiable tensor ops
(matmul, masked_fill, softmax, dropout), so their gradients, and gradients of gradients, come
from the tape.  The memory either keeps for the backward pass is the (..., L, S) attention
probabilities (and dropout's mask), as PyTorch's math kernel; a causal mask is a (L, S) bool
mask broadcast over the batch and heads, never a float (..., L, S) bias.

Semantics follow PyTorch 2.x on the CPU:
  * ``attn_mask``: a bool mask keeps positions where True; a float mask is added to the scores.
  * ``is_causal``: position i attends to keys j <= i (the top-left aligned lower triangle, also
    when L != S); given together with ``attn_mask`` both apply (as torch's CPU kernel does).
  * a query row with every key masked gives a zero output and zero gradients (torch's
    "safe softmax"), where MultiheadAttention with ``need_weights=True`` gives NaN (it uses a
    plain softmax there, as torch does).
"""
from __future__ import annotations

import math
import warnings

from ... import dtypes
from ...autograd.grad_mode import state
from ...autograd.graph import record
from ...creation import arange, zeros
from ...ops.common import backend_of
from ...ops.linalg import bmm
from ...ops.movement import cat
from ...ops.reduce import softmax
from ...tensor import Tensor, wrap
from .fusion import linear
from .padding import pad
from .regularization import dropout
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ...autograd.graph import Context

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_NEG_INF = float("-inf")


def _causal_keep(L: int, S: int, device: Any) -> Tensor:
    """The (L, S) bool mask of torch's ``is_causal``: True where key j <= query i."""
    return arange(S, device=device).unsqueeze(0) <= arange(L, device=device).unsqueeze(1)


def _repeat_heads(t: Tensor, rep: int) -> Tensor:
    """``t.repeat_interleave(rep, dim=-3)``: each head of t (..., H, S, E) repeated ``rep``
    times in place (grouped-query attention), as a broadcast view then one reshape."""
    if rep == 1:
        return t
    shape = tuple(t.shape)
    lead, (h, s, e) = shape[:-3], shape[-3:]
    return (t.unsqueeze(-3).expand(*lead, h, rep, s, e).reshape(*lead, h * rep, s, e))


def _broadcasts(shape: Sequence[int], target: Sequence[int]) -> bool:
    """Whether ``shape`` broadcasts to ``target`` (without growing it)."""
    if len(shape) > len(target):
        return False
    return all(a in (1, b) for a, b in zip(reversed(tuple(shape)), reversed(tuple(target))))


def _check_sdpa(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None,
                dropout_p: float, enable_gqa: bool) -> None:
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be Tensor, "
                            f"not {type(t).__name__}")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: Expected query, key, and value to all "
                           f"be at least 2 dimensional, but got query.dim: {query.ndim} key.dim: "
                           f"{key.ndim} and value.dim: {value.ndim} instead.")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError("scaled_dot_product_attention: Expected query, key, and value to have "
                           f"the same dtype, but got query.dtype: {query.dtype} key.dtype: "
                           f"{key.dtype} and value.dtype: {value.dtype} instead.")
    if dtypes.kind(query.dtype) != 2:
        raise RuntimeError(f"scaled_dot_product_attention: expected floating-point query, key "
                           f"and value, got {query.dtype}; convert them with .float()")
    if not (query.device == key.device == value.device):
        raise RuntimeError(f"scaled_dot_product_attention: query, key and value must be on one "
                           f"device, got {query.device}, {key.device} and {value.device}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query {list(query.shape)} and key "
                           f"{list(key.shape)} must have the same embedding size (last dim)")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key {list(key.shape)} and value "
                           f"{list(value.shape)} must have the same sequence length (dim -2)")
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument 'attn_mask' must be "
                            f"Tensor, not {type(attn_mask).__name__}")
        if attn_mask.dtype not in (dtypes.bool_, dtypes.float32, query.dtype):
            raise RuntimeError("scaled_dot_product_attention: Expected attn_mask dtype to be bool "
                               "or float or to match query dtype, but got attn_mask.dtype: "
                               f"{attn_mask.dtype} and query.dtype: {query.dtype} instead.")
    if not 0.0 <= dropout_p <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if enable_gqa and query.ndim >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk != hv or hk == 0 or hq % hk:
            raise RuntimeError("scaled_dot_product_attention: Number of heads in key and value "
                               "must divide the number of heads in query (enable_gqa=True), got "
                               f"query heads {hq}, key heads {hk}, value heads {hv}")


def _fusable(query: Tensor, key: Tensor, value: Tensor) -> bool:
    """Whether the backend's attention primitive applies: float32/float64 inputs, the same
    leading dims (no broadcast), nothing empty."""
    lead = tuple(query.shape[:-2])
    return (query.dtype in (dtypes.float32, dtypes.float64) and tuple(key.shape[:-2]) == lead
            and tuple(value.shape[:-2]) == lead and query.numel() > 0 and key.numel() > 0
            and value.numel() > 0)


def _ops_backward(q: Tensor, k: Tensor, v: Tensor, g: Tensor, scale: float, causal: bool
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """The fused attention's gradients (gq, gk, gv) with tensor ops, differentiable again (for
    create_graph): the probabilities recomputed from q and k."""
    scores = (q * scale) @ k.transpose(-2, -1)
    if causal:
        scores = scores.masked_fill(_causal_keep(q.shape[-2], k.shape[-2],
                                                 q.device).logical_not(), _NEG_INF)
    p = softmax(scores, -1)
    gp = g @ v.transpose(-2, -1)
    gs = p * (gp - (gp * p).sum(-1, keepdim=True))
    return (gs @ k) * scale, gs.transpose(-2, -1) @ (q * scale), p.transpose(-2, -1) @ g


def _fused(query: Tensor, key: Tensor, value: Tensor, scale: float, causal: bool) -> Tensor:
    """Attention without a mask tensor or dropout as ONE tape node over the backend's
    ``attention`` primitive (a fused kernel where the backend has one); its backward keeps the
    probabilities, as PyTorch's math kernel, and is the backend's ``attention_backward``
    (tensor ops under create_graph)."""
    B = backend_of(query, "scaled_dot_product_attention")
    out, probs = B.attention(query._data, key._data, value._data, scale, causal)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        grads: tuple[Tensor, ...]
        if state.grad_enabled:
            grads = _ops_backward(ctx.q, ctx.k, ctx.v, g, scale, causal)
        else:
            grads = tuple(wrap(a, g.device) for a in B.attention_backward(
                g._data, ctx.q._data, ctx.k._data, ctx.v._data, ctx.p._data, scale, causal))
        return tuple(d if need else None for d, need in zip(grads, ctx.needs_input_grad))
    return record("scaled_dot_product_flash_attention_for_cpu", out, (query, key, value),
                  backward, save={"q": query, "k": key, "v": value,
                                  "p": wrap(probs, query.device)})


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value over the last two dims of (..., L, E),
    (..., S, E) and (..., S, Ev) inputs (leading dims broadcast), giving (..., L, Ev).

    ``scale`` defaults to 1/sqrt(E).  ``dropout_p`` is applied to the probabilities whenever it
    is positive (pass 0 in evaluation, as with torch), drawn from tensorlite's generator.
    ``enable_gqa``: key/value with fewer heads (dim -3) than the query are repeated to match."""
    _check_sdpa(query, key, value, attn_mask, dropout_p, enable_gqa)
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key, value = _repeat_heads(key, rep), _repeat_heads(value, rep)
    L, S = query.shape[-2], key.shape[-2]
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if attn_mask is None and dropout_p == 0.0 and _fusable(query, key, value):
        return _fused(query, key, value, float(scale_factor), bool(is_causal))
    # scale the (L, E) query rather than the (L, S) scores: one pass over the smaller tensor
    scores = (query * scale_factor) @ key.transpose(-2, -1)
    if attn_mask is not None and not _broadcasts(attn_mask.shape, scores.shape):
        raise RuntimeError(f"scaled_dot_product_attention: attn_mask of shape "
                           f"{list(attn_mask.shape)} cannot be broadcast to the attention "
                           f"scores' shape {list(scores.shape)} (..., L, S)")
    keep = None  # a bool mask, True where attended
    if is_causal:
        keep = _causal_keep(L, S, query.device)
    if attn_mask is not None:
        if attn_mask.dtype == dtypes.bool_:
            keep = attn_mask if keep is None else keep & attn_mask
        else:
            scores = scores + attn_mask
    if keep is not None:
        scores = scores.masked_fill(keep.logical_not(), _NEG_INF)
    if attn_mask is not None:
        # torch's safe softmax: a row with every score -inf gives zeros (and zero gradients).
        # Such a row is set to 0 before the softmax (so nothing NaN enters the backward) and
        # its probabilities to 0 after.
        dead = (scores == _NEG_INF).all(-1, keepdim=True)
        attn = softmax(scores.masked_fill(dead, 0.0), -1).masked_fill(dead, 0.0)
    else:
        attn = softmax(scores, -1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn @ value


# -- multi-head attention -------------------------------------------------------------------------
def _none_or_dtype(input: Tensor | None) -> np.dtype | None:
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or tensorlite.Tensor")


def _canonical_mask(mask: Tensor | None, mask_name: str, other_type: np.dtype | None,
                    other_name: str, target_type: np.dtype, check_other: bool = True
                    ) -> Tensor | None:
    """A bool mask (True = masked out) as a float mask of ``target_type`` (-inf where True, 0
    elsewhere); a float mask unchanged; anything else an AssertionError (torch's)."""
    if mask is None:
        return None
    is_float = dtypes.kind(mask.dtype) == 2
    if mask.dtype != dtypes.bool_ and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      "same type for both instead.", stacklevel=3)
    if not is_float:
        mask = zeros(tuple(mask.shape), dtype=target_type,
                     device=mask.device).masked_fill(mask, _NEG_INF)
    return mask


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor,
                     key_padding_mask: Tensor | None, attn_mask: Tensor | None, num_heads: int
                     ) -> bool:
    """True for batched (3-D) inputs, False for unbatched (2-D); torch's AssertionErrors."""
    d = query.ndim
    if d not in (2, 3):
        raise AssertionError("query should be unbatched 2D or batched 3D tensor but received "
                             f"{d}-D query tensor")
    kind = "batched (3-D)" if d == 3 else "unbatched (2-D)"
    if key.ndim != d or value.ndim != d:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {d}-D but "
                             f"found {key.ndim}-D and {value.ndim}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != d - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{d - 1}-D but found {key_padding_mask.ndim}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or "
                                 f"3-D but found {attn_mask.ndim}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if d == 2 and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{tuple(attn_mask.shape)}")
    return d == 3


def _in_projection_packed(q: Tensor, k: Tensor, v: Tensor, w: Tensor, b: Tensor | None = None
                          ) -> tuple[Tensor, ...]:
    """q, k, v projected by the packed (3E, E) weight: one linear for self-attention, two for
    encoder-decoder attention (k is v), three otherwise (as torch)."""
    E = q.shape[-1]
    if k is v:
        if q is k:
            return linear(q, w, b).chunk(3, -1)
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        return (linear(q, w_q, b_q),) + tuple(linear(k, w_kv, b_kv).chunk(2, -1))
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q: Tensor, k: Tensor, v: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor,
                   b_q: Tensor | None = None, b_k: Tensor | None = None,
                   b_v: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    Eq, Ek, Ev = q.shape[-1], k.shape[-1], v.shape[-1]
    for what, t, shape in (("query weights", w_q, (Eq, Eq)), ("key weights", w_k, (Eq, Ek)),
                           ("value weights", w_v, (Eq, Ev)), ("query bias", b_q, (Eq,)),
                           ("key bias", b_k, (Eq,)), ("value bias", b_v, (Eq,))):
        if t is not None and tuple(t.shape) != shape:
            raise AssertionError(f"expecting {what} shape of {shape}, but got {tuple(t.shape)}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _pad_masks(attn_mask: Tensor | None, key_padding_mask: Tensor | None
               ) -> tuple[Tensor | None, Tensor | None]:
    """The masks (those given) widened by one key position, unmasked: for an appended key."""
    if attn_mask is not None:
        attn_mask = pad(attn_mask, (0, 1))
    if key_padding_mask is not None:
        key_padding_mask = pad(key_padding_mask, (0, 1))
    return attn_mask, key_padding_mask


def _key_heads(x: Tensor, static: Tensor | None, name: str, heads: int, head_dim: int
               ) -> Tensor:
    """Keys or values split into heads, (seq, N, E) -> (N * H, seq, head_dim), or ``static``
    (torch's static_k / static_v, already split) after checking its shape."""
    if static is None:
        return x.reshape(x.shape[0], heads, head_dim).transpose(0, 1)
    if static.shape[0] != heads:
        raise AssertionError(f"expecting {name}.size(0) of {heads}, but got {static.shape[0]}")
    if static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got "
                             f"{static.shape[2]}")
    return static


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor,
                                 embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
                                 bias_k: Tensor | None, bias_v: Tensor | None,
                                 add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                                 training: bool = True, key_padding_mask: Tensor | None = None,
                                 need_weights: bool = True, attn_mask: Tensor | None = None,
                                 use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None,
                                 k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None,
                                 static_k: Tensor | None = None, static_v: Tensor | None = None,
                                 average_attn_weights: bool = True, is_causal: bool = False
                                 ) -> tuple[Tensor, Tensor | None]:
    """The forward of nn.MultiheadAttention on sequence-first inputs: query (L, N, E) or (L, E),
    key (S, N, Ek), value (S, N, Ev); returns (output (L, N, E), weights (N, L, S) averaged
    over heads, (N, H, L, S) per head, or None when ``need_weights`` is False).  Masks:
    ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N * H, L, S), bool (True = not
    attended) or float (added to the scores)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint alone goes to scaled_dot_product_attention
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                    check_other=False)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                             f"{tuple(value.shape)}")

    # in-projection
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    else:
        for name, w in (("q_proj_weight", q_proj_weight), ("k_proj_weight", k_proj_weight),
                        ("v_proj_weight", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name} is None")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        # the three weights are checked to be tensors above
        q, k, v = _in_projection(query, key, value,
                                 q_proj_weight, k_proj_weight,  # type: ignore[arg-type]
                                 v_proj_weight, b_q, b_k, b_v)  # type: ignore[arg-type]

    # the attention mask as 3-D
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")

    # a learned key/value appended along the sequence
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")

    # heads: (N * H, seq, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _key_heads(k, static_k, "static_k", bsz * num_heads, head_dim)
    v = _key_heads(v, static_v, "static_v", bsz * num_heads, head_dim)

    if add_zero_attn:
        zshape = (bsz * num_heads, 1, head_dim)
        k = cat([k, zeros(zshape, dtype=k.dtype, device=k.device)], dim=1)
        v = cat([v, zeros(zshape, dtype=v.dtype, device=v.device)], dim=1)
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
    src_len = k.shape[1]

    # merge the key padding mask into the attention mask
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        key_padding_mask = (key_padding_mask.reshape(bsz, 1, 1, src_len)
                            .expand(-1, num_heads, -1, -1).reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask

    if not training:
        dropout_p = 0.0

    if need_weights:
        E = q.shape[-1]
        q_scaled = q * math.sqrt(1.0 / float(E))
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        scores = bmm(q_scaled, k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = bmm(weights, v)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias)
        out = out.reshape(tgt_len, bsz, out.shape[1])
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.ndim == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    out = out.reshape(tgt_len, bsz, out.shape[1])
    if not is_batched:
        out = out.squeeze(1)
    return out, None

