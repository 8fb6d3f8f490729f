"""Numba kernels of the reductions (sums, amax/amin's backward) and of embedding's backward
(index_add) for the numba backend.

``extreme_grad`` (amax/amin's gradient, ties sharing it): for a C-contiguous array reduced over
its trailing axes, seen as ``(rows, n)``, each row is read twice (count the elements equal to
the result, then write ``g * hit / count``) in place of the reference's five array passes
(compare, count, cast, multiply, divide).  The arithmetic is the reference's, in the array's
dtype, so the results are equal bit for bit (a NaN or inf ``g`` spreads over the row, as
PyTorch's ``g * mask / count``).

``sum`` over the leading axes of a C-contiguous array (seen as ``(rows, n)``: the column
sums) is ``colsum``: each column summed top to bottom, which is the order of
NumPy's own loop there (its inner loop runs along the kept axis, adding one row at a time), so
the results are NumPy's bit for bit; the pool splits the columns, never a column's sum.  4096x256
float32: 0.08 ms against NumPy's 0.17 ms on one thread (its reduction machinery buffers).
``sum`` over the trailing axes (``(rows, n)``: the row sums) is ``rowsum``: each row in chunks
of 1024 elements, a chunk summed in the dtype with reassociation (a vector of partial sums, each
over every 8th/16th element), the chunks' sums added in float64 and rounded once.  NumPy sums
pairwise (blocks of 128 in 8 partial sums, halves added recursively): the order differs, the
error bound is of the same size (a chunk's: about 1024/lanes * eps * sum|x|; tested against the
float64 sum).  256x4096 and 4096x256 float32: 0.08 ms against NumPy's 0.20 and 0.27 ms.
amax/amin stay NumPy's SIMD loops: Numba loops that keep NaN's propagation do not vectorize
(256x4096 float32 row max 0.29-0.59 ms in three forms against NumPy's 0.09 ms).
``index_add`` with full slices and one integer index array (embedding's backward, strided
picks such as a stride-2 1x1 convolution's input): rows of values added into zeros in index
order, as np.add.at (equal bit for bit; 18x faster for 1024 rows of 128).
The ``*_par`` functions split the rows (the column kernels: the columns) in ``threads`` blocks on
Numba's pool; the ``*_body`` ones run on the calling thread.
"""
import math

import numpy as np
from numba import njit, prange

from .numba_common import _split, rsum


@njit(cache=True, error_model="numpy")  # a NaN result ties with nothing: 0 / 0 gives NaN
def extreme_grad_body(g, x, y, out, r0, r1):
    """Rows [r0, r1) of x (rows, n) with g, y (rows,): out = g * (x == y) / count."""
    n = x.shape[1]
    for r in range(r0, r1):
        row, yr, o = x[r], y[r], out[r]
        count = 0
        for j in range(n):
            if row[j] == yr:
                count += 1
        o[0] = count  # (read back: the count and a zero in the array's dtype, so that the
        c = o[0]  # arithmetic below stays in it, as the reference's)
        o[0] = 0
        gv = g[r]
        zero = gv * o[0]
        for j in range(n):
            o[j] = (gv if row[j] == yr else zero) / c


@njit(cache=True, parallel=True)
def extreme_grad_par(g, x, y, out, threads):
    for i in prange(threads):
        extreme_grad_body(g, x, y, out, _split(x.shape[0], threads, i),
                          _split(x.shape[0], threads, i + 1))


@njit(cache=True)
def colsum_body(x, out, c0, c1):
    """out[c0:c1] = x[:, c0:c1].sum(0), each column summed top to bottom (NumPy's order)."""
    for j in range(c0, c1):
        out[j] = 0
    for r in range(x.shape[0]):
        row = x[r]
        for j in range(np.uint64(c0), np.uint64(c1)):  # (unsigned: no wraparound checks)
            out[j] += row[j]


_CHUNK = 1024  # elements of a row summed in the dtype before the float64 sum of the chunks


@njit(cache=True)
def rowsum_body(x, out, r0, r1):
    """out[r] = x[r].sum() for rows [r0, r1): chunks of _CHUNK in the dtype, then float64."""
    n = x.shape[1]
    for r in range(r0, r1):
        row = x[r]
        s = 0.0
        for j0 in range(0, n, _CHUNK):
            s += rsum(row[j0:min(j0 + _CHUNK, n)])
        out[r] = s


@njit(cache=True, parallel=True)
def rowsum_par(x, out, threads):
    for i in prange(threads):
        rowsum_body(x, out, _split(x.shape[0], threads, i), _split(x.shape[0], threads, i + 1))


@njit(cache=True, parallel=True)
def colsum_par(x, out, threads):
    """colsum_body over ``threads`` blocks of columns (multiples of 16: whole cache lines)."""
    n = x.shape[1]
    parts = min(threads, max(1, n // 16))
    for i in prange(parts):
        c0 = _split(n // 16, parts, i) * 16
        c1 = n if i == parts - 1 else _split(n // 16, parts, i + 1) * 16
        colsum_body(x, out, c0, c1)


# -- index_add with one integer index array (embedding's backward): a scatter-add of rows -----
@njit(cache=True)
def index_rows_body(idx, values, out, c0, c1):
    """out[p, idx[k], c0:c1] += values[p, k, c0:c1] for each p, k in order (repeated indices
    summed in index order, as np.add.at); negative indices count from the end.  False (out
    partly written) when an index is out of range."""
    rows = out.shape[1]
    for p in range(out.shape[0]):
        for k in range(idx.shape[0]):
            i = idx[k]
            if i < 0:
                i += rows
            if i < 0 or i >= rows:
                return False
            o, v = out[p, i], values[p, k]
            for j in range(c0, c1):
                o[j] += v[j]
    return True


@njit(cache=True, parallel=True)
def index_rows_par(idx, values, out, threads):
    """index_rows_body over ``threads`` blocks of columns (each element's sum keeps its order)."""
    n = out.shape[2]
    parts = min(threads, max(1, n // 16))
    ok = np.ones(parts, np.bool_)
    for i in prange(parts):
        c0 = _split(n // 16, parts, i) * 16
        c1 = n if i == parts - 1 else _split(n // 16, parts, i + 1) * 16
        ok[i] = index_rows_body(idx, values, out, c0, c1)
    return ok.all()


def _one_array_axis(index, ndim):
    """(axis, array) when ``index`` is full slices and one integer array (at ``axis``), else
    None."""
    items = index if type(index) is tuple else (index,)
    if len(items) > ndim:
        return None
    found = None
    for a, it in enumerate(items):
        if type(it) is np.ndarray and it.dtype in _INTS and found is None:
            found = (a, it)
        elif not (type(it) is slice and it == _ALL):
            return None
    return found


_ALL = slice(None)
_INTS = (np.dtype(np.int64), np.dtype(np.int32))
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class NumbaReductions:
    """The numba backend's column sums and reduction gradients (a mixin before the NumPy
    reference)."""

    SUM_MIN = 8192  # elements: below this NumPy's sum (a kernel call costs a few microseconds)
    # (sum over every axis stays NumPy's: one row, which the pool could not split)

    def sum(self, x, axis=None, keepdims=False):
        if not (type(x) is np.ndarray and x.dtype in _FLOATS and x.flags.c_contiguous
                and x.size >= self.SUM_MIN and axis is not None):
            return super().sum(x, axis, keepdims)
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        if not all(isinstance(a, (int, np.integer)) and -x.ndim <= a < x.ndim for a in axes):
            return super().sum(x, axis, keepdims)  # (NumPy's error)
        axes = tuple(sorted(int(a) % x.ndim for a in axes))
        k = len(axes)
        if not 0 < k < x.ndim or len(set(axes)) != k:
            return super().sum(x, axis, keepdims)
        axis = axes
        if axis == tuple(range(x.ndim - k, x.ndim)):  # trailing axes: row sums
            lead = x.shape[:x.ndim - k]
            rows = math.prod(lead)
            out = self._new(lead + ((1,) * k if keepdims else ()), x.dtype)
            self._run(x.size, rowsum_par, rowsum_body, (x.reshape(rows, -1), out.reshape(rows)),
                      rows)
            return out
        if not (axis == tuple(range(k)) and math.prod(x.shape[k:]) >= 16):
            return super().sum(x, axis, keepdims)  # (and with fewer than 16 columns NumPy's
        kept = x.shape[k:]  # inner loop may run down a column: pairwise, another order)
        n = math.prod(kept)
        out = self._new(((1,) * k if keepdims else ()) + kept, x.dtype)
        self._run(x.size, colsum_par, colsum_body, (x.reshape(-1, n), out.reshape(n)), n)
        return out

    def index_add(self, shape, dtype, index, values):
        """Embedding's backward and the gradient of ``x[:, ..., idx]`` (full slices and one
        integer index array), rows of float32/float64 values: a Numba scatter-add in index
        order, as np.add.at."""
        shape = tuple(shape)
        found = _one_array_axis(index, len(shape))
        if found is None or not (type(values) is np.ndarray and values.dtype in _FLOATS
                                 and values.dtype == np.dtype(dtype) and found[1].size):
            return super().index_add(shape, dtype, index, values)
        a, idx = found
        if values.shape != shape[:a] + idx.shape + shape[a + 1:]:
            return super().index_add(shape, dtype, index, values)
        out = np.zeros(shape, values.dtype)
        lead, n = math.prod(shape[:a]), math.prod(shape[a + 1:])
        args = (np.ascontiguousarray(idx).reshape(-1),
                np.ascontiguousarray(values).reshape(lead, idx.size, n),
                out.reshape(lead, shape[a], n))
        if not self._run(values.size, index_rows_par, index_rows_body, args, n):
            return super().index_add(shape, dtype, index, values)  # (raises its IndexError)
        return out

    def extreme_grad(self, g, x, y, axes):
        k = len(axes)
        if not (type(x) is np.ndarray and x.dtype in _FLOATS and x.flags.c_contiguous and x.size
                and type(g) is np.ndarray and type(y) is np.ndarray and g.dtype == x.dtype
                and y.dtype == x.dtype and k and x.ndim >= k
                and tuple(axes) == tuple(range(x.ndim - k, x.ndim))
                and g.shape == y.shape == x.shape[:x.ndim - k] + (1,) * k):
            return super().extreme_grad(g, x, y, axes)
        rows = y.size
        x2 = x.reshape(rows, -1)
        out = self._new(x.shape, x.dtype)
        self._run(x.size, extreme_grad_par, extreme_grad_body,
                  (np.ascontiguousarray(g).reshape(-1), x2, np.ascontiguousarray(y).reshape(-1),
                   out.reshape(x2.shape)), rows)
        return out
