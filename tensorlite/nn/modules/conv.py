"""``torch.nn.modules.conv``'s names, found in ``tensorlite.nn`` (see _alias.py)."""
from ._alias import exports

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
]
__getattr__ = exports(__all__)
