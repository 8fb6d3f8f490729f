"""tensorlite.nn.utils, shaped like torch.nn.utils: gradient clipping (clip_grad.py:
clip_grad_norm_, clip_grad_value_, ...), parameters_to_vector / vector_to_parameters, the hook
forms of weight_norm and spectral_norm, ``parametrize`` (register_parametrization, ...) and
``parametrizations`` (weight_norm, spectral_norm) and, in ``rnn``, the padded and packed
sequences the recurrent layers take (pad_sequence, pack_padded_sequence, PackedSequence, ...)."""
from . import clip_grad, parametrizations, parametrize, rnn
from .clip_grad import *  # noqa: F401,F403
from .clip_grad import __all__ as _clip_all
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = list(_clip_all) + ["parameters_to_vector", "vector_to_parameters", "weight_norm",
                             "remove_weight_norm", "spectral_norm", "remove_spectral_norm",
                             "parametrize", "parametrizations", "rnn"]
