"""Which training events each step sees: a per-epoch permutation, sharded over ranks, in batches."""

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

from heplearn.data.batch import Batch


class EpochSampler(Sampler[int]):
    """Indices of one rank's share of the events, in an order fixed by (seed, epoch).

    The order of epoch ``e`` depends only on the seed and ``e``, never on what ran
    before, so a run resumed from a checkpoint sees exactly the batches an uninterrupted
    run would have seen. With ``world_size`` ranks, rank ``r`` takes every
    ``world_size``-th index starting at ``r`` of the permutation (disjoint shares that
    cover the data); the tail that does not divide evenly is dropped so that every rank
    runs the same number of steps.

    Parameters
    ----------
    size : int
        Number of events.
    seed : int
        Seed of the permutations.
    shuffle : bool
        False keeps the file order (then rank ``r`` takes events ``r, r + W, ...``).
    rank, world_size : int
        This process's rank and the number of processes.
    """

    def __init__(
        self, size: int, seed: int, *, shuffle: bool = True, rank: int = 0, world_size: int = 1
    ) -> None:
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the permutation of ``epoch`` (Lightning calls this every epoch)."""
        self.epoch = epoch

    def indices(self) -> torch.Tensor:
        """This rank's indices for the current epoch."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        usable = self.size - self.size % self.world_size
        return order[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.size // self.world_size


class EpochBatches:
    """Batches of in-memory tensors, in the order of an :class:`EpochSampler`.

    Each batch is gathered from every tensor with one index tensor, as a bare PyTorch loop
    would: no DataLoader, whose per-event indices and fetcher add a fixed cost to every
    step, felt by small models. Lightning finds the sampler under ``sampler`` and sets its
    epoch; it also looks for a ``batch_sampler``, which is None as the batches are cut here.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        Aligned arrays (inputs, ``label``, ``weight``), one row per event.
    batch_size : int
        Events per batch; the last batch of an epoch may hold fewer.
    sampler : EpochSampler
        The order of the events (and this rank's share of them).
    pin_memory : bool
        Gather each batch into page-locked memory, for non-blocking copies to a GPU.
    """

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        batch_size: int,
        sampler: EpochSampler,
        *,
        pin_memory: bool = False,
    ) -> None:
        self.tensors = {
            name: torch.from_numpy(np.ascontiguousarray(values)) for name, values in arrays.items()
        }
        self.batch_size = batch_size
        self.sampler = sampler
        self.batch_sampler = None
        self.pin_memory = pin_memory

    def __len__(self) -> int:
        return -(-len(self.sampler) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        order = self.sampler.indices()
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            if self.pin_memory:
                yield {name: tensor[index].pin_memory() for name, tensor in self.tensors.items()}
            else:
                yield {name: tensor[index] for name, tensor in self.tensors.items()}
