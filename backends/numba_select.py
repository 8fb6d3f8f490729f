"""Numba versions of the host replays behind select_kth and select_top (backends/sorting.py):
PyTorch's CPU quickselect (kthvalue) and libstdc++'s nth_element / partial_sort / sort as
torch's topk runs them, compiled.  They take the rows of a 2-d C-contiguous array whose k-th
or top-k choice a tie decides, and give the same indices as the reference's Python versions
(tests/test_sorting_ops.py compares them); numba_sorting.NumbaSorting plugs them into the numba
backend, importing this module on first use.
"""
import numba
import numpy as np

@numba.njit(cache=True, inline="always")
def _before(a, b, largest):
    """a comes first: larger (NaN first) when ``largest``, else smaller (NaN last)."""
    if largest:
        return (a != a and b == b) or a > b
    return (a == a and b != b) or a < b


@numba.njit(cache=True, inline="always")
def _swap(v, ix, i, j):
    v[i], v[j] = v[j], v[i]
    ix[i], ix[j] = ix[j], ix[i]


@numba.njit(cache=True)
def _quickselect(v, ix, k):
    lo, hi = 0, v.shape[0] - 1
    while hi > lo:
        if hi == lo + 1:
            if _before(v[lo], v[hi], True):
                _swap(v, ix, lo, hi)
            break
        _swap(v, ix, (lo + hi) >> 1, lo + 1)
        if _before(v[lo + 1], v[hi], True):
            _swap(v, ix, lo + 1, hi)
        if _before(v[lo], v[hi], True):
            _swap(v, ix, lo, hi)
        if _before(v[lo + 1], v[lo], True):
            _swap(v, ix, lo + 1, lo)
        i, j, pivot = lo + 1, hi, v[lo]
        while True:
            i += 1
            while _before(pivot, v[i], True):
                i += 1
            j -= 1
            while _before(v[j], pivot, True):
                j -= 1
            if j < i:
                break
            _swap(v, ix, i, j)
        _swap(v, ix, lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    return ix[k]


@numba.njit(cache=True)
def kth_rows(rows, k):
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r in range(rows.shape[0]):
        v = rows[r].copy()
        ix = np.arange(v.shape[0])
        out[r] = _quickselect(v, ix, k)
    return out


# -- libstdc++'s algorithms on (v, ix) with the order _before(., ., largest) ---------------------
@numba.njit(cache=True)
def _partition(v, ix, first, last, largest):
    x, y, z = first + 1, first + (last - first) // 2, last - 1
    if _before(v[x], v[y], largest):
        m = y if _before(v[y], v[z], largest) else z if _before(v[x], v[z], largest) else x
    else:
        m = x if _before(v[x], v[z], largest) else z if _before(v[y], v[z], largest) else y
    _swap(v, ix, first, m)
    pivot, lo, hi = v[first], first + 1, last
    while True:
        while _before(v[lo], pivot, largest):
            lo += 1
        hi -= 1
        while _before(pivot, v[hi], largest):
            hi -= 1
        if not lo < hi:
            return lo
        _swap(v, ix, lo, hi)
        lo += 1


@numba.njit(cache=True)
def _insertion_sort(v, ix, first, last, guarded, largest):
    for i in range(first + 1 if guarded else first, last):
        val, idx = v[i], ix[i]
        if guarded and _before(val, v[first], largest):
            for j in range(i, first, -1):
                v[j], ix[j] = v[j - 1], ix[j - 1]
            v[first], ix[first] = val, idx
            continue
        j = i
        while _before(val, v[j - 1], largest):
            v[j], ix[j] = v[j - 1], ix[j - 1]
            j -= 1
        v[j], ix[j] = val, idx


@numba.njit(cache=True)
def _adjust_heap(v, ix, first, hole, length, val, idx, largest):
    top, child = hole, hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _before(v[first + child], v[first + child - 1], largest):
            child -= 1
        v[first + hole], ix[first + hole] = v[first + child], ix[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        v[first + hole], ix[first + hole] = v[first + child - 1], ix[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and _before(v[first + parent], val, largest):
        v[first + hole], ix[first + hole] = v[first + parent], ix[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    v[first + hole], ix[first + hole] = val, idx


@numba.njit(cache=True)
def _pop_heap(v, ix, first, last, result, largest):
    val, idx = v[result], ix[result]
    v[result], ix[result] = v[first], ix[first]
    _adjust_heap(v, ix, first, 0, last - first, val, idx, largest)


@numba.njit(cache=True)
def _heap_select(v, ix, first, middle, last, largest):
    length = middle - first
    if length >= 2:
        for parent in range((length - 2) // 2, -1, -1):
            _adjust_heap(v, ix, first, parent, length, v[first + parent], ix[first + parent],
                         largest)
    for i in range(middle, last):
        if _before(v[i], v[first], largest):
            _pop_heap(v, ix, first, middle, i, largest)


@numba.njit(cache=True)
def _partial_sort(v, ix, first, middle, last, largest):
    _heap_select(v, ix, first, middle, last, largest)
    while middle - first > 1:
        middle -= 1
        _pop_heap(v, ix, first, middle, middle, largest)


@numba.njit(cache=True)
def _log2(n):
    r = 0
    while n > 1:
        n >>= 1
        r += 1
    return r


@numba.njit(cache=True)
def _nth_element(v, ix, first, nth, last, largest):
    if first == last or nth == last:
        return
    depth = 2 * _log2(last - first)
    while last - first > 3:
        if depth == 0:
            _heap_select(v, ix, first, nth + 1, last, largest)
            _swap(v, ix, first, nth)
            return
        depth -= 1
        cut = _partition(v, ix, first, last, largest)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(v, ix, first, last, True, largest)


@numba.njit(cache=True)
def _sort(v, ix, first, last, largest):
    if last - first < 2:
        return
    # introsort: the ranges are disjoint, so a stack of them gives the recursion's result
    stack = [(first, last, 2 * _log2(last - first))]
    while stack:
        lo, hi, depth = stack.pop()
        while hi - lo > 16:
            if depth == 0:
                _partial_sort(v, ix, lo, hi, hi, largest)
                break
            depth -= 1
            cut = _partition(v, ix, lo, hi, largest)
            stack.append((cut, hi, depth))
            hi = cut
    if last - first > 16:
        _insertion_sort(v, ix, first, first + 16, True, largest)
        _insertion_sort(v, ix, first + 16, last, False, largest)
    else:
        _insertion_sort(v, ix, first, last, True, largest)


@numba.njit(cache=True)
def top_rows(rows, k, largest, sorted_):
    n = rows.shape[1]
    out = np.empty((rows.shape[0], k), dtype=np.int64)
    for r in range(rows.shape[0]):
        v = rows[r].copy()
        ix = np.arange(n)
        if k * 64 <= n:
            _partial_sort(v, ix, 0, k, n, largest)
        else:
            _nth_element(v, ix, 0, k - 1, n, largest)
            if sorted_:
                _sort(v, ix, 0, k - 1, largest)
        out[r] = ix[:k]
    return out
