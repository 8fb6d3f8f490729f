"""``torch.nn.modules.distance``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "PairwiseDistance",
    "CosineSimilarity",
]
__getattr__ = exports(__all__)
