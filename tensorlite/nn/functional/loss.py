"""Losses: torch.nn.functional's cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss,
binary_cross_entropy and binary_cross_entropy_with_logits.

cross_entropy with class-index targets is one tape op: the backend computes log_softmax and
each row's picked log-probability in one call, and the backward is (softmax - onehot) * scale.
Under create_graph the softmax in that backward is recomputed as a tape op of the input, so
second derivatives are exact.  The other losses are short compositions of tensor ops, with
the binary cross entropies as one elementwise op each (torch's clamped / stable forms).
"""
import math
import warnings

from ... import dtypes
from ...autograd.grad_mode import state
from ...autograd.graph import record
from ...ops.common import backend_of
from ...ops.pointwise import where
from ...tensor import Tensor, describe, wrap

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("none", "mean", "sum")
_BCE_EPS = 9.999999960041972e-13  # torch's EPSILON = 1e-12, held as a float32


# -- shared checks ---------------------------------------------------------------------------------
def _reduction(op, size_average, reduce, reduction):
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


def _reduce(loss, reduction):
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def _tensor(op, name, t, like=None):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if like is not None and t.device != like.device:
        raise RuntimeError(f"{op}: expected all tensors on the same device, got input "
                           f"{describe(like)} and {name} {describe(t)}; move one with .to()")
    return t


def _float_input(op, input):
    _tensor(op, "input", input)
    if not dtypes.is_floating_point(input.dtype):
        raise TypeError(f"{op}: expected a floating point input, got {describe(input)}; convert "
                        "it with .float()")


def _same_dtype(op, name, t, input):
    if t is not None and t.dtype != input.dtype:
        raise TypeError(f"{op}: {name} is {describe(t)} but the input is {describe(input)}; "
                        f"convert it with .to({input.dtype})")


# -- class-index targets: cross_entropy and nll_loss -----------------------------------------------
def _class_targets(op, input, target, weight, ignore_index):
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


def _to_rows(x):
    """(N, C, d1, ...) logits as (M, C) rows (a backend array), the class dim last."""
    if x.ndim == 1:
        return backend_of(x, "cross_entropy").reshape(x._data, (1, -1))
    if x.ndim == 2:
        return x._data
    B = backend_of(x, "cross_entropy")
    order = (0,) + tuple(range(2, x.ndim)) + (1,)
    return B.reshape(B.ascontiguousarray(B.transpose(x._data, order)), (-1, x.shape[1]))


def _from_rows(g, shape):
    """The inverse of _to_rows for a gradient tensor of (M, C) rows."""
    if len(shape) <= 2:
        return g.reshape(shape)
    lead = (shape[0],) + shape[2:] + (shape[1],)
    n = len(shape)
    return g.reshape(lead).permute((0, n - 1) + tuple(range(1, n - 1)))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
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
        spread = B.sum(logp, 1) if weight is None else B.matmul(logp, weight._data)
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

    def backward(ctx, g):
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


def _over_zero(total):
    """``total`` / 0 as IEEE division gives it (nan for 0 or nan, else a signed inf), without
    the divide-by-zero warning: 'mean' over a total weight of 0."""
    v = float(total)
    return math.nan if v == 0 or v != v else math.copysign(math.inf, v)


def _const(value, like):
    """A number or a backend array as an operand of tensor ops with ``like`` (no gradient)."""
    if hasattr(value, "shape") and value.shape:
        if value.dtype != like.dtype:
            value = backend_of(like, "cross_entropy").astype(value, like.dtype)
        return wrap(value, like.device)
    return float(value)


def _rows_tensor(x):
    """_to_rows with tensor ops (recorded, for create_graph)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    order = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(order).reshape(-1, x.shape[1])


def _soft_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing):
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


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
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
def _pointwise_args(op, input, target, weight=None):
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


def _weighted(loss, weight, reduction):
    if weight is None:
        return _reduce(loss, reduction)
    loss = loss * weight
    return loss.sum() / weight.sum() if reduction == "mean" else _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """The (weighted) squared error between ``input`` and ``target``."""
    reduction = _reduction("mse_loss", size_average, reduce, reduction)
    _pointwise_args("mse_loss", input, target, weight)
    d = input - target
    return _weighted(d * d, weight, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """The (weighted) absolute error between ``input`` and ``target``."""
    reduction = _reduction("l1_loss", size_average, reduce, reduction)
    _pointwise_args("l1_loss", input, target, weight)
    return _weighted((input - target).abs(), weight, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
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
def _binary_args(op, input, target, weight, check_range):
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
        bad_input, bad_target = (bool(f) for f in B.to_host(B.stack(flags)))
        if bad_input:
            raise RuntimeError(f"{op}: all elements of input should be between 0 and 1 (input "
                               f"{describe(input)}); apply sigmoid first, or use "
                               "binary_cross_entropy_with_logits")
        if bad_target:
            raise RuntimeError(f"{op}: all elements of target should be between 0 and 1 (target "
                               f"{describe(target)}); targets are probabilities")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-w (t log x + (1 - t) log(1 - x)) for probabilities ``input``; each log is clamped at
    -100 and the input gradient is w (x - t) / max(x (1 - x), 1e-12), as torch."""
    reduction = _reduction("binary_cross_entropy", size_average, reduce, reduction)
    _binary_args("binary_cross_entropy", input, target, weight, check_range=True)
    B = backend_of(input, "binary_cross_entropy")

    def backward(ctx, g):
        x = ctx.x
        return (g * (x - ctx.t) / (x * (1 - x)).clamp(min=_BCE_EPS)
                if ctx.needs_input_grad[0] else None,
                g * ((1 - x).log() - x.log()) if ctx.needs_input_grad[1] else None)
    loss = record("binary_cross_entropy", B.binary_cross_entropy(input._data, target._data),
                  (input, target), backward, save={"x": input, "t": target})
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
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
        raise ValueError(f"{op}: pos_weight {describe(pos_weight)} cannot be broadcast to the "
                         f"input {describe(input)}") from None
    if data.shape != input.shape:
        raise ValueError(f"{op}: pos_weight {describe(pos_weight)} must broadcast to the input "
                         f"{describe(input)} without growing it")

    def backward(ctx, g):
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
