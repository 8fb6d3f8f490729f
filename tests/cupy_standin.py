"""The host stand-in: device arrays are a NumPy subclass that, as CuPy's arrays, refuse to mix with
host arrays (a front-end host/device leak raises TypeError); ElementwiseKernel bodies are built by
g++ inside a loop that declares their parameters as CuPy does; RawKernels run with one host
thread per CUDA thread (a barrier for ``__syncthreads``, a slot array for warp shuffles).  It
cannot show CuPy's own type resolution and launches, NVRTC, or CUDA's math library (exp/tanh/log
differ from glibc's by an ulp or two: the forward checks have tolerances; the arithmetic-only
kernels, activation gradients and optimizer steps, must match the reference bit for bit on the
host).
"""
import contextlib
import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import tensorlite as tl
from tensorlite.backends import cupy_codegen as G
from tensorlite.backends import cupy_kernels as K
from tensorlite.backends.cupy_backend import CupyBackend

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)

class DevArray(np.ndarray):
    """A NumPy array standing in for a CuPy array: it lives on the "device", so, as CuPy's, it
    refuses host (plain NumPy) arrays in its operations; ``.data.ptr`` is its address."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _device_call(ufunc.__name__, getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        return _device_call(func.__name__, func, args, kwargs)

    def __setitem__(self, key, value):
        _no_host("setitem", value)
        _run_or_record(lambda: np.ndarray.__setitem__(self.view(np.ndarray), _host_view(key),
                                                      _host_view(value)),
                       _leaves((self, key, value)))

    def __getitem__(self, key):
        if _capture_ops() is None:
            return super().__getitem__(key)
        return _run_or_record(lambda: _to_dev(self.view(np.ndarray)[_host_view(key)]),
                              _leaves((self, key)))


def _captured_method(name):
    """The ndarray method ``name``, recorded (see _run_or_record) while a stream captures: the
    methods that do device work without passing through __array_ufunc__/__array_function__."""
    method = getattr(np.ndarray, name)

    def call(self, *args, **kwargs):
        if _capture_ops() is None:
            return method(self, *args, **kwargs)
        return _run_or_record(lambda: _to_dev(method(self.view(np.ndarray), *_host_view(args),
                                                     **_host_view(kwargs))),
                              _leaves((self, args, kwargs)))
    call.__name__ = name
    return call


for _name in ("copy", "astype", "fill", "ravel", "flatten", "argmax", "argmin", "take", "repeat",
              "cumsum", "cumprod", "sort", "argsort", "dot", "put", "round", "conj"):
    setattr(DevArray, _name, _captured_method(_name))


def _map(fn, obj):
    if isinstance(obj, (list, tuple)):  # (NumPy's linalg results are named tuples)
        items = [_map(fn, o) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        return {k: _map(fn, v) for k, v in obj.items()}
    return fn(obj)


def _host_view(obj):
    return _map(lambda o: o.view(np.ndarray) if isinstance(o, DevArray) else o, obj)


def _to_dev(obj):
    def one(o):
        if isinstance(o, np.generic):  # CuPy reductions give 0-d arrays, not scalars
            return np.asarray(o).view(DevArray)
        return o.view(DevArray) if type(o) is np.ndarray else o
    return _map(one, obj)


def _no_host(what, obj):
    def one(o):
        if type(o) is np.ndarray:
            raise TypeError(f"{what}: a host (NumPy) array met a device array; CuPy refuses "
                            "implicit host<->device conversion")
        return o
    _map(one, obj)


def _device_call(what, fn, args, kwargs):
    _no_host(what, (args, kwargs))
    out = _run_or_record(lambda: _to_dev(fn(*_host_view(args), **_host_view(kwargs))),
                         _leaves((args, kwargs)))
    if kwargs.get("out") is not None:
        given = kwargs["out"]
        return given[0] if isinstance(given, tuple) and len(given) == 1 else given
    return out


# -- streams and CUDA graphs -----------------------------------------------------------------------
# CuPy's API (cupy.cuda.Stream.begin_capture/end_capture -> cupy.cuda.graph.Graph.launch): while
# the current stream captures, device work is recorded, not run; launching the graph runs it again
# on the same arrays (fixed addresses).  Here each call that does device work is run at once (for
# its result's shape), its writes into existing arrays are undone and the arrays it makes are
# filled with NaN (memory nobody wrote yet), and it is recorded; a launch runs the recorded calls
# in order, writing what they make into those same arrays.  As in CuPy: cuBLAS calls raise
# NotImplementedError while capturing, device<->host copies raise, a capture on the null stream
# raises, and work on the null stream while another stream captures raises.
GRAPH_STATS = {"captures": 0, "launches": 0}  # graphs made by end_capture, graph launches


class HostEvent:
    done = True

    def record(self, stream=None):
        return self

    def synchronize(self):
        pass


class HostGraph:
    def __init__(self, ops):
        self._ops = ops

    def launch(self, stream=None):
        if _CAPTURING:
            raise RuntimeError("cudaErrorStreamCaptureUnsupported: a graph launch while a stream "
                               "captures (the host stand-in does not nest graphs)")
        GRAPH_STATS["launches"] += 1
        for op in self._ops:
            op()


class HostStream:
    def __init__(self, null=False, non_blocking=False, ptr=0):
        self.null, self.non_blocking = null, non_blocking
        self.ptr = 0 if null else id(self)
        self._ops, self._outer = None, []

    def __enter__(self):
        self._outer.append(_CURRENT[0])
        _CURRENT[0] = self
        return self

    def __exit__(self, *exc):
        _CURRENT[0] = self._outer.pop()

    def use(self):
        _CURRENT[0] = self
        return self

    @property
    def done(self):
        return self._ops is None

    def synchronize(self):
        if self._ops is not None:
            raise RuntimeError("cudaErrorStreamCaptureUnsupported: synchronize while capturing")

    def record(self, event=None):
        return event if event is not None else HostEvent()

    def wait_event(self, event):
        pass

    def is_capturing(self):
        return self._ops is not None

    def begin_capture(self, mode=None):
        if self.null:
            raise RuntimeError("cudaErrorStreamCaptureUnsupported: cannot capture the null stream")
        if self._ops is not None:
            raise RuntimeError("cudaErrorIllegalState: the stream is already capturing")
        self._ops = []
        _CAPTURING.append(self)

    def end_capture(self):
        if self._ops is None:
            raise RuntimeError("cudaErrorIllegalState: the stream is not capturing")
        ops, self._ops = self._ops, None
        _CAPTURING.remove(self)
        GRAPH_STATS["captures"] += 1
        return HostGraph(ops)


class HostMemoryPool:
    """cupy.cuda.MemoryPool: the stand-in's arrays are NumPy's, so it holds nothing."""

    def malloc(self, size):
        raise NotImplementedError("the host stand-in allocates with NumPy")

    def free_all_blocks(self, stream=None):
        pass

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0


@contextlib.contextmanager
def _using_allocator(allocator=None):
    yield


_NULL_STREAM = HostStream(null=True)
_CURRENT = [_NULL_STREAM]
_CAPTURING = []


def _capture_ops():
    """The list the current stream records into while it captures, else None."""
    current = _CURRENT[0]
    if current._ops is not None:
        return current._ops
    if _CAPTURING and current.null:
        raise RuntimeError("cudaErrorStreamCaptureImplicit: work on the null stream while a stream "
                           "captures")
    return None


def _no_capture(what):
    if _capture_ops() is not None:
        raise RuntimeError(f"cudaErrorStreamCaptureUnsupported: {what} while the stream captures")


def _leaves(obj):
    """The device arrays in an argument structure."""
    if isinstance(obj, DevArray):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [a for o in obj for a in _leaves(o)]
    if isinstance(obj, dict):
        return [a for o in obj.values() for a in _leaves(o)]
    return []


def _poison(arr):
    host = arr.view(np.ndarray)
    if host.dtype.kind in "fc":
        host[...] = np.nan
    elif host.dtype.kind in "iu":
        host[...] = 0


def _run_or_record(run, inputs):
    """``run()`` (device work on the arrays ``inputs``); while the current stream captures, it is
    recorded instead (see above) and its result has the right shape but no values yet."""
    ops = _capture_ops()
    if ops is None:
        return run()
    before = [a.view(np.ndarray).copy() for a in inputs]
    with np.errstate(all="ignore"):
        out = run()
    for a, b in zip(inputs, before):  # what it wrote is not written yet
        if a.view(np.ndarray).tobytes() != b.tobytes():
            a.view(np.ndarray)[...] = b
    made = _leaves(out)
    fresh = [i for i, r in enumerate(made)
             if not any(np.may_share_memory(r, a) for a in inputs)]
    for i in fresh:
        _poison(made[i])

    def replay():
        again = _leaves(run())
        for i in fresh:
            made[i].view(np.ndarray)[...] = again[i].view(np.ndarray)
    ops.append(replay)
    return out


def _device_function(what, fn):
    return lambda *args, **kwargs: _device_call(what, fn, args, kwargs)


class _HostUFunc:
    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        return _device_call(self._ufunc.__name__, self._ufunc, args, kwargs)

    def __getattr__(self, name):  # at, reduce, ...
        attr = getattr(self._ufunc, name)
        if not callable(attr):
            return attr
        return _device_function(f"{self._ufunc.__name__}.{name}", attr)


def _to_device(fn):
    """cupy.asarray / array: device input as is, host input copied over."""
    def call(obj, *args, **kwargs):
        if isinstance(obj, DevArray):
            return _run_or_record(lambda: _to_dev(fn(obj.view(np.ndarray), *args, **kwargs)),
                                  [obj])
        _no_capture("a host-to-device copy")
        return _to_dev(np.array(fn(obj, *args, **kwargs), copy=True))
    return call


class _HostRNG:
    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def random(self, size=None, dtype=np.float64):
        return _to_dev(np.asarray(self._rng.random(size, dtype=dtype)))

    def standard_normal(self, size=None, dtype=np.float64):
        return _to_dev(np.asarray(self._rng.standard_normal(size, dtype=dtype)))

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return _to_dev(np.asarray(self._rng.integers(low, high, size, dtype=dtype,
                                                     endpoint=endpoint)))


class _HostCupy(types.ModuleType):
    """``cupy``: NumPy's functions on DevArrays, the kernel classes compiled for the host."""
    ndarray = DevArray
    cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1), Stream=HostStream,
        Event=HostEvent, get_current_stream=lambda: _CURRENT[0], MemoryPool=HostMemoryPool,
        using_allocator=_using_allocator, graph=types.SimpleNamespace(Graph=HostGraph))
    random = types.SimpleNamespace(default_rng=_HostRNG)
    asarray = staticmethod(_to_device(np.asarray))
    array = staticmethod(_to_device(np.array))
    ascontiguousarray = staticmethod(_to_device(np.ascontiguousarray))
    lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
        as_strided=lambda x, shape=None, strides=None: _to_dev(np.lib.stride_tricks.as_strided(
            x.view(np.ndarray), shape, strides))))

    @staticmethod
    def asnumpy(x):
        _no_capture("a device-to-host copy")
        return np.array(x.view(np.ndarray) if isinstance(x, DevArray) else x, copy=True)

    def __init__(self, kernel_dir):
        super().__init__("cupy")
        self.ElementwiseKernel = functools.partial(HostElementwiseKernel, kernel_dir=kernel_dir)
        self.RawKernel = functools.partial(HostRawKernel, kernel_dir=kernel_dir)

    def __getattr__(self, name):
        obj = getattr(np, name)
        if isinstance(obj, np.ufunc):
            return _HostUFunc(obj)
        if callable(obj) and not isinstance(obj, type):
            return _device_function(name, obj)
        return obj


_SCATTER_OK = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int32,
                                          np.uint32, np.uint64))


def _host_scatter_add(a, slices, value):
    if a.dtype not in _SCATTER_OK:  # CUDA's atomicAdd, as cupyx.scatter_add
        raise TypeError(f"scatter_add does not support {a.dtype}")
    _run_or_record(lambda: np.add.at(a.view(np.ndarray), _host_view(slices), _host_view(value)),
                   _leaves((a, slices, value)))


# -- building kernel source text for the host ------------------------------------------------------
_CXX = shutil.which("g++")
_CTYPES = {"float": ctypes.c_float, "double": ctypes.c_double, "long long": ctypes.c_longlong,
           "int": ctypes.c_int, "bool": ctypes.c_bool}
_NP_SCALAR = {"float": np.float32, "double": np.float64, "long long": np.int64, "int": np.int32,
              "bool": np.bool_}


def _build(kernel_dir, source, flags):
    key = hashlib.sha256((source + repr(flags)).encode()).hexdigest()[:20]
    lib = kernel_dir / f"{key}.so"
    if not lib.exists():
        src = kernel_dir / f"{key}.cpp"
        src.write_text(source)
        tmp = kernel_dir / f"{key}.{os.getpid()}.so"
        r = subprocess.run([_CXX, *flags, "-shared", "-fPIC", "-o", str(tmp), str(src)],
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"g++ could not build the kernel:\n{r.stderr}\n{source}")
        os.replace(tmp, lib)
    return ctypes.CDLL(str(lib))


def _params(spec):
    out = []
    for p in spec.split(","):
        words = p.split()
        assert len(words) == 2 and words[0] in ("T", "bool"), f"parameter {p!r}"
        out.append((words[0], words[1]))
    return out


_EW_PRELUDE = ("#include <cmath>\nusing std::exp; using std::fabs; using std::tanh; "
               "using std::sqrt; using std::log; using std::log1p; using std::erf; "
               "using std::pow;\n#define __device__\n#define __forceinline__ inline\n")


class HostElementwiseKernel:
    """cupy.ElementwiseKernel for T in float32/float64: the body runs in a host loop, inputs
    declared ``const``, outputs as references, scalars cast to T as CuPy casts them."""

    def __init__(self, in_params, out_params, operation, name="kernel", options=(),
                 kernel_dir=None, preamble="", **kwargs):
        self.ins, self.outs = _params(in_params), _params(out_params)
        names = [n for _, n in self.ins + self.outs]
        assert len(set(names)) == len(names), f"{name}: repeated parameter names"
        self.operation, self.name, self.options = operation, name, tuple(options)
        self.kernel_dir, self.preamble = kernel_dir, preamble
        self._fns = {}

    def _function(self, mask, ctype):
        if mask not in self._fns:
            def decl(c):
                d = [f"const {t if t == 'bool' else c}{'*' if arr else ''} {n}{'_p' * arr}"
                     for (t, n), arr in zip(self.ins, mask)]
                return d + [f"{c}* {n}_p" for _, n in self.outs]
            load = [f"const T {n} = {n}_p[i];" for (t, n), arr in zip(self.ins, mask) if arr]
            load += [f"T &{n} = {n}_p[i];" for _, n in self.outs]
            args = [n + ("_p" if arr else "") for (_, n), arr in zip(self.ins, mask)]
            args += [n + "_p" for _, n in self.outs]
            src = [_EW_PRELUDE, self.preamble,
                   f"template <typename T> static void body(long n_, {', '.join(decl('T'))}) {{",
                   f"  for (long i = 0; i < n_; ++i) {{ {' '.join(load)} {{ {self.operation} }} }}",
                   "}"]
            for c in ("float", "double"):
                src.append(f'extern "C" void run_{c}(long n_, {", ".join(decl(c))}) '
                           f'{{ body<{c}>(n_, {", ".join(args)}); }}')
            flags = ["-std=c++17", "-O1"] + (["-ffp-contract=off"] if "--fmad=false" in
                                               self.options else [])
            lib = _build(self.kernel_dir, "\n".join(src), flags)
            self._fns[mask] = {c: getattr(lib, f"run_{c}") for c in ("float", "double")}
        return self._fns[mask][ctype]

    def __call__(self, *args):
        return _run_or_record(lambda: self._call(*args), _leaves(args))

    def _call(self, *args):
        n_in, n_out = len(self.ins), len(self.outs)
        if len(args) not in (n_in, n_in + n_out):
            raise TypeError(f"{self.name}: {len(args)} arguments, expected {n_in} or "
                            f"{n_in + n_out}")
        ins, outs = args[:n_in], args[n_in:]
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        _no_host(self.name, arrays)
        bound = {a.dtype for (t, _), a in zip(self.ins + self.outs, args)
                 if t == "T" and isinstance(a, np.ndarray)}
        if len(bound) != 1 or not bound <= {F32, F64}:
            raise TypeError(f"{self.name}: T bound to {bound} (the host stand-in runs float32 "
                            "and float64)")
        T = bound.pop()
        for (t, n), a in zip(self.ins, ins):
            if isinstance(a, np.ndarray):
                continue
            if t == "bool" and not isinstance(a, (bool, np.bool_)):
                raise TypeError(f"{self.name}: {n} is bool, got {type(a).__name__}")
            if t == "T" and (isinstance(a, (bool, np.bool_)) or
                             not isinstance(a, (int, float, np.number))):
                raise TypeError(f"{self.name}: {n} is T, got {type(a).__name__}")
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        for o in outs:
            if o.shape != shape or o.dtype != T:
                raise ValueError(f"{self.name}: output {o.dtype}{o.shape}, expected {T}{shape}")
        work = [np.ascontiguousarray(np.broadcast_to(a.view(np.ndarray), shape))
                if isinstance(a, np.ndarray) else a for a in ins]
        results = [np.ascontiguousarray(o.view(np.ndarray)) for o in outs] or \
                  [np.empty(shape, T) for _ in self.outs]
        ctype = "float" if T == F32 else "double"
        cargs = [ctypes.c_long(int(np.prod(shape)))]
        for (t, _), a in zip(self.ins, work):
            if isinstance(a, np.ndarray):
                cargs.append(ctypes.c_void_p(a.ctypes.data))
            elif t == "bool":
                cargs.append(ctypes.c_bool(bool(a)))
            else:
                cargs.append(_CTYPES[ctype](T.type(a)))
        cargs += [ctypes.c_void_p(r.ctypes.data) for r in results]
        mask = tuple(isinstance(a, np.ndarray) for a in ins)
        self._function(mask, ctype)(*cargs)
        if outs:
            for o, r in zip(outs, results):
                o.view(np.ndarray)[...] = r
            results = list(outs)
        else:
            results = [r.view(DevArray) for r in results]
        return results[0] if n_out == 1 else tuple(results)


_RAW_PRELUDE = r"""
#include <cmath>
#include <barrier>
#include <thread>
#include <vector>
struct tl_dim3 { unsigned x, y, z; };
struct float4 { float x, y, z, w; };
static thread_local tl_dim3 threadIdx;
static tl_dim3 blockIdx, blockDim, gridDim;
static std::barrier<>* tl_bar;
static double tl_slots[1024];
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
static inline void __syncthreads() { tl_bar->arrive_and_wait(); }
template <class V> static V __shfl_xor_sync(unsigned, V v, int lane_mask) {
    tl_slots[threadIdx.x] = (double)v;
    __syncthreads();
    V r = (V)tl_slots[threadIdx.x ^ lane_mask];
    __syncthreads();
    return r;
}
"""

_RAW_LAUNCH = """
extern "C" void tl_launch(unsigned tl_gx, unsigned tl_gy, unsigned tl_bx, {params}) {{
    gridDim = {{tl_gx, tl_gy, 1}};
    blockDim = {{tl_bx, 1, 1}};
    for (unsigned tl_y = 0; tl_y < tl_gy; ++tl_y)
        for (unsigned tl_x = 0; tl_x < tl_gx; ++tl_x) {{
            blockIdx = {{tl_x, tl_y, 0}};
            std::barrier<> tl_block(tl_bx);
            tl_bar = &tl_block;
            std::vector<std::thread> tl_threads;
            for (unsigned tl_t = 0; tl_t < tl_bx; ++tl_t)
                tl_threads.emplace_back([=] {{ threadIdx = {{tl_t, 0, 0}}; {name}({args}); }});
            for (auto& tl_th : tl_threads) tl_th.join();
        }}
}}
"""


class HostRawKernel:
    """cupy.RawKernel for 1-D blocks and 1-D/2-D grids: one host thread per CUDA thread."""

    def __init__(self, code, name, options=(), kernel_dir=None, **kwargs):
        m = re.search(r'extern\s+"C"\s+__global__\s+void\s+' + re.escape(name) + r"\s*\(([^)]*)\)",
                      code)
        assert m, f"no kernel {name!r} in its source"
        self.params = [" ".join(p.split()) for p in m.group(1).split(",")]
        self.code, self.name, self.kernel_dir = code, name, kernel_dir
        self._fn = None

    def _kind(self, param):
        if "*" in param:
            return "pointer"
        words = param.replace("const ", "").split()[:-1]
        return " ".join(words)

    def __call__(self, grid, block, args, shared_mem=0):
        return _run_or_record(lambda: self._launch(grid, block, args), _leaves(tuple(args)))

    def _launch(self, grid, block, args):
        grid, block = tuple(grid) + (1, 1), tuple(block) + (1, 1)
        if not (1 <= block[0] <= 1024 and block[1] == block[2] == 1):
            raise ValueError(f"{self.name}: block {block[:3]} (1-D blocks of at most 1024)")
        if not (1 <= grid[0] < 2 ** 31 and 1 <= grid[1] <= 65535 and grid[2] == 1):
            raise ValueError(f"{self.name}: grid {grid[:3]} out of CUDA's limits")
        if len(args) != len(self.params):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.params)} "
                            f"parameters ({self.params})")
        cargs = []
        for p, a in zip(self.params, args):
            kind = self._kind(p)
            if kind == "pointer":
                if not isinstance(a, DevArray):
                    raise TypeError(f"{self.name}: {p} needs a device array, got "
                                    f"{type(a).__name__}")
                cargs.append(ctypes.c_void_p(a.data.ptr))
            else:
                if type(a) is not _NP_SCALAR[kind]:
                    raise TypeError(f"{self.name}: {p} needs a numpy {_NP_SCALAR[kind].__name__},"
                                    f" got {type(a).__name__}")
                cargs.append(_CTYPES[kind](a))
        if self._fn is None:
            names = ", ".join(p.split()[-1] for p in self.params)
            src = _RAW_PRELUDE + self.code + _RAW_LAUNCH.format(
                params=", ".join(self.params), name=self.name, args=names)
            lib = _build(self.kernel_dir, src,
                         ["-std=c++20", "-O1", "-pthread", "-ffp-contract=off"])
            self._fn = lib.tl_launch
        self._fn(ctypes.c_uint(grid[0]), ctypes.c_uint(grid[1]), ctypes.c_uint(block[0]),
                 *cargs)


def _host_matrix(ptr, rows, cols, ld, dtype):
    """The column-major (rows, cols) matrix with leading dimension ``ld`` at address ``ptr``."""
    item = np.dtype(dtype).itemsize
    nbytes = (ld * (cols - 1) + rows) * item
    buf = np.frombuffer((ctypes.c_char * nbytes).from_address(ptr), dtype=dtype)
    return np.lib.stride_tricks.as_strided(buf, (rows, cols), (item, ld * item))


def _host_gemm(dtype, handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """cuBLAS's gemm on host memory: C = alpha op(A) op(B) + beta C, column-major; alpha and
    beta read through host pointers (cuBLAS's default pointer mode)."""
    if _capture_ops() is not None:  # as CuPy's cublas.setStream
        raise NotImplementedError("calling cuBLAS API during stream capture is currently "
                                  "unsupported")
    assert transa in (0, 1) and transb in (0, 1)
    a = _host_matrix(A, *((k, m) if transa else (m, k)), lda, dtype)
    b = _host_matrix(B, *((n, k) if transb else (k, n)), ldb, dtype)
    c = _host_matrix(C, m, n, ldc, dtype)
    alpha, beta = (_host_matrix(p, 1, 1, 1, dtype)[0, 0] for p in (alpha, beta))
    product = alpha * ((a.T if transa else a) @ (b.T if transb else b))
    c[...] = product if beta == 0 else product + beta * c


_HOST_CUBLAS = types.SimpleNamespace(sgemm=functools.partial(_host_gemm, np.float32),
                                     dgemm=functools.partial(_host_gemm, np.float64))


def _clear_kernel_caches():
    for builder in [*vars(K).values(), *vars(G).values()]:
        if hasattr(builder, "cache_clear"):
            builder.cache_clear()


@pytest.fixture
def host_cupy(monkeypatch, request, tmp_path_factory):
    """A CupyBackend built on the host stand-in."""
    if _CXX is None:
        pytest.skip("g++ is not installed: the host stand-in builds the kernels' source with it")
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        kernel_dir = Path(cache.mkdir("cupy-host-kernels"))
    else:  # one folder for the session: each kernel is built once, not once per test
        kernel_dir = tmp_path_factory.getbasetemp() / "cupy-host-kernels"
        kernel_dir.mkdir(exist_ok=True)
    _CURRENT[0] = _NULL_STREAM
    _CAPTURING.clear()
    monkeypatch.setitem(sys.modules, "cupy", _HostCupy(kernel_dir))
    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = _host_scatter_add
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    _clear_kernel_caches()
    monkeypatch.setattr(K, "cublas", lambda: (_HOST_CUBLAS, lambda: 0))
    try:
        yield CupyBackend()
    finally:
        _clear_kernel_caches()


@pytest.fixture
def host_cuda(host_cupy, monkeypatch):
    """The front end with the host stand-in as the backend of device "cuda"."""
    from tensorlite import backends as registry
    monkeypatch.setitem(registry._built, "cupy", host_cupy)
    monkeypatch.delitem(registry._failures, "cupy", raising=False)
    monkeypatch.delitem(registry.active, "cuda", raising=False)
    with tl.use_backend("cupy"):
        tl.manual_seed(0)
        yield host_cupy
