"""The reference nn kernels: activations and their gradients, softmax, the fused linear layer,
normalization, dropout, convolution and pooling.  Accelerated backends override these with
fused kernels that check their fast path applies and otherwise call the reference here
(``super()``).  Mixins of the reference backend over ``self.xp`` (see backends/contract.py).
"""
import math

_GELU_APPROXIMATE = {"gelu": "none", "gelu_tanh": "tanh"}  # linear's activation -> gelu's


class NNKernels:
    """Activations, softmax, the fused linear layer, normalization and dropout."""

    # -- activations and their gradients ---------------------------------------------------------
    # A gradient takes the activation's saved output y: g * act'(x), one pass each.
    def relu_grad(self, g, y):
        """g where y > 0, else 0."""
        # zero only where y <= 0: a NaN output passes its gradient on, as PyTorch's threshold
        return self.xp.where(y <= 0, 0, g).astype(g.dtype, copy=False)

    def tanh_grad(self, g, y):
        """g * (1 - y**2)."""
        return g * (1 - y * y)

    def sigmoid_grad(self, g, y):
        """g * y * (1 - y)."""
        return g * y * (1 - y)

    # -- softmax along an axis ----------------------------------------------------------------------
    def softmax(self, x, axis):
        """exp(x) normalized to sum 1 along ``axis`` (the max taken out first)."""
        if x.size == 0:  # no max to take out
            return self.xp.empty_like(x)
        if x.dtype.kind == "V":  # bfloat16: in float32, rounded once (as PyTorch)
            return self.softmax(x.astype("float32"), axis).astype(x.dtype)
        e = self.xp.exp(x - self.xp.max(x, axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def log_softmax(self, x, axis):
        """log(softmax(x)) along ``axis``, computed stably."""
        if x.size == 0:
            return self.xp.empty_like(x)
        if x.dtype.kind == "V":  # bfloat16: in float32, rounded once (as PyTorch)
            return self.log_softmax(x.astype("float32"), axis).astype(x.dtype)
        s = x - self.xp.max(x, axis=axis, keepdims=True)
        s -= self.xp.log(self.xp.exp(s).sum(axis=axis, keepdims=True))
        return s

    def softmax_backward(self, g, y, axis, log=False):
        """The gradient at x of ``y = softmax(x, axis)``: ``y * (g - sum(g * y))``; with
        ``log``, of ``y = log_softmax(x, axis)``: ``g - exp(y) * sum(g)`` (sums along axis)."""
        if log:
            return g - self.xp.exp(y) * g.sum(axis=axis, keepdims=True)
        return y * (g - (g * y).sum(axis=axis, keepdims=True))

    # -- the fused linear layer -----------------------------------------------------------------
    def linear(self, x, w, b=None, activation=None, keep_pre=False):
        """act(x @ w.T + b): one matmul over the flattened batch dims, then the bias and the
        activation (None or one of LINEAR_ACTIVATIONS; relu, tanh and sigmoid by bias_act).
        ``keep_pre`` (None or a GELU) returns (y, x @ w.T + b): GELU's backward needs both."""
        rows = math.prod(x.shape[:-1])  # not -1: a size-0 feature dim leaves it ambiguous
        out = self.matmul(x.reshape(rows, x.shape[-1]) if x.ndim != 2 else x, w.T)
        if activation in ("relu", "tanh", "sigmoid"):
            y = self.bias_act(out, b, activation)
        else:
            if b is not None:
                out += b
            y = out if activation is None else self.gelu(out, _GELU_APPROXIMATE[activation])
        if x.ndim != 2:
            y, out = (a.reshape(*x.shape[:-1], w.shape[0]) for a in (y, out))
        return (y, out) if keep_pre else y

    # -- the fused linear's backward ------------------------------------------------------------
    # F.linear(..., activation=) and Sequential(Linear, ReLU, ...) are one tape node over
    # linear() and these.  An activation's backward takes its output ("s") for relu, tanh and
    # sigmoid, and its input (the pre-activation) for the GELUs.
    LINEAR_ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "gelu_tanh")

    def bias_act(self, z, b=None, activation=None):
        """activation(z + b) as a new array, for ``z`` (..., N), a bias ``b`` (N,) or None and
        ``activation`` None or one of LINEAR_ACTIVATIONS (one pass where a backend fuses it)."""
        xp = self.xp
        y = z + b if b is not None else self.copy(z)
        if activation == "relu":
            return xp.maximum(y, 0, out=y)
        if activation == "tanh":
            return xp.tanh(y, out=y)
        if activation == "sigmoid":
            return self.sigmoid(y)
        return y if activation is None else self.gelu(y, _GELU_APPROXIMATE[activation])

    def gelu_grad(self, g, x, approximate):
        """g * gelu'(x), the derivative written out as in the tape's composite formula."""
        xp = self.xp
        if approximate == "tanh":
            k = 0.7978845608028654  # sqrt(2 / pi)
            t = xp.tanh(k * (x + 0.044715 * x * x * x))
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
        cdf = 0.5 * (1 + self.erf(x * 0.7071067811865476))
        return g * (cdf + x * xp.exp(-0.5 * x * x) * 0.3989422804014327)

    def linear_act_grad(self, g, s, activation, bias=True):
        """The gradient at a fused linear's pre-activation, g * act'(.), and its column sum
        (the bias gradient; None unless ``bias``), for 2-D ``g`` and ``s``."""
        if activation is None:
            gz = g
        elif activation in _GELU_APPROXIMATE:
            gz = self.gelu_grad(g, s, _GELU_APPROXIMATE[activation])
        else:
            gz = getattr(self, f"{activation}_grad")(g, s)
        return gz, (self.sum(gz, 0) if bias else None)

    def leaky_relu(self, x, negative_slope):
        """x where x > 0, else x * negative_slope."""
        return self.xp.where(x > 0, x, x * negative_slope)

    def softplus(self, x, beta, threshold):
        """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
        bx = x * beta
        return self.xp.where(bx > threshold, x, self.xp.logaddexp(0, bx) / beta).astype(
            x.dtype, copy=False)

    def gelu(self, x, approximate):
        """x * Phi(x) (``approximate="tanh"``: the tanh approximation)."""
        if approximate == "tanh":
            inner = self.xp.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
            return (0.5 * x * (1 + inner)).astype(x.dtype, copy=False)
        return (0.5 * x * (1 + self.erf(x * 0.7071067811865476))).astype(x.dtype, copy=False)

    # -- normalization and dropout ---------------------------------------------------------------
    def dropout_mask(self, shape, p, dtype):
        """1/(1-p) where an element is kept (probability 1-p), else 0."""
        keep = self.rand(shape, dtype) >= p
        return keep.astype(dtype) * (1.0 / (1.0 - p))

    def normalize(self, x, axes, eps, weight=None, bias=None):
        """Standardize ``x`` over ``axes`` (biased variance), then scale and shift by the
        broadcastable ``weight`` and ``bias``.  Returns (y, xhat, mean, var)."""
        xp = self.xp
        mean = x.mean(axis=axes, keepdims=True)
        xhat = x - mean
        var = (xhat * xhat).mean(axis=axes, keepdims=True)
        xhat *= 1.0 / xp.sqrt(var + eps)
        y = xhat if weight is None else xhat * weight
        if bias is not None:
            y = y + bias if y is xhat else xp.add(y, bias, out=y)
        return y, xhat, mean, var

    def normalize_backward(self, g, xhat, rstd, weight, axes, param_axes=None):
        """The gradients of ``y = xhat * weight + bias`` (``normalize`` over ``axes``,
        ``weight`` None or broadcastable, ``rstd`` 1/sqrt(var + eps) with axes kept) at ``x``,
        ``weight`` and ``bias``: (gx, gw, gb), gw and gb summed over ``param_axes`` (None: the
        axes before ``axes``, layer_norm's; batch_norm passes ``axes``)."""
        gxh = g if weight is None else g * weight
        gx = gxh - gxh.mean(axis=axes, keepdims=True)
        gx -= xhat * (gxh * xhat).mean(axis=axes, keepdims=True)
        gx *= rstd
        lead = tuple(range(g.ndim - len(axes))) if param_axes is None else tuple(param_axes)
        return gx, (g * xhat).sum(axis=lead), g.sum(axis=lead)

    # -- attention ------------------------------------------------------------------------------
    def attention(self, q, k, v, scale, causal=False):
        """softmax((q * scale) @ k^T) @ v over (..., L, E), (..., S, E), (..., S, Ev) arrays
        of one float dtype and the same leading dims; ``causal``: query i attends to keys
        j <= i only (torch's top-left is_causal).  Returns (out (..., L, Ev), the
        probabilities (..., L, S), 0 where masked)."""
        xp = self.xp
        s = self.matmul(q * scale, xp.swapaxes(k, -1, -2))
        if causal:
            L, S = s.shape[-2:]
            s = xp.where(xp.tri(L, S, dtype=bool), s, -xp.inf)
        p = self.softmax(s, -1)
        return self.matmul(p, v), p

    def attention_backward(self, g, q, k, v, p, scale, causal=False):
        """The gradients at q, k and v of ``attention(q, k, v, scale, causal)`` given its
        probabilities ``p`` and the output's gradient ``g``: (gq, gk, gv)."""
        xp = self.xp
        gv = self.matmul(xp.swapaxes(p, -1, -2), g)
        gs = self.softmax_backward(self.matmul(g, xp.swapaxes(v, -1, -2)), p, -1)
        gq = self.matmul(gs, k)
        gq *= scale
        return gq, self.matmul(xp.swapaxes(gs, -1, -2), q * scale), gv


class ConvKernels:
    """Convolution and pooling over (N, C, H, W) images."""

    # Images are (N, C, H, W).  `kernel`, `stride`, `dilation` are (h, w) pairs, `out_size` is
    # (OH, OW); a window view is (N, C, kh, kw, OH, OW): element [n, c, i, j, y, x] is
    # image[n, c, y*sh + i*dh, x*sw + j*dw].  Padding is applied by the caller (pad_constant).
    def pad_constant(self, x, widths, value=0):
        """``x`` grown by ``widths[d] = (before, after)`` elements of ``value`` on each axis d."""
        shape = tuple(n + a + b for n, (a, b) in zip(x.shape, widths))
        out = self.xp.full(shape, value, dtype=x.dtype)
        out[tuple(slice(a, a + n) for n, (a, _) in zip(x.shape, widths))] = x
        return out

    def windows(self, x, kernel, stride, dilation, out_size):
        """The sliding windows of ``x`` as a strided view (no copy)."""
        sn, sc, sh, sw = x.strides
        return self.xp.lib.stride_tricks.as_strided(
            x, x.shape[:2] + tuple(kernel) + tuple(out_size),
            (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]))

    def im2col(self, x, kernel, stride, dilation, out_size, padding=(0, 0, 0, 0),
               batch_inner=False):
        """The windows of ``x`` copied out contiguously: (N, C, kh, kw, OH, OW).  ``padding``
        (top, bottom, left, right): zeros around each plane first.  ``batch_inner``: laid out
        (C, kh, kw, N, OH, OW) instead, a convolution's (C*kh*kw, N*OH*OW) matrix, so that
        the whole batch is one matrix product."""
        top, bottom, left, right = padding
        if top or bottom or left or right:
            x = self.pad_constant(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        win = self.windows(x, kernel, stride, dilation, out_size)
        return self.xp.ascontiguousarray(win.transpose(1, 2, 3, 0, 4, 5) if batch_inner else win)

    def col2im(self, cols, shape, stride, dilation, padding=(0, 0, 0, 0), batch_inner=False):
        """The adjoint of im2col: zeros(shape) (N, C, H, W) with every window column added back
        in place (one strided add per kernel position, in order); ``padding`` and
        ``batch_inner`` as im2col's (what falls in the padding is dropped)."""
        if batch_inner:
            cols = cols.transpose(3, 0, 1, 2, 4, 5)
        n, c, h, w = shape
        top, bottom, left, right = padding
        out = self.xp.zeros((n, c, h + top + bottom, w + left + right), dtype=cols.dtype)
        _, _, kh, kw, oh, ow = cols.shape
        for i in range(kh):
            rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (oh - 1) + 1, stride[0])
            for j in range(kw):
                out[:, :, rows, j * dilation[1]:j * dilation[1] + stride[1] * (ow - 1) + 1:
                    stride[1]] += cols[:, :, i, j]
        if top or bottom or left or right:
            return self.xp.ascontiguousarray(out[:, :, top:top + h, left:left + w])
        return out

    def max_pool2d(self, x, kernel, stride, padding, dilation, out_size):
        """(values, indices) of the max of each window of ``x`` padded with -inf by ``padding``
        (top, left); indices are flat positions in the unpadded H*W plane: the window's first
        maximal element inside the plane (a padded -inf never wins, even over an -inf of the
        image), or its last NaN (PyTorch's kernel takes every NaN it meets); -1 for a window with no element in the plane (a
        dilated window can lie entirely in the padding: its value is -inf, its gradient lost)."""
        xp = self.xp
        n, c, h, w = x.shape
        (kh, kw), (oh, ow) = kernel, out_size
        need = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out_size, stride, dilation,
                                                                    kernel)]
        after = (max(0, need[0] - h - padding[0]), max(0, need[1] - w - padding[1]))
        low = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        xpad = self.pad_constant(x, ((0, 0), (0, 0), (padding[0], after[0]),
                                     (padding[1], after[1])), low)
        win = self.windows(xpad, kernel, stride, dilation, out_size)
        flat = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c, oh, ow, kh * kw)  # one copy
        # position of each window element in the plane: (OH, 1, kh, 1) rows, (OW, 1, kw) cols
        rows = (xp.arange(oh).reshape(oh, 1, 1, 1) * stride[0] - padding[0]
                + xp.arange(kh).reshape(kh, 1) * dilation[0])
        cols = xp.arange(ow).reshape(ow, 1, 1) * stride[1] - padding[1] + xp.arange(kw) * dilation[1]
        pos = (rows * w + cols).reshape(oh, ow, kh * kw)
        values = flat.max(axis=-1)  # NaN if the window has one
        inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).reshape(oh, ow, -1)
        arg = ((flat == values[..., None]) & inside).argmax(axis=-1)
        nans = (flat != flat) & inside
        last_nan = kh * kw - 1 - nans[..., ::-1].argmax(axis=-1)
        arg = xp.where(nans.any(axis=-1), last_nan, arg)
        pos = xp.where(inside, pos, -1)  # a window with no element inside keeps -1
        return values, pos[xp.arange(oh).reshape(oh, 1), xp.arange(ow), arg].astype(xp.int64)

    def max_pool2d_backward(self, g, indices, shape):
        """zeros(shape) (N, C, H, W) with ``g`` (N, C, OH, OW) added at the flat H*W positions
        ``indices``; positions picked by several windows accumulate, -1 (a window with no
        element in the plane) takes nothing."""
        xp = self.xp
        n, c, h, w = shape
        flat = (indices.reshape(n * c, indices.shape[-2] * indices.shape[-1])
                + xp.arange(0, n * c * h * w, h * w).reshape(-1, 1))
        keep = (indices >= 0).ravel()
        out = xp.bincount(flat.ravel()[keep], weights=g.ravel()[keep], minlength=n * c * h * w)
        return out.astype(g.dtype, copy=False).reshape(shape)
