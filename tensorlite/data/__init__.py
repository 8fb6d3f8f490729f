"""``tensorlite.data``: the older, shorter name of ``tensorlite.utils.data`` (PyTorch's
``torch.utils.data``).  Both names, and their submodules (``tensorlite.data.sampler``, ...),
are the same module objects, so classes and isinstance checks agree whichever is imported."""
import sys

from ..utils import data as _data
from ..utils.data import dataloader, dataset, sampler, worker
from ..utils.data import *  # noqa: F401,F403  (the same names, for type checkers: at run time
from ..utils.data import __all__  # noqa: F401   this module is replaced by that package below)

for _module in (dataloader, dataset, sampler, worker):
    sys.modules[f"{__name__}.{_module.__name__.rpartition('.')[2]}"] = _module
sys.modules[__name__] = _data  # `import tensorlite.data` binds the package itself
