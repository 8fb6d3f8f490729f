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
            fixed[self.to_host(rows)] = self._replay_kth(host, k)
            idx = self.asarray(fixed.reshape(idx.shape), np.int64)
        return xp.moveaxis(idx, -1, axis)

    def select_top(self, x, k, axis=-1, largest=True, sorted=True):
        """The int64 indices along ``axis`` of the ``k`` largest (``largest=False``: smallest)
        elements of each slice of ``x`` (NaN largest), in order (largest first; smallest
        first): those PyTorch's CPU topk returns, equal elements included (its std::nth_element
        / std::partial_sort / std::sort are replayed on the host for the slices where a tie
        decides; elsewhere the stable sort's first k are the only choice).  With ``sorted``
        False such a slice comes in PyTorch's order (its selection's), the others sorted."""
        xp = self.xp
        n = x.shape[axis]
        order = self.sort_indices(x, axis, largest)
        idx = xp.moveaxis(order, axis, -1)[..., :k]
        if k == 0 or n < 2:
            return xp.moveaxis(idx, -1, axis)
        at = xp.moveaxis(xp.take_along_axis(x, order, axis), axis, -1)[..., :min(k + 1, n)]
        a, b = at[..., :-1], at[..., 1:]
        tied = xp.any((a == b) | ((a != a) & (b != b)), axis=-1).reshape(-1)
        rows = xp.nonzero(tied)[0]
        if rows.size:
            fixed = np.array(self.to_host(idx.reshape(-1, k)), dtype=np.int64)
            host = self.to_host(xp.moveaxis(x, axis, -1).reshape(-1, n)[rows])
            fixed[self.to_host(rows)] = self._replay_top(host, k, largest, sorted)
            idx = self.asarray(fixed.reshape(idx.shape), np.int64)
        return xp.moveaxis(idx, -1, axis)

    # The host replays of PyTorch's selection on the rows of a 2-d NumPy array (a backend may
    # compile them: numba's does); not primitives, helpers of select_kth and select_top.
    def _replay_kth(self, rows, k):
        return np.array([_quickselect(row.tolist(), k) for row in rows], dtype=np.int64)

    def _replay_top(self, rows, k, largest, sorted):
        return np.array([_torch_topk(row.tolist(), k, largest, sorted) for row in rows],
                        dtype=np.int64).reshape(len(rows), k)

    def _replay_unique_dim_order(self, rows):
        rows = rows.tolist()

        def before(a, b):  # PyTorch's unique_dim order: the first column where a < b or a > b
            for p, q in zip(rows[a], rows[b]):
                if p < q:
                    return True
                if p > q:
                    return False
            return False
        algo = _StdAlgorithms(list(range(len(rows))), before)
        algo.sort(0, len(rows))
        return np.array(algo.a, dtype=np.int64)

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
        if not consecutive and axis is not None and rows.dtype.kind == "f" and n > 1 and bool(
                xp.any(rows != rows)):
            # slices holding NaN: PyTorch's std::sort by a lexicographic < under which a NaN
            # compares as neither smaller nor larger; its order, replayed on the host
            order = self.asarray(self._replay_unique_dim_order(self.to_host(rows)), np.int64)
        elif not consecutive:  # lexicographic: stable sorts from the last column to the first
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


def _torch_topk(values, k, largest, sorted):
    """The indices PyTorch's CPU topk returns for the list ``values``: (value, index) pairs
    ordered by a comparison that puts NaN first (largest) or last, selected by libstdc++'s
    std::partial_sort when k * 64 <= n, else std::nth_element at k - 1 followed, when
    ``sorted``, by std::sort of the first k - 1; the algorithms are replayed step for step
    (their pivots and swaps decide which of equal elements come out, and in which order)."""
    if largest:
        def before(p, q):
            return (p[0] != p[0] and q[0] == q[0]) or p[0] > q[0]
    else:
        def before(p, q):
            return (p[0] == p[0] and q[0] != q[0]) or p[0] < q[0]
    algo = _StdAlgorithms([(v, j) for j, v in enumerate(values)], before)
    n = len(values)
    if k * 64 <= n:
        algo.partial_sort(0, k, n)
    else:
        algo.nth_element(0, k - 1, n)
        if sorted:
            algo.sort(0, k - 1)
    return [j for _, j in algo.a[:k]]


class _StdAlgorithms:
    """libstdc++'s introselect (nth_element), heap selection (partial_sort) and introsort
    (sort) on the list ``a`` with the strict order ``before``, as GCC's <algorithm> runs them:
    same pivots (median of three moved to the front), same unguarded Hoare partition, same
    insertion sorts (16 elements) and heap operations, so that equal elements land where they
    land in C++."""

    def __init__(self, a, before):
        self.a, self.before = a, before

    def _swap(self, i, j):
        a = self.a
        a[i], a[j] = a[j], a[i]

    def _median_to_first(self, result, x, y, z):
        a, lt = self.a, self.before
        if lt(a[x], a[y]):
            m = y if lt(a[y], a[z]) else z if lt(a[x], a[z]) else x
        else:
            m = x if lt(a[x], a[z]) else z if lt(a[y], a[z]) else y
        self._swap(result, m)

    def _partition(self, first, last):
        """Pivot (median of first + 1, middle, last - 1) moved to first; Hoare partition of
        the rest around it; returns the cut."""
        a, lt = self.a, self.before
        self._median_to_first(first, first + 1, first + (last - first) // 2, last - 1)
        pivot, lo, hi = a[first], first + 1, last
        while True:
            while lt(a[lo], pivot):
                lo += 1
            hi -= 1
            while lt(pivot, a[hi]):
                hi -= 1
            if not lo < hi:
                return lo
            self._swap(lo, hi)
            lo += 1

    def _insertion_sort(self, first, last, guarded=True):
        a, lt = self.a, self.before
        for i in range(first + 1 if guarded else first, last):
            v = a[i]
            if guarded and lt(v, a[first]):
                a[first + 1:i + 1] = a[first:i]
                a[first] = v
                continue
            j = i
            while lt(v, a[j - 1]):
                a[j] = a[j - 1]
                j -= 1
            a[j] = v

    def _adjust_heap(self, first, hole, length, value):
        a, lt = self.a, self.before
        top, child = hole, hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if lt(a[first + child], a[first + child - 1]):
                child -= 1
            a[first + hole] = a[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            a[first + hole] = a[first + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and lt(a[first + parent], value):
            a[first + hole] = a[first + parent]
            hole = parent
            parent = (hole - 1) // 2
        a[first + hole] = value

    def _make_heap(self, first, last):
        length = last - first
        for parent in range((length - 2) // 2, -1, -1) if length >= 2 else ():
            self._adjust_heap(first, parent, length, self.a[first + parent])

    def _pop_heap(self, first, last, result):
        a = self.a
        value, a[result] = a[result], a[first]
        self._adjust_heap(first, 0, last - first, value)

    def _heap_select(self, first, middle, last):
        self._make_heap(first, middle)
        for i in range(middle, last):
            if self.before(self.a[i], self.a[first]):
                self._pop_heap(first, middle, i)

    def partial_sort(self, first, middle, last):
        self._heap_select(first, middle, last)
        while middle - first > 1:
            middle -= 1
            self._pop_heap(first, middle, middle)

    def nth_element(self, first, nth, last):
        if first == last or nth == last:
            return
        depth = 2 * ((last - first).bit_length() - 1)
        while last - first > 3:
            if depth == 0:
                self._heap_select(first, nth + 1, last)
                self._swap(first, nth)
                return
            depth -= 1
            cut = self._partition(first, last)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self._insertion_sort(first, last)

    def _introsort_loop(self, first, last, depth):
        while last - first > 16:
            if depth == 0:
                self.partial_sort(first, last, last)
                return
            depth -= 1
            cut = self._partition(first, last)
            self._introsort_loop(cut, last, depth)
            last = cut

    def sort(self, first, last):
        if last - first < 2:
            return
        self._introsort_loop(first, last, 2 * ((last - first).bit_length() - 1))
        if last - first > 16:
            self._insertion_sort(first, first + 16)
            self._insertion_sort(first + 16, last, guarded=False)
        else:
            self._insertion_sort(first, last)
