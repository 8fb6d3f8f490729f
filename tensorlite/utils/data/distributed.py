"""DistributedSampler: each rank's share of a dataset (``torch.utils.data.DistributedSampler``).

The index sequence is PyTorch's for the same ``seed`` and epoch: PyTorch shuffles with
``torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))``, a Fisher-Yates
shuffle driven by a Mersenne Twister (mt19937) seeded with the low 32 bits of the seed, which
this module replays (NumPy's MT19937 with the same legacy seeding gives the same 32-bit
words).  So a tensorlite job and a PyTorch job with the same seed, epoch and world size visit
the same samples on the same ranks.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

from .sampler import Sampler


def _torch_randperm(n: int, seed: int) -> list[int]:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()`` (CPU)."""
    mt = np.random.MT19937(0)
    mt._legacy_seeding(seed & 0xFFFFFFFF)
    words = mt.random_raw(max(n - 1, 0)).tolist()
    perm = list(range(n))
    for i in range(n - 1):
        z = i + words[i] % (n - i)
        perm[i], perm[z] = perm[z], perm[i]
    return perm


class DistributedSampler(Sampler[int]):
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` visits: every
    ``num_replicas``-th index of the (shuffled, then padded or cut) epoch order, starting at
    ``rank``.  Without ``drop_last`` the order is padded with its own first indices so every rank
    gets ``ceil(len / num_replicas)``; with it the tail is cut.  Call ``set_epoch(e)`` before each
    epoch so each epoch is shuffled differently (and identically on every rank).
    ``num_replicas`` and ``rank`` default to the default process group's."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: Requires distributed package to be "
                                   "initialized (tensorlite.distributed.init_process_group), or "
                                   "pass num_replicas= and rank=")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, "
                             f"{num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        indices: list[int] = (_torch_randperm(n, self.seed + self.epoch) if self.shuffle
                              else list(range(n)))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order (call before each epoch, on every rank)."""
        self.epoch = epoch

    def __repr__(self) -> str:
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")
