"""Activations: relu, sigmoid, tanh, leaky_relu, softplus, gelu, softmax, log_softmax, and
silu, mish, elu, selu, celu, hardtanh, relu6, hardswish, hardsigmoid, prelu, rrelu, logsigmoid,
softsign, tanhshrink, softshrink, hardshrink, softmin, glu, threshold (with the in-place forms
relu_, elu_, selu_, celu_, leaky_relu_, hardtanh_, rrelu_, threshold_).

relu, sigmoid, tanh, softmax and log_softmax are tensorlite's tensor ops; leaky_relu, softplus
and gelu are one tape node each, the forward a backend primitive and the backward tensor ops
beside it (so gradients of gradients work).  The others are compositions of tensor ops, written
so that each derivative at a kink (relu6 at 0 and 6, hardtanh at its bounds, hardswish at +-3,
the shrinks at +-lambd) and at NaN is PyTorch's: a ``where`` whose mask is torch's backward
condition, the other branch a constant.  ``inplace=True`` writes the result into the input
(an in-place op on the tape, as torch's).  Which of them linear can fuse is fusion.py's table.
"""
from __future__ import annotations

import math
import warnings

from ...autograd.grad_mode import no_grad, state
from ...autograd.graph import record
from ...creation import zeros_like
from ...ops.pointwise import relu as _relu, sigmoid as _sigmoid, tanh as _tanh
from ...ops.reduce import log_softmax as _log_softmax, softmax as _softmax
from ...ops.common import backend_of
from ...ops.inplace import apply_
from ...tensor import wrap
from ...ops.pointwise import where
from ._common import check_tensor, float_backend
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...autograd.graph import Context
    from ...dtypes import DTypeLike
    from ...tensor import Tensor

__all__ = ["relu", "gelu", "leaky_relu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax",
           "silu", "mish", "elu", "selu", "celu", "hardtanh", "relu6", "hardswish", "hardsigmoid",
           "prelu", "rrelu", "logsigmoid", "softsign", "tanhshrink", "softshrink", "hardshrink",
           "softmin", "glu", "threshold", "relu_", "elu_", "selu_", "celu_", "leaky_relu_",
           "hardtanh_", "rrelu_", "threshold_"]


def _maybe_inplace(name: str, input: Tensor, inplace: bool, fn: Callable[[Tensor], Tensor]
                   ) -> Tensor:
    """``fn(input)``, written into ``input`` when ``inplace`` (torch's ``name_``)."""
    if inplace:
        return apply_(name + "_", input, fn)
    return fn(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); the gradient at 0 is 0, as PyTorch."""
    return _maybe_inplace("relu", input, inplace, _relu)


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def sigmoid(input: Tensor) -> Tensor:
    return _sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return _tanh(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x (at 0 the gradient is negative_slope, as PyTorch)."""
    if inplace:
        return apply_("leaky_relu_", input, leaky_relu, negative_slope)
    B = float_backend("leaky_relu", input)
    return record("leaky_relu", B.leaky_relu(input._data, negative_slope), (input,),
                  lambda ctx, g: (leaky_relu_backward(g, ctx.x, negative_slope),),
                  save={"x": input})


def leaky_relu_backward(g: Tensor, x: Tensor, negative_slope: float) -> Tensor:
    """g where x > 0, else g * negative_slope (NaN > 0 is false), as PyTorch's
    leaky_relu_backward.  A tape node of (g, x): its derivative is the same mask for g and a
    zero tensor (not None) for x, so a NaN upstream of x gives NaN second derivatives, as torch."""
    with no_grad():
        out = where(x > 0, g, g * negative_slope)

    def backward(ctx: Context, gg: Tensor) -> tuple[Tensor | None, ...]:
        return (leaky_relu_backward(gg, ctx.x, negative_slope)
                if ctx.needs_input_grad[0] else None,
                zeros_like(gg) if ctx.needs_input_grad[1] else None)
    return record("leaky_relu_backward", out._data, (g, x), backward, save={"x": x})


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""
    B = float_backend("softplus", input)
    return record("softplus", B.softplus(input._data, beta, threshold), (input,),
                  lambda ctx, g: (softplus_backward(g, ctx.x, beta, threshold),),
                  save={"x": input})


def softplus_backward(g: Tensor, x: Tensor, beta: float, threshold: float) -> Tensor:
    """g where beta x > threshold, else g * sigmoid(beta x): a tape node of (g, x) with
    PyTorch's derivatives, whose second derivative for x is masked by beta x < threshold
    (strictly: at beta x == threshold it is 0, as torch's softplus_double_backward)."""
    with no_grad():
        bx = x * beta
        out = where(bx > threshold, g, g * bx.sigmoid())

    def backward(ctx: Context, gg: Tensor) -> tuple[Tensor | None, ...]:
        x, gx = ctx.x, None
        if ctx.needs_input_grad[1]:
            bx = x * beta
            s = bx.sigmoid()
            gx = gg * ctx.g * s * (1 - s) * (bx < threshold) * beta  # NaN stays NaN, as torch
        return (softplus_backward(gg, x, beta, threshold) if ctx.needs_input_grad[0] else None,
                gx)
    return record("softplus_backward", out._data, (g, x), backward, save={"g": g, "x": x})


def erf(input: Tensor) -> Tensor:
    """The error function, as a tape op (GELU's derivative needs it differentiable)."""
    B = backend_of(input, "erf")
    return record("erf", B.erf(input._data), (input,),
                  lambda ctx, g: (g * (2 / math.sqrt(math.pi)) * (-(ctx.x * ctx.x)).exp(),),
                  save={"x": input})


def gelu_grad(x: Tensor, approximate: str) -> Tensor:
    """d gelu(x) / dx with tensor ops (so it is differentiable again)."""
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = (k * (x + 0.044715 * x * x * x)).tanh()
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    cdf = 0.5 * (1 + erf(x * math.sqrt(0.5)))
    return cdf + x * (-0.5 * x * x).exp() * (1 / math.sqrt(2 * math.pi))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi: the standard normal CDF), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    B = float_backend("gelu", input)

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor]:
        if state.grad_enabled:  # create_graph: tensor ops, differentiable again
            return (g * gelu_grad(ctx.x, approximate),)
        return (wrap(B.gelu_grad(g._data, ctx.x._data, approximate), g.device),)  # one pass
    return record("gelu", B.gelu(input._data, approximate), (input,), backward,
                  save={"x": input})


def _softmax_dim(op: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: DTypeLike | None = None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: DTypeLike | None = None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return _log_softmax(input, dim, dtype=dtype)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


# -- compositions ----------------------------------------------------------------------------------
def _float(op: str, input: Tensor) -> Tensor:
    float_backend(op, input)
    return input


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    _float("silu", input)
    return _maybe_inplace("silu", input, inplace, lambda x: x * _sigmoid(x))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    _float("mish", input)
    return _maybe_inplace("mish", input, inplace, lambda x: x * _tanh(softplus(x)))


def _elu(x: Tensor, alpha: float, scale: float, input_scale: float) -> Tensor:
    """scale * x where x > 0, else alpha * scale * (exp(input_scale * x) - 1): one tape node
    whose backward is _elu_backward (torch's elu / elu_backward pair)."""
    with no_grad():
        neg = x <= 0
        y = where(neg, (where(neg, x, 0.0) * input_scale).expm1() * (alpha * scale), x * scale)
    return record("elu", y._data, (x,),
                  lambda ctx, g: (_elu_backward(g, ctx.x, alpha, scale, input_scale),),
                  save={"x": x})


def _elu_backward(g: Tensor, x: Tensor, alpha: float, scale: float, input_scale: float) -> Tensor:
    """g * d elu / dx, composed so that its own derivatives are torch's: the slope is
    alpha * scale * input_scale * exp(input_scale * x) at x <= 0 (at 0 too) and scale above or at
    NaN; its derivative for x is masked by x < 0 strictly (torch's elu_double_backward), so at
    0 the second derivative is 0."""
    xs = where(x < 0, x, 0.0)  # (no inf or NaN reaches an unused branch's gradient)
    slope = where(x <= 0, (xs * input_scale).exp() * (alpha * scale * input_scale), scale)
    return g * slope


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    _float("elu", input)
    return _maybe_inplace("elu", input, inplace, lambda x: _elu(x, alpha, 1.0, 1.0))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with Klambauer et al.'s constants."""
    _float("selu", input)
    return _maybe_inplace("selu", input, inplace,
                          lambda x: _elu(x, _SELU_ALPHA, _SELU_SCALE, 1.0))


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x / alpha) - 1)."""
    _float("celu", input)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _maybe_inplace("celu", input, inplace, lambda x: _elu(x, alpha, 1.0, 1.0 / alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def _hardtanh(x: Tensor, lo: float, hi: float) -> Tensor:
    # torch's gradient: 0 at and beyond the bounds, 1 inside and at NaN
    with no_grad():
        clamped = x.clamp(lo, hi)
    return where((x <= lo) | (x >= hi), clamped, x)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
             ) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 0 at the bounds, as torch."""
    _float("hardtanh", input)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _maybe_inplace("hardtanh", input, inplace, lambda x: _hardtanh(x, min_val, max_val))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6); the gradient is 0 at 0 and at 6, as torch."""
    _float("relu6", input)
    return _maybe_inplace("relu6", input, inplace, lambda x: _hardtanh(x, 0.0, 6.0))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6; the gradient is 0 at -3 and 1 at 3, as torch."""
    _float("hardswish", input)

    def f(x: Tensor) -> Tensor:
        mid = (x > -3) & (x < 3)
        xm = where(mid, x, 0.0)  # (a NaN or inf outside never reaches the product's gradient)
        # (x * 0 below -3: NaN at -inf, as torch's x * relu6(x + 3) / 6)
        return where(x <= -3, x * 0.0, where(mid, xm * (xm + 3) * (1 / 6), x))
    return _maybe_inplace("hardswish", input, inplace, f)


_ONE_SIXTH_F32 = 0.1666666716337204  # float(numpy.float32(1 / 6))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6; the gradient is 1/6 strictly inside (-3, 3), else 0 (NaN too)."""
    _float("hardsigmoid", input)

    def f(x: Tensor) -> Tensor:
        with no_grad():
            exact = ((x + 3) / 6).clamp(0.0, 1.0)
        # torch's backward multiplies by 1/6 rounded to float32 (also for float64 inputs); the
        # value is the exact one
        lin = x * _ONE_SIXTH_F32 + 0.5
        return where((x > -3) & (x < 3), lin + (exact - lin).detach(), exact)
    return _maybe_inplace("hardsigmoid", input, inplace, f)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x, ``weight`` (1 or C values) along dim 1 (the channels)."""
    _float("prelu", input)
    check_tensor("prelu", weight, "weight")
    n = weight.numel()
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.ndim > 1 or (n != 1 and n != channels):
        raise RuntimeError(f"prelu: Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels} (input "
                           f"{tuple(input.shape)}); weight holds 1 value or one per channel "
                           "(dim 1)")
    if input.ndim >= 2 and n != 1:
        w = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    elif input.ndim == 0:
        w = weight.reshape(())
    else:
        w = weight.reshape((1,) * input.ndim)
    with no_grad():
        y = where(input > 0, input, w * input)
    wshape = weight.shape

    def backward(ctx: Context, g: Tensor) -> tuple[Tensor | None, ...]:
        x, w = ctx.x, ctx.w
        gx = gw = None
        if ctx.needs_input_grad[0]:
            # at x == 0: slope w, but torch's second derivatives treat 0 as the positive side
            gw0 = g * w
            gx = where(x > 0, g, where(x < 0, gw0, g + (gw0 - g).detach()))
        if ctx.needs_input_grad[1]:
            per = g * where(x >= 0, 0.0, x)  # (x * g below 0 and at NaN, 0 at x >= 0)
            if n == 1:
                gw = per.sum().reshape(wshape)
            else:
                gw = per.sum([d for d in range(per.ndim) if d != 1]).reshape(wshape)
        return gx, gw
    return record("prelu", y._data, (input, weight), backward, save={"x": input, "w": w})


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: in training, each x <= 0 is scaled by a slope drawn from
    U(lower, upper) (tensorlite's default random stream); in eval, by (lower + upper) / 2."""
    _float("rrelu", input)
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace=inplace)
    from ...ops.random import rand_like

    def f(x: Tensor) -> Tensor:
        slope = rand_like(x) * (upper - lower) + lower
        return where(x > 0, x, x * slope)
    return _maybe_inplace("rrelu", input, inplace, f)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
           ) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed stably on each side of 0."""
    _float("logsigmoid", input)
    neg, pos = input.clamp(max=0.0), input.clamp(min=0.0)
    return where(input < 0, neg - neg.exp().log1p(), -(-pos).exp().log1p())


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    _float("softsign", input)
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    _float("tanhshrink", input)
    return input - _tanh(input)


def _lambd(op: str, lambd: float) -> None:
    if not lambd >= 0:
        raise RuntimeError(f"{op}: lambda must be non-negative, got {lambd}")


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between (the gradient is 0 on the
    closed band, as torch)."""
    _float("softshrink", input)
    _lambd("softshrink", lambd)
    band = (input >= -lambd) & (input <= lambd)
    return where(band, 0.0, where(input > lambd, input - lambd, input + lambd))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0 (the gradient is 0 on the closed band, as torch)."""
    _float("hardshrink", input)
    return where((input >= -lambd) & (input <= lambd), 0.0, input)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: DTypeLike | None = None) -> Tensor:
    """softmax(-x) along ``dim``."""
    check_tensor("softmin", input)
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return _softmax(-input, dim, dtype=dtype)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), a and b the halves of ``input`` along ``dim``."""
    _float("glu", input)
    if input.ndim == 0:
        raise RuntimeError("glu: glu does not support scalars because halving size must be even")
    d = dim % input.ndim if -input.ndim <= dim < input.ndim else dim
    if not 0 <= d < input.ndim:
        raise IndexError(f"glu: Dimension out of range (expected to be in range of "
                         f"[{-input.ndim}, {input.ndim - 1}], but got {dim})")
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.split(n // 2, d) if n else (input, input)
    return a * _sigmoid(b)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``value`` where x <= threshold, else x."""
    check_tensor("threshold", input)
    return _maybe_inplace("threshold", input, inplace,
                          lambda x: where(x <= threshold, value, x))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return globals()["threshold"](input, threshold, value, inplace=True)
