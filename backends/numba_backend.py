"""The numba backend: the NumPy backend's host arrays, with Numba-compiled kernels on the hot path.

Every override checks that its kernel applies (float32/float64, C-contiguous, the shapes it
was written for) and otherwise calls the NumPy reference (``super()``), so any input works.
Kernels compile on first use and are cached on disk.  Building this backend imports Numba;
importing tensorlite does not.

Elementwise ops (activations, their gradients, bias + activation, the fused linear's two
halves) run kernels generated from their scalar descriptions (scalar_ops.py, through
numba_codegen.py): one description per op, any layout, with vectorized float32 erf
(numba_math.py); exp, log and tanh stay NumPy's SIMD loops, and small arrays the reference
(see GENERATED_MIN).  The rest (softmax rows, optimizer steps, convolution) are the
hand-written kernels of numba_kernels.py and numba_conv.py.

Threads.  A kernel runs on Numba's thread pool (``NUMBA_NUM_THREADS`` threads, or
numba.set_num_threads) only for at least ``PARALLEL_MIN`` elements.  Between the BLAS calls of
a training step threads do not pay on a small machine: OpenBLAS already uses every core, and
an OpenMP pool that spins after its loop (libgomp's default, for milliseconds) steals the
cores from the next matmul; measured on 2 cores, a 256x4096 bias + ReLU after each matmul ran
3.6x slower on a spinning pool than on one thread.  So the pool is kept for large arrays, and
it is started with ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep when done) unless the user set
a policy; the variable is restored right after, so nothing else in the process (PyTorch's
own OpenMP, child processes) sees it.
"""
import functools
import os
import threading
from math import prod
from sys import getrefcount as _refcount

import numba
import numpy as np

from . import numba_kernels as K
from .base import REFCOUNTS_KNOWN
from .numba_codegen import Elementwise
from .numba_norm import NumbaNorm
from .numba_reduce import NumbaReductions
from .numba_sorting import NumbaSorting
from .numpy_backend import NumpyBackend
from .scalar_ops import ACTIVATIONS, OPS, Scalar, activation_grad

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)
_ACTS = (None,) + ACTIVATIONS
_KEEPS_PRE = ("gelu", "gelu_tanh")  # a fused linear's backward needs their pre-activation


def _fits(*arrays):
    """True when every array is a C-contiguous float32/float64 ndarray of one dtype."""
    dt = arrays[0].dtype
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous:
            return False
    return dt in _FLOATS


def _floats(*arrays):
    """True when every array is a non-empty float32/float64 ndarray (of at least one dim) of
    one dtype, any layout: what the generated elementwise kernels take."""
    dt = arrays[0].dtype
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dt or a.ndim == 0 or a.size == 0:
            return False
    return dt in _FLOATS


@functools.cache
def _kernel(kind, name, colsum=False):
    """The generated kernel of ``kind`` for the op or activation ``name``: "op" (the op's
    forward), "bias_act" (act(z + b)), "bias_act_keep" (z + b and act(z + b)) or "grad"
    (g * act'(s), with the column sums of the result when ``colsum``)."""
    if kind == "grad":
        prog = activation_grad(name)
    elif kind == "op":
        prog = OPS[name].forward
    else:
        prog = Scalar("z + b") if name is None else OPS[name].forward.compose(x="z + b")
        if kind == "bias_act_keep":
            prog = prog.with_outputs("_x0", "out0")
    return Elementwise(prog, colsum)


def _empty(dtype):
    return np.empty(0, dtype)


class _OnFirstUse:
    """The convolution and pooling kernels (numba_conv), imported when first used: a model
    without them (an MLP) does not pay for creating their dispatchers at start-up."""

    def __getattr__(self, name):
        global C
        from . import numba_conv
        C = numba_conv  # from now on the module itself: no detour per kernel call
        return getattr(numba_conv, name)


C = _OnFirstUse()


_pool_started = []


def _threads():
    """numba.get_num_threads(), starting Numba's pool the first time with passive OpenMP
    threads (see the module docstring); the environment is left as it was."""
    if not _pool_started:
        before = os.environ.get("OMP_WAIT_POLICY")
        if before is None:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read once, when libgomp is loaded
        try:
            numba.get_num_threads()  # loads the threading layer
        finally:
            if before is None:
                del os.environ["OMP_WAIT_POLICY"]
        _pool_started.append(True)
    return numba.get_num_threads()


class Workspace:
    """Reusable host buffers for the large arrays the backend returns (matmul and kernel
    outputs, gradients): a training step's arrays are reused by the next step instead of being
    allocated, page-faulted in and handed back to the OS every time.

    A buffer is handed out as a view; it is free again once no view of it is alive, i.e. when
    the pool holds the only reference (views of views refer to the buffer itself, so any live
    array made from it keeps it busy).  At most ``per_shape`` buffers are kept per (shape,
    dtype) and ``max_bytes`` in all; beyond that arrays are plain allocations (always, on a
    Python whose reference counts the tests have not checked: base.REFCOUNTS_KNOWN).
    """

    def __init__(self, min_bytes=1 << 16, per_shape=16, max_bytes=1 << 30):
        self.min_bytes, self.per_shape, self.max_bytes = min_bytes, per_shape, max_bytes
        self.buffers = {}  # (shape, dtype) -> [buffer, ...]
        self.nbytes = 0
        self._lock = threading.Lock()  # two threads must never be handed the same buffer

    def empty(self, shape, dtype):
        """An uninitialized array; ``shape`` a tuple, ``dtype`` a numpy dtype object."""
        n = dtype.itemsize * prod(shape)
        if n < self.min_bytes or not REFCOUNTS_KNOWN:
            return np.empty(shape, dtype)
        key = (shape, dtype)
        with self._lock:
            bufs = self.buffers.get(key)
            if bufs is None:
                bufs = self.buffers[key] = []
            for buf in bufs:
                if _refcount(buf) == 3:  # the list, this loop's name and the call's argument
                    return buf[...]
            buf = np.empty(shape, dtype)
            if len(bufs) < self.per_shape and self.nbytes + n <= self.max_bytes:
                bufs.append(buf)
                self.nbytes += n
                return buf[...]
            return buf

    def lent_whole(self, x):
        """Whether ``x`` is the one live view of a buffer of this pool, covering all of it (so
        no other array reaches that memory)."""
        buf = x.base
        if buf is None or type(x) is not np.ndarray or not x.flags.c_contiguous or \
                x.size != buf.size:
            return False
        with self._lock:
            ours = any(b is buf for b in self.buffers.get((buf.shape, buf.dtype), ()))
            # references to buf: the pool's list, x's base, this name, getrefcount's argument
            return ours and _refcount(buf) == 4

    def clear(self):
        """Forget every buffer (those still in use live on as ordinary arrays)."""
        with self._lock:
            self.buffers = {}
            self.nbytes = 0


class NumbaBackend(NumbaSorting, NumbaNorm, NumbaReductions, NumpyBackend):
    name = "numba"
    device = "cpu"

    PARALLEL_MIN = 1 << 20  # elements: below this a kernel runs on the calling thread

    def __init__(self):
        super().__init__()
        self.workspace = Workspace()
        self._new = self.workspace.empty

    def private(self, x):
        """As NumPy's, and also a workspace buffer's one live view: .grad may keep it (the
        buffer is busy until that gradient is dropped)."""
        return super().private(x) or self.workspace.lent_whole(x)

    def empty_cache(self):
        """Let go of the reusable buffers (as torch.cuda.empty_cache does for its pool)."""
        self.workspace.clear()

    # -- outputs from the workspace: matmul and the gradient copies --------------------------
    def matmul(self, a, b):
        if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
                and a.dtype == b.dtype and a.dtype in _FLOATS and a.shape[1] == b.shape[0]):
            return np.matmul(a, b, out=self._new((a.shape[0], b.shape[1]), a.dtype))
        return super().matmul(a, b)  # (the reference: bfloat16 rounded back from float32)

    def copy(self, x):
        if type(x) is np.ndarray and x.dtype in _FLOATS and x.ndim:
            out = self._new(x.shape, x.dtype)
            np.copyto(out, x)
            return out
        return super().copy(x)

    def _run(self, size, par, body, args, n):
        """``body(*args, 0, n)`` on this thread, or ``par(*args, threads)`` on the pool."""
        if size >= self.PARALLEL_MIN:
            threads = _threads()  # (a few microseconds: only asked when it counts)
            if threads > 1:
                return par(*args, threads)
        return body(*args, 0, n)

    # -- elementwise ops: kernels generated from their scalar descriptions (scalar_ops) ---------
    def _ew(self, kernel, *operands, out=None, rows=None):
        """``kernel`` (an Elementwise) over ``operands`` on this backend: on the pool for a
        large result, outputs from the workspace."""
        size = max(a.size for a in operands if type(a) is np.ndarray)
        threads = _threads() if size >= self.PARALLEL_MIN else 1
        return kernel(*operands, out=out, threads=threads, new=self._new, rows=rows)

    def _unary(self, name, x, *params):
        (y,) = self._ew(_kernel("op", name), x, *params)
        return y

    # exp, log and tanh stay NumPy's: its SIMD loops beat the generated ones here (65536 float32
    # on one core: exp 30 vs 34 us, log 24 vs 44 us, tanh 24 vs 61 us), so a fused linear with
    # tanh adds the bias and calls NumPy's tanh too (then it equals the unfused one, bit for bit).
    # Below GENERATED_MIN elements a generated kernel's call (layout, dispatch: about 5 us)
    # costs more than NumPy's few passes, so small arrays take the reference, fused or not;
    # erf and GELU always take the kernel (their reference is a float64 polynomial: 70x slower).
    GENERATED_MIN = 1 << 13

    def _gen(self, *arrays):
        """Whether the generated kernels take these arrays (floats, large enough)."""
        return arrays[0].size >= self.GENERATED_MIN and _floats(*arrays)

    def sigmoid(self, x):
        return self._unary("sigmoid", x) if self._gen(x) else super().sigmoid(x)

    def erf(self, x):
        return self._unary("erf", x) if _floats(x) else super().erf(x)

    def relu(self, x):
        return self._unary("relu", x) if self._gen(x) else super().relu(x)

    def gelu(self, x, approximate):
        if approximate not in ("none", "tanh") or not _floats(x):
            return super().gelu(x, approximate)
        return self._unary("gelu_tanh" if approximate == "tanh" else "gelu", x)

    def softplus(self, x, beta, threshold):
        if not self._gen(x):
            return super().softplus(x, beta, threshold)
        return self._unary("softplus", x, float(beta), float(threshold))

    def leaky_relu(self, x, negative_slope):
        if not self._gen(x):
            return super().leaky_relu(x, negative_slope)
        return self._unary("leaky_relu", x, float(negative_slope))

    # -- fused linear: bias + activation, and its backward ------------------------------------
    def bias_act(self, z, b=None, activation=None):
        if (activation not in _ACTS or activation == "tanh" or not self._gen(z)
                or (b is None and activation is None)
                or (b is not None and (b.shape != z.shape[-1:] or not _floats(z, b)))):
            return super().bias_act(z, b, activation)
        if b is None:
            return self._unary(activation, z)
        (y,) = self._ew(_kernel("bias_act", activation), z, b)
        return y

    def linear(self, x, w, b=None, activation=None, keep_pre=False):
        if (activation not in _ACTS or type(x) is not np.ndarray or type(w) is not np.ndarray
                or x.ndim == 0 or x.dtype not in _FLOATS or w.dtype != x.dtype or x.size == 0
                or w.size == 0 or (b is not None and (b.shape != w.shape[:1] or not _floats(b)
                                                      or b.dtype != x.dtype))
                or x.size // x.shape[-1] * w.shape[0] < self.GENERATED_MIN):
            return super().linear(x, w, b, activation, keep_pre)
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        z = np.matmul(x2, w.T, out=self._new((x2.shape[0], w.shape[0]), x.dtype))  # BLAS
        y = z
        if activation in _KEEPS_PRE:  # GELU's backward needs z + b: both in one pass
            y = self._new(z.shape, z.dtype)
            if b is None:
                self._ew(_kernel("op", activation), z, out=(y,))
            else:
                self._ew(_kernel("bias_act_keep", activation), z, b, out=(z, y))
        elif activation == "tanh":  # (NumPy's tanh: see above)
            if b is not None:
                self._ew(_kernel("bias_act", None), z, b, out=(z,))
            np.tanh(z, out=z)
        elif b is not None:
            self._ew(_kernel("bias_act", activation), z, b, out=(z,))  # in place
        elif activation is not None:
            self._ew(_kernel("op", activation), z, out=(z,))
        if x.ndim != 2:
            y, z = (a.reshape(*x.shape[:-1], w.shape[0]) for a in (y, z))
        return (y, z) if keep_pre else y

    def linear_act_grad(self, g, s, activation, bias=True):
        if (activation not in _ACTS or g.ndim != 2 or g.shape != s.shape or not _fits(g, s)
                or g.size == 0 or (activation is not None and g.size < self.GENERATED_MIN)):
            return super().linear_act_grad(g, s, activation, bias)
        if not bias or g.shape[1] == 1:  # one column: NumPy's (pairwise) sum, as unfused
            gz = g if activation is None else self._act_grad(g, s, activation)
            return gz, (self.sum(gz, 0) if bias else None)
        # the bias gradient: columns summed top to bottom (NumPy's order for sum(0)), in blocks
        # of whole columns per thread
        if activation is None:
            colsum = np.empty(g.shape[1], g.dtype)
            self._run(g.size, K.colsum_par, K.colsum_body, (g, colsum), g.shape[1])
            return g, colsum
        return self._ew(_kernel("grad", activation, colsum=True), g, s, rows=g.shape[0])

    def _act_grad(self, g, s, activation):
        (gz,) = self._ew(_kernel("grad", activation), g, s)
        return gz

    # -- activation gradients (the backward of the unfused activations) -----------------------
    def relu_grad(self, g, y):
        if g.shape != y.shape or not self._gen(g, y):
            return super().relu_grad(g, y)
        return self._act_grad(g, y, "relu")

    def tanh_grad(self, g, y):
        if g.shape != y.shape or not self._gen(g, y):
            return super().tanh_grad(g, y)
        return self._act_grad(g, y, "tanh")

    def sigmoid_grad(self, g, y):
        if g.shape != y.shape or not self._gen(g, y):
            return super().sigmoid_grad(g, y)
        return self._act_grad(g, y, "sigmoid")

    def gelu_grad(self, g, x, approximate):
        if g.shape != x.shape or not _floats(g, x) or approximate not in ("none", "tanh"):
            return super().gelu_grad(g, x, approximate)
        return self._act_grad(g, x, "gelu_tanh" if approximate == "tanh" else "gelu")

    # -- softmax, log_softmax, cross-entropy: one pass per row ---------------------------------
    def _rows(self, x, axis, log):
        x2 = x.reshape(-1, x.shape[-1])
        out = self._new(x2.shape, x2.dtype)
        self._run(x.size, K.softmax_rows_par, K.softmax_rows_body, (x2, out, log), x2.shape[0])
        return out.reshape(x.shape)

    SOFTMAX_MAX = 1 << 12  # elements: above this NumPy's SIMD exp beats one fused pass

    def _last_axis(self, x, axis):
        return (x.ndim and axis in (-1, x.ndim - 1) and x.shape[-1] and x.size <= self.SOFTMAX_MAX
                and _fits(x))

    def softmax(self, x, axis):
        if not self._last_axis(x, axis):
            return super().softmax(x, axis)
        return self._rows(x, axis, False)

    def log_softmax(self, x, axis):
        if not self._last_axis(x, axis):
            return super().log_softmax(x, axis)
        return self._rows(x, axis, True)

    def log_softmax_pick(self, x, target):
        if (x.ndim != 2 or x.shape[1] == 0 or x.size > self.SOFTMAX_MAX or not _fits(x)
                or type(target) is not np.ndarray
                or target.dtype != np.int64 or target.shape != x.shape[:1]):
            return super().log_softmax_pick(x, target)
        logp = np.empty_like(x)
        picked = np.empty(x.shape[0], x.dtype)
        if not K.log_softmax_pick(x, target, logp, picked):
            raise IndexError(f"log_softmax_pick: a target lies outside [0, {x.shape[1] - 1}]")
        return logp, picked

    # -- optimizer steps: one fused pass per parameter -----------------------------------------
    def sgd_step(self, param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0,
                 weight_decay=0.0, nesterov=False, maximize=False, first=False):
        if not (_fits(param, grad) if momentum_buf is None else _fits(param, grad, momentum_buf)
                ) or grad.shape != param.shape or (momentum_buf is not None
                                                   and momentum_buf.shape != param.shape):
            return super().sgd_step(param, grad, momentum_buf, lr, momentum, dampening,
                                    weight_decay, nesterov, maximize, first)
        buf = _empty(param.dtype) if momentum_buf is None else momentum_buf.reshape(-1)
        self._run(param.size, K.sgd_par, K.sgd_body,
                  (param.reshape(-1), grad.reshape(-1), buf, float(lr), float(momentum),
                   1.0 - dampening if dampening else 1.0, float(weight_decay), bool(nesterov),
                   bool(maximize), bool(first)), param.size)

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                  beta2, eps, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        shape = param.shape
        if not (_fits(param, grad, exp_avg, exp_avg_sq) if max_exp_avg_sq is None else
                _fits(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)) or not (
                grad.shape == exp_avg.shape == exp_avg_sq.shape == shape) or (
                max_exp_avg_sq is not None and max_exp_avg_sq.shape != shape):
            return super().adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr,
                                     beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                                     maximize)
        decay, wd = 1.0, float(weight_decay)
        if weight_decay and decoupled_weight_decay:
            decay, wd = 1 - lr * weight_decay, 0.0
        w1 = 1 - beta1
        vmax = _empty(param.dtype) if max_exp_avg_sq is None else max_exp_avg_sq.reshape(-1)
        self._run(param.size, K.adam_par, K.adam_body,
                  (param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
                   exp_avg_sq.reshape(-1), vmax, float(decay), wd, bool(maximize), float(w1),
                   abs(w1) < 0.5, float(1 - w1), float(beta2), float(1 - beta2),
                   float((1 - beta2 ** step) ** 0.5), float(eps),
                   float(lr / (1 - beta1 ** step))), param.size)

    # -- convolution and pooling: planes of (N, C, H, W) images --------------------------------
    def sum(self, x, axis=None, keepdims=False):
        # a convolution's bias gradient: NumPy's reduction over (0, 2, 3) is slow strided work
        if axis != (0, 2, 3) or keepdims or x.ndim != 4 or x.size == 0 or not _fits(x):
            return super().sum(x, axis, keepdims)
        out = np.empty(x.shape[1], x.dtype)
        C.channel_sum(x.reshape(x.shape[0], x.shape[1], -1), out)
        return out

    def im2col(self, x, kernel, stride, dilation, out_size):
        if x.ndim != 4 or not _fits(x) or x.size == 0:
            return super().im2col(x, kernel, stride, dilation, out_size)
        n, c, h, w = x.shape
        out = self._new((n, c, *kernel, *out_size), x.dtype)
        self._run(out.size, C.im2col_par, C.im2col_body,
                  (x.reshape(n * c, h, w), *kernel, *stride, *dilation,
                   out.reshape(n * c, *kernel, *out_size)), n * c)
        return out

    def col2im(self, cols, shape, stride, dilation):
        if (cols.ndim != 6 or not _fits(cols) or cols.size == 0
                or tuple(shape[:2]) != cols.shape[:2]):
            return super().col2im(cols, shape, stride, dilation)
        n, c, h, w = shape
        out = self._new(tuple(shape), cols.dtype)
        self._run(cols.size, C.col2im_par, C.col2im_body,
                  (cols.reshape(n * c, *cols.shape[2:]), *stride, *dilation,
                   out.reshape(n * c, h, w)), n * c)
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
