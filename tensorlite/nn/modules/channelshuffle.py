"""``torch.nn.modules.channelshuffle``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "ChannelShuffle",
]
__getattr__ = exports(__all__)
