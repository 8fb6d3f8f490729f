"""DataLoader and the default collate function, with PyTorch's semantics.

The hot path of a training loop is a DataLoader over a ``TensorDataset`` (or a ``Subset`` of one,
as ``random_split`` returns) with the default collate: each batch is then one advanced-indexing
call per tensor with the batch's index array, instead of indexing every sample and stacking.
Both paths give the same batches (same values, dtypes, devices and container types).
"""
from __future__ import annotations

import collections.abc
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from ... import backends, dtypes
from ...creation import tensor as _tensor
from ...ops import getitem
from ...ops.movement import stack
from ...tensor import Tensor, wrap
from .dataset import Dataset, Subset, TensorDataset
from .sampler import (BatchSampler, GeneratorLike, RandomSampler, Sampler, SequentialSampler,
                      _rng_type_check)

_T_co = TypeVar("_T_co", covariant=True)

_BAD_KINDS = "SUaOV"  # strings, bytes, objects, void: no tensor holds them


# -- collate ---------------------------------------------------------------------------------------
def _stack_tensors(batch: Sequence[Any]) -> Tensor:
    first = batch[0]
    device, dtype, shape = first.device, first.dtype, first.shape
    for t in batch:
        if not isinstance(t, Tensor):
            raise TypeError(f"default_collate: a batch mixes a Tensor with a {type(t).__name__}; "
                            "every sample must hold the same types in the same places")
        if t.requires_grad or t.device != device or t.dtype != dtype or t.shape != shape:
            return stack(batch, 0)  # the op: records gradients, promotes, names what is wrong
    return wrap(first.backend.stack([t._data for t in batch]), device)


def _from_host(array: np.ndarray, who: str) -> Tensor:
    if array.dtype.kind in _BAD_KINDS:
        raise TypeError(f"{who}: cannot make a tensor of numpy dtype {array.dtype}; batches "
                        "must hold tensors, numpy numeric arrays, numbers, dicts or lists")
    dtypes.as_dtype(array.dtype)
    if backends.default_device() == "cpu":
        return wrap(array, "cpu")
    return _tensor(array)


def _type_of(obj: object) -> Any:
    """``type(obj)``, as a constructor of unknown signature (a Mapping or Sequence subclass)."""
    return type(obj)


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch, recursively (as ``torch.utils.data.default_collate``):
    tensors are stacked along a new dim 0; NumPy arrays and NumPy scalars become stacked tensors of
    their dtype; Python floats a float64 tensor, ints int64, bools bool; strings are returned
    as they come (a list, or a tuple inside a tuple/list sample, as in PyTorch);
    dicts (and OrderedDicts) collate per key; namedtuples per field; tuples and lists per position
    (tuples give a list, as in PyTorch)."""
    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)):
        raise TypeError(f"default_collate: expected a list of samples, got {type(batch).__name__}")
    if not batch:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        try:
            return _from_host(np.stack(batch), "default_collate")
        except ValueError:
            raise RuntimeError("default_collate: stack expects each array to be equal size, got "
                               f"{[list(np.shape(b)) for b in batch]}") from None
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return _from_host(np.array(batch), "default_collate")
    if isinstance(elem, bool):
        return _tensor(batch, dtype=dtypes.bool_)
    if isinstance(elem, int):
        return _tensor(batch, dtype=dtypes.int64)
    if isinstance(elem, float):
        return _tensor(batch, dtype=dtypes.float64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        merged = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return _type_of(elem)(merged)
        except TypeError:  # a mapping type that cannot be built from a dict
            return merged
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(s) != n for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               f"equal size, got sizes {[len(s) for s in batch]}")
        columns = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return _type_of(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"strings, dicts or lists; found {type(elem).__name__}")


def default_convert(data: Any) -> Any:
    """What a DataLoader with ``batch_size=None`` yields: NumPy arrays and scalars become tensors,
    containers are converted recursively, everything else is returned unchanged."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in _BAD_KINDS else _from_host(data, "default_convert")
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _from_host(np.asarray(data), "default_convert")
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        merged = {k: default_convert(v) for k, v in data.items()}
        try:
            return _type_of(data)(merged)
        except TypeError:
            return merged
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return _type_of(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


# -- the loader ------------------------------------------------------------------------------------
def _tensor_source(dataset: Any) -> tuple[tuple[Tensor, ...], np.ndarray | None] | None:
    """``(tensors, index_map)`` when ``dataset`` is a TensorDataset, possibly behind Subsets
    (``index_map`` composes their indices; None for no Subset), else None."""
    index_map: np.ndarray | None = None
    while isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        idx = np.asarray(dataset.indices, dtype=np.int64).reshape(-1)
        index_map = idx if index_map is None else idx[index_map]
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset) and \
            type(dataset).__getitem__ is TensorDataset.__getitem__:
        return dataset.tensors, index_map
    return None


def _take(tensors: Sequence[Tensor], index_map: np.ndarray | None,
          idx: np.ndarray) -> list[Tensor]:
    """One batch of a TensorDataset: each tensor indexed once with the batch's index array
    (copies, like stacking; recorded on the tape when a tensor requires grad)."""
    if index_map is not None:
        idx = index_map[idx]
    index: dict[str, Tensor] = {}
    out: list[Tensor] = []
    for t in tensors:
        i = index.get(t.device)
        if i is None:
            i = index[t.device] = wrap(idx if t.device == "cpu" else t.backend.asarray(idx),
                                       t.device)
        out.append(getitem(t, i))
    return out


class DataLoader(Generic[_T_co]):
    """Iterates over ``dataset`` in batches, shaped like ``torch.utils.data.DataLoader``.

    - ``batch_size`` samples per batch (the last one shorter unless ``drop_last``);
      ``batch_size=None`` turns batching off (each sample goes through ``default_convert``).
    - ``shuffle=True`` visits the samples in a new random order each epoch, drawn from
      ``generator`` (a ``tensorlite.data.Generator``) or, when None, from the global seed
      (``tensorlite.manual_seed``); ``sampler`` / ``batch_sampler`` give the order explicitly
      and are mutually exclusive with ``shuffle`` (and, for ``batch_sampler``, with
      ``batch_size``/``drop_last``), as in PyTorch.
    - ``collate_fn`` merges a list of samples into a batch (default: ``default_collate``).
    - ``num_workers`` and ``pin_memory`` are accepted for compatibility; samples are always
      loaded in the calling process and ``pin_memory`` has no effect.
    """

    sampler: Sampler[Any] | Iterable[Any]
    batch_sampler: Sampler[list[Any]] | Iterable[list[Any]] | None
    collate_fn: Callable[[Any], Any]

    def __init__(self, dataset: Dataset[_T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler[Any] | Iterable[Any] | None = None,
                 batch_sampler: Sampler[list[Any]] | Iterable[list[Any]] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[Any], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False,
                 generator: GeneratorLike = None) -> None:
        if not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must be a map-style dataset (with __getitem__ "
                            f"and __len__), got {type(dataset).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got "
                             f"{num_workers!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"DataLoader: drop_last should be a boolean value, got {drop_last!r}")
        _rng_type_check(generator, "DataLoader")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and "
                                 "is mutually exclusive with drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value (or "
                             f"None), but got batch_size={batch_size!r}")
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.generator = generator
        self._auto_collation = batch_sampler is not None
        self._default_collate = collate_fn is None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)

    def __len__(self) -> int:
        return len(self.batch_sampler if self._auto_collation  # type: ignore[arg-type]
                   else self.sampler)

    def __iter__(self) -> Iterator[Any]:
        dataset = self.dataset
        if not self._auto_collation:
            for i in self.sampler:
                yield self.collate_fn(dataset[i])
            return
        batch_sampler: Any = self.batch_sampler
        source = _tensor_source(dataset) if self._default_collate else None
        if source is not None:  # the hot path: one indexing call per tensor per batch
            tensors, index_map = source
            batches = (batch_sampler._index_batches()
                       if type(batch_sampler) is BatchSampler else
                       (np.asarray(b, dtype=np.int64) for b in batch_sampler))
            for idx in batches:
                yield _take(tensors, index_map, idx)
            return
        getitems = getattr(dataset, "__getitems__", None)
        for batch in batch_sampler:
            samples = getitems(batch) if getitems is not None else [dataset[i] for i in batch]
            yield self.collate_fn(samples)
