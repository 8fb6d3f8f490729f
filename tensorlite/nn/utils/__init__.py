"""tensorlite.nn.utils, shaped like torch.nn.utils: gradient clipping (clip_grad.py:
clip_grad_norm_, clip_grad_value_, ...) and, in ``rnn``, the padded and packed sequences the
recurrent layers take (pad_sequence, pack_padded_sequence, PackedSequence, ...)."""
from . import clip_grad, rnn
from .clip_grad import *  # noqa: F401,F403
from .clip_grad import __all__  # noqa: F401
