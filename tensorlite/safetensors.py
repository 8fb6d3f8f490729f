"""Checkpoints that travel: the safetensors format, through the ``safetensors`` package's NumPy
API, so a state_dict moves between tensorlite, PyTorch (``safetensors.torch``) and any other
safetensors user, in both directions.

``tensorlite.save_file(tensors, filename, metadata=None)`` and ``tensorlite.load_file(filename,
device="cpu")`` take and give ``{name: Tensor}`` as ``safetensors.torch.save_file`` /
``load_file`` do; ``save(tensors, metadata=None) -> bytes`` and ``load(data) -> dict`` work on
bytes.  A file holds flat named arrays and string metadata only: ``tensorlite.save`` /
``tensorlite.load`` keep their checksummed format for everything else (nested containers,
optimizer state, exact dtypes of NumPy scalars).

Differences from ``safetensors.torch``: a non-contiguous tensor is saved as its contiguous copy
and tensors that share memory (tied weights) are each written out, where safetensors.torch
refuses both; a file with a dtype tensorlite has no tensor type for (uint16, float8, ...)
raises TypeError naming the entry.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Union

import numpy as np

from . import backends, dtypes
from .tensor import Tensor, wrap

__all__ = ["save_file", "load_file", "save", "load"]

PathLike = Union[str, "os.PathLike[str]"]


def _numpy_api() -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("tensorlite.save_file/load_file need the 'safetensors' package: "
                          "pip install safetensors") from None
    return safetensors.numpy


def _to_arrays(tensors: Mapping[str, Tensor], who: str) -> dict[str, np.ndarray]:
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{who}: expected a dict of name -> Tensor, got "
                        f"{type(tensors).__name__}")
    out: dict[str, np.ndarray] = {}
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"{who}: keys must be strings, got {k!r} ({type(k).__name__})")
        if not isinstance(v, Tensor):
            raise ValueError(f"Key `{k}` is invalid, expected tensorlite.Tensor but received "
                             f"{type(v)}")
        if getattr(v, "layout", None) is not None and str(v.layout) != "tensorlite.strided":
            raise ValueError(f"You are trying to save a sparse tensor: `{k}` which this library "
                             "does not support. You can make it a dense tensor before saving "
                             "with `.to_dense()` but be aware this might make a much larger file "
                             "than needed.")
        out[k] = np.asarray(v.backend.to_host(v.detach()._data), order="C")  # (0-d stays 0-d)
    return out


# safetensors' names of the dtypes its NumPy API has no entry for (NumPy has them through ml_dtypes)
_EXTRA_DTYPES = {"BF16": dtypes.bfloat16}


def _load_arrays(data: bytes, source: str) -> dict[str, np.ndarray]:
    """``safetensors.numpy.load`` that also reads bfloat16 entries (bit-exact); an entry of a
    dtype NumPy lacks (float8, ...) raises TypeError naming it."""
    api = _numpy_api()
    import safetensors
    out: dict[str, np.ndarray] = {}
    for k, v in safetensors.deserialize(data):
        dtype = _EXTRA_DTYPES.get(v["dtype"]) or api._TYPES.get(v["dtype"])
        if dtype is None:
            raise TypeError(f"load_file: entry {k!r} of {source} has dtype {v['dtype']}, which "
                            f"tensorlite has no tensor type for (it has "
                            f"{', '.join(map(str, dtypes.ALL))}); convert it before saving")
        out[k] = np.frombuffer(v["data"], dtype=dtype).reshape(v["shape"])
    return out


def _check_metadata(metadata: Mapping[str, str] | None, who: str) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError(f"{who}: metadata must be a dict of str -> str, got {metadata!r}")
    return dict(metadata)


def _device(device: str | int | Any) -> str:
    if isinstance(device, int) and not isinstance(device, bool):
        return "cuda"
    name = str(device).split(":")[0]
    if name not in ("cpu", "cuda"):
        raise ValueError(f"load_file: device must be 'cpu', 'cuda', 'cuda:<i>' or a CUDA index, "
                         f"got {device!r}")
    return name


def _to_tensors(arrays: Mapping[str, np.ndarray], device: str, source: str) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    backend = backends.for_device(device)
    for k, a in arrays.items():
        try:
            dtypes.as_dtype(a.dtype)
        except TypeError:
            raise TypeError(f"load_file: entry {k!r} of {source} has dtype {a.dtype}, which "
                            f"tensorlite has no tensor type for (it has "
                            f"{', '.join(map(str, dtypes.ALL))}); convert it before saving"
                            ) from None
        a = np.array(a, copy=True, order="C")  # own, writable memory (not the file's mapping)
        out[k] = wrap(a if device == "cpu" else backend.asarray(a), device)
    return out


def save_file(tensors: Mapping[str, Tensor], filename: PathLike,
              metadata: Mapping[str, str] | None = None) -> None:
    """Write ``{name: Tensor}`` to ``filename`` in the safetensors format (as
    ``safetensors.torch.save_file``), with optional ``metadata`` (str -> str)."""
    arrays = _to_arrays(tensors, "save_file")
    _numpy_api().save_file(arrays, os.fspath(filename), _check_metadata(metadata, "save_file"))


def load_file(filename: PathLike, device: str | int = "cpu") -> dict[str, Tensor]:
    """Read a safetensors file (written by tensorlite, ``safetensors.torch``, NumPy, ...) as
    ``{name: Tensor}`` on ``device`` ("cpu", "cuda" or a CUDA index)."""
    target = _device(device)
    with open(os.fspath(filename), "rb") as f:
        data = f.read()
    source = repr(os.fspath(filename))
    return _to_tensors(_load_arrays(data, source), target, source)


def save(tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``{name: Tensor}`` (``safetensors.torch.save``)."""
    return bytes(_numpy_api().save(_to_arrays(tensors, "save"), _check_metadata(metadata,
                                                                                 "save")))


def load(data: bytes) -> dict[str, Tensor]:
    """``{name: Tensor}`` (on the CPU) from safetensors bytes (``safetensors.torch.load``)."""
    return _to_tensors(_load_arrays(bytes(data), "the given bytes"), "cpu", "the given bytes")
