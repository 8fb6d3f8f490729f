"""Functional forms of the basic layers (torch.nn.functional): linear, activations, dropout,
embedding, layer/batch normalization, one_hot.

Fused ops (linear, the activations with kinks, dropout, embedding, the norms) are ONE tape node
each: the forward calls a backend primitive, the backward is written with tensor ops beside it,
so gradients of gradients work.  The norms' backward reuses the forward's statistics, unless
grad mode is on inside backward (``create_graph=True``): then it rebuilds them from the input
with tensor ops, so that they are differentiated too.
"""
import math
import warnings

from ... import dtypes
from ...autograd.grad_mode import no_grad, state
from ...autograd.graph import record
from ...ops import log_softmax as _log_softmax, relu as _relu, sigmoid as _sigmoid
from ...ops import softmax as _softmax, tanh as _tanh
from ...ops.common import backend_of
from ...ops.indexing import index_add, masked_fill
from ...ops.pointwise import activation_grad, where
from ...tensor import Tensor, describe, wrap

__all__ = ["linear", "relu", "gelu", "leaky_relu", "softplus", "sigmoid", "tanh", "softmax",
           "log_softmax", "dropout", "embedding", "layer_norm", "batch_norm", "one_hot"]


def _tensor(op, x, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(x).__name__}")
    return x


def _float(op, x):
    """``x`` checked to be a floating point tensor (these ops are undefined for integers)."""
    if not dtypes.is_floating_point(_tensor(op, x).dtype):
        raise TypeError(f"{op}: expected a floating point input, got {describe(x)}; convert "
                        "it with .float()")
    return backend_of(x, op)


def _same(op, x, **params):
    """Every given parameter must be a tensor with ``x``'s dtype and device."""
    for name, t in params.items():
        if t is None:
            continue
        _tensor(op, t, name)
        if t.dtype != x.dtype or t.device != x.device:
            raise RuntimeError(f"{op}: input is {describe(x)} but {name} is {describe(t)}; "
                               "they must have the same dtype and device (convert with .to())")


# -- linear ---------------------------------------------------------------------------------------
_GELUS = {"gelu": "none", "gelu_tanh": "tanh"}


def linear(input, weight, bias=None, *, activation=None):
    """``input @ weight.T + bias``; ``input`` is (*, in_features), weight (out, in).

    ``activation`` (tensorlite's extension: None, 'relu', 'tanh', 'sigmoid', 'gelu' or
    'gelu_tanh') applies that activation in the same tape node, with the backend's fused
    bias + activation pass; the result equals the activation applied to the plain linear."""
    B = _float("linear", input)
    _same("linear", input, weight=weight, bias=bias)
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"linear: input {list(input.shape)} and weight {list(weight.shape)} "
                           "do not fit: weight must be (out_features, in_features) and the "
                           "input's last dimension in_features")
    out_f, in_f = weight.shape
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise RuntimeError(f"linear: bias has shape {list(bias.shape)}, expected [{out_f}]")
    if activation is not None and activation not in B.LINEAR_ACTIVATIONS:
        raise ValueError(f"linear: unknown activation {activation!r}; expected None or one of "
                         f"{', '.join(map(repr, B.LINEAR_ACTIVATIONS))}")
    b = None if bias is None else bias._data
    need_x, need_w = input.requires_grad, weight.requires_grad
    need_b = bias is not None and bias.requires_grad
    xshape = input.shape

    def backward(g, x, w, *rest):
        """``rest``: () without an activation, (output,) for relu, tanh and sigmoid, (bias,
        pre-activation) for the GELUs."""
        s, bt = rest[-1] if rest else None, rest[0] if len(rest) == 2 else None
        g2 = g if g.ndim == 2 else g.reshape(-1, out_f)
        x2 = x if x.ndim == 2 else x.reshape(-1, in_f)
        if state.grad_enabled:  # create_graph: every gradient as tensor ops (differentiable)
            if activation is None:
                gz = g2
            elif activation in _GELUS:
                z = linear(x, w, bt)
                gz = g2 * _gelu_grad(z if z.ndim == 2 else z.reshape(-1, out_f),
                                     _GELUS[activation])
            else:
                gz = activation_grad(activation, g2, s if s.ndim == 2 else s.reshape(-1, out_f))
            return ((gz @ w).reshape(xshape) if need_x else None,
                    gz.mT @ x2 if need_w else None, gz.sum(0) if need_b else None)
        # one backend call for g * act'(.) and the bias gradient (its column sum), then the
        # two matmuls, on the raw arrays: no tape ops where no graph is built
        gz, gb = B.linear_act_grad(g2._data, g2._data if s is None else s._data.reshape(g2.shape),
                                   activation, need_b)
        dev = g.device
        return (wrap(B.matmul(gz, w._data).reshape(xshape), dev) if need_x else None,
                wrap(B.matmul(gz.T, x2._data), dev) if need_w else None,
                wrap(gb, dev) if need_b else None)

    if activation is None:
        return record("linear", B.linear(input._data, weight._data, b), (input, weight, bias),
                      backward, saved=(input, weight))
    if activation in _GELUS:
        y, pre = B.linear(input._data, weight._data, b, activation, keep_pre=True)
        return record("linear", y, (input, weight, bias), backward,
                      saved=(input, weight, bias, wrap(pre, input.device)))
    return record("linear", B.linear(input._data, weight._data, b, activation),
                  (input, weight, bias), backward, saved=(input, weight), keep_output=True)


# -- activations ---------------------------------------------------------------------------------
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
    B = _float("leaky_relu", input)
    return record("leaky_relu", B.leaky_relu(input._data, negative_slope), (input,),
                  lambda g, x: (where(x > 0, g, g * negative_slope),), saved=(input,))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""
    B = _float("softplus", input)
    return record("softplus", B.softplus(input._data, beta, threshold), (input,),
                  lambda g, x: (where(x * beta > threshold, g, g * (x * beta).sigmoid()),),
                  saved=(input,))


def _erf(input):
    B = backend_of(input, "erf")
    return record("erf", B.erf(input._data), (input,),
                  lambda g, x: (g * (2 / math.sqrt(math.pi)) * (-(x * x)).exp(),),
                  saved=(input,))


def _gelu_grad(x, approximate):
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = (k * (x + 0.044715 * x * x * x)).tanh()
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    cdf = 0.5 * (1 + _erf(x * math.sqrt(0.5)))
    return cdf + x * (-0.5 * x * x).exp() * (1 / math.sqrt(2 * math.pi))


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi: the standard normal CDF), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    B = _float("gelu", input)
    return record("gelu", B.gelu(input._data, approximate), (input,),
                  lambda g, x: (g * _gelu_grad(x, approximate),), saved=(input,))


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


# -- dropout -------------------------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (training only;
    otherwise the input itself is returned)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    B = _float("dropout", input)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        mask = B.zeros(input.shape, dtype=input.dtype)
    else:
        mask = B.dropout_mask(input.shape, p, input.dtype)
    m = wrap(mask, input.device)
    return record("dropout", B.mul(input._data, mask), (input,), lambda g: (g * m,))


# -- embedding -----------------------------------------------------------------------------------
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` at the integer ``input``; repeated indices accumulate their gradient
    and the ``padding_idx`` row gets none."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not "
                                  "supported by tensorlite")
    _tensor("embedding", input)
    _tensor("embedding", weight, "weight")
    if dtypes.kind(input.dtype) != 1:
        raise TypeError(f"embedding: indices must be an integer tensor (int64 or int32), got "
                        f"{describe(input)}")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                           f"{describe(weight)}")
    if input.device != weight.device:
        raise RuntimeError(f"embedding: indices are {describe(input)} but weight is "
                           f"{describe(weight)}; move one with .to()")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings ({n})")
        padding_idx %= n
    B = backend_of(weight, "embedding")
    idx = input._data
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            raise IndexError(f"embedding: index {lo if lo < 0 else hi} is out of range for a "
                             f"weight with {n} rows (valid: 0..{n - 1})")
    shape = weight.shape

    def backward(g):
        if padding_idx is not None:
            g = masked_fill(g, (input == padding_idx).unsqueeze(-1), 0.0)
        return (index_add(g, shape, (idx,)),)
    return record("embedding", B.getitem(weight._data, idx), (weight,), backward)


# -- normalization -------------------------------------------------------------------------------
def _norm_backward(g, x, w, axes, param_axes, bshape, eps, need, xhat, rstd):
    """The gradients of ``y = xhat * w + b`` with ``xhat`` standardized over ``axes``.
    ``xhat``/``rstd`` are the forward's (constants); under create_graph they are rebuilt from
    ``x`` with tensor ops so their dependence on ``x`` is differentiated too."""
    need_x, need_w, need_b = need
    if state.grad_enabled:
        xc = x - x.mean(axes, keepdim=True)
        rstd = ((xc * xc).mean(axes, keepdim=True) + eps).rsqrt()
        xhat = xc * rstd
    gx = gw = gb = None
    if need_x:
        gxh = g if w is None else g * (w if bshape is None else w.reshape(bshape))
        gx = rstd * (gxh - gxh.mean(axes, keepdim=True)
                     - xhat * (gxh * xhat).mean(axes, keepdim=True))
    if need_w:
        gw = g * xhat
        gw = gw.sum(param_axes) if param_axes else gw
    if need_b:
        gb = g.sum(param_axes) if param_axes else g
    return gx, gw, gb


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Standardize over the trailing ``normalized_shape`` dims (biased variance), then
    ``* weight + bias`` (both of shape ``normalized_shape``)."""
    B = _float("layer_norm", input)
    _same("layer_norm", input, weight=weight, bias=bias)
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
    rstd_t = wrap(1.0 / B.xp.sqrt(var + eps), input.device)
    need = (input.requires_grad, weight is not None and weight.requires_grad,
            bias is not None and bias.requires_grad)
    return record("layer_norm", y, (input, weight, bias),
                  lambda g, x, w: _norm_backward(g, x, w, axes, param_axes, None, eps, need,
                                                 xhat_t, rstd_t),
                  saved=(input, weight))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (dim 1) of ``input`` (N, C, *).  Training: with the batch's
    statistics (biased variance), and the running statistics, when given, updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` (the unbiased variance).
    Evaluation: with the running statistics."""
    B = _float("batch_norm", input)
    _same("batch_norm", input, weight=weight, bias=bias, running_mean=running_mean,
          running_var=running_var)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, *), "
                         f"got {describe(input)}")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"batch_norm: {name} has shape {list(t.shape)}, expected [{c}] "
                               f"(the input's {c} channels)")
    axes = (0,) + tuple(range(2, input.ndim))
    bshape = (c,) + (1,) * (input.ndim - 2)
    n = input.numel() // c if c else 0
    need = (input.requires_grad, weight is not None and weight.requires_grad,
            bias is not None and bias.requires_grad)
    w = None if weight is None else weight._data.reshape(bshape)
    b = None if bias is None else bias._data.reshape(bshape)
    if training:
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {list(input.shape)}")
        y, xhat, mean, var = B.normalize(input._data, axes, eps, w, b)
        xhat_t = wrap(xhat if y is not xhat else B.copy(xhat), input.device)
        rstd_t = wrap(1.0 / B.xp.sqrt(var + eps), input.device)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(wrap(mean.reshape(c) * momentum,
                                                          input.device))
            if running_var is not None:
                running_var.mul_(1 - momentum).add_(wrap(var.reshape(c) * (momentum * n / (n - 1)),
                                                         input.device))
        return record("batch_norm", y, (input, weight, bias),
                      lambda g, x, wt: _norm_backward(g, x, wt, axes, axes, bshape, eps, need,
                                                      xhat_t, rstd_t),
                      saved=(input, weight))
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be given in "
                           "evaluation mode (training=False)")
    xp = B.xp
    mean = running_mean._data.reshape(bshape)
    rstd = 1.0 / xp.sqrt(running_var._data.reshape(bshape) + eps)
    scale = rstd if w is None else rstd * w
    y = (input._data - mean) * scale
    if b is not None:
        y += b
    mean_t, rstd_t = wrap(mean.copy(), input.device), wrap(rstd, input.device)

    def backward(g, x, wt):
        gx = gw = gb = None
        if need[0]:
            gx = g * (rstd_t if wt is None else wt.reshape(bshape) * rstd_t)
        if need[1]:
            gw = (g * ((x - mean_t) * rstd_t)).sum(axes)
        if need[2]:
            gb = g.sum(axes)
        return gx, gw, gb
    return record("batch_norm", y, (input, weight, bias), backward, saved=(input, weight))


# -- one_hot -------------------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape (*, num_classes) with a 1 at each index of ``tensor``."""
    _tensor("one_hot", tensor)
    if dtypes.kind(tensor.dtype) != 1:
        raise RuntimeError(f"one_hot is only applicable to index tensors of an integer type, got "
                           f"{describe(tensor)}")
    B = backend_of(tensor, "one_hot")
    idx = tensor._data
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("one_hot: can not infer the total number of classes from an empty "
                               "tensor; pass num_classes")
        num_classes = int(idx.max()) + 1
    if idx.size:
        if int(idx.min()) < 0:
            raise RuntimeError("one_hot: class values must be non-negative")
        if int(idx.max()) >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                               f"({num_classes}), got {int(idx.max())}")
    out = B.xp.expand_dims(idx, -1) == B.arange(num_classes, dtype=idx.dtype)
    return wrap(out.astype(dtypes.int64), tensor.device)
