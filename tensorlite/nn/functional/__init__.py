"""tensorlite.nn.functional: the functional forms of every layer and loss (torch.nn.functional),
one module per concern:

    activation.py      relu, gelu, silu, elu, hardtanh, softmax, log_softmax, glu, ... (and
                       their in-place forms)
    fusion.py          linear, alone or fused with an activation (linear(..., activation=)),
                       and the Linear + activation fusion that Sequential runs
    conv.py            conv1d/2d/3d, conv_transpose1d/2d
    pooling.py         max/avg pools 1d and 2d, adaptive pools, max_unpool
    padding.py         pad (constant, reflect, replicate, circular)
    normalization.py   layer_norm, batch_norm, group_norm, instance_norm, local_response_norm,
                       rms_norm
    regularization.py  dropout
    feature_dropout.py dropout1d/2d/3d, alpha_dropout, feature_alpha_dropout
    sparse.py          embedding, embedding_bag, one_hot
    distance.py        normalize, cosine_similarity, pairwise_distance, pdist, bilinear
    attention.py       scaled_dot_product_attention, multi_head_attention_forward
    recurrent.py       the RNN/LSTM/GRU cells and their layer loop (used by nn.RNN, not exported)
    vision.py          interpolate, pixel_shuffle, channel_shuffle, unfold, fold, grid_sample,
                       affine_grid
    loss.py            cross_entropy, nll_loss, mse_loss, kl_div, huber_loss, ctc_loss, the
                       margin and embedding losses, ...
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
