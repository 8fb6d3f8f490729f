"""torch.nn.modules's path, for code ported from PyTorch: ``nn.modules.module`` holds Module,
Parameter and the global hooks (``register_module_forward_hook``, ...)."""
from . import module  # noqa: F401
from . import (activation, batchnorm, channelshuffle, container, conv, distance, dropout,  # noqa: F401
               flatten, fold, instancenorm, linear, loss, normalization, padding,
               pixelshuffle, pooling, rnn, sparse, transformer, upsampling)
