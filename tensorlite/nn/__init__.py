"""tensorlite.nn: modules, layers, functional forms and initializers, shaped like torch.nn."""
from . import functional, init, modules, parallel, utils
from .module import *  # noqa: F401,F403  Module, Parameter
from .container import *  # noqa: F401,F403  Sequential, ModuleList, ModuleDict, ParameterList, ...
from .layers import *  # noqa: F401,F403  Linear, activations, normalization, dropout, ...
from .conv import *  # noqa: F401,F403  Conv2d, MaxPool2d, AvgPool2d
from .loss import *  # noqa: F401,F403  CrossEntropyLoss, MSELoss, ...
from .activation import *  # noqa: F401,F403  SiLU, Mish, ELU, ..., PReLU, RReLU, GLU, Threshold
from .distance import *  # noqa: F401,F403  CosineSimilarity, PairwiseDistance
from .bilinear import *  # noqa: F401,F403  Bilinear
from .embedding_bag import *  # noqa: F401,F403  EmbeddingBag
from .rnn import *  # noqa: F401,F403  RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell
from .transformer import *  # noqa: F401,F403  MultiheadAttention, Transformer*
from .normalization import *  # noqa: F401,F403  GroupNorm, InstanceNorm1d/2d/3d, LocalResponseNorm
from .vision import *  # noqa: F401,F403  Upsample, PixelShuffle, Unfold, Fold, pads, Dropout2d, ...
