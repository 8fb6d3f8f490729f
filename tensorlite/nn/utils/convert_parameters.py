"""``parameters_to_vector`` / ``vector_to_parameters``, as torch.nn.utils.convert_parameters."""
from __future__ import annotations

from collections.abc import Iterable

from ...ops.movement import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param: Tensor, old_param_device: str | None) -> str:
    if old_param_device is not None and param.device != old_param_device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return param.device


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All of ``parameters`` flattened and joined into one 1-D tensor (recorded on the tape,
    as ``torch.cat`` of the views)."""
    device: str | None = None
    vec = []
    for param in parameters:
        device = _check_param_device(param, device)
        vec.append(param.reshape(-1))
    return cat(vec)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each of ``parameters`` (in order) a view of its slice of ``vec`` (its ``.data``
    becomes ``vec[offset:offset + numel].view_as(param)``, sharing ``vec``'s memory)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__module__}."
                        f"{type(vec).__name__}")
    device: str | None = None
    pointer = 0
    for param in parameters:
        device = _check_param_device(param, device)
        n = param.numel()
        param.data = vec[pointer:pointer + n].view_as(param).data
        pointer += n
