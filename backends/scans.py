"""The reference scan and order-statistic primitives: cumulative sums, products, extremes and
log-sum-exps along an axis, products, medians, modes and quantile positions (the sort order
they read is the Sorting group's ``sort_indices``).  A mixin of the reference backend over
``self.xp`` (see backends/contract.py).
"""


class Scans:
    """Scans along one ``axis`` (``reverse``: from the end, as suffix sums), products and order
    statistics.  Results keep ``x``'s dtype; indices are int64."""

    def prod(self, x, axis=None, keepdims=False):
        """The product over ``axis`` (None: every axis; an int or a tuple), in ``x``'s dtype."""
        if x.dtype.kind == "V":  # bfloat16: in float32, rounded once (as PyTorch)
            return self.prod(x.astype("float32"), axis, keepdims).astype(x.dtype)
        return self.xp.asarray(self.xp.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype))

    def cumsum(self, x, axis, reverse=False):
        """Running sums along ``axis``, in ``x``'s dtype (``reverse``: sums of the suffixes)."""
        xp = self.xp
        if x.dtype.kind == "V":  # bfloat16: in float32, each sum rounded once (as PyTorch)
            return self.cumsum(x.astype("float32"), axis, reverse).astype(x.dtype)
        if reverse:
            return xp.flip(xp.cumsum(xp.flip(x, axis), axis=axis, dtype=x.dtype), axis)
        return xp.cumsum(x, axis=axis, dtype=x.dtype)

    def cumprod(self, x, axis, reverse=False):
        """Running products along ``axis``, in ``x``'s dtype (``reverse``: of the suffixes)."""
        xp = self.xp
        if x.dtype.kind == "V":  # bfloat16: in float32, each product rounded once
            return self.cumprod(x.astype("float32"), axis, reverse).astype(x.dtype)
        if reverse:
            return xp.flip(xp.cumprod(xp.flip(x, axis), axis=axis, dtype=x.dtype), axis)
        return xp.cumprod(x, axis=axis, dtype=x.dtype)

    def logcumsumexp(self, x, axis, reverse=False):
        """Running log(sum(exp)) along ``axis`` (a floating ``x``), each step a stable
        logaddexp as PyTorch's scan (``reverse``: of the suffixes)."""
        xp = self.xp
        if reverse:
            return xp.flip(self.logcumsumexp(xp.flip(x, axis), axis), axis)
        return self._scan(xp.logaddexp, x, axis)

    def cummax(self, x, axis):
        """(values, indices) of the running maximum along ``axis``, as PyTorch: a tie or a NaN
        takes the later index, and a NaN stays the maximum from where it appears."""
        return self._cumextreme(x, axis, self.xp.maximum)

    def cummin(self, x, axis):
        """(values, indices) of the running minimum along ``axis`` (ties and NaN as cummax)."""
        return self._cumextreme(x, axis, self.xp.minimum)

    def _cumextreme(self, x, axis, pick):
        xp = self.xp
        if x.dtype.kind == "b":
            pick = xp.logical_or if pick is xp.maximum else xp.logical_and
        running = self._scan(pick, x, axis)
        updated = running == x  # the element became (or tied) the extreme: PyTorch's >= / <=
        if x.dtype.kind in "fc":
            updated |= xp.isnan(x)  # each NaN takes over, later numbers never do
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        steps = xp.arange(x.shape[axis], dtype=xp.int64).reshape(shape)
        indices = self._scan(xp.maximum, xp.where(updated, steps, 0), axis)
        return xp.take_along_axis(x, indices, axis), indices

    def median(self, x, axis, ignore_nan=False):
        """(values, indices) of the lower median along ``axis``, as PyTorch's CPU kernel: the
        element of rank (n - 1) // 2 in a stable sort; a NaN gives the first NaN unless
        ``ignore_nan`` (nanmedian: the median of the other elements, the first NaN when all
        are NaN)."""
        xp = self.xp
        order = self.sort_indices(x, axis)  # (the Sorting group's stable sort, NaN last)
        n = x.shape[axis]
        valid = (~xp.isnan(x)).sum(axis=axis, keepdims=True) if x.dtype.kind == "f" else \
            xp.full(order.shape[:axis] + (1,) + order.shape[axis + 1:], n, dtype=xp.int64)
        if ignore_nan:
            rank = xp.maximum(valid - 1, 0) // 2
        else:  # a NaN sorts right after the numbers: rank `valid` is the first one
            rank = xp.where(valid < n, valid, (n - 1) // 2)
        indices = xp.take_along_axis(order, rank.astype(xp.int64), axis)
        return xp.take_along_axis(x, indices, axis), indices

    def mode(self, x, axis):
        """(values, indices) of the most frequent value along ``axis`` (a non-empty axis): the
        smallest of the most frequent values, at its last position, as PyTorch's CPU kernel
        for NaN-free input (each NaN counts as a value of its own)."""
        xp = self.xp
        order = self.sort_indices(x, axis)
        values = xp.take_along_axis(x, order, axis)
        n = x.shape[axis]
        shape = [1] * x.ndim
        shape[axis] = n
        steps = xp.arange(n, dtype=xp.int64).reshape(shape)
        head = [slice(None)] * x.ndim
        tail = list(head)
        head[axis], tail[axis] = slice(1, None), slice(None, -1)
        differs = values[tuple(head)] != values[tuple(tail)]
        edge = xp.ones(x.shape[:axis] + (1,) + x.shape[axis + 1:], dtype=bool)
        starts = xp.concatenate([edge, differs], axis=axis)  # a run of equal values starts
        ends = xp.concatenate([differs, edge], axis=axis)  # a run ends
        first = self._scan(xp.maximum, xp.where(starts, steps, 0), axis)
        last = xp.flip(self._scan(xp.minimum, xp.flip(xp.where(ends, steps, n), axis), axis), axis)
        length = last - first + 1
        best = xp.expand_dims(xp.argmax(length, axis=axis), axis)  # the first longest run
        end = xp.take_along_axis(last, best, axis)
        return xp.take_along_axis(values, end, axis), xp.take_along_axis(order, end, axis)

    def quantile_ranks(self, ranks, interpolation):
        """For fractional sorted positions ``ranks``: (below, above, weight), the int64
        positions to read and the weight of ``above``, for PyTorch's ``interpolation`` (linear,
        lower, higher, nearest (half to even) or midpoint); ``weight`` keeps ranks' dtype."""
        xp = self.xp
        if interpolation == "lower":
            ranks = xp.floor(ranks)
        elif interpolation == "higher":
            ranks = xp.ceil(ranks)
        elif interpolation == "nearest":
            ranks = xp.rint(ranks)
        below = ranks.astype(xp.int64)
        above = xp.ceil(ranks).astype(xp.int64)
        if interpolation == "midpoint":
            weight = xp.full_like(ranks, 0.5)
        elif interpolation == "linear":
            weight = (ranks - below).astype(ranks.dtype, copy=False)
        else:
            weight = xp.zeros_like(ranks)
        return below, above, weight

    def _scan(self, ufunc, x, axis):
        """``ufunc.accumulate`` along ``axis``; where the array module has none for this ufunc
        (CuPy's accumulate covers few), log2(n) doubling steps of ``ufunc`` (associative)."""
        try:
            return ufunc.accumulate(x, axis=axis, dtype=x.dtype)
        except (AttributeError, NotImplementedError, TypeError):
            pass
        y, n, k = x.copy(), x.shape[axis], 1
        while k < n:
            head, tail = [slice(None)] * x.ndim, [slice(None)] * x.ndim
            head[axis], tail[axis] = slice(k, None), slice(None, n - k)
            y[tuple(head)] = ufunc(y[tuple(head)], y[tuple(tail)])
            k *= 2
        return y
