"""Gradient clipping, shaped like torch.nn.utils (clip_grad_norm_, clip_grad_value_, ...)."""
from __future__ import annotations

import types
import warnings
from collections.abc import Iterable
from typing import Union

from ... import dtypes
from ...autograd.grad_mode import no_grad
from ...creation import tensor
from ...ops.common import backend_of
from ...ops.inplace import check_inplace
from ...tensor import Tensor, describe, wrap

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]

# A tensor or an iterable of them (torch's _tensor_or_tensors)
TensorOrTensors = Union[Tensor, Iterable[Tensor]]


def _as_list(parameters: TensorOrTensors) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


@no_grad()
def get_total_norm(tensors: TensorOrTensors, norm_type: float | str = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of ``tensors`` viewed as one vector (a 0-d tensor); ``'inf'``
    for the max-abs norm.  Computed as torch does: the norm of the per-tensor norms."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise RuntimeError(f"get_total_norm: the tensors are on several devices "
                           f"({', '.join(sorted(devices))}); move them to one device first")
    B = backend_of(tensors[0], "get_total_norm")
    total = wrap(B.total_norm([t._data for t in tensors], norm_type), tensors[0].device)
    if error_if_nonfinite and not bool(B.isfinite(total._data)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return total


@no_grad()
def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float,
                          total_norm: Tensor | float, foreach: bool | None = None) -> None:
    """Scale the gradients in place by ``min(max_norm / (total_norm + 1e-6), 1)``."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    norm = total_norm if isinstance(total_norm, Tensor) else \
        tensor(float(total_norm), dtype=grads[0].dtype, device=grads[0].device)
    coef = (float(max_norm) / (norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef if g.device == coef.device else coef.to(g.device))


@no_grad()
def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float | str = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients of ``parameters`` in place so that their total ``norm_type``-norm
    (all gradients as one vector) is at most ``max_norm``.  Returns the total norm before
    clipping (a 0-d tensor).  ``foreach`` is accepted, as in torch (the backends already
    take every gradient in one call)."""
    if isinstance(parameters, types.GeneratorType):
        parameters = list(parameters)
        if not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=3)
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


@no_grad()
def clip_grad_value_(parameters: TensorOrTensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient of ``parameters`` in place to ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        g = p.grad
        if g is None:
            continue
        if not dtypes.is_floating_point(g.dtype):
            raise TypeError(f"clip_grad_value_: expected floating point gradients, got "
                            f"{describe(g)}")
        B = check_inplace("clip_grad_value_", g)
        B.iclip(g._data, -clip_value, clip_value)
        g._version[0] += 1
