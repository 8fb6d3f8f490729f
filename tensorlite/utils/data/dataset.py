"""Datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset`` and ``random_split``."""
from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from ...tensor import Tensor, describe
from .sampler import GeneratorLike, _permutation, _rng_type_check

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)


class Dataset(Generic[_T_co]):
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: Any) -> _T_co:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: Dataset[_T_co]) -> ConcatDataset[_T_co]:
        return ConcatDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are tuples ``(t[i] for t in tensors)``; every tensor has the same first dimension.

    A DataLoader over a TensorDataset (or a Subset of one) with the default ``collate_fn`` builds
    each batch with one indexing call per tensor instead of stacking per-sample rows."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, expected "
                                "a tensorlite Tensor (convert with tensorlite.tensor(...))")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a 0-d tensor; every tensor "
                                 "needs a first (sample) dimension")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError("TensorDataset: size mismatch between tensors: every tensor must "
                             f"have the same size in dim 0, got sizes {sizes} (tensors "
                             + ", ".join(describe(t) for t in tensors) + ")")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset[_T_co]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset[_T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[_T_co]):
    """The samples of several datasets, one after another."""

    def __init__(self, datasets: Iterable[Dataset[_T_co]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> _T_co:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"ConcatDataset: absolute value of index {idx} should not "
                                 f"exceed dataset length {n}")
            idx += n
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        if d == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {idx} is out of range for length {n}")
        return self.datasets[d][idx - (self.cumulative_sizes[d - 1] if d else 0)]


def random_split(dataset: Dataset[_T], lengths: Sequence[int | float],
                 generator: GeneratorLike = None) -> list[Subset[_T]]:
    """Split ``dataset`` into non-overlapping random Subsets of the given ``lengths``.

    ``lengths`` are sizes summing to ``len(dataset)``, or fractions summing to 1 (each split
    gets ``floor(n * fraction)`` and the remainder is dealt one by one from the first split),
    exactly as ``torch.utils.data.random_split``.  The order comes from ``generator`` or, when
    None, from the global seed (``tensorlite.manual_seed``)."""
    _rng_type_check(generator, "random_split")
    lengths = list(lengths)
    n = len(dataset)
    sizes: list[int]
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    for i, v in enumerate(lengths):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and
                                                                     not math.isfinite(v)):
            raise TypeError(f"random_split: lengths[{i}] is {v!r}; expected an int size or a "
                            "float fraction")
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this might "
                              "result in an empty dataset.", stacklevel=2)
        lengths = list(sizes)
    elif any(isinstance(v, float) for v in lengths):
        raise ValueError(f"random_split: fractions {lengths} must sum to 1 (they sum to {total})")
    if any(v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {lengths} = {sum(lengths)} does "
                         f"not equal the length of the input dataset ({n})")
    indices = _permutation(n, generator, "random_split").tolist()
    return [Subset(dataset, indices[offset - size:offset])
            for offset, size in zip(itertools.accumulate(lengths), lengths)]
