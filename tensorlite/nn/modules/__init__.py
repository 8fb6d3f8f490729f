"""torch.nn.modules's path, for code ported from PyTorch: ``nn.modules.module`` holds Module,
Parameter and the global hooks (``register_module_forward_hook``, ...)."""
from . import module  # noqa: F401
