"""Writes into a tensor by index or mask (issue 17): index_put, masked_scatter and their
in-place forms, fuzzed against torch like every op of tests/opinfo.py (this family's TABLE is
merged there)."""
import numpy as np
from hypothesis import strategies as st

from opinfo import ALL, Arg, OpInfo, _updated


def index_put_sample(g):
    """A tensor, values that broadcast to the indexed region, and int64 index tensors (one per
    leading dim, broadcasting together) or one bool mask over the leading dims.  Without
    accumulate the written positions are distinct (torch leaves repeated ones undefined)."""
    shape = g.shape(min_dims=1)
    accumulate = g.dtype != np.dtype(bool) and g.flag()
    k = g.int(1, len(shape))
    if g.flag():
        idx = [g.mask(shape[:k])]
    elif accumulate:
        ishape = g.shape(max_dims=2, max_side=3)
        idx = [g.index(ishape, -n, max(n - 1, 0)) for n in shape[:k]]
    else:  # one index tensor of distinct positions
        n = shape[0]
        vals = g.draw(st.lists(st.integers(0, max(n - 1, 0)), min_size=0, max_size=min(n, 3),
                               unique=True)) if n else []
        idx = [Arg(np.array([v - n if g.flag() else v for v in vals], dtype=np.int64),
                   fixed=True)]
    try:
        region = np.empty(shape)[tuple(a.values for a in idx)].shape
    except IndexError:  # an out of range index: both raise
        region = shape[k:]
    return [g.tensor(shape), g.tensor(g.broadcast_to_shape(region))] + idx, \
        {"accumulate": accumulate}


def masked_scatter_sample(g):
    """A tensor, a mask that broadcasts to it, and a source with at least as many elements as
    the mask has True (now and then fewer: both raise)."""
    shape = g.shape()
    mask = g.mask(g.broadcast_to_shape(shape))
    count = int(np.broadcast_to(mask.values, shape).sum())
    source = g.shape() if not g.int(0, 5) else (count + g.int(0, 2),)
    return [g.tensor(shape), mask, g.tensor(source)], {}


def _index_put(lib, a, v, *idx, accumulate):
    return a.index_put(tuple(idx), v, accumulate=accumulate)


def _index_put_(lib, a, v, *idx, accumulate):
    return _updated(lib, a, "index_put_", tuple(idx), v, accumulate=accumulate)


TABLE = [
    OpInfo("index_put", _index_put, index_put_sample, dtypes=ALL),
    OpInfo("index_put_", _index_put_, index_put_sample, dtypes=ALL),
    OpInfo("masked_scatter", lambda lib, a, m, s: a.masked_scatter(m, s), masked_scatter_sample,
           dtypes=ALL),
    OpInfo("masked_scatter_", lambda lib, a, m, s: _updated(lib, a, "masked_scatter_", m, s),
           masked_scatter_sample, dtypes=ALL),
]
