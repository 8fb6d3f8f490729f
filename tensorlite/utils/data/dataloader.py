"""DataLoader and the default collate function, with PyTorch's semantics.

The hot path of a training loop is a DataLoader over a ``TensorDataset`` (or a ``Subset`` of one,
as ``random_split`` returns) with the default collate: each batch is then one advanced-indexing
call per tensor with the batch's index array, instead of indexing every sample and stacking.
Both paths give the same batches (same values, dtypes, devices and container types).
"""
from __future__ import annotations

import collections.abc
import functools
import itertools
import multiprocessing
import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from ... import backends, dtypes
from ...creation import tensor as _tensor
from ...ops import getitem
from ...ops.movement import stack
from ...tensor import Tensor, wrap
from . import worker as _worker
from .dataset import Dataset, IterableDataset, Subset, TensorDataset
from .sampler import (BatchSampler, GeneratorLike, RandomSampler, Sampler, SequentialSampler,
                      _rng, _rng_type_check)

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


class _InfiniteConstantSampler(Sampler[None]):
    """The sampler of an IterableDataset: None forever (the dataset decides what comes)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


class _MapFetcher:
    """Fetches one batch of a map-style dataset: the TensorDataset fast path (one indexing
    call per tensor), the dataset's ``__getitems__``, or one ``dataset[i]`` per index."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any],
                 default_collate_used: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.source = (_tensor_source(dataset) if auto_collation and default_collate_used
                       else None)

    def __call__(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.source is not None:
            tensors, index_map = self.source
            return _take(tensors, index_map, np.asarray(index, dtype=np.int64))
        if isinstance(index, np.ndarray):
            index = index.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(index) if getitems is not None else [self.dataset[i] for i in index]
        return self.collate_fn(samples)


class _IterableFetcher:
    """Fetches from one pass over an IterableDataset: ``len(index)`` samples per batch (fewer
    at the end, none with ``drop_last``), StopIteration when the pass is over."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any],
                 drop_last: bool) -> None:
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def __call__(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in index:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def _shared_seed(generator: GeneratorLike) -> int:
    """The epoch's base seed for the workers, drawn as torch draws it when an iterator is made
    (from ``generator``, else from the global stream), with or without workers."""
    return int(_rng(generator, "DataLoader").integers(0, np.iinfo(np.int64).max))


class DataLoader(Generic[_T_co]):
    """Iterates over ``dataset`` in batches, shaped like ``torch.utils.data.DataLoader``.

    - ``batch_size`` samples per batch (the last one shorter unless ``drop_last``);
      ``batch_size=None`` turns batching off (each sample goes through ``default_convert``).
    - ``shuffle=True`` visits the samples in a new random order each epoch, drawn from
      ``generator`` (a ``tensorlite.Generator``, a ``tensorlite.data.Generator``) or, when None,
      from the global seed (``tensorlite.manual_seed``); ``sampler`` / ``batch_sampler`` give the
      order explicitly and are mutually exclusive with ``shuffle`` (and, for ``batch_sampler``,
      with ``batch_size``/``drop_last``), as in PyTorch.  An ``IterableDataset`` takes none of
      them: it yields its samples in its own order.
    - ``collate_fn`` merges a list of samples into a batch (default: ``default_collate``).
    - ``num_workers > 0`` loads batches in that many worker processes (``multiprocessing``, the
      default start method unless ``multiprocessing_context`` names one); each holds its own copy
      of the dataset, is seeded ``base_seed + worker_id`` (``get_worker_info()`` tells it who it
      is) and runs ``worker_init_fn(worker_id)`` first.  Batches come back in the sampler's
      order; ``prefetch_factor`` batches per worker are requested ahead; ``persistent_workers``
      keeps the workers between epochs; ``timeout`` (seconds, 0 = wait forever) bounds the wait
      for one batch.  An exception in a worker is raised again here, with the worker's
      traceback in its message.  An IterableDataset is iterated whole by every worker (shard
      it with ``get_worker_info()``, as in PyTorch).
    - ``pin_memory`` / ``pin_memory_device`` / ``in_order`` are accepted and have no effect.
    """

    sampler: Sampler[Any] | Iterable[Any]
    batch_sampler: Sampler[list[Any]] | Iterable[list[Any]] | None
    collate_fn: Callable[[Any], Any]

    def __init__(self, dataset: Dataset[_T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler[Any] | Iterable[Any] | None = None,
                 batch_sampler: Sampler[list[Any]] | Iterable[list[Any]] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[Any], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: GeneratorLike = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must be a map-style dataset (with __getitem__ "
                            f"and __len__) or an IterableDataset, got {type(dataset).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative; use "
                             f"num_workers=0 to disable multiprocessing (got {num_workers!r})")
        if timeout < 0:
            raise ValueError("DataLoader: timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("DataLoader: prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if not isinstance(drop_last, bool):
            raise ValueError(f"DataLoader: drop_last should be a boolean value, got {drop_last!r}")
        _rng_type_check(generator, "DataLoader")
        if iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
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
            if iterable:
                sampler = _InfiniteConstantSampler()
            else:
                sampler = (RandomSampler(dataset, generator=generator) if shuffle
                           else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # type: ignore[arg-type]
        if multiprocessing_context is not None:
            if num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got num_workers={num_workers}")
            if isinstance(multiprocessing_context, str):
                methods = multiprocessing.get_all_start_methods()
                if multiprocessing_context not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={multiprocessing_context!r}")
                multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
            elif not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={multiprocessing_context}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = generator
        self._iterable = iterable
        self._auto_collation = batch_sampler is not None
        self._default_collate = collate_fn is None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self._iterator: _MultiProcessingDataLoaderIter | None = None
        self._len_called: int | None = None

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            self._len_called = n
            return n
        return len(self.batch_sampler if self._auto_collation  # type: ignore[arg-type]
                   else self.sampler)

    def _index_batches(self) -> Iterator[Any]:
        """What the fetcher is asked for, in order: index arrays/lists, single indices, or
        (IterableDataset) lists of Nones the size of a batch."""
        if self._iterable:
            n = self.batch_size
            return itertools.repeat([None] * n) if n is not None else itertools.repeat(None)
        if not self._auto_collation:
            return iter(self.sampler)
        bs: Any = self.batch_sampler
        if type(bs) is BatchSampler:
            return bs._index_batches() if type(bs.sampler) is not _InfiniteConstantSampler \
                else iter(bs)
        return iter(bs)

    def _make_fetcher(self) -> Callable[[], Callable[[Any], Any]]:
        if self._iterable:
            return functools.partial(_IterableFetcher, self.dataset, self._auto_collation,
                                     self.collate_fn, self.drop_last)
        return functools.partial(_MapFetcher, self.dataset, self._auto_collation,
                                 self.collate_fn, self._default_collate)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            seed = _shared_seed(self.generator)  # noqa: F841  (drawn as torch draws it)
            return self._single_process()
        if self.persistent_workers:
            if self._iterator is None:
                self._iterator = _MultiProcessingDataLoaderIter(self)
            else:
                self._iterator._reset()
            return self._iterator
        return _MultiProcessingDataLoaderIter(self)

    def _single_process(self) -> Iterator[Any]:
        fetch = self._make_fetcher()()
        count = 0
        for index in self._index_batches():
            try:
                batch = fetch(index)
            except StopIteration:
                if self._iterable:
                    return
                raise
            count += 1
            self._warn_length(count)
            yield batch

    def _warn_length(self, yielded: int) -> None:
        if self._iterable and self._len_called is not None and yielded > self._len_called:
            warnings.warn(f"Length of IterableDataset {self.dataset} was reported to be "
                          f"{self._len_called} (when accessing len(dataloader)), but {yielded} "
                          "samples have been fetched. For multiprocessing data-loading, this "
                          "could be caused by not properly configuring the IterableDataset "
                          "replica at each worker. Please see https://pytorch.org/docs/stable/"
                          "data.html#torch.utils.data.IterableDataset for examples.",
                          stacklevel=3)


class _MultiProcessingDataLoaderIter:
    """One epoch (or, with persistent workers, every epoch) of a DataLoader with workers, as
    torch's ``_MultiProcessingDataLoaderIter``: index batches go round-robin to the workers'
    index queues, ``prefetch_factor * num_workers`` of them ahead; results come back on one
    queue in any order and are handed out in the order they were asked for."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        self._loader = loader
        self._num_workers = loader.num_workers
        self._prefetch_factor = int(loader.prefetch_factor or 0)
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._iterable = loader._iterable
        ctx = loader.multiprocessing_context or multiprocessing
        self._base_seed = _shared_seed(loader.generator)
        self._worker_result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues: list[Any] = []
        self._workers: list[Any] = []
        make_fetcher = loader._make_fetcher()
        for i in range(self._num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()
            w = ctx.Process(target=_worker._worker_loop,
                            args=(make_fetcher, self._iterable, loader.dataset, index_queue,
                                  self._worker_result_queue, self._done_event, self._base_seed,
                                  loader.worker_init_fn, i, self._num_workers))
            w.daemon = True
            w.start()
            self._index_queues.append(index_queue)
            self._workers.append(w)
        self._shutdown = False
        self._lock = threading.Lock()
        self._reset(first_iter=True)

    def _reset(self, first_iter: bool = False) -> None:
        self._sampler_iter = self._loader._index_batches()
        self._num_yielded = 0
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info: dict[int, tuple[Any, ...]] = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:  # persistent workers: a new epoch, a new seed, a fresh pass
            seed = _shared_seed(self._loader.generator)
            for q in self._index_queues:
                q.put(_worker._ResumeIteration(seed))
            remaining = self._num_workers
            while remaining > 0:
                _, data = self._get_data()
                if isinstance(_, _worker._ResumeIteration):
                    remaining -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def __iter__(self) -> _MultiProcessingDataLoaderIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _try_put_index(self) -> None:
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker is done (IterableDataset)
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _try_get_data(self, timeout: float) -> tuple[bool, Any]:
        try:
            message = self._worker_result_queue.get(timeout=timeout)
        except Exception as e:
            failed = [w for i, w in enumerate(self._workers)
                      if self._workers_status[i] and not w.is_alive()]
            if failed:
                for w in failed:
                    self._workers_status[self._workers.index(w)] = False
                pids = ", ".join(str(w.pid) for w in failed)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited "
                                   "unexpectedly") from e
            if isinstance(e, queue.Empty):
                return False, None
            raise
        return True, _worker.unpack(message)

    def _get_data(self) -> Any:
        if self._timeout > 0:
            ok, data = self._try_get_data(self._timeout)
            if ok:
                return data
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        while True:
            ok, data = self._try_get_data(0.5)
            if ok:
                return data

    def __next__(self) -> Any:
        if self._shutdown:
            raise StopIteration
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._workers_status[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                return self._process_data(self._task_info.pop(self._rcvd_idx)[1])
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if self._iterable and isinstance(data, _worker._IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                if not self._persistent:
                    self._index_queues[data.worker_id].put(None)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                return self._process_data(data)

    def _process_data(self, data: Any) -> Any:
        self._rcvd_idx += 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        self._num_yielded += 1
        self._loader._warn_length(self._num_yielded)
        return data

    def _shutdown_workers(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
            for w in self._workers:
                w.join(timeout=_worker.MP_STATUS_CHECK_INTERVAL)
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
            self._worker_result_queue.cancel_join_thread()
            self._worker_result_queue.close()
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()

    def __del__(self) -> None:
        try:
            self._shutdown_workers()
        except Exception:
            pass
