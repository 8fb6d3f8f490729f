"""tensorlite.utils.data (PyTorch-shaped): datasets, samplers and the DataLoader.

``from tensorlite.utils.data import DataLoader, TensorDataset`` replaces
``from torch.utils.data import DataLoader, TensorDataset``; ``tensorlite.data`` is the same
package under its older, shorter name.  Shuffling draws from the global seed
(``tensorlite.manual_seed``) or from an explicit ``tensorlite.data.Generator().manual_seed(s)``.
"""
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .sampler import (BatchSampler, Generator, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "Generator",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "default_collate", "default_convert", "random_split"]
