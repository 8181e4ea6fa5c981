"""Batches for training: an in-memory loader and a streaming loader for data larger than memory.

Both yield the same batch dictionaries of tensors: each input (``(batch, features)``,
``(batch, particles, features)`` or ``(batch, channels, η, φ)``), ``<input>_mask`` for
particle inputs, ``label`` and ``weight``.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from heplearn.data.dataset import Dataset, spec_files
from heplearn.data.preprocessing import FitStatistics, Preprocessing, class_count
from heplearn.data.processing import ChunkProcessor, Processed
from heplearn.data.sources import SourceFile, cluster_starts, read_columns
from heplearn.data.spec import DatasetSpec
from heplearn.data.splits import SPLIT_NAMES

Batch = dict[str, torch.Tensor]


class ArrayDataset(torch.utils.data.Dataset):
    """Map-style dataset over aligned arrays that fetches whole batches at once."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.tensors = {
            name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()
        }
        self.length = len(next(iter(self.tensors.values())))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Batch:
        return {name: tensor[index] for name, tensor in self.tensors.items()}

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        selection = torch.as_tensor(indices)
        return {name: tensor[selection] for name, tensor in self.tensors.items()}


def whole_batch(batch: Any) -> Any:
    """The dataset already returns whole batches (``__getitems__``): nothing to collate."""
    return batch


def in_memory_loader(
    dataset: Dataset,
    split: str,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader over one split of an in-memory dataset (batches gathered by indexing)."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        ArrayDataset(dataset.arrays(split)),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        drop_last=drop_last,
        collate_fn=whole_batch,
    )


@dataclass(frozen=True)
class Chunk:
    """A range of entries of one file: the unit the streaming loader reads and shards."""

    source_index: int
    file_index: int
    source: SourceFile
    entry_start: int
    entry_stop: int


def _ranges(entries: int, chunk_entries: int, clusters: list[int] | None) -> list[tuple[int, int]]:
    """Cut ``[0, entries)`` into ranges of about ``chunk_entries``, on cluster boundaries."""
    if not clusters:
        return [
            (start, min(start + chunk_entries, entries))
            for start in range(0, entries, chunk_entries)
        ]
    ranges, start = [], 0
    for boundary in [*clusters[1:], entries]:
        if boundary - start >= chunk_entries or boundary == entries:
            ranges.append((start, boundary))
            start = boundary
    return [(begin, end) for begin, end in ranges if end > begin]


def plan_chunks(spec: DatasetSpec, chunk_entries: int) -> list[Chunk]:
    """Cut every file of the spec into ranges of about ``chunk_entries`` entries.

    In ROOT files the ranges follow the basket clusters, so that no basket is
    decompressed twice; a chunk is then at least one cluster long.
    """
    return [
        Chunk(source_index, file_index, source, start, stop)
        for file_index, (source_index, source) in enumerate(spec_files(spec))
        for start, stop in _ranges(source.entries, chunk_entries, cluster_starts(source))
    ]


class StreamingDataset(IterableDataset):
    """Streams a dataset spec from its files chunk by chunk, with bounded memory.

    Chunks are shared out among DataLoader workers (and among distributed ranks) without
    overlap; each worker shuffles the events it reads within a buffer of
    ``shuffle_buffer`` events and yields ready batches. Memory stays below about one chunk
    plus the buffer per worker.

    Parameters
    ----------
    spec : DatasetSpec
        The dataset spec.
    preprocessing : Preprocessing
        Fitted preprocessing (see :func:`fit_streaming_preprocessing`).
    split : str
        ``train``, ``validation`` or ``test``.
    batch_size : int
        Events per batch.
    seed : int
        Seed of the split assignment (must match the preprocessing fit) and the shuffles.
    chunk_entries : int
        Entries read per chunk.
    shuffle_buffer : int
        Events shuffled together; 0 keeps file order.
    rank, world_size : int
        Distributed shard of this process.
    """

    def __init__(
        self,
        spec: DatasetSpec,
        preprocessing: Preprocessing,
        split: str,
        batch_size: int,
        *,
        seed: int = 0,
        chunk_entries: int = 50_000,
        shuffle_buffer: int = 100_000,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.spec = spec
        self.preprocessing = preprocessing
        self.split_index = SPLIT_NAMES.index(split)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.rank, self.world_size = rank, world_size
        self.chunks = plan_chunks(spec, chunk_entries)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the shuffle of the next iteration (call once per epoch)."""
        self.epoch = epoch

    def my_chunks(self) -> list[Chunk]:
        """The chunks of this rank and DataLoader worker."""
        info = get_worker_info()
        workers, worker = (1, 0) if info is None else (info.num_workers, info.id)
        shard, shards = self.rank * workers + worker, self.world_size * workers
        return self.chunks[shard::shards]

    def __iter__(self) -> Iterator[Batch]:
        processor = ChunkProcessor(self.spec, self.seed)
        needed = processor.required_columns
        info = get_worker_info()
        shard = self.rank * 1000 + (info.id if info is not None else 0)
        rng = np.random.default_rng([self.seed, self.epoch, shard])
        buffer: list[Processed] = []
        buffered = 0
        for chunk in self.my_chunks():
            columns = read_columns(chunk.source, needed, chunk.entry_start, chunk.entry_stop)
            events = processor.process(
                columns, chunk.source_index, chunk.file_index, chunk.entry_start
            )
            events = events.take(events.split == self.split_index)
            buffer.append(self.preprocessing.apply(self.spec, events))
            buffered += len(events)
            if buffered >= max(self.shuffle_buffer, self.batch_size):
                pending = self._shuffled(buffer, rng)
                ready = len(pending) - len(pending) % self.batch_size
                yield from _batches(pending.take(slice(0, ready)), self.batch_size)
                remainder = pending.take(slice(ready, None))
                buffer, buffered = [remainder], len(remainder)
        if buffered:
            yield from _batches(self._shuffled(buffer, rng), self.batch_size)

    def _shuffled(self, buffer: list[Processed], rng: np.random.Generator) -> Processed:
        """The buffered events as one block, shuffled unless the buffer is off."""
        pending = Processed.concatenate(buffer)
        if self.shuffle_buffer:
            pending = pending.take(rng.permutation(len(pending)))
        return pending


def _batches(events: Processed, batch_size: int) -> Iterator[Batch]:
    arrays: dict[str, np.ndarray] = dict(events.inputs)
    arrays.update({f"{name}_mask": mask for name, mask in events.masks.items()})
    arrays["label"] = events.label
    arrays["weight"] = events.weight
    tensors = {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()}
    for start in range(0, len(events), batch_size):
        yield {name: tensor[start : start + batch_size] for name, tensor in tensors.items()}


def streaming_loader(dataset: StreamingDataset, num_workers: int = 0) -> DataLoader:
    """A DataLoader over a streaming dataset (batches are formed by the dataset itself)."""
    return DataLoader(dataset, batch_size=None, num_workers=num_workers)


def fit_streaming_preprocessing(
    spec: DatasetSpec, seed: int, chunk_entries: int = 50_000
) -> Preprocessing:
    """Fit weights and standardisation in one sequential pass, one chunk in memory at a time.

    Only three numbers per event (label, raw weight, reweighting variable) and the
    standardisation sums are kept between chunks.
    """
    processor = ChunkProcessor(spec, seed)
    needed = processor.required_columns
    statistics = FitStatistics(spec)
    labels = []
    for chunk in plan_chunks(spec, chunk_entries):
        columns = read_columns(chunk.source, needed, chunk.entry_start, chunk.entry_stop)
        events = processor.process(columns, chunk.source_index, chunk.file_index, chunk.entry_start)
        statistics.add(events)
        labels.append(events.label)
    return statistics.preprocessing(class_count(spec, np.concatenate(labels)))
