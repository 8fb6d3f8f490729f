"""``torch.nn.modules.sparse``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "Embedding",
    "EmbeddingBag",
]
__getattr__ = exports(__all__)
