"""The numba backend's sorting overrides: the host replays of select_kth and select_top
(backends/sorting.py) compiled, from backends/numba_select.py, which is imported (and its
dispatchers created) on first use, so that a model that never meets a tie does not pay for it.
"""
import numpy as np

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.int32))


class NumbaSorting:
    """The compiled replays, for the numba backend (other dtypes: the Python reference)."""

    def _replay_kth(self, rows, k):
        if rows.dtype not in _DTYPES:
            return super()._replay_kth(rows, k)
        from .numba_select import kth_rows
        return kth_rows(np.ascontiguousarray(rows), k)

    def _replay_top(self, rows, k, largest, sorted):
        if rows.dtype not in _DTYPES or k == 0:
            return super()._replay_top(rows, k, largest, sorted)
        from .numba_select import top_rows
        return top_rows(np.ascontiguousarray(rows), k, bool(largest), bool(sorted))
