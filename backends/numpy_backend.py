"""The reference backend: plain NumPy on the host.  Every other backend is tested against it."""
import numpy as np

from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    device = "cpu"

    def __init__(self):
        super().__init__(np)

    # One host generator, shared by every CPU backend so that a seed means the same numbers.
    _rng = np.random.default_rng(0)

    def seed(self, seed):
        NumpyBackend._rng = np.random.default_rng(seed)

    def rand(self, shape, dtype):
        return self._rng.random(shape, dtype=np.float64).astype(dtype, copy=False)

    def randn(self, shape, dtype):
        return self._rng.standard_normal(shape, dtype=np.float64).astype(dtype, copy=False)

    def randint(self, low, high, shape, dtype):
        return self._rng.integers(low, high, shape, dtype=dtype)
