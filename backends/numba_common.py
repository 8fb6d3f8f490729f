"""What the numba backend's kernel mixins share: which arrays a kernel takes, and an empty
placeholder for an optional array argument (Numba needs an array of the right dtype), and the
thread pool (see numba_backend's docstring)."""
import os

import numba
import numpy as np
from numba import njit

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)


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


def _empty(dtype):
    return np.empty(0, dtype)


_pool_started: list[bool] = []


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


@njit(cache=True, inline="always")
def _split(n, parts, i):
    """Where part ``i`` of ``n`` items split into ``parts`` nearly equal parts begins."""
    return n * i // parts


# -- sums the row kernels share: reassociated (vectorized partial sums in the array's dtype) in
# their own functions, so that no reassociation reaches a caller's exp polynomial -------------
@njit(cache=True, fastmath={"reassoc"})
def rsum(a):
    """sum(a) over a 1-D array in its dtype, reassociated."""
    s = a.dtype.type(0)
    for j in range(a.shape[0]):
        s += a[j]
    return s


@njit(cache=True, fastmath={"reassoc"})
def rdot(a, b):
    """sum(a * b) over two 1-D arrays of one length in their dtype, reassociated."""
    s = a.dtype.type(0)
    for j in range(a.shape[0]):
        s += a[j] * b[j]
    return s

