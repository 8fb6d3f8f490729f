"""``torch.nn.modules.normalization``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "LocalResponseNorm",
    "CrossMapLRN2d",
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
]
__getattr__ = exports(__all__)
