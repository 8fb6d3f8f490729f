"""The numba backend: the NumPy backend's host arrays, with Numba-compiled kernels on the hot path.

Every override checks that its kernel applies (float32/float64, C-contiguous, the shapes it
was written for) and otherwise calls the NumPy reference (``super()``), so any input works.
Kernels compile on first use and are cached on disk.  Building this backend imports Numba;
importing tensorlite does not.

Elementwise ops (activations, their gradients, bias + activation, the fused linear's two
halves, float32 exp/log/tanh) run kernels generated from their scalar descriptions
(scalar_ops.py, through numba_codegen.py): one description per op, any layout, with vectorized
float32 polynomials (numba_math.py); small arrays take the reference (see GENERATED_MIN).  The
other families are one mixin each: softmax/cross-entropy rows (numba_softmax), reductions and
index_add (numba_reduce), layer/batch/group norm (numba_norm), attention (numba_attention),
grouped optimizer steps (numba_optim), convolution and pooling (numba_conv_ops).

Threads: one policy for both pools (docs/architecture.md, "Threads").  A kernel runs on Numba's
pool (``NUMBA_NUM_THREADS`` threads, or numba.set_num_threads) only for at least
``PARALLEL_MIN`` elements (2^20; ``$TENSORLITE_PARALLEL_MIN`` overrides it).  A parallel region
is as slow as its last thread: on a machine with any other runnable work (2 cores, load 2) a
pooled kernel or a threaded BLAS call waits whole scheduler slices (4-40 ms for work of 0.3 ms),
and an OpenMP pool that spins after its loop steals the cores from the next matmul (measured:
a bias + ReLU after each matmul ran 3.6x slower on a spinning pool).  Below 2^20 elements the
serial kernels are memory-bound already, so the pool buys at most 2x on 2 cores and risks 10x;
measured 2026-12-03 (benchmarks/test_cpu_ops.py and test_models.py, interleaved), lowering the
threshold to 2^17 helped layer_norm and log_softmax (1.45x -> 0.98x, 1.63x -> 1.05x of PyTorch)
and hurt sum, x*y+z and every model step.  The pool starts with ``OMP_WAIT_POLICY=PASSIVE``
(threads sleep when done) unless the user set a policy; the variable is restored right after,
so nothing else in the process (PyTorch's own OpenMP, child processes) sees it.
"""
import os
import threading
from math import prod
from sys import getrefcount as _refcount

import numpy as np

from .base import REFCOUNTS_KNOWN
from .numba_attention import NumbaAttention
from .numba_common import _FLOATS, _threads
from .numba_conv_ops import NumbaConvolution
from .numba_elementwise import NumbaElementwise
from .numba_norm import NumbaNorm
from .numba_optim import NumbaOptim
from .numba_reduce import NumbaReductions
from .numba_softmax import NumbaSoftmax
from .numba_sorting import NumbaSorting
from .numpy_backend import NumpyBackend


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


class NumbaBackend(NumbaAttention, NumbaElementwise, NumbaSoftmax, NumbaOptim, NumbaConvolution,
                   NumbaSorting, NumbaNorm, NumbaReductions, NumpyBackend):
    name = "numba"
    device = "cpu"

    # elements: below this a kernel runs on the calling thread ($TENSORLITE_PARALLEL_MIN sets it,
    # for measuring the policy on another machine)
    PARALLEL_MIN = int(os.environ.get("TENSORLITE_PARALLEL_MIN", 1 << 20))

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
