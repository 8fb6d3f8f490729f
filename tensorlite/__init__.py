"""tensorlite: a small, fast, honest autodiff framework with a PyTorch-shaped API.

The backend (numpy, numba or cupy) comes from the TENSORLITE_BACKEND environment variable, or
``set_backend`` / ``use_backend``.
"""
import os

from . import backends
from .backends import available, get_backend, set_backend, use_backend
from .dtypes import (ALIASES as _ALIASES, bool_, float16, float32, float64, int32, int64)
from .tensor import Tensor
from .creation import (arange, as_tensor, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, linspace, manual_seed, ones, ones_like, rand, rand_like, randint,
                       randn, randn_like, randperm, tensor, zeros, zeros_like)
from .ops import *  # noqa: F401,F403  (every op as a function: tensorlite.exp(x), ...)
from . import autograd, utils
from .autograd import enable_grad, no_grad, set_grad_enabled, is_grad_enabled
from .serialization import load, save

globals().update(_ALIASES)  # tensorlite.float, tensorlite.long, tensorlite.bool, ...
Size = tuple

set_backend(os.environ.get("TENSORLITE_BACKEND", "numpy"))

from . import data, nn, optim  # noqa: E402  (after the core: they are built on it)

__version__ = "0.1.0"
