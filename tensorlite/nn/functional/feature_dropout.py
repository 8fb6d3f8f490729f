"""Channel-wise and self-normalizing dropout: torch.nn.functional's dropout1d, dropout2d,
dropout3d, alpha_dropout and feature_alpha_dropout.

Each draws a keep mask from tensorlite's generator (the backend's dropout_mask) and composes
the rest with tensor ops, so the gradient is the mask's product rule.
"""
from __future__ import annotations

import warnings

from ...tensor import Tensor, wrap
from ._common import float_backend

__all__ = ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

_ALPHA = 1.7580993408473766  # SELU's alpha * scale: the value dropped units take, -alpha


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep(input: Tensor, shape: tuple[int, ...], p: float, scaled: bool) -> Tensor:
    """A mask of ``shape`` (broadcastable to the input): 1/(1-p) (``scaled``) or 1 where a unit
    is kept (probability 1-p), else 0."""
    B = float_backend("dropout", input)
    if p == 1.0:
        return wrap(B.zeros(shape, dtype=input.dtype), input.device)
    mask = wrap(B.dropout_mask(shape, p, input.dtype), input.device)
    return mask if scaled else (mask != 0).to(input.dtype)


def _apply(input: Tensor, mask: Tensor, inplace: bool) -> Tensor:
    return input.mul_(mask) if inplace else input * mask


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, batched: bool
                     ) -> Tensor:
    _check_p(p)
    float_backend("dropout", input)
    if not training or p == 0.0:
        return input
    lead = 2 if batched else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _apply(input, _keep(input, shape, p, True), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
              ) -> Tensor:
    """Zero whole channels of an (N, C, L) or (C, L) input with probability ``p`` (training
    only), scaling the rest by 1/(1-p)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout "
                           "on inputs with 1 spatial dimension, a channel dimension, and an "
                           "optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
              ) -> Tensor:
    """Zero whole channels of an (N, C, H, W) or (C, H, W) input with probability ``p``; a 3-D
    input is taken as (N, C, L), with torch's warning."""
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change in "
                      "a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, input.ndim >= 3)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
              ) -> Tensor:
    """Zero whole channels of an (N, C, D, H, W) or (C, D, H, W) input with probability
    ``p``."""
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 4D or 5D inputs).", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, input.ndim != 4)


def _alpha(input: Tensor, p: float, training: bool, inplace: bool, shape: tuple[int, ...]
           ) -> Tensor:
    _check_p(p)
    float_backend("alpha_dropout", input)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _apply(input, _keep(input, (), 1.0, False), inplace)
    keep = _keep(input, shape, p, False)
    a = 1.0 / ((_ALPHA * _ALPHA * p + 1) * (1 - p)) ** 0.5
    b = (keep - 1) * (_ALPHA * a) + _ALPHA * a * p
    noise = keep * a
    if inplace:
        return input.mul_(noise).add_(b)
    return input * noise + b


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
                  ) -> Tensor:
    """Dropout that keeps SELU's mean and variance: dropped units take -alpha, then an affine
    map restores the statistics (training only)."""
    return _alpha(input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """alpha_dropout of whole channels (dim 1) of an (N, C, *) input."""
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _alpha(input, p, training, inplace,
                  tuple(input.shape[:2]) + (1,) * (input.ndim - 2))
