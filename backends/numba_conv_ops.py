"""The numba backend's convolution and pooling over planes of (N, C, H, W) images.  A mixin of
NumbaBackend; the kernels (numba_conv.py) are imported when first used: a model without them
(an MLP) does not pay for creating their dispatchers at start-up."""
import numpy as np

from .numba_common import _FLOATS, _fits

_INT64 = np.dtype(np.int64)


class _OnFirstUse:
    """The convolution and pooling kernels (numba_conv), imported when first used: a model
    without them (an MLP) does not pay for creating their dispatchers at start-up."""

    def __getattr__(self, name):
        global C
        from . import numba_conv
        C = numba_conv  # from now on the module itself: no detour per kernel call
        return getattr(numba_conv, name)


C = _OnFirstUse()


class NumbaConvolution:
    """im2col/col2im, max pooling and the convolution bias gradient (a mixin before the
    reference)."""

    # -- convolution and pooling: planes of (N, C, H, W) images --------------------------------
    def sum(self, x, axis=None, keepdims=False):
        # a convolution's bias gradient: NumPy's reduction over (0, 2, 3) is slow strided work
        if axis != (0, 2, 3) or keepdims or x.ndim != 4 or x.size == 0 or not _fits(x):
            return super().sum(x, axis, keepdims)
        out = np.empty(x.shape[1], x.dtype)
        C.channel_sum(x.reshape(x.shape[0], x.shape[1], -1), out)
        return out

    def im2col(self, x, kernel, stride, dilation, out_size, padding=(0, 0, 0, 0),
               batch_inner=False):
        if x.ndim != 4 or not _fits(x) or x.size == 0 or min(out_size) < 1:
            return super().im2col(x, kernel, stride, dilation, out_size, padding, batch_inner)
        n, c = x.shape[:2]
        kh, kw = kernel
        shape = (c, kh, kw, n, *out_size) if batch_inner else (n, c, kh, kw, *out_size)
        out = self._new(shape, x.dtype)
        self._run(out.size, C.im2col_par, C.im2col_body,
                  (x, kh, kw, *stride, *dilation, padding[0], padding[2], *out_size,
                   bool(batch_inner), out), n * c * kh * kw)
        return out

    def col2im(self, cols, shape, stride, dilation, padding=(0, 0, 0, 0), batch_inner=False):
        n, c = shape[:2]
        if cols.ndim != 6 or not _fits(cols) or cols.size == 0 or len(shape) != 4 or \
                ((cols.shape[3], cols.shape[0]) if batch_inner else cols.shape[:2]) != (n, c):
            return super().col2im(cols, shape, stride, dilation, padding, batch_inner)
        kh, kw, oh, ow = cols.shape[1:3] + cols.shape[4:] if batch_inner else cols.shape[2:]
        out = self._new(tuple(shape), cols.dtype)
        self._run(cols.size, C.col2im_par, C.col2im_body,
                  (cols, kh, kw, oh, ow, *stride, *dilation, padding[0], padding[2],
                   bool(batch_inner), out), n * c)
        return out

    def max_pool2d(self, x, kernel, stride, padding, dilation, out_size):
        if x.ndim != 4 or not _fits(x) or x.size == 0:
            return super().max_pool2d(x, kernel, stride, padding, dilation, out_size)
        n, c, h, w = x.shape
        values = self._new((n, c, *out_size), x.dtype)
        indices = self._new((n, c, *out_size), _INT64)
        self._run(x.size, C.max_pool_par, C.max_pool_body,
                  (x.reshape(n * c, h, w), *kernel, *stride, *padding, *dilation,
                   values.reshape(n * c, *out_size), indices.reshape(n * c, *out_size)), n * c)
        return values, indices

    def max_pool2d_backward(self, g, indices, shape):
        n, c, h, w = shape
        if (g.ndim != 4 or g.shape != indices.shape or g.shape[:2] != (n, c) or g.size == 0
                or type(g) is not np.ndarray or g.dtype not in _FLOATS
                or type(indices) is not np.ndarray or indices.dtype != np.int64):
            return super().max_pool2d_backward(g, indices, shape)
        # (g is often a slice of a padded convolution gradient: one small copy, then one pass)
        g, indices = np.ascontiguousarray(g), np.ascontiguousarray(indices)
        out = self._new(tuple(shape), g.dtype)
        ok = self._run(out.size, C.max_pool_backward_par, C.max_pool_backward_body,
                       (g.reshape(n * c, -1), indices.reshape(n * c, -1),
                        out.reshape(n * c, h * w)), n * c)
        if not ok:  # an index outside the plane: the reference raises the error
            return super().max_pool2d_backward(g, indices, shape)
        return out
