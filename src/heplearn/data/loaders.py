"""The streaming loader: batches for training on data larger than memory.

It yields the batch dictionaries of tensors that the in-memory path
(:class:`heplearn.training.sampling.EpochBatches` over :meth:`Dataset.arrays`) yields:
each input (``(batch, features)``, ``(batch, particles, features)`` or
``(batch, channels, η, φ)``), ``<input>_mask`` for particle inputs, ``label`` and ``weight``.
"""

import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from heplearn.data.batch import LABEL, Batch, batch_arrays, mask_key
from heplearn.data.dataset import spec_files
from heplearn.data.prefetch import prefetched
from heplearn.data.preprocessing import FitStatistics, Preprocessing, class_count
from heplearn.data.processing import ChunkProcessor, Columns
from heplearn.data.readers import SourceFile, cluster_starts
from heplearn.data.readers.base import Reader
from heplearn.data.readers.sources import read_open_ranges, reader_for
from heplearn.data.spec import DatasetSpec, ParticlesInput
from heplearn.data.splits import SPLIT_NAMES
from heplearn.errors import ConfigError


@dataclass(frozen=True)
class Chunk:
    """A range of entries of one file: the unit the streaming loader reads and shards."""

    source_index: int
    file_index: int
    source: SourceFile
    entry_start: int
    entry_stop: int


class OpenFiles:
    """Files kept open from one pass over the chunks to the next (bounded).

    Opening a ROOT file makes uproot read its tree's metadata, every branch's, which
    costs as much as reading a small chunk; a streamed run reads every file twice an epoch
    (training and validation passes) and once to scan. A reader is lent to one pass at a
    time and kept afterwards among the ``most`` last used; older ones are closed. Readers
    hold metadata (a tree's branches and basket positions), never events. A DataLoader
    worker process (forked or pickled) starts with none of the parent's.

    Parameters
    ----------
    most : int
        Readers kept open between passes (0: each file is closed after its chunks).
    """

    def __init__(self, most: int = 16) -> None:
        self.most = most
        self._idle: OrderedDict[SourceFile, Reader] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    @contextmanager
    def lend(self, source: SourceFile) -> Iterator[Reader]:
        """The open reader of ``source``, for this caller alone until the block ends."""
        if self._pid != os.getpid():  # a forked worker: the parent's files are not ours
            self._idle, self._lock, self._pid = OrderedDict(), threading.Lock(), os.getpid()
        with self._lock:
            reader = self._idle.pop(source, None)
        if reader is None:
            reader = reader_for(source)
        try:
            yield reader
        except BaseException:  # (an error, or a pass stopped early: GeneratorExit)
            reader.close()
            raise
        with self._lock:
            self._idle[source] = reader
            while len(self._idle) > self.most:
                self._idle.popitem(last=False)[1].close()

    def close(self) -> None:
        """Close the readers kept open."""
        with self._lock:
            readers, self._idle = list(self._idle.values()), OrderedDict()
        for reader in readers:
            reader.close()

    def __reduce__(self) -> tuple[type["OpenFiles"], tuple[int]]:
        return OpenFiles, (self.most,)  # a pickled copy (a spawned worker) opens its own


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

    Every epoch the chunks are dealt out among the distributed ranks, and each rank's
    among its DataLoader workers, without overlap; each worker shuffles the events it
    reads within a buffer of ``shuffle_buffer`` events and yields ready batches. The next
    chunk is read in a thread while the events of the current one are prepared and
    trained on (:func:`heplearn.data.prefetch.prefetched`). Memory stays below about two
    chunks as read (the current one and the next) and the current one's events of the
    split, plus the buffer per worker, and the metadata of the files kept open between
    passes (``open_files``).

    The order of an epoch depends only on (seed, epoch, world size), never on what ran
    before, so a resumed run reads what an uninterrupted one would have read:

    1. with a shuffle buffer, the chunks are permuted with ``(seed, epoch)``; without
       one they keep file order;
    2. in that order, each chunk goes to the rank (by *global* rank) that holds the
       fewest events of the split so far, ties to the lowest rank (chunks without events
       of the split are skipped), so shares are disjoint, cover the split and differ by
       at most one chunk's events;
    3. a rank's chunks go to its workers in turn; each worker's buffer is shuffled with
       ``(seed, epoch, rank, worker)``.

    With ``split_counts`` known (see :func:`scan_stream`), every rank stops after the
    same number of batches, :meth:`steps_per_epoch` (the fewest any rank can fill), so
    no rank waits for another at the end of an epoch; the events beyond it on the larger
    shares (at most about one chunk per rank) sit that epoch out.

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
        Global rank of this process and the number of processes.
    split_counts : numpy.ndarray, optional
        Events of each split (columns train, validation, test) in each chunk, after the
        selection: shares are balanced by them and the steps equalised.
    files : sequence of int, optional
        Read only the chunks of these files (positions among the spec's files), e.g. one
        file per task of a file-parallel job.
    chunks : sequence of Chunk, optional
        The plan of :func:`plan_chunks` for ``chunk_entries``, when already made (that of
        :func:`scan_stream`, which ``split_counts`` count): the files are not opened again
        to plan it.
    open_files : OpenFiles, optional
        Files kept open between passes (each epoch's datasets share one); by default each
        pass opens its files.

    Raises
    ------
    ConfigError
        When there are fewer chunks with events of the split than ranks.
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
        split_counts: np.ndarray | None = None,
        files: Sequence[int] | None = None,
        chunks: Sequence[Chunk] | None = None,
        open_files: OpenFiles | None = None,
    ) -> None:
        self.spec = spec
        self.open_files = open_files
        self.preprocessing = preprocessing
        self.split_index = SPLIT_NAMES.index(split)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.rank, self.world_size = rank, world_size
        self.chunks = list(chunks) if chunks is not None else plan_chunks(spec, chunk_entries)
        self.split_counts = split_counts
        if split_counts is None:
            self.sizes = np.array([c.entry_stop - c.entry_start for c in self.chunks], np.int64)
        else:
            self.sizes = np.asarray(split_counts, np.int64)[:, self.split_index]
        if files is not None:
            of_file = np.array([chunk.file_index for chunk in self.chunks], np.int64)
            self.sizes = np.where(np.isin(of_file, list(files)), self.sizes, 0)
        filled = int(np.count_nonzero(self.sizes))
        if world_size > 1 and filled < world_size:
            raise ConfigError(
                _too_few_chunks(split, filled, self.chunks, chunk_entries, world_size)
            )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the shuffle of the next iteration (call once per epoch)."""
        self.epoch = epoch

    def shares(self) -> list[list[int]]:
        """The indices of the chunks of every rank this epoch, in reading order."""
        if self.shuffle_buffer:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.chunks))
        else:
            order = np.arange(len(self.chunks))
        loads = np.zeros(self.world_size, np.int64)
        shares: list[list[int]] = [[] for _ in range(self.world_size)]
        for index in order:
            if self.sizes[index]:
                rank = int(np.argmin(loads))
                shares[rank].append(int(index))
                loads[rank] += self.sizes[index]
        return shares

    def my_chunks(self) -> list[Chunk]:
        """The chunks of this rank and DataLoader worker."""
        info = get_worker_info()
        workers, worker = (1, 0) if info is None else (info.num_workers, info.id)
        return [self.chunks[index] for index in self.shares()[self.rank][worker::workers]]

    def steps_per_epoch(self, workers: int = 0) -> int | None:
        """The batches every rank yields this epoch (None without ``split_counts``)."""
        if self.split_counts is None:
            return None
        workers = max(workers, 1)
        return min(
            sum(
                -(-int(self.sizes[share[worker::workers]].sum()) // self.batch_size)
                for worker in range(workers)
            )
            for share in self.shares()
        )

    def __iter__(self) -> Iterator[Batch]:
        processor = ChunkProcessor(self.spec, self.seed)
        needed = processor.required_columns
        scaling = self.preprocessing.scaling()
        info = get_worker_info()
        worker = info.id if info is not None else 0
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        chunks = self.my_chunks()
        particles = [
            name for name, kind in self.spec.inputs.items() if isinstance(kind, ParticlesInput)
        ]
        threshold = max(self.shuffle_buffer, self.batch_size)
        # Before a chunk arrives the buffer holds fewer than `threshold` events.
        largest = max((chunk.entry_stop - chunk.entry_start for chunk in chunks), default=0)
        total = sum(chunk.entry_stop - chunk.entry_start for chunk in chunks)
        buffer = _EventBuffer(min(threshold - 1 + largest, total))
        for chunk, columns in prefetched(_read_chunks(chunks, needed, self.open_files)):
            events = processor.process(
                columns,
                chunk.source_index,
                chunk.file_index,
                chunk.entry_start,
                split=self.split_index,
                scaling=scaling,
                out=buffer.free_rows(particles, chunk.entry_stop - chunk.entry_start),
            )
            del columns
            weight = self.preprocessing.event_weights(self.spec, events)
            buffer.add(batch_arrays(events.inputs, events.masks, events.label, weight))
            del events
            if buffer.size >= threshold:
                order = self._order(buffer.size, rng)
                ready = buffer.size - buffer.size % self.batch_size
                yield from buffer.batches(order[:ready], self.batch_size)
                buffer.keep(order[ready:])
        if buffer.size:
            yield from buffer.batches(self._order(buffer.size, rng), self.batch_size)

    def _order(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """The order in which the buffered events leave: shuffled unless the buffer is off."""
        return rng.permutation(size) if self.shuffle_buffer else np.arange(size)


def _read_chunks(
    chunks: list[Chunk], names: set[str], files: OpenFiles | None = None
) -> Iterator[tuple[Chunk, Columns]]:
    """Each chunk with its columns, each file opened once for its consecutive chunks (or
    kept open from an earlier pass by ``files``)."""
    files = files if files is not None else OpenFiles(0)
    for _, group in itertools.groupby(chunks, key=lambda chunk: chunk.file_index):
        of_file = list(group)
        ranges = [(chunk.entry_start, chunk.entry_stop) for chunk in of_file]
        with files.lend(of_file[0].source) as reader:
            yield from zip(of_file, read_open_ranges(reader, names, ranges), strict=True)


class _EventBuffer:
    """Events waiting to be shuffled into batches, in arrays allocated once.

    New events are copied in after those already there; batches gather their rows, so no
    other copy of the buffered events is ever made.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.arrays: dict[str, np.ndarray] = {}
        self.size = 0

    def add(self, arrays: dict[str, np.ndarray]) -> None:
        """Append events (one array per batch key, aligned)."""
        count = len(arrays[LABEL])
        if not self.arrays or self.size + count > self.capacity:
            self.capacity = max(self.capacity, self.size + count)
            self.arrays = {
                name: _with_rows(self.arrays.get(name), self.size, self.capacity, values)
                for name, values in arrays.items()
            }
        for name, values in arrays.items():
            rows = self.arrays[name][self.size : self.size + count]
            if not _same_memory(rows, values):  # (not built in place)
                rows[...] = values
        self.size += count

    def free_rows(
        self, names: list[str], count: int
    ) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
        """Room for ``count`` more events of the particle inputs ``names``: their
        ``(values, mask)`` rows after the buffered events, to build them in place."""
        if not self.arrays or self.size + count > self.capacity:
            return None
        rows = slice(self.size, self.capacity)
        arrays = self.arrays
        return {name: (arrays[name][rows], arrays[mask_key(name)][rows]) for name in names}

    def batches(self, order: np.ndarray, batch_size: int) -> Iterator[Batch]:
        """Batches of the buffered events in ``order``."""
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            yield {
                name: torch.from_numpy(np.take(values, rows, axis=0))
                for name, values in self.arrays.items()
            }

    def keep(self, rows: np.ndarray) -> None:
        """Keep only these events, in this order, at the front of the buffer."""
        for values in self.arrays.values():
            values[: len(rows)] = values[rows]
        self.size = len(rows)


def _same_memory(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two arrays are views of the same memory with the same layout."""
    return (
        first.__array_interface__["data"][0] == second.__array_interface__["data"][0]
        and first.strides == second.strides
        and first.shape == second.shape
    )


def _with_rows(
    previous: np.ndarray | None, size: int, capacity: int, like: np.ndarray
) -> np.ndarray:
    """An array of ``capacity`` rows shaped like ``like``, starting with ``previous[:size]``."""
    array = np.empty((capacity, *like.shape[1:]), dtype=like.dtype)
    if previous is not None:
        array[:size] = previous[:size]
    return array


class StreamBatches:
    """The batches of a streaming dataset, cut to the epoch's equal number of steps.

    A DataLoader over the dataset (its workers read and shuffle), stopped after
    :meth:`StreamingDataset.steps_per_epoch` batches, which is also its length. Lightning
    finds the dataset under ``sampler`` and sets its epoch before each epoch, also in a
    resumed run.

    Parameters
    ----------
    dataset : StreamingDataset
        The dataset, with ``split_counts``.
    num_workers : int
        DataLoader worker processes.
    pin_memory : bool
        Batches in page-locked memory, for non-blocking copies to a GPU.
    """

    def __init__(
        self, dataset: StreamingDataset, num_workers: int = 0, pin_memory: bool = False
    ) -> None:
        assert dataset.split_counts is not None, "the dataset needs split_counts"
        self.sampler = dataset
        self.batch_sampler = None
        self.num_workers = num_workers
        self.loader = _loader(dataset, num_workers, pin_memory)

    def __len__(self) -> int:
        steps = self.sampler.steps_per_epoch(self.num_workers)
        assert steps is not None
        return steps

    def __iter__(self) -> Iterator[Batch]:
        return itertools.islice(self.loader, len(self))


def streaming_loader(
    dataset: StreamingDataset, num_workers: int = 0, pin_memory: bool = False
) -> DataLoader | StreamBatches:
    """Batches of a streaming dataset (formed by the dataset itself): all of them, or the
    epoch's equal number of steps when the dataset knows its ``split_counts``."""
    if dataset.split_counts is not None:
        return StreamBatches(dataset, num_workers, pin_memory)
    return _loader(dataset, num_workers, pin_memory)


def _loader(dataset: StreamingDataset, num_workers: int, pin_memory: bool) -> DataLoader:
    # A DataLoader draws a seed for its workers each epoch, from the global torch random
    # state unless given a generator; that state belongs to the model (dropout), and a
    # resumed run must find it as the uninterrupted run left it.
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(dataset.seed),
    )


@dataclass(frozen=True)
class StreamScan:
    """What one pass over the files tells the streaming loader.

    Attributes
    ----------
    preprocessing : Preprocessing
        Event weights and standardisation fitted on the training split.
    split_counts : numpy.ndarray
        ``(chunks, 3)`` events of the train, validation and test splits in each chunk of
        ``chunks``, after the selection.
    chunks : list of Chunk
        The chunks of :func:`plan_chunks`, for :class:`StreamingDataset`.
    """

    preprocessing: Preprocessing
    split_counts: np.ndarray
    chunks: list[Chunk]


def _too_few_chunks(
    split: str, filled: int, chunks: Sequence[Chunk], chunk_entries: int, world_size: int
) -> str:
    """The error of a stream with fewer chunks holding ``split`` events than ranks, with
    the way out that works: a chunk ends on a basket cluster of a ROOT file, so a smaller
    ``chunk_entries`` makes more chunks only where a chunk spans several clusters."""
    entries = [chunk.entry_stop - chunk.entry_start for chunk in chunks]
    sizes = f"{min(entries)}" if min(entries) == max(entries) else f"{min(entries)}-{max(entries)}"
    files = {chunk.file_index: chunk.source for chunk in chunks}
    clusters = [cluster_starts(source) for source in files.values()]
    # (a file without clusters, Parquet or HDF5, can be cut anywhere)
    cuttable = any(starts is None for starts in clusters) or sum(
        len(starts) for starts in clusters if starts is not None
    ) > len(chunks)
    if not cuttable:
        remedy = (
            "each chunk is one basket cluster of the files already, so write the data in "
            "more files or with smaller clusters (uproot: fewer entries per extend), or "
            "train on fewer devices"
        )
    else:
        remedy = "lower training.streaming.chunk_entries or train on fewer devices"
    return (
        f"training.streaming: the {split} split has events in {filled} chunk(s) "
        f"({len(chunks)} chunk(s) of {sizes} entries; training.streaming.chunk_entries "
        f"= {chunk_entries}) but there are {world_size} ranks (processes), and every rank "
        f"needs a chunk; {remedy}"
    )


def scan_stream(
    spec: DatasetSpec,
    seed: int,
    chunk_entries: int = 50_000,
    preprocessing: Preprocessing | None = None,
    open_files: OpenFiles | None = None,
) -> StreamScan:
    """Fit weights and standardisation and count each chunk's events of every split, in
    one sequential pass with one chunk in memory at a time (and the next one being read).

    Only three numbers per event (label, raw weight, reweighting variable) and the
    standardisation sums are kept between chunks. With ``preprocessing`` given (a resumed
    run) it is kept and the pass only counts. ``open_files`` keeps the files open for the
    passes that follow (see :class:`OpenFiles`).
    """
    processor = ChunkProcessor(spec, seed)
    needed = processor.required_columns
    statistics = FitStatistics(spec)
    chunks = plan_chunks(spec, chunk_entries)
    labels = []
    counts = np.zeros((len(chunks), len(SPLIT_NAMES)), np.int64)
    reading = _read_chunks(chunks, needed, open_files)
    for index, (chunk, columns) in enumerate(prefetched(reading)):
        events = processor.process(columns, chunk.source_index, chunk.file_index, chunk.entry_start)
        counts[index] = np.bincount(events.split, minlength=len(SPLIT_NAMES))
        if preprocessing is None:
            statistics.add(events)
            labels.append(events.label)
    if preprocessing is None:
        preprocessing = statistics.preprocessing(class_count(spec, np.concatenate(labels)))
    return StreamScan(preprocessing, counts, chunks)


def fit_streaming_preprocessing(
    spec: DatasetSpec, seed: int, chunk_entries: int = 50_000
) -> Preprocessing:
    """The preprocessing of :func:`scan_stream` alone."""
    return scan_stream(spec, seed, chunk_entries).preprocessing
