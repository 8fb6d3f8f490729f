"""Normalization: layer_norm and batch_norm (torch.nn.functional's).

Each is ONE tape node: the backend standardizes the input in one call, and the backward is
written with tensor ops beside it.  The backward reuses the forward's statistics, unless grad
mode is on inside backward (``create_graph=True``): then it rebuilds them from the input with
tensor ops, so that they are differentiated too.
"""
from __future__ import annotations

from ... import dtypes
from ...autograd.grad_mode import no_grad, state
from ...autograd.graph import record
from ...tensor import Tensor, describe, wrap
from ._common import check_like, float_backend
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...autograd.graph import Context

__all__ = ["layer_norm", "batch_norm"]


def _rstd(B: Any, var: Any, eps: float) -> Any:
    """1 / sqrt(var + eps), on the raw arrays."""
    return B.div(1.0, B.sqrt(B.add(var, eps)))


def _norm_backward(ctx: Context, g: Tensor, axes: tuple[int, ...], param_axes: tuple[int, ...],
                   bshape: tuple[int, ...] | None, eps: float
                   ) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """The gradients of ``y = xhat * w + b`` with ``xhat`` standardized over ``axes``, for the
    inputs (x, w, b) of ``ctx``.  ``ctx.xhat``/``ctx.rstd`` are the forward's (constants); under
    create_graph they are rebuilt from ``ctx.x`` with tensor ops so their dependence on ``x`` is
    differentiated too."""
    x, w, xhat, rstd = ctx.x, ctx.w, ctx.xhat, ctx.rstd
    if state.grad_enabled:
        xc = x - x.mean(axes, keepdim=True)
        rstd = ((xc * xc).mean(axes, keepdim=True) + eps).rsqrt()
        xhat = xc * rstd
    gx = gw = gb = None
    if ctx.needs_input_grad[0]:
        gxh = g if w is None else g * (w if bshape is None else w.reshape(bshape))
        gx = rstd * (gxh - gxh.mean(axes, keepdim=True)
                     - xhat * (gxh * xhat).mean(axes, keepdim=True))
    if ctx.needs_input_grad[1]:
        gw = g * xhat
        gw = gw.sum(param_axes) if param_axes else gw
    if ctx.needs_input_grad[2]:
        gb = g.sum(param_axes) if param_axes else g
    return gx, gw, gb


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int],
               weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
               ) -> Tensor:
    """Standardize over the trailing ``normalized_shape`` dims (biased variance), then
    ``* weight + bias`` (both of shape ``normalized_shape``)."""
    B = float_backend("layer_norm", input)
    check_like("layer_norm", input, weight=weight, bias=bias)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"layer_norm: given normalized_shape={list(ns)}, expected input with "
                           f"shape [*, {', '.join(map(str, ns))}], but got input of size "
                           f"{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"layer_norm: {name} has shape {list(t.shape)}, expected "
                               f"normalized_shape {list(ns)}")
    axes = tuple(range(input.ndim - k, input.ndim))
    param_axes = tuple(range(input.ndim - k))
    y, xhat, _, var = B.normalize(input._data, axes, eps, None if weight is None else weight._data,
                                  None if bias is None else bias._data)
    xhat_t = wrap(xhat if y is not xhat else B.copy(xhat), input.device)
    rstd_t = wrap(_rstd(B, var, eps), input.device)
    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        if state.grad_enabled or g.dtype not in (dtypes.float32, dtypes.float64):
            # create_graph: tensor ops, differentiable again (and the small floats' sums in
            # float32, as the tensor ops do them)
            return _norm_backward(ctx, g, axes, param_axes, None, eps)
        grads = B.normalize_backward(g._data, ctx.xhat._data, ctx.rstd._data,
                                     None if ctx.w is None else ctx.w._data, axes)
        gx, gw, gb = (wrap(d, g.device) if need else None
                      for d, need in zip(grads, ctx.needs_input_grad))
        return gx, gw, gb
    return record("layer_norm", y, (input, weight, bias), backward,
                  save={"x": input, "w": weight, "xhat": xhat_t, "rstd": rstd_t})


def _check_channels(op: str, c: int, **params: Tensor | None) -> None:
    """Each per-channel tensor given (weight, bias, running statistics) has shape (c,)."""
    for name, t in params.items():
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"{op}: {name} has shape {list(t.shape)}, expected [{c}] (the "
                               f"input's {c} channels)")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) of ``input`` (N, C, *).  Training: with the batch's
    statistics (biased variance), and the running statistics, when given, updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` (the unbiased variance).
    Evaluation: with the running statistics."""
    B = float_backend("batch_norm", input)
    check_like("batch_norm", input, weight=weight, bias=bias, running_mean=running_mean,
               running_var=running_var)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, *), "
                         f"got {describe(input)}")
    c = input.shape[1]
    _check_channels("batch_norm", c, weight=weight, bias=bias, running_mean=running_mean,
                    running_var=running_var)
    axes = (0,) + tuple(range(2, input.ndim))
    bshape = (c,) + (1,) * (input.ndim - 2)
    n = input.numel() // c if c else 0
    w = None if weight is None else B.reshape(weight._data, bshape)
    b = None if bias is None else B.reshape(bias._data, bshape)
    if training:
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {list(input.shape)}")
        y, xhat, mean, var = B.normalize(input._data, axes, eps, w, b)
        xhat_t = wrap(xhat if y is not xhat else B.copy(xhat), input.device)
        rstd_t = wrap(_rstd(B, var, eps), input.device)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(
                    wrap(B.mul(B.reshape(mean, (c,)), momentum), input.device))
            if running_var is not None:
                running_var.mul_(1 - momentum).add_(
                    wrap(B.mul(B.reshape(var, (c,)), momentum * n / (n - 1)), input.device))

        def train_backward(ctx: Context, g: Tensor
                           ) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
            if state.grad_enabled or g.dtype not in (dtypes.float32, dtypes.float64):
                return _norm_backward(ctx, g, axes, axes, bshape, eps)
            grads = B.normalize_backward(g._data, ctx.xhat._data, ctx.rstd._data, None if
                                         ctx.w is None else B.reshape(ctx.w._data, bshape),
                                         axes, axes)
            gx, gw, gb = (wrap(d, g.device) if need else None
                          for d, need in zip(grads, ctx.needs_input_grad))
            return gx, gw, gb
        return record("batch_norm", y, (input, weight, bias), train_backward,
                      save={"x": input, "w": weight, "xhat": xhat_t, "rstd": rstd_t})
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be given in "
                           "evaluation mode (training=False)")
    mean = B.reshape(running_mean._data, bshape)
    rstd = _rstd(B, B.reshape(running_var._data, bshape), eps)
    y = B.mul(B.sub(input._data, mean), rstd if w is None else B.mul(rstd, w))
    if b is not None:
        B.iadd(y, b)
    mean_t, rstd_t = wrap(B.copy(mean), input.device), wrap(rstd, input.device)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = g * (ctx.rstd if ctx.w is None else ctx.w.reshape(bshape) * ctx.rstd)
        if ctx.needs_input_grad[1]:
            gw = (g * ((ctx.x - ctx.mean) * ctx.rstd)).sum(axes)
        if ctx.needs_input_grad[2]:
            gb = g.sum(axes)
        return gx, gw, gb
    return record("batch_norm", y, (input, weight, bias), backward,
                  save={"x": input, "w": weight, "mean": mean_t, "rstd": rstd_t})


__all__ += ["rms_norm"]


def rms_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``input / sqrt(mean(input^2) + eps) * weight`` over the trailing ``normalized_shape``
    dims (torch.nn.functional.rms_norm).  ``eps`` None: the machine epsilon of the computation
    type (float32's for float16/float32 inputs, float64's for float64).  A composition of tensor
    ops (its gradients, and theirs, come from the tape); half inputs are computed in float32 and
    the result has the input's dtype."""
    import numpy as _np  # only for finfo of a dtype, no array arithmetic
    from ... import dtypes as _dt

    float_backend("rms_norm", input)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0:
        raise RuntimeError("rms_norm: Expected normalized_shape to be at least 1-dimensional, "
                           "i.e., containing at least one element, but got normalized_shape = []")
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"rms_norm: Given normalized_shape={list(ns)}, expected input with "
                           f"shape [*, {', '.join(map(str, ns))}], but got input of size "
                           f"{list(input.shape)}")
    if weight is not None and tuple(weight.shape) != ns:
        raise RuntimeError(f"rms_norm: Expected weight to be of same shape as normalized_shape, "
                           f"but got weight of shape {list(weight.shape)} and normalized_shape = "
                           f"{list(ns)}")
    opmath = _dt.float64 if input.dtype == _dt.float64 else _dt.float32
    if eps is None:
        eps = float(_np.finfo(opmath).eps)
    x = input if input.dtype == opmath else input.to(opmath)
    axes = tuple(range(input.ndim - k, input.ndim))
    y = x * (x * x).mean(axes, keepdim=True).add(eps).rsqrt()
    if weight is not None:
        y = y * weight
    return y if y.dtype == input.dtype else y.to(input.dtype)


# -- group_norm, instance_norm, local_response_norm (composed of tensor ops) ---------------------
__all__ += ["group_norm", "instance_norm", "local_response_norm"]


def _scale_shift(x: Tensor, mean: Tensor, rstd: Tensor, weight: Tensor | None,
                 bias: Tensor | None, shape: tuple[int, ...]) -> Tensor:
    """x * scale + shift with scale = rstd * weight and shift = bias - mean * scale, the form
    (and so the float32 rounding) of torch's CPU batch/group norm kernels; ``mean`` and
    ``rstd`` broadcast against ``x``, ``weight``/``bias`` (C,) reshaped to ``shape``."""
    scale = rstd if weight is None else rstd * weight.reshape(shape)
    shift = -(mean * scale)
    if bias is not None:
        shift = shift + bias.reshape(shape)
    return x * scale + shift


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each of ``num_groups`` channel groups of each sample of an (N, C, *) input
    (biased variance), then scale and shift per channel."""
    B = float_backend("group_norm", input)
    check_like("group_norm", input, weight=weight, bias=bias)
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected an input with at least 2 dims (N, C, *), got "
                           f"{describe(input)}")
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(t.shape)} "
                               f"and input of shape {list(input.shape)}")
    per_group = n * c // num_groups
    for d in input.shape[2:]:
        per_group *= d
    if per_group == 1:  # torch's _verify_batch_size on (N*C/G, G, *spatial)
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {[n * c // num_groups, num_groups] + list(input.shape[2:])}")
    if input.numel() == 0 or input.dtype not in (dtypes.float32, dtypes.float64):
        return _group_norm_ops(input, num_groups, weight, bias, eps)
    # one tape node: the backend standardizes each (sample, group) row of (N, G, C/G * M) (the
    # trailing-axis normalize, layer_norm's), the per-channel scale and shift are two passes
    shape = tuple(input.shape)
    g3 = (n, num_groups, -1)
    c3 = (n, c, -1)
    x3 = B.reshape(B.ascontiguousarray(input._data), g3)
    _, xhat, _, var = B.normalize(x3, (2,), eps)
    xhat = B.reshape(xhat, shape)
    rstd = _rstd(B, var, eps)  # (N, G, 1)
    y = xhat
    if weight is not None:
        y = B.mul(B.reshape(xhat, c3), B.reshape(weight._data, (c, 1)))
    if bias is not None:
        y = B.add(B.reshape(y, c3), B.reshape(bias._data, (c, 1)))
    y = B.reshape(y, shape)
    if y is xhat:
        y = B.copy(xhat)
    cshape = (c,) + (1,) * (input.ndim - 2)
    sum_axes = (0,) + tuple(range(2, input.ndim))

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        w = ctx.w
        if not state.grad_enabled and g.dtype in (dtypes.float32, dtypes.float64):
            # backend primitives: the group rows' normalize_backward, the channels' sums
            gd, xd = B.ascontiguousarray(g._data), ctx.xhat._data
            grads: list[Any] = [None, None, None]
            if ctx.needs_input_grad[0]:
                gxh = gd if w is None else B.mul(B.reshape(gd, c3), B.reshape(w._data, (c, 1)))
                grads[0] = B.reshape(B.normalize_backward(
                    B.reshape(gxh, g3), B.reshape(xd, g3), ctx.rstd._data, None, (2,))[0], shape)
            if ctx.needs_input_grad[1]:
                grads[1] = B.sum(B.reshape(B.mul(gd, xd), c3), (0, 2))
            if ctx.needs_input_grad[2]:
                grads[2] = B.sum(B.reshape(gd, c3), (0, 2))
            return tuple(None if d is None else wrap(d, g.device)  # type: ignore[return-value]
                         for d in grads)
        if state.grad_enabled:  # create_graph: the statistics rebuilt with tensor ops
            xg = ctx.x.reshape(g3)
            xc = xg - xg.mean(-1, keepdim=True)
            rs = ((xc * xc).mean(-1, keepdim=True) + eps).rsqrt()
            xh = (xc * rs).reshape(shape)
        else:
            rs, xh = ctx.rstd, ctx.xhat
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gxh = (g if w is None else g * w.reshape(cshape)).reshape(g3)
            xh3 = xh.reshape(g3)
            gx = (rs * (gxh - gxh.mean(-1, keepdim=True)
                        - xh3 * (gxh * xh3).mean(-1, keepdim=True))).reshape(shape)
        if ctx.needs_input_grad[1]:
            gw = (g * xh).sum(sum_axes)
        if ctx.needs_input_grad[2]:
            gb = g.sum(sum_axes)
        return gx, gw, gb
    return record("group_norm", y, (input, weight, bias), backward,
                  save={"x": input, "w": weight, "xhat": wrap(xhat, input.device),
                        "rstd": wrap(rstd, input.device)})


def _group_norm_ops(input: Tensor, num_groups: int, weight: Tensor | None,
                    bias: Tensor | None, eps: float) -> Tensor:
    """group_norm composed of tensor ops (empty inputs, and dtypes other than float32/64 whose
    statistics the ops compute in float32)."""
    n, c = input.shape[:2]
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(-1, keepdim=True)
    xc = x - mean
    var = (xc * xc).mean(-1, keepdim=True)
    rest = (1,) * (input.ndim - 2)
    if weight is None and bias is None:
        return _scale_shift(x, mean, (var + eps).rsqrt(), None, None, ()).reshape(input.shape)
    # per (sample, channel) statistics: each group's repeated over its channels
    g = c // num_groups
    mean = mean.expand(n, num_groups, g).reshape(n, c, *rest)
    rstd = (var + eps).rsqrt().expand(n, num_groups, g).reshape(n, c, *rest)
    return _scale_shift(input, mean, rstd, weight, bias, (c,) + rest)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample of an (N, C, *) input over its spatial dims.
    ``use_input_stats``: with the sample's statistics, updating the running ones (when given)
    with their mean over the batch (unbiased variance); otherwise with the running ones."""
    float_backend("instance_norm", input)
    check_like("instance_norm", input, weight=weight, bias=bias, running_mean=running_mean,
               running_var=running_var)
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input with at least 3 dims (N, C, *), "
                         f"got {describe(input)}")
    c = input.shape[1]
    _check_channels("instance_norm", c, weight=weight, bias=bias, running_mean=running_mean,
                    running_var=running_var)
    axes = tuple(range(2, input.ndim))
    bshape = (1, c) + (1,) * (input.ndim - 2)
    if use_input_stats:
        m = 1
        for d in input.shape[2:]:
            m *= d
        if m <= 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input "
                             f"size {list(input.shape)}")
        mean = input.mean(axes, keepdim=True)
        xc = input - mean
        var = (xc * xc).mean(axes, keepdim=True)
        rstd = (var + eps).rsqrt()
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.detach().reshape(-1, c).mean(0)
                                                     * momentum)
            if running_var is not None:
                running_var.mul_(1 - momentum).add_(var.detach().reshape(-1, c).mean(0)
                                                    * (momentum * m / (m - 1)))
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm: running_mean and running_var must be defined "
                               "when use_input_stats=False")
        mean = running_mean.reshape(bshape)
        rstd = (running_var.reshape(bshape) + eps).rsqrt()
    return _scale_shift(input, mean, rstd, weight, bias, bshape[1:])


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Divide each element of an (N, C, *) input by (k + alpha * mean of the squares of its
    ``size`` neighbouring channels) ** beta."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         "dimensions)")
    if input.numel() == 0:
        return input
    from .padding import pad
    c = input.shape[1]
    sq = input * input
    widths = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]
    padded = pad(sq, widths)
    total = padded[:, 0:c]
    for i in range(1, size):
        total = total + padded[:, i:i + c]
    div = (total / size * alpha + k) ** beta
    return input / div
