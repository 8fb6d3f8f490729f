"""The reference array primitives that move data rather than compute on it: creation,
conversion, movement, indexing and scatter, random numbers and in-place updates.

Each group is a mixin of the reference backend (backends/base.py) over its array module
``self.xp``; backends/contract.py lists the groups.  Two markers describe a primitive to
``Backend``: ``direct`` (the method is exactly one array-module call) and ``required`` (the
reference cannot supply it; every backend must).
"""
import sys

import numpy as np

# Code that hands out or adopts memory by counting references (the engine taking over a
# gradient, the numba backend's buffer pool) trusts sys.getrefcount only where its counts were
# checked by the tests: CPython 3.10-3.13.  Later versions skip some reference-count updates
# (borrowed stack references), so there both always copy instead.
REFCOUNTS_KNOWN = sys.implementation.name == "cpython" and sys.version_info[:2] <= (3, 13)


def direct(xp_name):
    """Mark a reference primitive whose body is exactly ``self.xp.<xp_name>`` called with its
    arguments.  ``Backend.__init__`` binds that array-module function on the instance in the
    method's place: one Python call less on the hottest path (about 0.2 us per op).  A subclass
    that overrides the method gets its override, as for any method.  So that the two accept the
    same calls, the method takes its arguments as NumPy's function does: operands by position
    only where NumPy's are, options under NumPy's names (tests/test_backend_contract.py checks)."""
    def mark(method):
        method.xp_name = xp_name
        return method
    return mark


def required(method):
    """Mark a primitive the reference cannot supply (random numbers need the backend's own
    generator): every backend overrides it, and contract.check reports one that does not."""
    method.required = True
    return method


class Creation:
    """New arrays of a shape and dtype (``dtype=None``: the array module's default)."""

    @direct("empty")
    def empty(self, shape, dtype=None):
        """An uninitialized array."""
        return self.xp.empty(shape, dtype=dtype)

    @direct("zeros")
    def zeros(self, shape, dtype=None):
        """An array of zeros."""
        return self.xp.zeros(shape, dtype=dtype)

    @direct("ones")
    def ones(self, shape, dtype=None):
        """An array of ones."""
        return self.xp.ones(shape, dtype=dtype)

    @direct("full")
    def full(self, shape, fill_value, dtype=None):
        """An array of ``fill_value``."""
        return self.xp.full(shape, fill_value, dtype=dtype)

    @direct("arange")
    def arange(self, start, /, stop=None, step=1, *, dtype=None):
        """Evenly spaced values in [start, stop) (``arange(n)``: 0 .. n-1)."""
        return self.xp.arange(start, stop, step, dtype=dtype)

    @direct("linspace")
    def linspace(self, start, stop, num=50, *, dtype=None):
        """``num`` evenly spaced values from start to stop, both included."""
        return self.xp.linspace(start, stop, num, dtype=dtype)

    @direct("eye")
    def eye(self, n, m=None, /, *, dtype=None):
        """The (n, m) identity matrix (m defaults to n)."""
        return self.xp.eye(n, m, dtype=dtype)

    @direct("zeros_like")
    def zeros_like(self, x, /, dtype=None):
        """Zeros of ``x``'s shape and (by default) dtype."""
        return self.xp.zeros_like(x, dtype=dtype)


class Conversion:
    """Arrays from other objects and other places, copies, and memory ownership."""

    def asarray(self, obj, dtype=None):
        """``obj`` (an array, a nested list, a number) as an array of this backend."""
        return self.xp.asarray(obj, dtype=dtype)

    def ensure_array(self, x):
        """``x`` itself if it is an array of this backend, else as one: NumPy gives a scalar,
        not a 0-d array, for an op on 0-d arrays, and a tensor's storage must be an array."""
        return x if isinstance(x, self.xp.ndarray) else self.xp.array(x)

    def astype(self, x, dtype):
        """``x`` converted to ``dtype`` (a new array)."""
        return x.astype(dtype)

    def copy(self, x):
        """A new array with ``x``'s values (an array even for a NumPy scalar: 0-d results)."""
        return self.xp.array(x, copy=True)

    def to_host(self, x):
        """A NumPy array with the same values (no copy where the data already lives on the host)."""
        return np.asarray(x)

    def from_dlpack(self, obj):
        """An array sharing the memory of a DLPack producer (a torch tensor, a CuPy array...)."""
        return self.xp.from_dlpack(obj)

    def private(self, x):
        """Whether ``x``'s memory can be reached through ``x`` alone (it is no view of another
        array) once nothing else references ``x``: the engine then hands it to ``.grad``
        without a copy."""
        return REFCOUNTS_KNOWN and isinstance(x, self.xp.ndarray) and x.base is None


class Movement:
    """Shape changes, views and joins: elements move, values do not change."""

    @direct("reshape")
    def reshape(self, x, /, shape):
        """``x`` with a new shape of the same size (a view where the strides allow)."""
        return self.xp.reshape(x, shape)

    def reshape_view(self, x, /, shape):
        """``x`` with a new shape as a view of its memory; ValueError where the strides can't."""
        if not isinstance(x, self.xp.ndarray):  # a NumPy scalar from a 0-d op has no storage
            return self.xp.reshape(x, shape)
        try:
            return self.xp.reshape(x, shape, copy=False)
        except TypeError:  # an array module without reshape(copy=): set the shape of a view
            y = x.view()
            try:
                y.shape = shape
            except AttributeError as e:
                raise ValueError(str(e)) from None
            return y

    @direct("transpose")
    def transpose(self, x, /, axes=None):
        """``x`` with its axes permuted to ``axes`` (reversed when None), a view."""
        return self.xp.transpose(x, axes)

    @direct("broadcast_to")
    def broadcast_to(self, x, /, shape):
        """A read-only view of ``x`` broadcast to ``shape``."""
        return self.xp.broadcast_to(x, shape)

    @direct("concatenate")
    def concatenate(self, arrays, /, axis=0):
        """The arrays joined along an existing ``axis``."""
        return self.xp.concatenate(arrays, axis=axis)

    @direct("stack")
    def stack(self, arrays, /, axis=0):
        """The arrays (of one shape) joined along a new ``axis``."""
        return self.xp.stack(arrays, axis=axis)

    @direct("tile")
    def tile(self, x, /, reps):
        """``x`` repeated ``reps[d]`` times along each axis d (torch's repeat)."""
        return self.xp.tile(x, reps)

    def unfold(self, x, axis, size, step):
        """A view of ``x`` whose ``axis`` holds the windows of ``size`` elements every ``step``
        along it, the window's elements a new last axis (torch's Tensor.unfold)."""
        n = (x.shape[axis] - size) // step + 1
        st = x.strides
        return self.xp.lib.stride_tricks.as_strided(
            x, x.shape[:axis] + (n,) + x.shape[axis + 1:] + (size,),
            st[:axis] + (st[axis] * step,) + st[axis + 1:] + (st[axis],))

    @direct("ascontiguousarray")
    def ascontiguousarray(self, x, /):
        """``x`` itself if C-contiguous, else a C-contiguous copy (a 0-d ``x`` comes back 1-d)."""
        return self.xp.ascontiguousarray(x)

    def view_positions(self, view, base):
        """The flat C-order positions (int64, ``view``'s shape) in the C-contiguous ``base`` of
        the elements of ``view``, an array sharing its memory; None when ``view`` has no element
        in ``base``'s memory (or none at all).  ValueError when ``base`` is not C-contiguous or
        the view's steps are not whole elements."""
        if type(view) is not type(base) or view.dtype != base.dtype or not view.size:
            return None
        size = base.itemsize
        off = _address(view) - _address(base)
        lo, hi = _extent(view)
        blo, bhi = _extent(base)
        if off + hi < blo or off + lo > bhi:
            return None
        if not base.flags.c_contiguous or off % size or any(s % size for s in view.strides):
            raise ValueError("the base is not C-contiguous, or the view's steps are not whole "
                             "elements")
        xp = self.xp
        pos = xp.asarray(off // size, dtype=np.int64)
        for n, s in zip(view.shape, view.strides):
            pos = pos[..., None] + xp.arange(n, dtype=np.int64) * (s // size)
        return pos


class Indexing:
    """Indexing, and its adjoints that scatter values back with accumulation."""

    def getitem(self, x, index):
        """``x[index]`` for basic, integer-array and boolean indices."""
        return x[index]

    @direct("take_along_axis")
    def take_along_axis(self, x, /, indices, axis):
        """The values of ``x`` at ``indices`` along ``axis`` (torch's gather)."""
        return self.xp.take_along_axis(x, indices, axis)

    def index_add(self, shape, dtype, index, values):
        """zeros(shape) with ``values`` added at ``index``; repeated indices accumulate."""
        out = self.xp.zeros(shape, dtype=dtype)
        if is_basic_index(index):
            out[index] = values
        else:
            self.xp.add.at(out, index, values)
        return out

    def scatter_add(self, shape, axis, index, values):
        """zeros(shape) with ``values`` added along ``axis`` at ``index`` (the adjoint of gather)."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        idx = self.open_grid(index.shape)  # (xp.indices(sparse=True) does not exist in CuPy)
        idx[axis] = index
        self.xp.add.at(out, tuple(idx), values)
        return out

    def scatter_reduce(self, x, axis, index, src, reduce, include_self=True):
        """A copy of ``x`` with ``src`` (of ``index``'s shape) combined into it along ``axis``
        at ``index`` by ``reduce``: "set" (written; the last of repeated indices), "sum",
        "prod", "mean" (floor division for integers), "amax" or "amin"; ``include_self=False``:
        a position written starts from ``src``'s values alone (torch's scatter_reduce)."""
        xp = self.xp
        out = xp.array(x, copy=True)
        idx = self.open_grid(index.shape)
        idx[axis] = index
        idx = tuple(idx)
        if reduce == "set":
            out[idx] = src
            return out
        if not include_self:
            kind = out.dtype.kind
            big = xp.inf if kind == "f" else True if kind == "b" else xp.iinfo(out.dtype).max
            small = (-xp.inf if kind == "f" else False if kind == "b" else
                     xp.iinfo(out.dtype).min)
            out[idx] = {"sum": 0, "mean": 0, "prod": 1, "amax": small, "amin": big}[reduce]
        ufunc = {"sum": xp.add, "mean": xp.add, "prod": xp.multiply, "amax": xp.maximum,
                 "amin": xp.minimum}[reduce]
        ufunc.at(out, idx, src)
        if reduce == "mean":
            count = (xp.ones if include_self else xp.zeros)(x.shape, dtype=np.int64)
            xp.add.at(count, idx, 1)
            count = xp.maximum(count, 1)
            out = (out / count if out.dtype.kind in "fc" else out // count).astype(out.dtype)
        return out

    def open_grid(self, shape):
        """One arange per axis of ``shape``, each shaped to broadcast along its own axis."""
        ones = (1,) * len(shape)
        return [self.xp.arange(n).reshape(ones[:d] + (n,) + ones[d + 1:])
                for d, n in enumerate(shape)]

    def masked_fill(self, x, mask, value):
        """``x`` with ``value`` where the (broadcast) bool ``mask`` is True."""
        return self.xp.where(mask, self.xp.asarray(value, dtype=x.dtype), x)

    def nonzero(self, x):
        """The indices of the non-zero elements of ``x``, one row each: int64 (count, x.ndim)."""
        if x.ndim == 0:  # one row of no coordinates if x is non-zero, as PyTorch
            return self.xp.zeros((int(x != 0), 0), dtype=np.int64)
        return self.xp.stack(self.xp.nonzero(x), axis=-1).astype(np.int64)


class Random:
    """Random numbers.  ``gen`` is a generator made by ``generator`` (a ``tensorlite.Generator``
    holds one); None draws from the backend's default stream, ``self._rng``, which ``seed``
    resets.  The reference draws through the NumPy ``Generator`` API, which CuPy shares."""

    @required
    def seed(self, seed):
        """Reset the backend's default stream to ``seed``."""
        raise NotImplementedError

    def generator(self, seed):
        """A new, independent generator seeded with ``seed``."""
        return self.xp.random.default_rng(seed)

    def rand(self, shape, dtype, gen=None):
        """Uniform samples in [0, 1) (float16, bfloat16: multiples of 2**-digits, as PyTorch's,
        never rounded up to 1)."""
        r = (gen or self._rng).random(shape, dtype=np.float64)
        if np.dtype(dtype).itemsize == 2 and np.dtype(dtype).kind in "fV":
            digits = 11 if np.dtype(dtype).kind == "f" else 8
            r = np.floor(r * 2.0 ** digits) * 2.0 ** -digits
        return r.astype(dtype, copy=False)

    def randn(self, shape, dtype, gen=None):
        """Standard normal samples."""
        return (gen or self._rng).standard_normal(shape, dtype=np.float64).astype(dtype,
                                                                                  copy=False)

    def randint(self, low, high, shape, dtype, gen=None):
        """Uniform integers in [low, high)."""
        return (gen or self._rng).integers(low, high, shape, dtype=dtype)

    def poisson(self, lam, gen=None):
        """Poisson samples with rates ``lam`` (an array), as float64."""
        return (gen or self._rng).poisson(lam).astype(np.float64)

    def exponential(self, shape, dtype, gen=None):
        """Exponential samples of rate 1."""
        return (gen or self._rng).standard_exponential(shape).astype(dtype, copy=False)

    def multinomial(self, probs, num_samples, replacement, gen=None):
        """Per row of the 2-d ``probs`` (weights), ``num_samples`` category indices (int64):
        with replacement by inverting the cumulative weights; without, as the smallest
        exponential keys ``E / p`` (each draw then follows the weights of those left)."""
        xp = self.xp
        u = (gen or self._rng).random((probs.shape[0], num_samples))
        if replacement:
            cdf = xp.cumsum(probs, axis=-1, dtype=np.float64)
            cdf /= cdf[:, -1:]
            picks = (u[:, :, None] >= cdf[:, None, :]).sum(-1)
            return xp.minimum(picks, probs.shape[1] - 1).astype(np.int64)
        keys = (gen or self._rng).standard_exponential(probs.shape)
        with np.errstate(divide="ignore"):
            keys = keys / probs
        return xp.argsort(keys, axis=-1, kind="stable")[:, :num_samples].astype(np.int64)

    def get_state(self, gen=None):
        """The generator's state as bytes (restored by ``set_state``)."""
        import json
        return json.dumps((gen or self._rng).bit_generator.state).encode()

    def set_state(self, state, gen=None):
        """Restore a state that ``get_state`` gave."""
        import json
        (gen or self._rng).bit_generator.state = json.loads(bytes(state).decode())


class InPlace:
    """Updates of an existing array (in-place tensor ops, optimizers): ``x`` is changed and
    nothing is returned."""

    def iadd(self, x, y):
        """x += y."""
        self.xp.add(x, y, out=x)

    def isub(self, x, y):
        """x -= y."""
        self.xp.subtract(x, y, out=x)

    def imul(self, x, y):
        """x *= y."""
        self.xp.multiply(x, y, out=x)

    def copyto(self, x, y):
        """x[...] = y, converting any dtype (as PyTorch's copy_)."""
        self.xp.copyto(x, y, casting="unsafe")

    def fill(self, x, value):
        """Every element of ``x`` set to ``value``."""
        x.fill(value)

    def iclip(self, x, lo, hi):
        """x limited to [lo, hi] in place."""
        self.xp.clip(x, lo, hi, out=x)


def is_basic_index(index):
    """True for an index made only of ints, slices, None and Ellipsis (a view, no repeats)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


class Sparse:
    """Sparse COO kernels.  A COO array is ``indices`` (int64, (ndim, nnz): one column per stored
    value, possibly repeated) and ``values`` ((nnz,)); a position stored more than once stands
    for the sum of its values.  The reference multiplies with SciPy on the host; a device
    backend supplies its own (CuPy: cupyx.scipy.sparse)."""

    def coo_coalesce(self, indices, shape):
        """``(unique, inverse)``: the distinct positions of ``indices`` in row-major order (int64
        (ndim, n_unique)) and, for each column of ``indices``, the column of ``unique`` holding
        its position (int64 (nnz,)), so that the coalesced values are ``index_add`` of the
        values at ``inverse``."""
        xp = self.xp
        if indices.shape[1] == 0:
            return indices.astype(np.int64, copy=True), xp.zeros((0,), dtype=np.int64)
        keys = xp.ravel_multi_index(tuple(indices), tuple(shape))
        unique, inverse = xp.unique(keys, return_inverse=True)
        return (xp.stack(xp.unravel_index(unique, tuple(shape))).astype(np.int64),
                inverse.reshape(-1).astype(np.int64))

    def coo_to_dense(self, indices, values, shape):
        """The dense array of ``shape`` holding the sum of the values stored at each position."""
        return self.index_add(tuple(shape), values.dtype, tuple(indices), values)

    def coo_matmul(self, indices, values, shape, dense):
        """``S @ dense`` for the 2-D COO matrix S of ``shape`` (repeated positions summed) and a
        2-D ``dense`` array of S's dtype with ``dense.shape[0] == shape[1]``; the result is
        dense, of that dtype.  float16 is computed in float32 (SciPy has no float16 product)."""
        try:
            import scipy.sparse
        except ModuleNotFoundError as e:
            raise ModuleNotFoundError("sparse matmul on the CPU needs SciPy: pip install scipy "
                                      f"({e})") from e
        dtype = dense.dtype
        work = np.float32 if dtype == np.float16 else dtype
        s = scipy.sparse.csr_matrix((values.astype(work, copy=False), (indices[0], indices[1])),
                                    shape=tuple(shape))
        out = s @ dense.astype(work, copy=False)
        return np.asarray(out, dtype=dtype)


def _extent(a):
    """The lowest and highest byte offset of an element of ``a`` from its first element."""
    lo = sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s < 0 and n)
    hi = sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s > 0 and n)
    return lo, hi + a.itemsize - 1


def _address(a):
    """Where an array's first element lives (the NumPy and CUDA array interfaces)."""
    face = getattr(a, "__cuda_array_interface__", None) or a.__array_interface__
    return face["data"][0]
