"""``torch.nn.modules.pixelshuffle``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "PixelShuffle",
    "PixelUnshuffle",
]
__getattr__ = exports(__all__)
