"""``torch.nn.modules.fold``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "Fold",
    "Unfold",
]
__getattr__ = exports(__all__)
