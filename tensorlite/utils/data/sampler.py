"""Random generators and samplers: which dataset indices a DataLoader visits, in which order.

Randomness comes from a ``Generator`` when one is given, else from the global seed
(``tensorlite.manual_seed``): like PyTorch, each epoch of a shuffling sampler without a generator
draws one fresh seed from the global random stream, so ``manual_seed(s)`` before building and
iterating a loader makes every epoch reproducible.

The built-in samplers also expose ``_chunks()``, the epoch's indices as consecutive int64 NumPy
arrays drawn lazily, which ``BatchSampler`` cuts into index batches without a Python loop per
sample.  An epoch is never materialized whole: ``RandomSampler(ds, replacement=True,
num_samples=10**10)`` (the "infinite loader") draws ``_CHUNK`` indices at a time, as PyTorch draws
32 at a time, and a long chain of permutations is drawn one permutation at a time.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar, Union

import numpy as np

from ... import backends
from ...ops.random import Generator as _TorchGenerator

_T_co = TypeVar("_T_co", covariant=True)

_U64 = 1 << 64
_CHUNK = 1 << 12  # indices drawn at once with replacement (PyTorch draws 32): 32 KiB of int64


class Generator:
    """A random number generator for data loading, shaped like ``torch.Generator``.

    ``Generator().manual_seed(0)`` (returns the generator) seeds it; without a seed it starts
    from fresh OS entropy.  Pass it as ``generator=`` to ``DataLoader``, ``RandomSampler`` or
    ``random_split``: it advances as it is used, so consecutive epochs differ while the whole
    sequence repeats after the same ``manual_seed``.  ``get_state()``/``set_state()`` save and
    restore its position (a dict, not a ByteTensor as in PyTorch).  It runs on the host; the
    ``device`` argument exists for PyTorch compatibility and must be "cpu".
    """

    def __init__(self, device: str = "cpu") -> None:
        if str(device).split(":")[0] != "cpu":
            raise ValueError(f"Generator: data-loading generators run on the host; got device "
                             f"{device!r}, use 'cpu'")
        self.device = "cpu"
        self.seed()

    def manual_seed(self, seed: int) -> Generator:
        """Seed the generator with an int (any sign, taken modulo 2**64); returns ``self``."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"Generator.manual_seed: expected an int seed, got "
                            f"{type(seed).__name__}")
        self._seed = int(seed) % _U64
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from OS entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().generate_state(1, np.uint64)[0]))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        return {"seed": self._seed, "bit_generator": self._rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> Generator:
        self._seed = state["seed"]
        self._rng = np.random.Generator(np.random.PCG64())
        self._rng.bit_generator.state = state["bit_generator"]
        return self

    def __repr__(self) -> str:
        return f"<tensorlite.data.Generator seed={self._seed}>"


# What ``generator=`` accepts: a tensorlite.Generator (torch.Generator's twin), a data
# Generator, a NumPy Generator, or None (the global seed)
GeneratorLike = Union[_TorchGenerator, Generator, np.random.Generator, None]


def _rng(generator: GeneratorLike, who: str) -> np.random.Generator:
    """The NumPy generator to draw one epoch from: the given generator's own stream, or a fresh
    one seeded from the global stream (``tensorlite.manual_seed``)."""
    if generator is None:
        host = backends.for_device("cpu")
        seed = int(host.randint(0, np.iinfo(np.int64).max, (), np.dtype(np.int64)))
        return np.random.Generator(np.random.PCG64(seed))
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, _TorchGenerator):
        native = generator._native
        if native is None:  # tensorlite.default_generator: the global stream
            return _rng(None, who)
        if not isinstance(native, np.random.Generator):
            raise RuntimeError(f"{who}: expected a 'cpu' device type for generator but found "
                               f"'{generator.device}'")
        return native
    raise TypeError(f"{who}: generator must be a tensorlite.Generator, a "
                    f"tensorlite.data.Generator or a numpy.random.Generator, got "
                    f"{type(generator).__name__}")


def _permutation(n: int, generator: GeneratorLike, who: str) -> np.ndarray:
    return _rng(generator, who).permutation(n).astype(np.int64, copy=False)


class Sampler(Generic[_T_co]):
    """Base class: iterates over dataset indices.  Subclasses define ``__iter__`` (and usually
    ``__len__``)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[_T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _chunks(self) -> Iterator[np.ndarray]:
        n = len(self.data_source)
        for start in range(0, n, _CHUNK * 16):
            yield np.arange(start, min(n, start + _CHUNK * 16), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A random order of the indices: a permutation per epoch (``num_samples`` beyond the dataset
    size chains several permutations), or ``num_samples`` draws with replacement."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: GeneratorLike = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, got "
                            f"{replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if isinstance(num_samples, bool) or not isinstance(self.num_samples, int) \
                or self.num_samples <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={self.num_samples!r}")
        _rng_type_check(generator, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _chunks(self) -> Iterator[np.ndarray]:
        """The epoch's indices, drawn lazily: ``_CHUNK`` at a time with replacement, else one
        permutation at a time (the last one cut short when ``num_samples`` is not a multiple
        of the dataset size).  The random stream is picked on the first draw."""
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError("RandomSampler: cannot draw samples from an empty dataset")
        rng = _rng(self.generator, "RandomSampler")
        if self.replacement:
            for start in range(0, k, _CHUNK):
                yield rng.integers(0, n, size=min(_CHUNK, k - start), dtype=np.int64)
            return
        for _ in range(k // n):
            yield rng.permutation(n).astype(np.int64, copy=False)
        if k % n:
            yield rng.permutation(n)[:k % n].astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        for chunk in self._chunks():
            yield from chunk.tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices, in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: GeneratorLike = None) -> None:
        self.indices = indices
        self.generator = generator
        _rng_type_check(generator, "SubsetRandomSampler")

    def _chunks(self) -> Iterator[np.ndarray]:
        idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        yield idx[_permutation(len(idx), self.generator, "SubsetRandomSampler")]

    def __iter__(self) -> Iterator[int]:
        for chunk in self._chunks():
            yield from chunk.tolist()

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices in ``[0, len(weights))`` drawn with probabilities proportional to
    ``weights`` (torch.multinomial's semantics), with or without ``replacement``; with
    replacement they are drawn lazily, ``_CHUNK`` at a time."""

    def __init__(self, weights: Sequence[float] | Any, num_samples: int,
                 replacement: bool = True, generator: GeneratorLike = None) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        _rng_type_check(generator, "WeightedRandomSampler")
        from ...creation import tensor
        from ...tensor import Tensor
        host = (weights.backend.to_host(weights._data) if isinstance(weights, Tensor)
                else np.asarray(weights))
        w = np.asarray(host, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        self.weights = tensor(w)
        self._w = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def _chunks(self) -> Iterator[np.ndarray]:
        w, k = self._w, self.num_samples
        if not np.isfinite(w).all() or (w < 0).any():
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry < 0)" if (w < 0).any() else
                               "probability tensor contains either `inf`, `nan` or element < 0")
        total = w.sum()
        if total <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and k > len(w):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        rng, p = _rng(self.generator, "WeightedRandomSampler"), w / total
        if not self.replacement:  # as torch: zero-weight indices come last, once the rest ran out
            nonzero = np.flatnonzero(w)
            first = rng.choice(len(w), size=min(k, len(nonzero)), replace=False, p=p)
            zeros = rng.permutation(np.flatnonzero(w == 0))[:k - len(first)]
            yield np.concatenate((first, zeros)).astype(np.int64)
            return
        for start in range(0, k, _CHUNK):
            yield rng.choice(len(w), size=min(_CHUNK, k - start), p=p).astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        for chunk in self._chunks():
            yield from chunk.tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups another sampler's indices into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``)."""

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, "
                             f"but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def _index_batches(self) -> Iterator[np.ndarray]:
        """The batches as int64 arrays: for the built-in samplers their ``_chunks()`` cut by
        slicing (a batch spanning two chunks is joined), for any other sampler its indices
        grouped as they come."""
        if type(self.sampler) not in _ARRAY_SAMPLERS:
            for batch in self._lists():
                yield np.asarray(batch, dtype=np.int64)
            return
        bs, rest = self.batch_size, None
        chunks: Iterator[np.ndarray] = self.sampler._chunks()  # type: ignore[union-attr]
        for chunk in chunks:
            if rest is not None:
                chunk = np.concatenate((rest, chunk))
            stop = len(chunk) - len(chunk) % bs
            for start in range(0, stop, bs):
                yield chunk[start:start + bs]
            rest = chunk[stop:] if stop < len(chunk) else None
        if rest is not None and not self.drop_last:
            yield rest

    def _lists(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self) -> Iterator[list[int]]:
        if type(self.sampler) not in _ARRAY_SAMPLERS:
            yield from self._lists()
            return
        for batch in self._index_batches():
            yield batch.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _rng_type_check(generator: object, who: str) -> None:
    if generator is not None and not isinstance(generator, (Generator, np.random.Generator,
                                                            _TorchGenerator)):
        raise TypeError(f"{who}: generator must be a tensorlite.Generator, a "
                        f"tensorlite.data.Generator or a numpy.random.Generator, got "
                        f"{type(generator).__name__}")


# Samplers whose ``_chunks()``, joined, are exactly what their ``__iter__`` yields.
_ARRAY_SAMPLERS = (SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler)
