"""tensorlite.nn.functional: the functional forms of every layer and loss (torch.nn.functional)."""
from ...ops import log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from .normalization import *  # noqa: F401,F403  linear, activations, dropout, embedding, norms, one_hot
from .conv import *  # noqa: F401,F403  conv2d, max_pool2d, avg_pool2d, pad
from .loss import *  # noqa: F401,F403  cross_entropy, nll_loss, mse_loss, ...
