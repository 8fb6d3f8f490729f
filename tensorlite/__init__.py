"""tensorlite: a small, fast, honest autodiff framework with a PyTorch-shaped API.

The backend (numpy, numba or cupy) comes from the TENSORLITE_BACKEND environment variable, or
``set_backend`` / ``use_backend``.
"""
import os


def _backends_from_source_tree():
    """Import ``tensorlite.backends`` from the top-level ``backends/`` folder beside this package.

    An install maps that folder to ``tensorlite.backends``; a source tree put on ``sys.path``
    directly (``PYTHONPATH=.``, or an editable install by an old setuptools) has no such mapping.
    """
    import importlib.util
    import sys
    name, folder = f"{__name__}.backends", os.path.join(os.path.dirname(__path__[0]), "backends")
    if importlib.util.find_spec(name) is None and os.path.isdir(folder):
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_backends_from_source_tree()
from . import backends  # noqa: E402
from .backends import available, get_backend, set_backend, set_default_device, use_backend
from .dtypes import (ALIASES as _ALIASES, bfloat16, bool_, complex64, complex128, float16,
                     float32, float64, get_default_dtype, int8, int16, int32, int64, uint8,
                     set_default_dtype)
from .tensor import Tensor, device, layout, sparse_coo, strided
from .creation import (arange, as_tensor, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, initial_seed, linspace, manual_seed, ones, ones_like, rand,
                       randint, randn, randperm, seed, tensor, zeros,
                       zeros_like)
from .creation import (BFloat16Tensor, BoolTensor, ByteTensor, CharTensor,  # legacy
                       DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor)
from .ops import *  # noqa: F401,F403  (every op as a function: tensorlite.exp(x), ...)
from . import autograd, utils
# (an import by attribute would find the ops package's own linalg module, star-imported above)
linalg = __import__("importlib").import_module(".linalg", __name__)
from .autograd import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                       no_grad, set_grad_enabled)
from .serialization import load, save
from .safetensors import load_file, save_file  # the safetensors format (state_dicts)
from .tensor import is_floating_point, is_tensor, numel
from .dtypes import can_cast, finfo, iinfo, promote_types, result_type
from . import accelerator, cuda, onnx
from . import sparse
from .sparse import sparse_coo_tensor, spmm
from .ops.random import Generator, default_generator, get_rng_state, set_rng_state

globals().update(_ALIASES)  # tensorlite.float, tensorlite.long, tensorlite.bool, ...
from typing import TYPE_CHECKING as _TYPE_CHECKING  # noqa: E402
if _TYPE_CHECKING:  # names mypy cannot see: the ops (ops/__init__.py installs them at run time)
    from typing import Any as _Any  # and the dtype aliases above

    def __getattr__(name: str) -> _Any: ...
from .size import Size  # noqa: E402

set_backend(os.environ.get("TENSORLITE_BACKEND", "numpy"))

from . import data, nn, optim  # noqa: E402  (after the core: they are built on it)
from .compiler import compile  # noqa: E402,A001  (torch.compile's name)

__version__ = "0.1.0"
