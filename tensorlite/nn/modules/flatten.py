"""``torch.nn.modules.flatten``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "Flatten",
    "Unflatten",
]
__getattr__ = exports(__all__)
