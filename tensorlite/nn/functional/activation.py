"""Activations: relu, sigmoid, tanh, leaky_relu, softplus, gelu, softmax, log_softmax.

relu, sigmoid, tanh, softmax and log_softmax are tensorlite's tensor ops; the others are one
tape node each, the forward a backend primitive and the backward tensor ops beside it (so
gradients of gradients work).  Which of them linear can fuse is fusion.py's table.
"""
import math
import warnings

from ...autograd.grad_mode import no_grad
from ...autograd.graph import record
from ...creation import zeros_like
from ...ops import log_softmax as _log_softmax, relu as _relu, sigmoid as _sigmoid
from ...ops import softmax as _softmax, tanh as _tanh
from ...ops.common import backend_of
from ...ops.pointwise import where
from ._common import float_backend

__all__ = ["relu", "gelu", "leaky_relu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax"]


def relu(input, inplace=False):
    """max(x, 0); the gradient at 0 is 0, as PyTorch.  ``inplace`` is accepted for API
    compatibility; the result is always a new tensor."""
    return _relu(input)


def sigmoid(input):
    return _sigmoid(input)


def tanh(input):
    return _tanh(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x (at 0 the gradient is negative_slope, as PyTorch)."""
    B = float_backend("leaky_relu", input)
    return record("leaky_relu", B.leaky_relu(input._data, negative_slope), (input,),
                  lambda ctx, g: (leaky_relu_backward(g, ctx.x, negative_slope),),
                  save={"x": input})


def leaky_relu_backward(g, x, negative_slope):
    """g where x > 0, else g * negative_slope (NaN > 0 is false), as PyTorch's
    leaky_relu_backward.  A tape node of (g, x): its derivative is the same mask for g and a
    zero tensor (not None) for x, so a NaN upstream of x gives NaN second derivatives, as torch."""
    with no_grad():
        out = where(x > 0, g, g * negative_slope)

    def backward(ctx, gg):
        return (leaky_relu_backward(gg, ctx.x, negative_slope)
                if ctx.needs_input_grad[0] else None,
                zeros_like(gg) if ctx.needs_input_grad[1] else None)
    return record("leaky_relu_backward", out._data, (g, x), backward, save={"x": x})


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""
    B = float_backend("softplus", input)
    return record("softplus", B.softplus(input._data, beta, threshold), (input,),
                  lambda ctx, g: (softplus_backward(g, ctx.x, beta, threshold),),
                  save={"x": input})


def softplus_backward(g, x, beta, threshold):
    """g where beta x > threshold, else g * sigmoid(beta x): a tape node of (g, x) with
    PyTorch's derivatives, whose second derivative for x is masked by beta x < threshold
    (strictly: at beta x == threshold it is 0, as torch's softplus_double_backward)."""
    with no_grad():
        bx = x * beta
        out = where(bx > threshold, g, g * bx.sigmoid())

    def backward(ctx, gg):
        x, gx = ctx.x, None
        if ctx.needs_input_grad[1]:
            bx = x * beta
            s = bx.sigmoid()
            gx = gg * ctx.g * s * (1 - s) * (bx < threshold) * beta  # NaN stays NaN, as torch
        return (softplus_backward(gg, x, beta, threshold) if ctx.needs_input_grad[0] else None,
                gx)
    return record("softplus_backward", out._data, (g, x), backward, save={"g": g, "x": x})


def erf(input):
    """The error function, as a tape op (GELU's derivative needs it differentiable)."""
    B = backend_of(input, "erf")
    return record("erf", B.erf(input._data), (input,),
                  lambda ctx, g: (g * (2 / math.sqrt(math.pi)) * (-(ctx.x * ctx.x)).exp(),),
                  save={"x": input})


def gelu_grad(x, approximate):
    """d gelu(x) / dx with tensor ops (so it is differentiable again)."""
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = (k * (x + 0.044715 * x * x * x)).tanh()
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    cdf = 0.5 * (1 + erf(x * math.sqrt(0.5)))
    return cdf + x * (-0.5 * x * x).exp() * (1 / math.sqrt(2 * math.pi))


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi: the standard normal CDF), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    B = float_backend("gelu", input)
    return record("gelu", B.gelu(input._data, approximate), (input,),
                  lambda ctx, g: (g * gelu_grad(ctx.x, approximate),), save={"x": input})


def _softmax_dim(op, ndim):
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return _log_softmax(input, dim, dtype=dtype)
