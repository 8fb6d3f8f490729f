"""DataLoader worker processes, as ``torch.utils.data._utils.worker``.

Each worker holds its own copy of the dataset (inherited on fork, pickled on spawn), takes
``(task index, sample indices)`` from its own index queue, fetches and collates the batch, and
puts ``(task index, batch)`` on the shared result queue; the parent puts batches back in order.
Tensors cross the queue as their host NumPy arrays (with dtype, device and ``requires_grad``)
and are rebuilt in the receiving process.  A worker is seeded as torch seeds it: ``seed =
base_seed + worker_id`` for Python's ``random`` and ``tensorlite.manual_seed``, and NumPy's
legacy global state from torch's ``_generate_state(base_seed, worker_id)``, so random
augmentations differ from worker to worker and repeat from run to run.
"""
from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable

import numpy as np

from ... import backends
from ...tensor import Tensor, wrap

MP_STATUS_CHECK_INTERVAL = 5.0  # seconds between checks that the other side is alive (torch's)
_POLL = 0.1  # seconds a worker waits on its index queue before checking the done event


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its ``id``, ``num_workers``, its
    ``seed`` and its own copy of the ``dataset`` (read-only, as torch's)."""
    id: int
    num_workers: int
    seed: int
    dataset: Any
    __initialized = False

    def __init__(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key: str, val: Any) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process: its ``WorkerInfo`` (id, num_workers, seed, dataset);
    in the main process: None.  An ``IterableDataset`` uses it to shard its stream."""
    return _worker_info


class ExceptionWrapper:
    """An exception of a worker, with its traceback as text, raised again in the parent as
    torch does: the same type with "Caught <Type> in DataLoader worker process <i>.\\nOriginal
    Traceback ..." as its message (a RuntimeError when the type cannot be built from a
    message)."""

    def __init__(self, exc_info: Any = None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type: type[BaseException] = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            raise KeyError(_KeyErrorMessage(msg))
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class _KeyErrorMessage(str):
    """A KeyError's message shown as text, not repr (torch's KeyErrorMessage)."""

    def __repr__(self) -> str:
        return str(self)


class _IterableDatasetStopIteration:
    """A worker's signal that its copy of an IterableDataset is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


class _ResumeIteration:
    """Sent to persistent workers at the start of each epoch (with the epoch's seed)."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed


# -- tensors through the queues --------------------------------------------------------------
def _rebuild_tensor(array: np.ndarray, device: str, requires_grad: bool) -> Tensor:
    data = array if device == "cpu" else backends.for_device(device).asarray(array)
    t = wrap(data, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_tensor(t: Tensor) -> tuple[Any, ...]:
    if t.grad_fn is not None and t.requires_grad:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, "
                           "since autograd does not support crossing process boundaries.  If you "
                           "just want to transfer the data, call detach() on the tensor before "
                           "serializing (e.g., putting it on the queue).")
    host = np.ascontiguousarray(t.backend.to_host(t._data))
    return _rebuild_tensor, (host, t.device, t.requires_grad)


ForkingPickler.register(Tensor, _reduce_tensor)


# -- seeding ---------------------------------------------------------------------------------
def _generate_state(base_seed: int, worker_id: int) -> list[int]:
    """torch's NumPy seed for worker ``worker_id`` (four uint32 words, a SeedSequence-like mix
    of the base seed and the worker id)."""
    init_a, mult_a, init_b, mult_b = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
    mix_l, mix_r, xshift, mask = 0xCA01F9DD, 0x4973F715, 16, 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask, base_seed >> 32, 0]
    const_a = init_a

    def hash_(value: int) -> int:
        nonlocal const_a
        value = (value ^ const_a) & mask
        const_a = (const_a * mult_a) & mask
        value = (value * const_a) & mask
        return (value ^ (value >> xshift)) & mask

    def mix(x: int, y: int) -> int:
        r = ((mix_l * x) & mask) - ((mix_r * y) & mask) & mask
        r &= mask
        return (r ^ (r >> xshift)) & mask

    pool = [hash_(e) for e in entropy]
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hash_(pool[i_src]))
    const_b, state = init_b, []
    for v in pool:
        v = (v ^ const_b) & mask
        const_b = (const_b * mult_b) & mask
        v = (v * const_b) & mask
        state.append((v ^ (v >> xshift)) & mask)
    return state


def _seed_worker(base_seed: int, worker_id: int) -> int:
    from ...creation import manual_seed
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(_generate_state(base_seed, worker_id))
    return seed


class _ParentWatchdog:
    """Whether the process that started this worker is still alive."""

    def __init__(self) -> None:
        self.parent = os.getppid()
        self.dead = False

    def is_alive(self) -> bool:
        if not self.dead:
            self.dead = os.getppid() != self.parent
        return not self.dead


def _pack(idx: Any, data: Any, worker_id: int) -> bytes:
    """``(idx, data)`` pickled here, in the worker, so that a batch that cannot be pickled
    reaches the parent as the error it is (the queue's feeder thread would only print it, and
    the parent would wait for the batch forever)."""
    try:
        return bytes(ForkingPickler.dumps((idx, data)))
    except Exception:
        return bytes(ForkingPickler.dumps((idx, ExceptionWrapper(
            where=f"in DataLoader worker process {worker_id} (pickling its batch)"))))


def unpack(message: bytes) -> Any:
    """What ``_pack`` packed: ``(idx, data)``."""
    return ForkingPickler.loads(message)


def _worker_loop(make_fetcher: Callable[[], Any], is_iterable: bool, dataset: Any,
                 index_queue: Any, data_queue: Any, done_event: Any, base_seed: int,
                 init_fn: Callable[[int], None] | None, worker_id: int,
                 num_workers: int) -> None:
    """A worker's life: seed, run ``init_fn``, then answer index batches until told to stop
    (None on its index queue), the loader is done, or the parent has died."""
    global _worker_info
    try:
        from ...backends import set_default_device
        set_default_device("cpu")  # batches are made on the host, as torch's workers make them
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_exception: ExceptionWrapper | None = None
        fetcher: Any = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher()
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        watchdog = _ParentWatchdog()
        while watchdog.is_alive():
            try:
                r = index_queue.get(timeout=_POLL)
            except queue.Empty:
                if done_event.is_set():  # the loader is gone (its queues may be closed)
                    break
                continue
            if isinstance(r, _ResumeIteration):
                data_queue.put(_pack(r, None, worker_id))
                iteration_end = False
                if r.seed is not None:
                    _seed_worker(r.seed, worker_id)
                if is_iterable and init_exception is None:
                    fetcher = make_fetcher()  # a fresh iterator over this worker's copy
                continue
            if r is None or done_event.is_set():
                break
            if iteration_end:
                continue
            idx, index = r
            data: Any
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and is_iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(
                            where=f"in DataLoader worker process {worker_id}")
            data_queue.put(_pack(idx, data, worker_id))
            del data, r
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
