"""``tensorlite.accelerator``: PyTorch's device-agnostic accelerator queries, answered from the
backends (the accelerator is the GPU when a backend for 'cuda' runs)."""
from typing import Optional

from . import cuda
from .tensor import device


def is_available() -> bool:
    """Whether an accelerator (a GPU backend) runs here."""
    return cuda.is_available()


def current_accelerator() -> Optional[device]:
    """The accelerator's device, or None without one."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()
