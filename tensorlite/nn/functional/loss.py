"""Losses: torch.nn.functional's cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss,
binary_cross_entropy and binary_cross_entropy_with_logits.

cross_entropy with class-index targets is one tape op: the backend computes log_softmax and
each row's picked log-probability in one call, and the backward is (softmax - onehot) * scale.
Under create_graph the softmax in that backward is recomputed as a tape op of the input, so
second derivatives are exact.  The other losses are short compositions of tensor ops, with
the binary cross entropies as one elementwise op each (torch's clamped / stable forms).
"""
from __future__ import annotations

import math
import warnings

from ... import dtypes
from ...autograd.grad_mode import no_grad, state
from ...autograd.graph import record
from ...ops.common import backend_of, host_check
from ...ops.pointwise import where
from ...tensor import Tensor, describe, wrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...autograd.graph import Context

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("none", "mean", "sum")
_BCE_EPS = 9.999999960041972e-13  # torch's EPSILON = 1e-12, held as a float32


# -- shared checks ---------------------------------------------------------------------------------
def _reduction(op: str, size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """torch's reduction string, with the deprecated size_average / reduce flags honoured."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else "mean" if size_average else "sum"
        warnings.warn(f"{op}: size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; expected "
                         "'none', 'mean' or 'sum'")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def _tensor(op: str, name: str, t: Any, like: Tensor | None = None) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if like is not None and t.device != like.device:
        raise RuntimeError(f"{op}: expected all tensors on the same device, got input "
                           f"{describe(like)} and {name} {describe(t)}; move one with .to()")
    return t


def _float_input(op: str, input: Tensor) -> None:
    _tensor(op, "input", input)
    if not dtypes.is_floating_point(input.dtype):
        raise TypeError(f"{op}: expected a floating point input, got {describe(input)}; convert "
                        "it with .float()")


def _same_dtype(op: str, name: str, t: Tensor | None, input: Tensor) -> None:
    if t is not None and t.dtype != input.dtype:
        raise TypeError(f"{op}: {name} is {describe(t)} but the input is {describe(input)}; "
                        f"convert it with .to({input.dtype})")


# -- class-index targets: cross_entropy and nll_loss -----------------------------------------------
def _class_targets(op: str, input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int
                   ) -> tuple[int, Any, Any]:
    """Check (input, target) for class-index losses.  Returns (C, the flat target as a backend
    array with ignored entries set to class 0, the mask of counted entries or None if all are)."""
    _tensor(op, "target", target, input)
    if input.ndim == 0:
        raise RuntimeError(f"{op}: input must have at least one dimension (classes), got a 0-d "
                           "tensor")
    if dtypes.kind(target.dtype) != 1 or target.dtype == dtypes.int32:
        raise RuntimeError(f"{op}: expected target dtype to be int64 (class indices), got "
                           f"{describe(target)}; convert it with .long()")
    batch = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != batch:
        raise ValueError(f"{op}: target {describe(target)} does not fit input {describe(input)}; "
                         f"expected target shape {list(batch)} (the input's shape without its "
                         "class dim)")
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight is not None:
        _tensor(op, "weight", weight, input)
        if weight.shape != (C,):
            raise RuntimeError(f"{op}: weight tensor should be defined either for all {C} classes "
                               f"or no classes but got weight tensor of shape {list(weight.shape)}")
        _same_dtype(op, "weight", weight, input)
    B = backend_of(input, op)
    t = B.reshape(target._data, (-1,))
    bad, ignored = B.class_target_stats(t, C, ignore_index)
    valid = B.ne(t, ignore_index) if bad or ignored else None
    if bad:  # the first counted target outside [0, C)
        outside = B.logical_and(valid, B.logical_not(B.logical_and(B.ge(t, 0), B.lt(t, C))))
        first = int(B.to_host(B.getitem(t, outside))[0])
        raise IndexError(f"{op}: target {first} is out of bounds for {C} classes (input "
                         f"{describe(input)}); class indices must lie in [0, {C - 1}] or equal "
                         f"ignore_index={ignore_index}")
    if valid is None:
        return C, t, None
    return C, B.where(valid, t, 0), valid


def _to_rows(x: Tensor) -> Any:
    """(N, C, d1, ...) logits as (M, C) rows (a backend array), the class dim last."""
    if x.ndim == 1:
        return backend_of(x, "cross_entropy").reshape(x._data, (1, -1))
    if x.ndim == 2:
        return x._data
    B = backend_of(x, "cross_entropy")
    order = (0,) + tuple(range(2, x.ndim)) + (1,)
    return B.reshape(B.ascontiguousarray(B.transpose(x._data, order)), (-1, x.shape[1]))


def _from_rows(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """The inverse of _to_rows for a gradient tensor of (M, C) rows."""
    if len(shape) <= 2:  # (not a view of (M, C) rows: the engine may keep g itself as .grad)
        return g if g.shape == shape else g.reshape(shape)
    lead = (shape[0],) + shape[2:] + (shape[1],)
    n = len(shape)
    return g.reshape(lead).permute((0, n - 1) + tuple(range(1, n - 1)))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0
                  ) -> Tensor:
    """Cross entropy between ``input`` logits (N, C), (N, C, d1, ...) or (C,) and ``target``:
    class indices (int64, the input's shape without dim 1) or class probabilities (a float
    tensor of the input's shape)."""
    reduction = _reduction("cross_entropy", size_average, reduce, reduction)
    _float_input("cross_entropy", input)
    _tensor("cross_entropy", "target", target, input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                           f"{label_smoothing}")
    if dtypes.is_floating_point(target.dtype):
        return _soft_cross_entropy(input, target, weight, ignore_index, reduction,
                                   label_smoothing)
    C, ts, valid = _class_targets("cross_entropy", input, target, weight, ignore_index)
    B = backend_of(input, "cross_entropy")
    logp, picked = B.log_softmax_pick(_to_rows(input), ts)
    dt, M = input.dtype, picked.shape[0]
    eps = float(label_smoothing)
    # per row: loss = -(1-eps) w[t] logp[t] - eps/C sum_c w[c] logp[c]; ignored rows are
    # exactly 0 (masked, as torch, so a NaN in an ignored row never reaches the loss)
    wt = None if weight is None else B.take_along_axis(weight._data, ts, 0)
    rows = B.neg(picked) if wt is None else B.mul(B.neg(picked), wt)
    spread = None
    if eps:
        spread = B.sum(logp, (1,)) if weight is None else B.matmul(logp, weight._data)
    counted = wt  # the weight each row adds to 'mean''s denominator (None: 1 each)
    if valid is not None:
        rows = B.where(valid, rows, 0)
        spread = None if spread is None else B.where(valid, spread, 0)
        counted = B.astype(valid, dt) if wt is None else B.where(valid, wt, 0)
    denom = None
    if reduction == "mean":
        denom = float(M if counted is None else B.sum(counted))
    if reduction == "none":
        data = rows if spread is None else B.sub(B.mul(rows, 1 - eps), B.mul(spread, eps / C))
        data = B.reshape(data, target.shape)
    elif denom == 0:  # each part over 0 on its own, as torch: 0/0 + x/0 is nan, not inf
        data = _over_zero(B.sum(rows))
        if spread is not None:
            data = (1 - eps) * data + (eps / C) * _over_zero(-B.sum(spread))
        data = B.asarray(data, dtype=dt)
    else:
        data = B.sum(rows if spread is None
                     else B.sub(B.mul(rows, 1 - eps), B.mul(spread, eps / C)))
        data = B.asarray(data if denom is None else B.div(data, denom), dtype=dt)
    shape = input.shape

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        x = ctx.x
        # torch's composition: nll_loss's gradient at logp (upstream scale at each counted
        # target, times -(1-eps) w[t]), plus label smoothing's -(eps/C) w[c] on counted rows,
        # then log_softmax's backward gl - softmax * sum(gl).  'mean' scales by 1/total weight,
        # which is inf when that weight is 0 (then counted rows get NaN, as torch)
        if reduction == "none":
            scale = g.reshape(M, 1)
        elif reduction == "mean":
            scale = g / denom if denom else g * float("inf")
        else:
            scale = g
        if not state.grad_enabled and wt is None and not eps and valid is None:
            return (_from_rows(wrap(B.cross_entropy_grad(logp, ts, scale._data), x.device),
                               shape),)  # the common case: one pass
        if state.grad_enabled:  # create_graph: a softmax of x itself, so it is differentiable
            p = _rows_tensor(x).softmax(1)
        else:
            p = wrap(B.exp(logp), x.device)
        at_target = B.eq(B.reshape(ts, (M, 1)), B.arange(C))
        if valid is not None:
            at_target = B.logical_and(at_target, B.reshape(valid, (M, 1)))
        coef = -(1 - eps) if wt is None else B.mul(B.reshape(wt, (M, 1)), -(1 - eps))
        gl = where(wrap(at_target, x.device), scale * _const(coef, x), 0.0)
        if eps:
            c = -(eps / C) if weight is None else B.mul(B.reshape(weight._data, (1, C)),
                                                        -(eps / C))
            smooth = scale * _const(c, x)
            if valid is not None:
                smooth = where(wrap(B.reshape(valid, (M, 1)), x.device), smooth, 0.0)
            gl = gl + smooth
        return (_from_rows(gl - p * gl.sum(1, keepdim=True), shape),)
    return record("cross_entropy", data, (input,), backward, save={"x": input})


def _over_zero(total: Any) -> float:
    """``total`` / 0 as IEEE division gives it (nan for 0 or nan, else a signed inf), without
    the divide-by-zero warning: 'mean' over a total weight of 0."""
    v = float(total)
    return math.nan if v == 0 or v != v else math.copysign(math.inf, v)


def _const(value: Any, like: Tensor) -> Tensor | float:
    """A number or a backend array as an operand of tensor ops with ``like`` (no gradient)."""
    if hasattr(value, "shape") and value.shape:
        if value.dtype != like.dtype:
            value = backend_of(like, "cross_entropy").astype(value, like.dtype)
        return wrap(value, like.device)
    return float(value)


def _rows_tensor(x: Tensor) -> Tensor:
    """_to_rows with tensor ops (recorded, for create_graph)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    order = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(order).reshape(-1, x.shape[1])


def _soft_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                        reduction: str, label_smoothing: float) -> Tensor:
    """Cross entropy against class probabilities: -sum_c w_c y_c log_softmax(x)_c per sample."""
    if target.shape != input.shape:
        raise RuntimeError(f"cross_entropy: a floating point target holds class probabilities "
                           f"and must have the input's shape, got target {describe(target)} for "
                           f"input {describe(input)}; class indices must be int64")
    _same_dtype("cross_entropy", "target", target, input)
    if ignore_index != -100:
        raise RuntimeError("cross_entropy: ignore_index is not supported for floating point "
                           "(probability) targets")
    dim = 1 if input.ndim > 1 else 0
    C = input.shape[dim]
    if weight is not None:
        _tensor("cross_entropy", "weight", weight, input)
        if weight.shape != (C,):
            raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all "
                               f"{C} classes or no classes but got weight tensor of shape "
                               f"{list(weight.shape)}")
        _same_dtype("cross_entropy", "weight", weight, input)
    y = target if not label_smoothing else target * (1 - label_smoothing) + label_smoothing / C
    logp = input.log_softmax(dim)
    if weight is not None:
        logp = logp * weight.reshape((C,) + (1,) * (input.ndim - dim - 1))
    loss = -(logp * y).sum(dim)
    if reduction == "mean":  # torch divides by the number of samples, not the weights
        return loss.sum() / (input.numel() // C) if input.numel() else loss.sum() / 0.0
    return _reduce(loss, reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """The negative log likelihood of ``target`` classes under log-probabilities ``input``
    (N, C), (N, C, d1, ...) or (C,); 'mean' divides by the total weight of the counted targets."""
    reduction = _reduction("nll_loss", size_average, reduce, reduction)
    _float_input("nll_loss", input)
    C, ts, valid = _class_targets("nll_loss", input, target, weight, ignore_index)
    B = backend_of(input, "nll_loss")
    dim = 1 if input.ndim > 1 else 0
    index = wrap(B.reshape(ts, target.shape), input.device).unsqueeze(dim)
    picked = input.gather(dim, index).squeeze(dim)
    wt = None if weight is None else B.take_along_axis(weight._data, ts, 0)
    loss = -picked if wt is None else -picked * wrap(B.reshape(wt, target.shape), input.device)
    if valid is not None:  # ignored rows are exactly 0 (masked, never 0 * their input), as torch
        wt = B.astype(valid, input.dtype) if wt is None else B.where(valid, wt, 0)
        loss = where(wrap(B.reshape(valid, target.shape), input.device), loss, 0.0)
    if reduction != "mean":
        return _reduce(loss, reduction)
    if wt is None:
        return loss.mean() if loss.numel() else loss.sum() / 0.0
    return loss.sum() / wrap(B.sum(wt), input.device)


# -- regression losses -----------------------------------------------------------------------------
def _pointwise_args(op: str, input: Tensor, target: Tensor, weight: Tensor | None = None) -> None:
    _float_input(op, input)
    _tensor(op, "target", target, input)
    if target.shape != input.shape:
        warnings.warn(f"{op}: using a target size ({list(target.shape)}) that is different to the "
                      f"input size ({list(input.shape)}); this will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      stacklevel=3)
    if weight is not None:
        _tensor(op, "weight", weight, input)
        if weight.shape != input.shape:
            raise ValueError(f"{op}: weights and input must have the same size, got weight "
                             f"{describe(weight)} and input {describe(input)}")


def _weighted(loss: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
    if weight is None:
        return _reduce(loss, reduction)
    loss = loss * weight
    return loss.sum() / weight.sum() if reduction == "mean" else _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean", weight: Tensor | None = None
             ) -> Tensor:
    """The (weighted) squared error between ``input`` and ``target``."""
    reduction = _reduction("mse_loss", size_average, reduce, reduction)
    _pointwise_args("mse_loss", input, target, weight)
    if weight is None and reduction != "none" and input.shape == target.shape and \
            input.dtype == target.dtype and input.numel():
        # one node (PyTorch's MseLossBackward0), its gradient in PyTorch's order:
        # (input - target) * norm * grad, norm = 2 / numel for 'mean' (2 for 'sum')
        with no_grad():
            d = input - target
            out = (d * d).mean() if reduction == "mean" else (d * d).sum()
        norm = 2.0 / input.numel() if reduction == "mean" else 2.0

        def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
            gi = (ctx.x - ctx.t) * norm * g
            return (gi if ctx.needs_input_grad[0] else None,
                    -gi if ctx.needs_input_grad[1] else None)
        return record("mse_loss", out._data, (input, target), backward,
                      save={"x": input, "t": target})
    d = input - target
    return _weighted(d * d, weight, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean", weight: Tensor | None = None
            ) -> Tensor:
    """The (weighted) absolute error between ``input`` and ``target``."""
    reduction = _reduction("l1_loss", size_average, reduce, reduction)
    _pointwise_args("l1_loss", input, target, weight)
    return _weighted((input - target).abs(), weight, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0
                   ) -> Tensor:
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 is the L1 loss)."""
    reduction = _reduction("smooth_l1_loss", size_average, reduce, reduction)
    _pointwise_args("smooth_l1_loss", input, target)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = input - target
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    # the quadratic branch squares d clamped to [-beta, beta], so where |d| >= beta (even inf)
    # its unused gradient is 0, not 0 * inf: the gradient there is sign(d), as torch
    q = d.clamp(-beta, beta)
    return _reduce(where(a < beta, (0.5 / beta) * q * q, a - 0.5 * beta), reduction)


# -- binary cross entropy --------------------------------------------------------------------------
def _binary_args(op: str, input: Tensor, target: Tensor, weight: Tensor | None, check_range: bool
                 ) -> None:
    _float_input(op, input)
    _tensor(op, "target", target, input)
    if target.shape != input.shape:
        raise ValueError(f"{op}: target size {list(target.shape)} must be the same as input size "
                         f"{list(input.shape)}")
    _same_dtype(op, "target", target, input)
    if weight is not None:
        _tensor(op, "weight", weight, input)
        _same_dtype(op, "weight", weight, input)
    if check_range:  # one device read for both, input checked first (torch's order)
        B = backend_of(input, op)
        flags = [B.any(B.logical_not(B.logical_and(B.ge(a, 0), B.le(a, 1))))  # NaN is outside
                 for a in (input._data, target._data)]
        bad_input, bad_target = host_check(B, B.stack(flags))
        if bad_input:
            raise RuntimeError(f"{op}: all elements of input should be between 0 and 1 (input "
                               f"{describe(input)}); apply sigmoid first, or use "
                               "binary_cross_entropy_with_logits")
        if bad_target:
            raise RuntimeError(f"{op}: all elements of target should be between 0 and 1 (target "
                               f"{describe(target)}); targets are probabilities")


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)) for probabilities ``input``; each log is clamped at
    -100 and the input gradient is w (x - t) / max(x (1 - x), 1e-12), as torch."""
    reduction = _reduction("binary_cross_entropy", size_average, reduce, reduction)
    _binary_args("binary_cross_entropy", input, target, weight, check_range=True)
    B = backend_of(input, "binary_cross_entropy")

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        x = ctx.x
        return (g * (x - ctx.t) / (x * (1 - x)).clamp(min=_BCE_EPS)
                if ctx.needs_input_grad[0] else None,
                g * ((1 - x).log() - x.log()) if ctx.needs_input_grad[1] else None)
    loss = record("binary_cross_entropy", B.binary_cross_entropy(input._data, target._data),
                  (input, target), backward, save={"x": input, "t": target})
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None
                                     ) -> Tensor:
    """Binary cross entropy of sigmoid(``input``) computed stably from the logits;
    ``pos_weight`` weighs the positive term, broadcast along the last (class) dim."""
    reduction = _reduction("binary_cross_entropy_with_logits", size_average, reduce, reduction)
    op = "binary_cross_entropy_with_logits"
    _binary_args(op, input, target, weight, check_range=False)
    if pos_weight is not None:
        _tensor(op, "pos_weight", pos_weight, input)
        _same_dtype(op, "pos_weight", pos_weight, input)
    B = backend_of(input, op)
    pw = None if pos_weight is None else pos_weight._data
    try:
        data = B.binary_cross_entropy_with_logits(input._data, target._data, pw)
    except ValueError:
        raise ValueError(f"{op}: pos_weight {describe(pos_weight)} "  # type: ignore[arg-type]
                         f"cannot be broadcast to the input {describe(input)}") from None
    if data.shape != input.shape:
        raise ValueError(f"{op}: pos_weight {describe(pos_weight)} "  # type: ignore[arg-type]
                         f"must broadcast to the input {describe(input)} without growing it")

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        # d/dx = lw sigmoid(x) - pos_weight t, with lw = 1 + (pos_weight - 1) t
        # d/dt = log_sigmoid(-x) - pos_weight log_sigmoid(x) = pos_weight softplus(-x) -
        # softplus(x) (torch's form: at x = -inf it is inf, never inf - inf)
        x, t, pw = ctx.x, ctx.t, ctx.pos_weight
        gx = gt = None
        if ctx.needs_input_grad[0]:
            s = x.sigmoid()
            if pw is not None:
                lw = (pw - 1) * t + 1
                gx = g * (lw * s - pw * t)
            else:
                gx = g * (s - t)
        if ctx.needs_input_grad[1]:
            if pw is not None:
                log1p_exp = (1 + (-x.abs()).exp()).log()
                gt = pw * ((-x).relu() + log1p_exp) - (x.relu() + log1p_exp)
            else:
                gt = -x
            gt = g * gt
        return gx, gt
    loss = record(op, data, (input, target), backward,
                  save={"x": input, "t": target, "pos_weight": pos_weight})
    return _reduce(loss if weight is None else loss * weight, reduction)


# -- more losses: compositions of tensor ops ------------------------------------------------------
__all__ += ["kl_div", "huber_loss", "cosine_embedding_loss", "margin_ranking_loss",
            "triplet_margin_loss", "triplet_margin_with_distance_loss", "hinge_embedding_loss",
            "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
            "soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss", "ctc_loss"]


def _same_shape(op: str, a: Tensor, b: Tensor, what_a: str = "input", what_b: str = "target"
                ) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{op}: {what_b} size ({list(b.shape)}) must be the same as {what_a} "
                         f"size ({list(a.shape)})")


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """The pointwise KL divergence target * (log target - input) for log-probabilities
    ``input``; ``log_target``: the target is given as log-probabilities too.  'batchmean'
    divides the sum by the batch size (the mathematically correct KL)."""
    if size_average is not None or reduce is not None:
        reduction = _reduction("kl_div", size_average, reduce, "mean")
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: {reduction!r} is not a valid value for reduction; expected "
                         "'none', 'mean', 'sum' or 'batchmean'")
    _float_input("kl_div", input)
    _tensor("kl_div", "target", target, input)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    reduction = _reduction("huber_loss", None, None, reduction)
    _pointwise_args("huber_loss", input, target, weight)
    if delta <= 0:
        raise RuntimeError(f"huber_loss: huber_loss does not support non-positive values for "
                           f"delta, got {delta}")
    d = input - target
    a = d.abs()
    q = d.clamp(-delta, delta)  # (|d| >= delta: the unused branch's gradient is 0, not 0 * inf)
    return _weighted(where(a < delta, 0.5 * q * q, delta * (a - 0.5 * delta)), weight, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1;
    cos along the last dim of (N, D) or (D,) inputs."""
    reduction = _reduction("cosine_embedding_loss", size_average, reduce, reduction)
    op = "cosine_embedding_loss"
    _float_input(op, input1)
    _tensor(op, "input2", input2, input1)
    _tensor(op, "target", target, input1)
    if input1.ndim != input2.ndim or input1.ndim not in (1, 2):
        raise RuntimeError(f"{op}: expected 1-D (D,) or 2-D (N, D) inputs of one rank, got "
                           f"input1 {describe(input1)} and input2 {describe(input2)}")
    if target.ndim != input1.ndim - 1:
        raise RuntimeError(f"{op}: {input1.ndim}D target tensor expects {input1.ndim - 1}D "
                           f"target, got {describe(target)}")
    dim = input1.ndim - 1
    eps = _BCE_EPS  # torch's EPSILON = 1e-12, held as a float32
    prod = (input1 * input2).sum(dim)
    m1 = (input1 * input1).sum(dim) + eps
    m2 = (input2 * input2).sum(dim) + eps
    cos = prod / (m1 * m2).sqrt()
    pos = where(target == 1, 1 - cos, 0.0)
    neg = where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _reduction("margin_ranking_loss", size_average, reduce, reduction)
    op = "margin_ranking_loss"
    _float_input(op, input1)
    _tensor(op, "input2", input2, input1)
    _tensor(op, "target", target, input1)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"{op}: All input tensors should have same dimension but got sizes: "
                           f"input1: {list(input1.shape)}, input2: {list(input2.shape)}, "
                           f"target: {list(target.shape)}")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), d the pairwise ``p``-distance; ``swap`` takes
    d(a, n) as min(d(a, n), d(p, n))."""
    reduction = _reduction("triplet_margin_loss", size_average, reduce, reduction)
    op = "triplet_margin_loss"
    _float_input(op, anchor)
    _tensor(op, "positive", positive, anchor)
    _tensor(op, "negative", negative, anchor)
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise RuntimeError(f"{op}: The anchor, positive, and negative tensors are expected to "
                           f"have the same number of dimensions, but got: anchor "
                           f"{anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    from .distance import pairwise_distance
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp(min=0.0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable[[Tensor, Tensor], Tensor]
                                      | None = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """triplet_margin_loss with any ``distance_function`` (default: pairwise_distance)."""
    reduction = _reduction("triplet_margin_with_distance_loss", None, None, reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, "
                         f"got {margin}")
    from .distance import pairwise_distance
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp(min=0.0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """x where target == 1, max(0, margin - x) where target == -1 (other targets add both)."""
    reduction = _reduction("hinge_embedding_loss", size_average, reduce, reduction)
    _float_input("hinge_embedding_loss", input)
    _tensor("hinge_embedding_loss", "target", target, input)
    m = where(target != 1, (margin - input).clamp(min=0.0), 0.0)
    s = where(target != -1, input, 0.0)
    return _reduce(m + s, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * x))."""
    reduction = _reduction("soft_margin_loss", size_average, reduce, reduction)
    _float_input("soft_margin_loss", input)
    _tensor("soft_margin_loss", "target", target, input)
    _same_shape("soft_margin_loss", input, target)
    if target.requires_grad:
        raise RuntimeError("soft_margin_loss: The function 'soft_margin_loss' is not "
                           "differentiable with respect to argument 'target'. This input cannot "
                           "have requires_grad True (detach the target)")
    return _reduce((-input * target).exp().log1p(), reduction)


def _log_sigmoid(x: Tensor) -> Tensor:
    from .activation import logsigmoid
    return logsigmoid(x)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)), averaged over the classes (last dim)."""
    reduction = _reduction("multilabel_soft_margin_loss", size_average, reduce, reduction)
    op = "multilabel_soft_margin_loss"
    _float_input(op, input)
    _tensor(op, "target", target, input)
    loss = -(target * _log_sigmoid(input) + (1 - target) * _log_sigmoid(-input))
    if weight is not None:
        _tensor(op, "weight", weight, input)
        loss = loss * weight
    if input.ndim == 0:
        raise IndexError(f"{op}: expected an input with a class dim, got {describe(input)}")
    dim = input.ndim - 1
    loss = loss.sum(dim) / input.shape[dim]
    return _reduce(loss, reduction)


def _margin_args(op: str, input: Tensor, target: Tensor) -> None:
    _float_input(op, input)
    _tensor(op, "target", target, input)
    if dtypes.kind(target.dtype) != 1:
        raise RuntimeError(f"{op}: expected an int64 target of class indices, got "
                           f"{describe(target)}")
    if input.ndim > 2 or (input.ndim == 2 and input.shape[1] == 0) or \
            (input.ndim == 1 and input.shape[0] == 0):
        raise RuntimeError(f"{op}: Expected non-empty vector or matrix with optional 0-dim "
                           f"batch size, but got: {list(input.shape)}")


def multi_margin_loss(input: Tensor, target: Tensor, p: float = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Per sample: sum over classes i != y of w[y] max(0, margin - x[y] + x[i])**p / C."""
    reduction = _reduction("multi_margin_loss", size_average, reduce, reduction)
    op = "multi_margin_loss"
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 supported, got {p}")
    _margin_args(op, input, target)
    x = input if input.ndim == 2 else input.reshape(1, -1)
    N, C = x.shape
    t = target.reshape(-1)
    if t.shape[0] != N:
        raise RuntimeError(f"{op}: inconsistent target size: {list(target.shape)} for input "
                           f"of size: {list(input.shape)}")
    if N:
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= C:
            raise IndexError(f"{op}: target {lo if lo < 0 else hi} is out of bounds for {C} "
                             "classes")
    from ...creation import arange
    xy = x.gather(1, t.reshape(-1, 1))
    z = margin - xy + x
    z = where(z > 0, z, 0.0)  # (torch adds z where z > 0: not at 0, nor NaN)
    if p == 2:
        z = z * z
    if weight is not None:
        _tensor(op, "weight", weight, input)
        if weight.ndim != 1 or weight.shape[0] != C:
            raise RuntimeError(f"{op}: weight must be a 1-D tensor of {C} class weights, got "
                               f"{describe(weight)}")
        z = z * weight[t].reshape(-1, 1)
    not_y = t.reshape(-1, 1) != arange(C, device=input.device).reshape(1, -1)
    loss = where(not_y, z, 0.0).sum(1) / C
    if input.ndim < 2:
        loss = loss.reshape(target.shape)
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Per sample: sum over the target classes j (the target's leading entries before the first
    -1) and the non-target classes i of max(0, 1 - (x[j] - x[i])) / C."""
    reduction = _reduction("multilabel_margin_loss", size_average, reduce, reduction)
    op = "multilabel_margin_loss"
    _margin_args(op, input, target)
    if target.shape != input.shape:
        raise RuntimeError(f"{op}: inconsistent target size: {list(target.shape)} for input of "
                           f"size: {list(input.shape)}")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target.reshape(x.shape)
    N, C = x.shape
    from ...creation import arange
    valid = (t == -1).long().cumsum(1) == 0           # before the first -1
    if N and bool(valid.any()):
        bad = where(valid, t, 0)
        lo, hi = int(bad.min()), int(bad.max())
        if lo < 0 or hi >= C:
            raise IndexError(f"{op}: target {lo if lo < 0 else hi} is out of bounds for {C} "
                             "classes")
    tc = where(valid, t, 0)
    classes = arange(C, device=input.device)
    is_target = ((tc.unsqueeze(2) == classes.reshape(1, 1, C)) & valid.unsqueeze(2)).any(1)
    xj = x.gather(1, tc)                               # (N, C): x at each listed target
    z = 1 - xj.unsqueeze(2) + x.unsqueeze(1)           # (N, j, i)
    pair = valid.unsqueeze(2) & (~is_target).unsqueeze(1) & (z > 0)  # (torch: where z > 0)
    loss = where(pair, z, 0.0).sum((1, 2)) / C
    if input.ndim < 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """exp(x) - t x (``log_input``), or x - t log(x + eps); ``full`` adds Stirling's
    approximation t log t - t + log(2 pi t) / 2 where t > 1."""
    reduction = _reduction("poisson_nll_loss", size_average, reduce, reduction)
    _float_input("poisson_nll_loss", input)
    _tensor("poisson_nll_loss", "target", target, input)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:  # (composed as torch's, so the target's gradient is NaN where it is masked at 0)
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """0.5 (log(max(var, eps)) + (input - target)**2 / max(var, eps)) (+ 0.5 log(2 pi) if
    ``full``); ``var`` of the input's shape, or without its last dim, or with a last dim of 1,
    or a number.  The clamp of var passes its gradient through unchanged, as torch's."""
    op = "gaussian_nll_loss"
    _float_input(op, input)
    _tensor(op, "target", target, input)
    if not isinstance(var, Tensor):
        from ...creation import full as _full
        var = _full(input.shape, float(var), dtype=input.dtype, device=input.device)
        if float(var.min() if var.numel() else 0.0) < 0:
            raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif input.shape[:-1] == var.shape[:-1] and var.ndim and var.shape[-1] == 1:
            pass
        else:
            raise ValueError(f"{op}: var is of incorrect size: {list(var.shape)} for input "
                             f"{list(input.shape)}")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    from ...autograd.grad_mode import no_grad
    with no_grad():
        if var.numel() and bool((var < 0).any()):  # type: ignore[union-attr]  # a Tensor now
            raise ValueError("var has negative entry/entries")
        clamped = var.clamp(min=eps)  # type: ignore[union-attr]
    var = record("clamp_nograd", clamped._data, (var,), lambda ctx, g: (g,))
    d = input - target
    loss = 0.5 * (var.log() + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# -- CTC ------------------------------------------------------------------------------------------
def _lse(parts: list[Tensor]) -> Tensor:
    """log(sum(exp(p))) over a list of equal-shape tensors, -inf where all are -inf, with no
    NaN in the gradient there (the max is taken off without a gradient)."""
    from ...autograd.grad_mode import no_grad
    from ...ops.movement import stack
    s = stack(parts, 0)
    with no_grad():
        m = s.amax(0)
        m = where(m > -math.inf, m, 0.0)
    tot = (s - m).exp().sum(0)
    ok = tot > 0
    return where(ok, where(ok, tot, 1.0).log() + m, -math.inf)


def _nan_gradient(lp: Tensor, lengths: Any) -> Tensor:
    """Zeros of shape (N,) whose gradient for ``lp`` (T, N, C) is NaN at t < lengths[b]."""
    from ...creation import tensor as _t, zeros
    T, N, _ = lp.shape
    mask = _t([[lengths[b] > t for b in range(N)] for t in range(T)], dtype=dtypes.bool_,
              device=lp.device).unsqueeze(2)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        return (where(mask, math.nan, 0.0) * (g.reshape(1, N, 1) * 0 + 1),)
    return record("ctc_loss_infinite", zeros((N,), dtype=lp.dtype, device=lp.device)._data,
                  (lp,), backward)


def _lengths(op: str, name: str, v: Any, n: int) -> Any:
    if isinstance(v, Tensor):
        if dtypes.kind(v.dtype) != 1:
            raise RuntimeError(f"{op}: {name} must be integral, got {describe(v)}")
        v = [int(a) for a in v.reshape(-1).tolist()]
    elif isinstance(v, (list, tuple)):
        v = [int(a) for a in v]
    else:
        raise TypeError(f"{op}: {name} must be a tensor or a tuple/list of ints, got "
                        f"{type(v).__name__}")
    if len(v) != n:
        raise RuntimeError(f"{op}: {name} must be of size batch_size ({n}), got {len(v)}")
    return v


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Tensor | Sequence[int],
             target_lengths: Tensor | Sequence[int], blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Tensor:
    """The connectionist temporal classification loss of (T, N, C) (or unbatched (T, C))
    ``log_probs``: -log of the total probability of the alignments of each target, by the
    alpha recursion in log space (composed of tensor ops, one step per time step).  Targets are
    padded (N, S) rows or concatenated 1-D.  The gradient of ``log_probs`` is torch's: at t <
    input_length it holds exp(log_probs) - ..., the form that is exact through a log_softmax,
    and NaN for an impossible alignment (infinite loss) unless ``zero_infinity``."""
    op = "ctc_loss"
    reduction = _reduction(op, None, None, reduction)
    _float_input(op, log_probs)
    _tensor(op, "targets", targets, None)
    unbatched = log_probs.ndim == 2
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"{op}: log_probs must be (T, N, C) or (T, C), got "
                           f"{describe(log_probs)}")
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError(f"{op}: blank must be in label range [0, {C}), got {blank}")
    if unbatched:
        if isinstance(input_lengths, Tensor) and input_lengths.ndim == 0:
            input_lengths = input_lengths.reshape(1)
        if isinstance(target_lengths, Tensor) and target_lengths.ndim == 0:
            target_lengths = target_lengths.reshape(1)
    il = _lengths(op, "input_lengths", input_lengths, N)
    tl = _lengths(op, "target_lengths", target_lengths, N)
    for b in range(N):
        if not 0 <= il[b] <= T:
            raise RuntimeError(f"{op}: Expected input_lengths to have value at most {T}, but "
                               f"got value {il[b]} (while checking arguments for ctc_loss_cpu)")
        if tl[b] < 0:
            raise RuntimeError(f"{op}: target lengths must be non-negative, got {tl[b]}")
    # the targets as rows: padded (N, S) or concatenated 1-D
    flat = [int(v) for v in targets.reshape(-1).tolist()]
    if targets.ndim == 1:
        if sum(tl) != len(flat):
            raise RuntimeError(f"{op}: Expected tensor to have size {sum(tl)} at dimension 0, "
                               f"but got size {len(flat)} for argument #2 'targets' (the "
                               "concatenated targets hold sum(target_lengths) labels)")
        rows, pos = [], 0
        for b in range(N):
            rows.append(flat[pos:pos + tl[b]])
            pos += tl[b]
    else:
        S = targets.shape[-1]
        if targets.ndim != 2 or targets.shape[0] != N:
            raise RuntimeError(f"{op}: padded targets must be (N, S) = ({N}, S), got "
                               f"{describe(targets)}")
        for b in range(N):
            if tl[b] > S:
                raise RuntimeError(f"{op}: Expected tensor to have size at least {tl[b]} at "
                                   f"dimension 1, but got size {S} for argument #2 'targets'")
        rows = [flat[b * S:b * S + tl[b]] for b in range(N)]
    for r in rows:
        for c in r:
            if not 0 <= c < C:
                raise RuntimeError(f"{op}: target label {c} is out of range [0, {C})")
    L = max([len(r) for r in rows] + [0])
    S2 = 2 * L + 1
    ext = [[blank] * S2 for _ in range(N)]
    skip = [[False] * S2 for _ in range(N)]
    for b, r in enumerate(rows):
        for k, c in enumerate(r):
            ext[b][2 * k + 1] = c
            if k > 0 and r[k - 1] != c:
                skip[b][2 * k + 1] = True
    from ...creation import tensor as _t, full as _full
    dev, dt = lp.device, lp.dtype
    ext_t = _t(ext, dtype=dtypes.int64, device=dev)                  # (N, S2)
    skip_t = _t(skip, dtype=dtypes.bool_, device=dev)
    ninf = -math.inf
    neg = _full((N, 1), ninf, dtype=dt, device=dev)
    neg2 = _full((N, 2), ninf, dtype=dt, device=dev)
    from ...ops.movement import cat
    losses = []
    if T == 0 or N == 0:
        alpha_last = None
    else:
        emit = lp.gather(2, ext_t.unsqueeze(0).expand(T, N, S2))      # (T, N, S2)
        start = _t([[s < 2 for s in range(S2)]] * N, dtype=dtypes.bool_, device=dev)
        alpha = where(start, emit[0], ninf)
        alive = _t([[il[b] > t for b in range(N)] for t in range(T)], dtype=dtypes.bool_,
                   device=dev).unsqueeze(2)
        for t in range(1, T):
            a1 = cat([neg, alpha[:, :-1]], 1)
            a2 = where(skip_t, cat([neg2, alpha[:, :-2]], 1), ninf) if S2 > 2 else None
            parts = [alpha, a1] + ([a2] if a2 is not None else [])
            new = _lse(parts) + emit[t]
            alpha = where(alive[t], new, alpha)
        alpha_last = alpha
    for b in range(N):
        n_b = 2 * tl[b] + 1
        if il[b] == 0 or alpha_last is None:  # no time steps: only the empty target fits
            losses.append(_full((), math.inf if tl[b] else 0.0, dtype=dt, device=dev))
            continue
        ends = [alpha_last[b, n_b - 1]] + ([alpha_last[b, n_b - 2]] if tl[b] else [])
        losses.append(-_lse(ends))
    from ...ops.movement import stack
    loss = stack(losses) if losses else _full((0,), 0.0, dtype=dt, device=dev)
    # torch's gradient adds exp(log_probs) at t < input_length: a term of value 0 with that
    # gradient, scaled by each sample's upstream gradient through the sum below
    if T and N:
        with_mask = _t([[il[b] > t for b in range(N)] for t in range(T)], dtype=dtypes.bool_,
                       device=dev).unsqueeze(2)
        from ...autograd.grad_mode import no_grad
        e = lp.exp()
        with no_grad():
            e0 = lp.exp()
        extra = where(with_mask, e - e0, 0.0).sum((0, 2))
        loss = loss + extra
    if zero_infinity:
        loss = where(loss == math.inf, 0.0, loss)
    elif T and N:
        inf_rows = [b for b in range(N) if math.isinf(float(loss[b]))]
        if inf_rows:  # torch's gradient there is exp(lp) - exp(-inf + inf): NaN
            loss = loss + _nan_gradient(lp, [il[b] if b in inf_rows else 0 for b in range(N)])
    if unbatched:
        loss = loss.reshape(())
    if reduction == "mean":
        denom = _t([max(v, 1) for v in tl], dtype=dt, device=dev)
        if unbatched:
            denom = denom.reshape(())
        return (loss / denom).mean()
    return _reduce(loss, reduction)
