"""``torch.nn.modules.transformer``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "Transformer",
    "TransformerEncoder",
    "TransformerDecoder",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
]
__getattr__ = exports(__all__)
