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
