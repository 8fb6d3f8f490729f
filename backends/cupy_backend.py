"""The CuPy backend: every Backend primitive over ``cupy`` on an NVIDIA GPU (matmul is cuBLAS),
with fused kernels (backends/cupy_kernels.py) for the hot path.

Each override checks that its fast path applies (float32/float64, matching dtypes, the layout
the kernel assumes) and otherwise calls the reference in backends/base.py, which works on
``cupy`` unchanged.  Importing this module does not import CuPy: building the backend does.
"""
import numpy as np

from . import cupy_codegen as G
from . import cupy_kernels as K
from .base import Backend, is_basic_index
from .scalar_ops import ACTIVATIONS

_FAST = (np.dtype(np.float32), np.dtype(np.float64))
_CTYPE = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
# dtypes that cupyx.scatter_add (CUDA atomicAdd) accepts
_SCATTER = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int32, np.uint32,
                                       np.uint64))
_DLPACK_CUDA = (2, 3, 13)  # kDLCUDA, kDLCUDAHost, kDLCUDAManaged


def _import_cupy():
    """CuPy, once it is known to see a GPU; else an error saying which of the two is missing."""
    try:
        import cupy
    except ModuleNotFoundError as e:
        if e.name != "cupy":
            raise ImportError(f"CuPy is installed but cannot be imported ({e})") from e
        raise ImportError("CuPy is not installed") from e
    except ImportError as e:  # installed, but e.g. its CUDA libraries cannot be loaded
        raise ImportError(f"CuPy is installed but cannot be imported ({e})") from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, driver too old, no device
        raise RuntimeError(f"no CUDA device is visible ({type(e).__name__}: {e})") from e
    if count < 1:
        raise RuntimeError("no CUDA device is visible (cupy.cuda.runtime.getDeviceCount() "
                           "returned 0)")
    return cupy


def _blas_layout(x):
    """(leading dimension, cuBLAS op) under which column-major cuBLAS reads row-major ``x`` as
    x.T, or None when its strides fit neither order."""
    if x.flags.c_contiguous:
        return x.shape[1], 0  # CUBLAS_OP_N: the memory, read column-major, is x.T
    if x.flags.f_contiguous:
        return x.shape[0], 1  # CUBLAS_OP_T: the memory, read column-major, is x
    return None


def _grid_stride(n, threads=256, max_blocks=4096):
    """(grid, block) for a grid-stride kernel over ``n`` elements."""
    return (min(-(-n // threads), max_blocks),), (threads,)


class CupyBackend(Backend):
    name = "cupy"
    device = "cuda"

    def __init__(self):
        cupy = _import_cupy()
        import cupyx
        super().__init__(cupy)
        self._scatter_add = cupyx.scatter_add
        self._rng = cupy.random.default_rng(0)
        # gemm's alpha and beta, read from host memory (cuBLAS's default pointer mode): the
        # arrays, kept alive, and their addresses
        self._alpha_beta = [(np.ones(1, dt), np.zeros(1, dt)) for dt in _FAST]
        self._one_zero = {a.dtype: (a.ctypes.data, b.ctypes.data) for a, b in self._alpha_beta}
        self._ones_rows = {}  # (rows, dtype) -> ones (1, rows): column sums as one gemm

    # -- conversion ---------------------------------------------------------------------------
    def asarray(self, obj, dtype=None):
        """A device array: device data kept (cast if asked), host data copied over once."""
        if isinstance(obj, self.xp.ndarray):
            return obj if dtype is None or obj.dtype == dtype else obj.astype(dtype)
        return self.xp.asarray(obj, dtype=dtype)

    def elementwise_kernel(self, program):
        """``program`` as one ElementwiseKernel (cupy_codegen), named by its source."""
        import hashlib
        kernel = G.elementwise(program, "fused_" + hashlib.sha1(
            program.source().encode()).hexdigest()[:12])

        def run(*operands, out, shape, dtype):
            out = [self.xp.empty(shape, dtype) if o is None else o for o in out]
            kernel(*operands, *out)
            return tuple(out)
        return run

    def to_host(self, x):
        return self.xp.asnumpy(x)

    def from_dlpack(self, obj):
        kind = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else None
        if kind is not None and kind not in _DLPACK_CUDA:
            raise TypeError(f"from_dlpack: the producer's memory is not on a CUDA device "
                            f"(DLPack device type {kind}); import it on the cpu and move it "
                            "with .to('cuda')")
        return self.xp.from_dlpack(obj)

    # -- elementwise: kernels generated from the ops' scalar descriptions (cupy_codegen) -------
    @staticmethod
    def _gen(*arrays):
        """float32 or float64 arrays of one dtype: what the generated kernels take."""
        dt = arrays[0].dtype
        return dt in _FAST and all(a.dtype == dt for a in arrays)

    def sigmoid(self, x):
        return G.kernel("op", "sigmoid")(x) if self._gen(x) else super().sigmoid(x)

    def relu(self, x):
        return G.kernel("op", "relu")(x) if self._gen(x) else super().relu(x)

    def erf(self, x):
        return G.kernel("op", "erf")(x) if self._gen(x) else super().erf(x)

    def gelu(self, x, approximate):
        if approximate not in ("none", "tanh") or not self._gen(x):
            return super().gelu(x, approximate)
        return G.kernel("op", "gelu_tanh" if approximate == "tanh" else "gelu")(x)

    def softplus(self, x, beta, threshold):
        if not self._gen(x):
            return super().softplus(x, beta, threshold)
        return G.kernel("op", "softplus")(x, float(beta), float(threshold))

    def leaky_relu(self, x, negative_slope):
        if not self._gen(x):
            return super().leaky_relu(x, negative_slope)
        return G.kernel("op", "leaky_relu")(x, float(negative_slope))

    def bias_act(self, z, b=None, activation=None):
        """activation(z + b), ``z`` (..., N) and ``b`` (N,) or None, in one pass (a new array)."""
        if activation not in ACTIVATIONS or not (self._gen(z) if b is None else self._gen(z, b)):
            return super().bias_act(z, b, activation)
        if b is None:
            return G.kernel("op", activation)(z)
        if self._vectorizable(z, b):
            return self._bias_act_f4(z, b, activation)
        return G.kernel("bias_act", activation)(z, b)

    @staticmethod
    def _vectorizable(x, b):
        """float32 rows of a multiple of 4 columns, C-contiguous and 16-byte aligned."""
        return (x.dtype == np.float32 and x.ndim >= 1 and x.size and x.shape[-1] % 4 == 0
                and b.shape == x.shape[-1:] and x.flags.c_contiguous and b.flags.c_contiguous
                and x.data.ptr % 16 == 0 and b.data.ptr % 16 == 0)

    def _bias_act_f4(self, x, b, act):
        c4 = x.shape[-1] // 4
        rows = x.size // x.shape[-1]
        y = self.xp.empty(x.shape, dtype=x.dtype)
        threads = min(256, -(-c4 // 32) * 32)
        grid = (-(-c4 // threads), min(rows, 65535))
        K.bias_act_f4(act)(grid, (threads,), (x, b, y, np.int64(rows), np.int64(c4)))
        return y

    def relu_grad(self, g, y):
        return self._act_grad("relu", g, y)

    def tanh_grad(self, g, y):
        return self._act_grad("tanh", g, y)

    def sigmoid_grad(self, g, y):
        return self._act_grad("sigmoid", g, y)

    def gelu_grad(self, g, x, approximate):
        if approximate not in ("none", "tanh") or g.shape != x.shape or not self._gen(g, x):
            return super().gelu_grad(g, x, approximate)
        return G.kernel("grad", "gelu_tanh" if approximate == "tanh" else "gelu")(g, x)

    def _act_grad(self, act, g, y):
        if not self._gen(g, y):
            return getattr(super(), f"{act}_grad")(g, y)
        return G.kernel("grad", act)(g, y)

    # -- matmul: one direct cuBLAS call ------------------------------------------------------------
    def matmul(self, a, b, out_shape=None):
        """a @ b; 2-D float32/float64 operands in C or F order go straight to cuBLAS's gemm
        (cupy.matmul's own checks take longer on the host than a small matmul on the GPU).
        ``out_shape``: the shape of the new result, the same size as (a.shape[0], b.shape[1])."""
        fits = (a.ndim == b.ndim == 2 and a.dtype == b.dtype and a.dtype in _FAST
                and a.shape[1] == b.shape[0] and a.size and b.size
                and max(a.shape + b.shape) < 2 ** 31)
        layout_a, layout_b = (_blas_layout(a), _blas_layout(b)) if fits else (None, None)
        if layout_a is None or layout_b is None:
            out = self.xp.matmul(a, b)
            return out if out_shape is None else out.reshape(out_shape)
        (m, k), n = a.shape, b.shape[1]
        out = self.xp.empty((m, n) if out_shape is None else out_shape, dtype=a.dtype)
        lib, handle = K.cublas()
        gemm = lib.sgemm if a.dtype == np.float32 else lib.dgemm
        one, zero = self._one_zero[a.dtype]
        # row-major out = a @ b is column-major out.T = b.T @ a.T
        gemm(handle(), layout_b[1], layout_a[1], n, m, k, one, b.data.ptr, layout_b[0],
             a.data.ptr, layout_a[0], zero, out.data.ptr, n)
        return out

    def linear_act_grad(self, g, s, activation, bias=True):
        """As the reference; the bias gradient (the column sum) as a gemm with a row of ones."""
        gz, _ = super().linear_act_grad(g, s, activation, bias=False)
        if not bias or gz.dtype not in _FAST or gz.ndim != 2:
            return gz, (self.sum(gz, 0) if bias else None)
        key = (gz.shape[0], gz.dtype)
        if key not in self._ones_rows:
            self._ones_rows[key] = self.xp.ones((1, gz.shape[0]), dtype=gz.dtype)
        # a whole array, not a reshaped view: the engine hands it to .grad without a copy
        return gz, self.matmul(self._ones_rows[key], gz, out_shape=(gz.shape[1],))

    # -- softmax and the cross-entropy primitive: one block per row -------------------------------
    def _rows(self, x, axis):
        """``x`` as C-contiguous (rows, cols) when the row kernels apply (the last axis), else
        None (they launch one block per row)."""
        if x.dtype not in _FAST or x.ndim == 0 or axis != x.ndim - 1 or x.size == 0 \
                or x.size // x.shape[-1] >= 2 ** 31:
            return None
        return self.xp.ascontiguousarray(x).reshape(-1, x.shape[-1])

    def _launch_rows(self, kind, rows, *arrays):
        n, cols = rows.shape
        threads = min(512, -(-cols // 32) * 32)
        K.softmax_rows(kind, _CTYPE[rows.dtype])((n,), (threads,), (rows, *arrays, np.int64(cols)))

    def softmax(self, x, axis):
        return self._per_row("softmax", x, axis)

    def log_softmax(self, x, axis):
        return self._per_row("log_softmax", x, axis)

    def _per_row(self, kind, x, axis):
        """softmax or log_softmax (``kind``) by the row kernel, else by the reference."""
        rows = self._rows(x, axis)
        if rows is None:
            return getattr(super(), kind)(x, axis)
        y = self.xp.empty_like(rows)
        self._launch_rows(kind, rows, y)
        return y.reshape(x.shape)

    def log_softmax_pick(self, x, target):
        rows = self._rows(x, 1) if x.ndim == 2 else None
        if rows is None or target.size != rows.shape[0]:
            return super().log_softmax_pick(x, target)
        t = self.xp.ascontiguousarray(target.reshape(-1), dtype=np.int64)
        logp = self.xp.empty_like(rows)
        picked = self.xp.empty(rows.shape[0], dtype=rows.dtype)
        self._launch_rows("log_softmax_pick", rows, logp, t, picked)
        return logp, picked

    def class_target_stats(self, t, classes, ignore_index):
        if t.dtype != np.int64 or t.ndim != 1:
            return super().class_target_stats(t, classes, ignore_index)
        t = self.xp.ascontiguousarray(t)
        out = self.xp.empty(2, dtype=np.int64)
        K.class_target_stats()((1,), (K.CLASS_TARGET_THREADS,),
                               (t, np.int64(t.size), np.int64(classes), np.int64(ignore_index),
                                out))
        bad, ignored = self.to_host(out)
        return int(bad), int(ignored)

    def cross_entropy_grad(self, logp, target, scale):
        rows = logp.shape[0] if logp.ndim == 2 else 0
        scale = self.xp.asarray(scale, dtype=logp.dtype)
        if (not rows or logp.dtype not in _FAST or target.dtype != np.int64 or
                target.size != rows or scale.size not in (1, rows) or
                not logp.flags.c_contiguous):
            return super().cross_entropy_grad(logp, target, scale)
        g = self.xp.empty_like(logp)
        K.cross_entropy_grad(_CTYPE[logp.dtype])(
            *_grid_stride(logp.size),
            (logp, self.xp.ascontiguousarray(target), self.xp.ascontiguousarray(scale.reshape(-1)),
             g, np.int64(rows), np.int64(logp.shape[1]), np.int64(scale.size > 1)))
        return g

    # -- indexing: bounds checked, atomics instead of xp.add.at ------------------------------------
    def getitem(self, x, index):
        """CuPy wraps out-of-range integer-array indices where NumPy and PyTorch refuse them: check
        each such index first (one device sync per integer array)."""
        items = index if isinstance(index, tuple) else (index,)
        spans = [0 if i is None or i is Ellipsis else
                 i.ndim if getattr(i, "dtype", None) == np.bool_ else 1 for i in items]
        axis = 0
        for k, (item, span) in enumerate(zip(items, spans)):
            if item is Ellipsis:
                axis = x.ndim - sum(spans[k + 1:])
            elif axis >= x.ndim:
                break  # too many indices: CuPy's own error says so
            elif isinstance(item, self.xp.ndarray) and item.dtype.kind in "iu" and item.size:
                lo, hi = self.value_range(item)
                n = x.shape[axis]
                if lo < -n or hi >= n:
                    raise IndexError(f"index {hi if hi >= n else lo} is out of bounds for axis "
                                     f"{axis} with size {n}")
            axis += span
        return x[index]

    def index_add(self, shape, dtype, index, values):
        if is_basic_index(index) or np.dtype(dtype) not in _SCATTER:
            return super().index_add(shape, dtype, index, values)
        out = self.xp.zeros(shape, dtype=dtype)
        self._scatter_add(out, index, values)  # repeated indices accumulate
        return out

    def scatter_add(self, shape, axis, index, values):
        if values.dtype not in _SCATTER:
            return super().scatter_add(shape, axis, index, values)
        out = self.xp.zeros(shape, dtype=values.dtype)
        idx = self.open_grid(index.shape)
        idx[axis] = index
        self._scatter_add(out, tuple(idx), values)
        return out

    # -- sparse COO: cuSPARSE through cupyx.scipy.sparse -----------------------------------------
    def coo_matmul(self, indices, values, shape, dense):
        """``S @ dense`` with cupyx.scipy.sparse (cuSPARSE) on the GPU; float16 in float32."""
        import cupyx.scipy.sparse
        dtype = dense.dtype
        work = np.dtype(np.float32) if dtype == np.float16 else dtype
        s = cupyx.scipy.sparse.coo_matrix(
            (values.astype(work, copy=False), (indices[0], indices[1])), shape=tuple(shape))
        out = s.tocsr() @ self.xp.ascontiguousarray(dense.astype(work, copy=False))
        return out.astype(dtype, copy=False)

    # -- optimizer steps: one fused pass per parameter --------------------------------------------
    @staticmethod
    def _fused_ok(param, *arrays):
        return param.dtype in _FAST and all(
            a is None or (a.dtype == param.dtype and a.shape == param.shape) for a in arrays)

    def sgd_step(self, param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0,
                 weight_decay=0.0, nesterov=False, maximize=False, first=False):
        buf = param if momentum_buf is None else momentum_buf  # unused without momentum
        if not (self._fused_ok(param, grad, momentum_buf) and param.size
                and param.flags.c_contiguous and buf.flags.c_contiguous):
            return super().sgd_step(param, grad, momentum_buf, lr, momentum, dampening,
                                    weight_decay, nesterov, maximize, first)
        T = param.dtype.type
        K.sgd(momentum_buf is not None, _CTYPE[param.dtype])(
            *_grid_stride(param.size),
            (self.xp.ascontiguousarray(grad), param, buf, T(lr), T(weight_decay), T(momentum),
             T(1 - dampening), np.bool_(weight_decay), np.bool_(maximize), np.bool_(first),
             np.bool_(dampening), np.bool_(nesterov), np.int64(param.size)))

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1,
                  beta2, eps, weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
        if not self._fused_ok(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq):
            return super().adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step,
                                     lr, beta1, beta2, eps, weight_decay,
                                     decoupled_weight_decay, maximize)
        decoupled = bool(weight_decay and decoupled_weight_decay)
        w = 1 - beta1  # the reference's lerp weight, and its branch
        scalars = (1 - lr * weight_decay, weight_decay, w, 1 - w, beta2, 1 - beta2,
                   lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5, eps)
        flags = (decoupled, bool(weight_decay) and not decoupled, bool(maximize), abs(w) < 0.5)
        states = (exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if max_exp_avg_sq is not None else ())
        K.adam(max_exp_avg_sq is not None)(grad, *scalars, *flags, param, *states)

    # -- random: one cuRAND-backed generator on the device ----------------------------------------
    def seed(self, seed):
        self._rng = self.xp.random.default_rng(seed)

    def _empty_or(self, shape, dtype, draw):
        shape = tuple(shape)
        if 0 in shape:
            return self.xp.empty(shape, dtype=dtype)
        return draw(shape)

    def rand(self, shape, dtype, gen=None):
        dtype = np.dtype(dtype)
        native = dtype if dtype in _FAST else np.dtype(np.float64)
        return self._empty_or(shape, dtype, lambda s: (gen or self._rng).random(
            s, dtype=native).astype(dtype, copy=False))

    def randn(self, shape, dtype, gen=None):
        dtype = np.dtype(dtype)
        native = dtype if dtype in _FAST else np.dtype(np.float64)
        return self._empty_or(shape, dtype, lambda s: (gen or self._rng).standard_normal(
            s, dtype=native).astype(dtype, copy=False))

    def randint(self, low, high, shape, dtype, gen=None):
        if low >= high:
            raise ValueError(f"randint: low >= high ({low} >= {high})")
        return self._empty_or(shape, dtype, lambda s: (gen or self._rng).integers(
            low, high, s, dtype=dtype))
