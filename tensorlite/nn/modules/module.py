"""torch.nn.modules.module's names: tensorlite.nn.module's Module and Parameter, and the global
module hooks of tensorlite.nn.hooks."""
from ..hooks import (  # noqa: F401
    RemovableHandle, register_module_forward_hook, register_module_forward_pre_hook,
    register_module_full_backward_hook, register_module_full_backward_pre_hook)
from ..module import Module, Parameter  # noqa: F401
