"""tensorlite.utils.data (PyTorch-shaped): datasets, samplers and the DataLoader.

``from tensorlite.utils.data import DataLoader, TensorDataset`` replaces
``from torch.utils.data import DataLoader, TensorDataset``; ``tensorlite.data`` is the same
package under its older, shorter name.  Shuffling draws from the global seed
(``tensorlite.manual_seed``) or from an explicit ``tensorlite.data.Generator().manual_seed(s)``.
"""
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset,
                      Subset, TensorDataset, random_split)
from .sampler import (BatchSampler, Generator, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from .worker import WorkerInfo, get_worker_info
from .distributed import DistributedSampler

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "Generator",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
           "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
           "WorkerInfo", "default_collate", "default_convert", "get_worker_info",
           "random_split"]
