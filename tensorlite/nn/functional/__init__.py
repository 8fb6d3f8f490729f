"""tensorlite.nn.functional: the functional forms of every layer and loss (torch.nn.functional),
one module per concern:

    activation.py      relu, sigmoid, tanh, leaky_relu, softplus, gelu, softmax, log_softmax
    fusion.py          linear, alone or fused with an activation (linear(..., activation=)),
                       and the Linear + activation fusion that Sequential runs
    conv.py            conv2d
    pooling.py         max_pool2d, avg_pool2d
    padding.py         pad
    normalization.py   layer_norm, batch_norm
    regularization.py  dropout
    sparse.py          embedding, one_hot
    loss.py            cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss,
                       binary_cross_entropy, binary_cross_entropy_with_logits
    _common.py         the argument checks they share, and the window geometry
"""
from .activation import *  # noqa: F401,F403
from .fusion import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .regularization import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403  normalize, cosine_similarity, pairwise_distance, ...
from .attention import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403  interpolate, pixel_shuffle, unfold, fold, grid_sample, ...
from .feature_dropout import *  # noqa: F401,F403  dropout1d/2d/3d, alpha_dropout, ...
