"""tensorlite.nn: modules, layers, functional forms and initializers, shaped like torch.nn."""
from . import functional, init, modules, utils
from .module import *  # noqa: F401,F403  Module, Parameter
from .container import *  # noqa: F401,F403  Sequential, ModuleList, ModuleDict
from .layers import *  # noqa: F401,F403  Linear, activations, normalization, dropout, ...
from .conv import *  # noqa: F401,F403  Conv2d, MaxPool2d, AvgPool2d
from .loss import *  # noqa: F401,F403  CrossEntropyLoss, MSELoss, ...
