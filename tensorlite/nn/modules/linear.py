"""``torch.nn.modules.linear``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "Bilinear",
    "Identity",
    "LazyLinear",
    "Linear",
    "NonDynamicallyQuantizableLinear",
]
__getattr__ = exports(__all__)
