"""CUDA kernels of the cupy backend: their sources, and builders memoized per variant.

Nothing here imports CuPy when the module is imported.  A builder imports it the first time
CupyBackend asks for that kernel; CuPy then compiles the kernel on its first launch (once per
device and dtype, cached on disk), so importing tensorlite never compiles anything.

Every kernel computes what the NumPy reference in backends/base.py computes, in the same
order of operations.  NVRTC would contract ``a * b + c`` into one fused multiply-add, which
rounds once instead of twice; the kernels that must match the reference's arithmetic (the
activation gradients and optimizer steps) are built with ``--fmad=false``.
"""
import functools

EXACT = ("--fmad=false",)


def _cupy():
    import cupy
    return cupy

# -- the float32 fast path of bias + activation: act's arithmetic generated from its scalar
# description (cupy_codegen.device_function), the loads and stores written by hand --------------
_BIAS_ACT_F4 = """
${PRELUDE}
${ACT}

// x, y: (rows, 4 * c4) float32, C-contiguous and 16-byte aligned; b: (4 * c4,).  Threads map to
// columns (one float4 each, its bias loaded once); blocks stride over rows: no index division.
extern "C" __global__ void tl_bias_${NAME}_f4(const float4* __restrict__ x,
                                               const float4* __restrict__ b,
                                               float4* __restrict__ y,
                                               long long rows, long long c4) {
    const long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= c4) return;
    const float4 bb = b[col];
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {
        const long long k = r * c4 + col;
        float4 v = x[k];
        v.x = tl_act(v.x + bb.x);
        v.y = tl_act(v.y + bb.y);
        v.z = tl_act(v.z + bb.z);
        v.w = tl_act(v.w + bb.w);
        y[k] = v;
    }
}
"""


def bias_act_f4_source(name):
    from . import cupy_codegen
    from .scalar_ops import OPS
    act = cupy_codegen.device_function(OPS[name].forward, "tl_act")
    return (_BIAS_ACT_F4.replace("${PRELUDE}", cupy_codegen.PRELUDE).replace("${ACT}", act)
            .replace("${NAME}", name))


@functools.cache
def bias_act_f4(name):
    """The float32 fast path of bias_act: vectorized 16-byte loads and stores."""
    return _cupy().RawKernel(bias_act_f4_source(name), f"tl_bias_{name}_f4", options=EXACT)


# -- softmax over the rows of a C-contiguous (rows, cols) array: one block per row ---------------
_SOFTMAX = """
typedef ${CTYPE} T;

__device__ __forceinline__ T tl_warp_max(T v) {
    for (int o = 16; o > 0; o >>= 1) v = ${MAX}(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ T tl_warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Block-wide reductions (blockDim.x a multiple of 32); every thread gets the result.
__device__ T tl_block_max(T v, T* red) {
    v = tl_warp_max(v);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    v = red[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); ++w) v = ${MAX}(v, red[w]);
    __syncthreads();
    return v;
}

__device__ T tl_block_sum(T v, T* red) {
    v = tl_warp_sum(v);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    v = red[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); ++w) v += red[w];
    __syncthreads();
    return v;
}

// The reference's arithmetic: m = max(x); s = sum(exp(x - m)); softmax = exp(x - m) / s,
// log_softmax = (x - m) - log(s).  A NaN anywhere in a row makes s NaN, so the whole row is NaN.
extern "C" __global__ void tl_${KIND}_${CTYPE}(const T* __restrict__ x, T* __restrict__ y,
                                              ${EXTRA_PARAMS} long long cols) {
    __shared__ T red[32];
    const long long row = blockIdx.x;
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    T m = xr[threadIdx.x < cols ? threadIdx.x : 0];
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) m = ${MAX}(m, xr[j]);
    m = tl_block_max(m, red);
    T s = 0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += ${EXP}(xr[j] - m);
    s = tl_block_sum(s, red);
    ${FINISH}
}
"""

_FINISH = {
    "softmax": ("", "for (long long j = threadIdx.x; j < cols; j += blockDim.x) "
                    "yr[j] = ${EXP}(xr[j] - m) / s;"),
    "log_softmax": ("", "const T ls = ${LOG}(s); "
                        "for (long long j = threadIdx.x; j < cols; j += blockDim.x) "
                        "yr[j] = (xr[j] - m) - ls;"),
    # log_softmax, and each row's value at its target class (the cross-entropy primitive)
    "log_softmax_pick": ("const long long* __restrict__ target, T* __restrict__ picked,",
                         "const T ls = ${LOG}(s); "
                         "for (long long j = threadIdx.x; j < cols; j += blockDim.x) "
                         "yr[j] = (xr[j] - m) - ls; "
                         "if (threadIdx.x == 0) picked[row] = (xr[target[row]] - m) - ls;"),
}
_MATH = {"float": {"MAX": "fmaxf", "EXP": "expf", "LOG": "logf"},
         "double": {"MAX": "fmax", "EXP": "exp", "LOG": "log"}}


def softmax_source(kind, ctype):
    params, finish = _FINISH[kind]
    src = (_SOFTMAX.replace("${EXTRA_PARAMS}", params).replace("${FINISH}", finish)
           .replace("${KIND}", kind).replace("${CTYPE}", ctype))
    for key, fn in _MATH[ctype].items():
        src = src.replace("${" + key + "}", fn)
    return src


@functools.cache
def softmax_rows(kind, ctype):
    """RawKernel(x, y[, target, picked], cols) for ``kind`` in softmax, log_softmax,
    log_softmax_pick and ``ctype`` 'float' or 'double'; launch one block per row."""
    return _cupy().RawKernel(softmax_source(kind, ctype), f"tl_{kind}_{ctype}")


# -- optimizer steps: Backend.sgd_step / adam_step, one pass over each parameter ----------------
# Scalars arrive as T (rounded as NumPy rounds a Python float against a T array); options that
# the reference tests for truth in Python arrive as bools, so a tiny value that rounds to 0 in T
# takes the same branch as in the reference.
_DECAYED_GRAD = """
T d;
if (has_wd) { T t = ${PARAM} * weight_decay; d = maximize ? t - grad : t + grad; }
else { d = maximize ? -grad : grad; }
"""

_SGD_MOMENTUM = """
if (first) { buf = d; }
else { T b = buf * momentum; buf = dampen ? b + d * one_minus_dampening : b + d; }
d = nesterov ? d + buf * momentum : buf;
"""


_SGD = """
typedef ${CTYPE} T;

// Backend.sgd_step over C-contiguous arrays of n elements, grid-stride (buf_p unused without
// momentum): one pass reads grad, param and buf once and writes param and buf once.
extern "C" __global__ void tl_sgd${MOMENTUM}_${CTYPE}(
        const T* __restrict__ grad_p, T* __restrict__ param_p, T* __restrict__ buf_p,
        ${CTYPE} lr, ${CTYPE} weight_decay, ${CTYPE} momentum, ${CTYPE} one_minus_dampening,
        bool has_wd, bool maximize, bool first, bool dampen, bool nesterov, long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const T grad = grad_p[i];
        T param = param_p[i];
        ${BODY}
        param = param - d * lr;
        param_p[i] = param;
    }
}
"""


@functools.cache
def sgd(with_momentum, ctype):
    """RawKernel(grad, param, buf, lr, weight_decay, momentum, one_minus_dampening, has_wd,
    maximize, first, dampen, nesterov, n), scalars as ``ctype`` and numpy bools."""
    body = _DECAYED_GRAD.replace("${PARAM}", "param")
    if with_momentum:
        body += "T buf = buf_p[i];" + _SGD_MOMENTUM + "buf_p[i] = buf;"
    name = "_momentum" * with_momentum
    src = _SGD.replace("${BODY}", body).replace("${MOMENTUM}", name).replace("${CTYPE}", ctype)
    return _cupy().RawKernel(src, f"tl_sgd{name}_{ctype}", options=EXACT)


_ADAM = """
T p = param;
if (decoupled) p = p * decay_mul;
${DECAYED_GRAD}
T s = d - exp_avg;
const T m = lerp_small ? exp_avg + s * w : d - s * one_minus_w;
T v = exp_avg_sq * beta2;
const T sq = d * one_minus_beta2 * d;
v = v + sq;
exp_avg = m;
exp_avg_sq = v;
${AMSGRAD}
const T denom = sqrt(v) / bias_correction2_sqrt + eps;
param = p - m / denom * step_size;
"""
# xp.maximum: NaN if either operand is NaN
_AMSGRAD = ("T vm = max_exp_avg_sq; vm = (vm != vm || vm >= v) ? vm : v; "
            "max_exp_avg_sq = vm; v = vm;")


@functools.cache
def adam(amsgrad):
    body = (_ADAM.replace("${DECAYED_GRAD}", _DECAYED_GRAD.replace("${PARAM}", "p"))
            .replace("${AMSGRAD}", _AMSGRAD if amsgrad else ""))
    ins = ("T grad, T decay_mul, T weight_decay, T w, T one_minus_w, T beta2, "
           "T one_minus_beta2, T step_size, T bias_correction2_sqrt, T eps, bool decoupled, "
           "bool has_wd, bool maximize, bool lerp_small")
    outs = "T param, T exp_avg, T exp_avg_sq" + (", T max_exp_avg_sq" if amsgrad else "")
    return _cupy().ElementwiseKernel(ins, outs, body, f"tl_adam{'_amsgrad' * amsgrad}",
                                     options=EXACT)


# -- class-index targets and the cross-entropy gradient ---------------------------------------------
_CLASS_TARGET_STATS = """
// Backend.class_target_stats in one block of 256 threads: out[0] counts the targets outside
// [0, classes) that are not ignore_index, out[1] those equal to it.
extern "C" __global__ void tl_class_target_stats(const long long* __restrict__ t, long long n,
                                                 long long classes, long long ignore_index,
                                                 long long* __restrict__ out) {
    __shared__ long long bad[256], ignored[256];
    long long b = 0, s = 0;
    for (long long k = threadIdx.x; k < n; k += blockDim.x) {
        const long long v = t[k];
        if (v == ignore_index) ++s;
        else if (v < 0 || v >= classes) ++b;
    }
    bad[threadIdx.x] = b;
    ignored[threadIdx.x] = s;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            bad[threadIdx.x] += bad[threadIdx.x + half];
            ignored[threadIdx.x] += ignored[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) { out[0] = bad[0]; out[1] = ignored[0]; }
}
"""
CLASS_TARGET_THREADS = 256


@functools.cache
def class_target_stats():
    """RawKernel(t, n, classes, ignore_index, out): launch one block of CLASS_TARGET_THREADS."""
    return _cupy().RawKernel(_CLASS_TARGET_STATS, "tl_class_target_stats")


_CROSS_ENTROPY_GRAD = """
typedef ${CTYPE} T;

// Backend.cross_entropy_grad over C-contiguous (rows, cols) log-probabilities, grid-stride:
// (exp(logp) - onehot(target)) * scale[row * scale_step], the reference's order of operations.
extern "C" __global__ void tl_cross_entropy_grad_${CTYPE}(
        const T* __restrict__ logp, const long long* __restrict__ target,
        const T* __restrict__ scale, T* __restrict__ g, long long rows, long long cols,
        long long scale_step) {
    const long long n = rows * cols;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (long long)gridDim.x * blockDim.x) {
        const long long r = k / cols;
        const T p = ${EXP}(logp[k]);
        g[k] = (k - r * cols == target[r] ? p - (T)1 : p) * scale[r * scale_step];
    }
}
"""


@functools.cache
def cross_entropy_grad(ctype):
    """RawKernel(logp, target, scale, g, rows, cols, scale_step) for 'float' or 'double'."""
    src = (_CROSS_ENTROPY_GRAD.replace("${CTYPE}", ctype)
           .replace("${EXP}", _MATH[ctype]["EXP"]))
    return _cupy().RawKernel(src, f"tl_cross_entropy_grad_{ctype}")


# -- cuBLAS, called directly -----------------------------------------------------------------------
@functools.cache
def cublas():
    """(CuPy's cuBLAS wrapper module, a function returning the current device's handle, bound
    to the current stream)."""
    from cupy.cuda import device
    from cupy_backends.cuda.libs import cublas as lib
    return lib, device.get_cublas_handle
