"""The reference sorting, searching and counting primitives (sort order, binary search, unique
elements, bincount, histograms).  A mixin of the reference backend over ``self.xp`` (see
backends/contract.py); every function used here exists in NumPy and CuPy alike.

Order conventions are PyTorch's: sorts are stable (equal elements keep their order, also when
descending) and NaN sorts as the largest value; NaNs are never equal to each other (each is a
distinct element of ``unique``).
"""
import numpy as np


class Sorting:
    """Sorting along an axis, binary search, distinct elements and histograms."""

    def sort_indices(self, x, axis=-1, descending=False):
        """The int64 indices that sort ``x`` along ``axis`` stably (equal elements, NaNs among
        them, keep their order), NaN largest; ``descending``: largest first, ties still in order."""
        xp = self.xp
        if not descending:
            return xp.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
        # a stable ascending sort of the reversed array, reversed: descending with the ties in
        # their original order (reversing an ascending sort would reverse them too)
        idx = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable").astype(np.int64, copy=False)
        return (x.shape[axis] - 1) - xp.flip(idx, axis)

    def select_kth(self, x, k, axis=-1):
        """The int64 index along ``axis`` of the ``k``-th smallest element (from 0) of each
        slice of ``x`` (NaN largest), ``axis`` kept with size 1: among equal elements, the one
        PyTorch's CPU kthvalue picks (its quickselect, run on the host for slices where the
        k-th value is tied; elsewhere the stable sort's position is the only choice)."""
        xp = self.xp
        order = self.sort_indices(x, axis)
        srt = xp.take_along_axis(x, order, axis)
        n = x.shape[axis]
        at = xp.moveaxis(srt, axis, -1)
        kth = at[..., k]
        tied = xp.zeros(kth.shape, dtype=bool)
        for j in (k - 1, k + 1):
            if 0 <= j < n:
                tied |= (at[..., j] == kth) | ((at[..., j] != at[..., j]) & (kth != kth))
        idx = xp.moveaxis(order, axis, -1)[..., k:k + 1]
        rows = xp.nonzero(tied.reshape(-1))[0]
        if rows.size:
            fixed = np.array(self.to_host(idx.reshape(-1)), dtype=np.int64)
            host = self.to_host(xp.moveaxis(x, axis, -1).reshape(-1, n)[rows])
            for r, row in zip(self.to_host(rows).tolist(), host):
                fixed[r] = _quickselect(row.tolist(), k)
            idx = self.asarray(fixed.reshape(idx.shape), np.int64)
        return xp.moveaxis(idx, -1, axis)

    def searchsorted(self, sorted_sequence, values, right=False, sorter=None):
        """For each of ``values``, the int64 insertion index into ``sorted_sequence`` along its
        last axis (1-d: one sequence for all values; else its leading dims are the values'):
        the first position whose element is >= the value (``right``: > the value), read
        through the ``sorter`` permutation when given.  PyTorch's binary search, comparisons
        included (a NaN in the sequence or among the values lands where PyTorch puts it)."""
        xp = self.xp
        n = sorted_sequence.shape[-1]
        rows = int(np.prod(sorted_sequence.shape[:-1]))
        seq = sorted_sequence.reshape(rows, n)
        if sorter is not None:
            sorter = sorter.reshape(rows, n)
        v = values.reshape(rows, values.size // rows if rows else 0)
        lo = xp.zeros(v.shape, dtype=np.int64)
        hi = xp.full(v.shape, n, dtype=np.int64)
        for _ in range(int(n).bit_length()):  # enough halvings for a range of n
            active = lo < hi
            mid = lo + (hi - lo) // 2
            at = xp.minimum(mid, n - 1)
            if sorter is not None:
                at = xp.take_along_axis(sorter, at, 1)
            m = xp.take_along_axis(seq, at, 1)
            after = ~(m > v) if right else ~(m >= v)  # not (>=): NaNs compare as PyTorch's
            lo = xp.where(active & after, mid + 1, lo)
            hi = xp.where(active & ~after, mid, hi)
        return lo.reshape(values.shape)

    def unique(self, x, axis=None, consecutive=False):
        """``(values, inverse, counts)``: the distinct elements of ``x`` (``axis`` None: of the
        flattened array, values 1-d, inverse 1-d over it) or its distinct slices along
        ``axis``, in ascending (lexicographic) order, or with ``consecutive`` only runs of equal
        neighbours collapsed, in place; ``inverse`` maps each element (slice) to its value's
        position, ``counts`` how often each occurs (both int64).  NaN equals nothing."""
        xp = self.xp
        if axis is None:
            rows = x.reshape(-1, 1)
        else:
            moved = xp.moveaxis(x, axis, 0)
            rows = moved.reshape(moved.shape[0], int(np.prod(moved.shape[1:])))
        n = rows.shape[0]
        order = xp.arange(n, dtype=np.int64)
        if not consecutive:  # lexicographic: stable sorts from the last column to the first
            for c in range(rows.shape[1] - 1, -1, -1):
                order = order[xp.argsort(rows[order, c], kind="stable")]
        srt = rows[order]
        new = xp.ones((n,), dtype=bool)
        if n > 1:
            new[1:] = xp.any(srt[1:] != srt[:-1], axis=1)
        starts = xp.nonzero(new)[0]
        counts = xp.diff(xp.concatenate([starts, xp.full((1,), n, dtype=starts.dtype)]))
        inverse = xp.empty((n,), dtype=np.int64)
        inverse[order] = xp.cumsum(new, dtype=np.int64) - 1
        values = srt[starts]
        if axis is None:
            values = values.reshape(-1)
        else:
            values = xp.moveaxis(values.reshape((values.shape[0],) + moved.shape[1:]), 0, axis)
        return values, inverse, counts.astype(np.int64, copy=False)

    def bincount(self, x, weights=None, minlength=0):
        """How often each value occurs in the 1-d non-negative integer ``x`` (int64), or the
        sum of ``weights`` at each value (float64); at least ``minlength`` bins."""
        out = self.xp.bincount(x, weights=weights, minlength=minlength)
        return out.astype(np.int64 if weights is None else np.float64, copy=False)

    def histc(self, x, bins, lo, hi):
        """The histogram of ``x`` over ``bins`` equal bins of [lo, hi] (``lo < hi``, finite),
        in ``x``'s float dtype; elements outside the range and NaNs are not counted, the value
        ``hi`` falls in the last bin.  The bin of an element is PyTorch's, computed in ``x``'s
        dtype: int((x - lo) * bins / (hi - lo))."""
        xp = self.xp
        t = x.dtype.type
        lo, hi = t(lo), t(hi)
        flat = x.reshape(-1)
        keep = (flat >= lo) & (flat <= hi)
        pos = ((xp.where(keep, flat, lo) - lo) * t(bins) / (hi - lo)).astype(np.int64)
        pos = xp.where(keep, xp.minimum(pos, bins - 1), bins)  # outside: one bin past the end
        return xp.bincount(pos, minlength=bins + 1)[:bins].astype(x.dtype)


def _greater(a, b):
    """a > b with NaN the largest value (NaNs equal to each other)."""
    return (a != a and b == b) or a > b


def _quickselect(values, k):
    """The index PyTorch's CPU kthvalue returns for the k-th smallest (from 0) of the list
    ``values``: Sedgewick's quickselect with a median-of-three pivot, as its
    quick_select_template, swapping values and their indices together."""
    arr, idx = list(values), list(range(len(values)))

    def swap(i, j):
        arr[i], arr[j] = arr[j], arr[i]
        idx[i], idx[j] = idx[j], idx[i]

    lo, hi = 0, len(arr) - 1
    while hi > lo:
        if hi == lo + 1:
            if _greater(arr[lo], arr[hi]):
                swap(lo, hi)
            break
        swap((lo + hi) >> 1, lo + 1)
        if _greater(arr[lo + 1], arr[hi]):
            swap(lo + 1, hi)
        if _greater(arr[lo], arr[hi]):
            swap(lo, hi)
        if _greater(arr[lo + 1], arr[lo]):
            swap(lo + 1, lo)
        i, j, pivot = lo + 1, hi, arr[lo]
        while True:
            i += 1
            while _greater(pivot, arr[i]):
                i += 1
            j -= 1
            while _greater(arr[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    return idx[k]
