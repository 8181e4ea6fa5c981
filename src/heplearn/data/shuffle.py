"""Shuffling ROOT TTrees larger than memory, with sequential reads only.

Reading events in random order from a ROOT file is unusably slow: every event costs the
decompression of a whole basket. The shuffle therefore never reads at random. It makes
two sequential passes over the data:

1. **Scatter**, one task per input file. Read the input in order, one chunk at a time,
   and send every entry to one of ``K`` temporary bucket files. ``K`` is chosen so that
   one bucket fits comfortably in the memory budget. The buckets have exact sizes that
   line up with the output files (a bucket fills one or several outputs, or an output is
   made of several buckets); how many entries of each input go to each bucket is a
   multivariate hypergeometric draw, and which entries they are a uniform arrangement.
2. **Gather**, one task per output file (or group of outputs sharing a bucket). Load one
   bucket at a time, shuffle it in memory with a permutation seeded by (seed, bucket),
   and append it to the outputs. A bucket that came out larger than the budget (events
   in later files much larger than in the first chunk) is scattered again into smaller
   buckets first.

Uniformly assigned, uniformly shuffled buckets concatenated in order give a uniformly
random permutation of all entries: every entry appears exactly once, and every order is
equally likely. Each random draw is keyed by what it shuffles, never by the order in which
tasks run, so the tasks can run in this process or on dask workers
(:mod:`heplearn.parallel`) and give the same files.

Memory stays within about ``max_memory`` plus the interpreter and libraries, in each
process that runs tasks. Each task holds one piece of data at a time, sized as a
fraction of the budget from the in-memory bytes per entry measured on the first chunk
(``ak.Array.nbytes``):

- pass 1 reads chunks of a sixth of the budget: while uproot reads a chunk it holds the
  compressed and the decompressed baskets and the arrays, about three times the chunk,
  and reordering the chunk by bucket adds one column at a time; the bucket of each
  entry of the input takes two bytes more per entry;
- pass 2 loads buckets of a third of the budget into arrays allocated once, permutes
  them column by column (one extra column at a time), and writes them through
  :class:`heplearn.io.TreeWriter` in baskets of :data:`heplearn.io.BASKET_ENTRIES`
  entries, or of a twenty-fourth of the budget if that is less, which uproot copies to
  big-endian and compresses.

Reading needs the baskets that overlap a chunk in memory too, so a file written with
baskets larger than the budget (one basket per branch for the whole file) needs more.
In memory, and in the bucket files, a chunk is a dict of numpy arrays: each scalar or
fixed-size branch, each counter as counts, each jagged branch as its flat content.
"""

import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import awkward as ak
import numpy as np
import uproot

from heplearn.data.readers.root import find_tree, open_root_file, trees_of
from heplearn.errors import ConfigError, InputError, OutputError
from heplearn.files import remove_stale_temporaries
from heplearn.io import BASKET_ENTRIES, TreeLayout, TreeWriter
from heplearn.parallel import file_workers, map_files

OUTPUT_PREFIX = "shuffled_"
BUCKET_DIRECTORY_PREFIX = ".shuffle-buckets-"

# Fractions of ``max_memory`` given to each resident piece of data (see module docstring).
CHUNK_FRACTION = 1 / 6
BUCKET_FRACTION = 1 / 3
WRITE_FRACTION = 1 / 24
# Bytes per entry measured on the first chunk are multiplied by this before choosing K,
# to leave room for larger events later and for the random spread of bucket sizes.
SAFETY_FACTOR = 1.25
# At most this many buckets from the budget (twice as many when outputs split them, each
# task's bucket files open at once); larger data are split again in pass 2.
MAX_BUCKETS = 256
MAX_RESPLIT_DEPTH = 8

_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 10**3,
    "kib": 2**10,
    "m": 2**20,
    "mb": 10**6,
    "mib": 2**20,
    "g": 2**30,
    "gb": 10**9,
    "gib": 2**30,
    "t": 2**40,
    "tb": 10**12,
    "tib": 2**40,
}
_MEMORY_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")


def parse_memory(text: str) -> int:
    """Parse a memory size such as ``"1GB"``, ``"512MB"``, ``"1.5GiB"`` or ``"200M"``.

    ``KB``, ``MB``, ``GB``, ``TB`` are powers of 1000; ``KiB``, ``MiB``, ``GiB``, ``TiB``
    and the one-letter ``K``, ``M``, ``G``, ``T`` (as in Docker, Slurm and ``sort -S``)
    are powers of 1024. A bare number is a number of bytes. Case is ignored.

    Parameters
    ----------
    text : str
        The size, a positive number followed by an optional unit.

    Returns
    -------
    int
        The size in bytes.

    Raises
    ------
    ConfigError
        If ``text`` is not a positive size with a known unit.
    """
    match = _MEMORY_PATTERN.match(str(text))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigError(
            f"cannot read the memory size {text!r}; write a positive number with a unit "
            "such as '512MB', '1.5GiB' or '200M'"
        )
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise ConfigError(f"the memory size {text!r} must be larger than zero bytes")
    return size


@dataclass
class ShuffleReport:
    """What :func:`shuffle_files` did.

    Attributes
    ----------
    entries : int
        Entries read, and written, in total.
    input_files : list[Path]
        The input files, in the order they were read.
    output_files : list[Path]
        The shuffled files written, in order.
    tree : str
        Name of the output TTree.
    buckets : int
        Number of temporary buckets of the first pass (``K``).
    resplit_buckets : int
        Buckets that came out larger than the budget and were split again.
    max_memory : int
        The memory budget in bytes.
    bytes_per_entry : float
        In-memory size of one entry, measured on the first chunk.
    chunk_entries : int
        Entries per read step after the first chunk was measured.
    largest_chunk_bytes : int
        In-memory size of the largest chunk read (``ak.Array.nbytes``).
    largest_bucket_bytes : int
        In-memory size of the largest bucket shuffled in memory.
    peak_rss_bytes : int | None
        High-water mark of the resident memory of the whole process (not only of the
        shuffle) when the shuffle ended; ``None`` where the platform does not report it.
    """

    entries: int
    input_files: list[Path]
    output_files: list[Path]
    tree: str
    buckets: int
    resplit_buckets: int
    max_memory: int
    bytes_per_entry: float
    chunk_entries: int
    largest_chunk_bytes: int
    largest_bucket_bytes: int
    peak_rss_bytes: int | None = None


@dataclass
class _Layout:
    """The branches of the input TTree and how to write them back."""

    tree: str
    title: str
    branch_order: list[str]
    read_branches: list[str]
    counters: dict[str, str]
    groups: dict[str, list[str]]
    signature: dict[str, str]
    branch_types: dict[str, Any] = field(default_factory=dict)
    dtypes: dict[str, np.dtype] = field(default_factory=dict)
    inner_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _open_root(path: Path) -> Any:
    if not path.is_file():
        raise InputError(f"input file {path} does not exist or is not a file; check the path")
    return open_root_file(path)


def _find_tree(file: Any, path: Path, tree: str | None) -> Any:
    """The TTree to shuffle, chosen as every reader chooses it (the same messages)."""
    name = find_tree(file, path, tree)
    classname = trees_of(file)[name]
    if classname != "TTree":
        raise InputError(
            f"tree '{name}' of ROOT file '{path}' is a {classname}, not a TTree; the shuffle "
            "reads TTrees: name a TTree (--tree NAME), or write the events as a TTree"
        )
    return file[name]


def _describe_layout(ttree: Any, path: Path, tree_name: str) -> _Layout:
    counters: dict[str, str] = {}
    signature: dict[str, str] = {}
    unsupported: list[str] = []
    order = [branch.name for branch in ttree.branches]
    for branch in ttree.branches:
        interpretation = branch.interpretation
        signature[branch.name] = f"{branch.typename} {interpretation}"
        if isinstance(interpretation, uproot.AsDtype):
            continue
        if (
            isinstance(interpretation, uproot.AsJagged)
            and isinstance(interpretation.content, uproot.AsDtype)
            and branch.count_branch is not None
            and branch.count_branch.name in order
        ):
            counters[branch.name] = branch.count_branch.name
            continue
        unsupported.append(f"{branch.name} ({branch.typename})")
    if unsupported:
        raise InputError(
            f"{path}:{tree_name} has branches the shuffle cannot write back: "
            f"{', '.join(unsupported)}; it supports numbers, fixed-size arrays and arrays "
            "with a counter branch (x[n]); drop or convert these branches"
        )
    counter_names = set(counters.values())
    return _Layout(
        tree=tree_name,
        title=ttree.title,
        branch_order=order,
        read_branches=[name for name in order if name not in counter_names],
        counters=counters,
        groups={
            counter: [name for name in order if counters.get(name) == counter]
            for counter in order
            if counter in counter_names
        },
        signature=signature,
    )


def _check_inputs(paths: list[Path], tree: str | None) -> tuple[_Layout, list[str], list[int]]:
    """Open every input once (metadata only), check trees and branches, count entries."""
    layout: _Layout | None = None
    trees = []
    entries = []
    for path in paths:
        with _open_root(path) as file:
            ttree = _find_tree(file, path, tree)
            this = _describe_layout(ttree, path, ttree.name)
            trees.append(ttree.object_path.lstrip("/").split(";")[0])
            entries.append(int(ttree.num_entries))
        if layout is None:
            layout = this
            first = path
            continue
        missing = sorted(set(layout.signature) - set(this.signature))
        extra = sorted(set(this.signature) - set(layout.signature))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks {', '.join(missing)}")
            if extra:
                parts.append(f"has extra {', '.join(extra)}")
            raise InputError(
                f"{path} {' and '.join(parts)} compared with {first}; all inputs must "
                "have the same branches"
            )
        differing = [
            f"{name} ({layout.signature[name]} in {first}, {this.signature[name]} here)"
            for name in layout.signature
            if layout.signature[name] != this.signature[name]
        ]
        if differing:
            raise InputError(
                f"{path} has branches of a different type than {first}: {'; '.join(differing)}"
            )
    assert layout is not None
    return layout, trees, entries


def _check_out_dir(out_dir: Path, inputs: list[Path], overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output directory {out_dir} is a file; choose a directory")
    if out_dir.is_dir():
        existing = sorted(out_dir.iterdir())
        if existing and not overwrite:
            raise OutputError(
                f"output directory {out_dir} is not empty (it holds {existing[0].name}"
                f"{' and more' if len(existing) > 1 else ''}); choose an empty or new "
                "directory, or pass overwrite=True to replace its shuffled_*.root files"
            )
    resolved = out_dir.resolve()
    for path in inputs:
        if path.resolve().parent == resolved and path.name.startswith(OUTPUT_PREFIX):
            raise OutputError(
                f"input {path} would be overwritten by the shuffle's outputs in {out_dir}; "
                "choose another output directory"
            )


def _output_sizes(total: int, n_inputs: int, entries_per_file: int | None) -> list[int]:
    if entries_per_file is None:
        files = max(1, min(n_inputs, total))
        base, extra = divmod(total, files)
        return [base + (1 if index < extra else 0) for index in range(files)]
    full, rest = divmod(total, entries_per_file)
    return [entries_per_file] * full + ([rest] if rest else [])


def _peak_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


# -- columns: one numpy array per branch -------------------------------------------------
#
# In memory, a chunk or bucket is a dict of numpy arrays in input branch order: scalar and
# fixed-size branches as they are, each counter branch as the counts (int64) and each
# jagged branch as its flat content. Reordering entries is then plain numpy indexing,
# without awkward's per-call overhead for every small piece.

Columns = dict[str, np.ndarray]
# Entries reordered at a time inside a jagged group, bounding the temporary index arrays.
TAKE_BLOCK = 1 << 16


def _offsets(counts: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _entries(columns: Columns, layout: _Layout) -> int:
    return len(next(c for name, c in columns.items() if name not in layout.counters))


def _nbytes(columns: Columns) -> int:
    return sum(column.nbytes for column in columns.values())


def _to_columns(chunk: ak.Array, layout: _Layout) -> Columns:
    columns: Columns = {}
    for name in layout.branch_order:
        if name in layout.groups:
            first = chunk[layout.groups[name][0]]
            columns[name] = ak.to_numpy(ak.num(first, axis=1)).astype(np.int64, copy=False)
        elif name in layout.counters:
            columns[name] = ak.to_numpy(ak.flatten(chunk[name], axis=1))
        else:
            columns[name] = ak.to_numpy(chunk[name])
    return columns


def _take(columns: Columns, layout: _Layout, index: np.ndarray) -> Columns:
    """Entries ``index`` of ``columns``; the source arrays are released one by one."""
    taken: Columns = {}
    for name in layout.branch_order:
        if name in layout.counters:
            continue
        if name not in layout.groups:
            taken[name] = columns.pop(name)[index]
            continue
        counts = columns.pop(name)
        offsets = _offsets(counts)
        new_counts = counts[index]
        new_offsets = _offsets(new_counts)
        taken[name] = new_counts
        del counts
        for member in layout.groups[name]:
            source = columns.pop(member)
            target = np.empty((int(new_offsets[-1]), *source.shape[1:]), dtype=source.dtype)
            for start in range(0, len(index), TAKE_BLOCK):
                block = index[start : start + TAKE_BLOCK]
                lengths = new_counts[start : start + TAKE_BLOCK]
                first, last = new_offsets[start], new_offsets[start + len(block)]
                shift = offsets[block] - new_offsets[start : start + len(block)]
                flat = np.repeat(shift, lengths)
                flat += np.arange(first, last)
                target[first:last] = source[flat]
            taken[member] = target
            del source
    return {name: taken[name] for name in layout.branch_order}


def _slice(
    columns: Columns, layout: _Layout, offsets: dict[str, np.ndarray], start: int, stop: int
) -> Columns:
    """Entries ``start:stop`` as views; ``offsets`` holds each counter's cumulative counts."""
    sliced: Columns = {}
    for name, column in columns.items():
        counter = layout.counters.get(name)
        if counter is None:
            sliced[name] = column[start:stop]
        else:
            sliced[name] = column[offsets[counter][start] : offsets[counter][stop]]
    return sliced


# -- temporary buckets -------------------------------------------------------------------


@dataclass
class _Bucket:
    """One bucket: its files (read in order), entries, in-memory bytes and column lengths."""

    paths: list[Path]
    entries: int
    nbytes: int
    lengths: dict[str, int]


class _Buckets:
    """``count`` bucket files in ``directory``, each receiving the entries assigned to it.

    A bucket file is a sequence of pieces; a piece is the lengths of its columns (int64),
    then the raw bytes of each column in layout order. The dtypes come from the layout,
    so nothing in the file is interpreted beyond numbers.
    """

    def __init__(self, directory: Path, count: int, layout: _Layout) -> None:
        directory.mkdir(parents=True)
        self.layout = layout
        self.paths = [directory / _bucket_name(index) for index in range(count)]
        self.entries = [0] * count
        self.nbytes = [0] * count
        self.lengths = [dict.fromkeys(layout.branch_order, 0) for _ in range(count)]
        self._handles: list[BinaryIO] = []
        try:
            for path in self.paths:
                self._handles.append(path.open("wb"))
        except BaseException:
            self.close()
            raise

    def scatter(self, columns: Columns, assignment: np.ndarray) -> None:
        """Send entry ``i`` to bucket ``assignment[i]`` (consumes ``columns``)."""
        count = len(self.paths)
        order = np.argsort(assignment, kind="stable")
        bounds = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(np.bincount(assignment, minlength=count), out=bounds[1:])
        grouped = _take(columns, self.layout, order)
        del order
        offsets = {counter: _offsets(grouped[counter]) for counter in self.layout.groups}
        for index in range(count):
            start, stop = int(bounds[index]), int(bounds[index + 1])
            if stop == start:
                continue
            piece = _slice(grouped, self.layout, offsets, start, stop)
            handle, lengths = self._handles[index], self.lengths[index]
            np.array([len(column) for column in piece.values()], dtype=np.int64).tofile(handle)
            for name, column in piece.items():
                np.ascontiguousarray(column, dtype=self.layout.dtypes[name]).tofile(handle)
                lengths[name] += len(column)
                self.nbytes[index] += column.nbytes
            self.entries[index] += stop - start

    def bucket(self, index: int) -> _Bucket:
        return _Bucket(
            [self.paths[index]], self.entries[index], self.nbytes[index], self.lengths[index]
        )

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles = []


def _bucket_name(index: int) -> str:
    return f"bucket_{index:05d}.bin"


def _pieces(bucket: _Bucket, layout: _Layout) -> Iterator[Columns]:
    """The pieces of one bucket, file after file, in the order they were written."""
    names = layout.branch_order
    for path in bucket.paths:
        size = path.stat().st_size
        with path.open("rb") as handle:
            while handle.tell() < size:
                lengths = np.fromfile(handle, dtype=np.int64, count=len(names))
                piece: Columns = {}
                for name, length in zip(names, lengths.tolist(), strict=True):
                    shape = (length, *layout.inner_shapes[name])
                    count = math.prod(shape)
                    column = np.fromfile(handle, dtype=layout.dtypes[name], count=count)
                    if len(column) != count:
                        raise OSError(f"temporary bucket {path} is truncated")
                    piece[name] = column.reshape(shape)
                yield piece


def _load(bucket: _Bucket, layout: _Layout) -> Columns:
    """One whole bucket, read into arrays allocated once at their final size."""
    columns = {
        name: np.empty((length, *layout.inner_shapes[name]), layout.dtypes[name])
        for name, length in bucket.lengths.items()
    }
    positions = dict.fromkeys(columns, 0)
    for piece in _pieces(bucket, layout):
        for name, column in piece.items():
            columns[name][positions[name] : positions[name] + len(column)] = column
            positions[name] += len(column)
    return columns


# -- output ------------------------------------------------------------------------------


def _describe_columns(chunk: ak.Array, columns: Columns, layout: _Layout) -> None:
    """Record column dtypes and the ``mktree`` types (in input branch order)."""
    for name, column in columns.items():
        layout.dtypes[name] = column.dtype
        layout.inner_shapes[name] = column.shape[1:]
        if name in layout.groups:
            layout.branch_types[name] = np.dtype(np.int32)  # uproot writes int32 counters
        elif name in layout.counters:
            layout.branch_types[name] = chunk[name].type
        elif column.ndim > 1:
            layout.branch_types[name] = np.dtype((column.dtype, column.shape[1:]))
        else:
            layout.branch_types[name] = column.dtype


def _branch_data(columns: Columns, layout: _Layout) -> dict[str, Any]:
    """What ``TTree.extend`` takes; the counters are generated from the jagged branches."""
    data: dict[str, Any] = {}
    for name in layout.read_branches:
        counter = layout.counters.get(name)
        if counter is None:
            data[name] = columns[name]
        else:
            offsets = _offsets(columns[counter])
            data[name] = ak.Array(
                ak.contents.ListOffsetArray(
                    ak.index.Index64(offsets), ak.contents.NumpyArray(columns[name])
                )
            )
    return data


class _OutputWriter:
    """Appends shuffled entries to ``shuffled_NNNN.root`` files, one :class:`TreeWriter` each.

    Use as a context manager: each file is renamed into place as soon as it holds its
    share of the entries; the one being written when an error occurs is removed.
    """

    def __init__(
        self,
        paths: list[Path],
        sizes: list[int],
        layout: _Layout,
        compression: Any,
        basket_entries: int,
    ) -> None:
        self._paths = paths
        self._sizes = sizes
        self._layout = layout
        self._tree_layout = TreeLayout(layout.branch_types, layout.counters, layout.title)
        self._compression = compression
        self._basket_entries = basket_entries
        self._index = -1
        self._left = 0
        self._writer: TreeWriter | None = None

    def __enter__(self) -> "_OutputWriter":
        return self

    def _open_next(self) -> TreeWriter:
        self._index += 1
        writer = TreeWriter(
            self._paths[self._index],
            self._layout.tree,
            layout=self._tree_layout,
            compression=self._compression,
            basket_entries=self._basket_entries,
        )
        self._writer = writer.__enter__()
        self._left = self._sizes[self._index]
        return self._writer

    def write(self, columns: Columns) -> None:
        offsets = {counter: _offsets(columns[counter]) for counter in self._layout.groups}
        entries = _entries(columns, self._layout)
        position = 0
        while position < entries:
            writer = self._writer or self._open_next()
            take = min(entries - position, self._left)
            piece = _slice(columns, self._layout, offsets, position, position + take)
            writer.extend(_branch_data(piece, self._layout))
            position += take
            self._left -= take
            if self._left == 0:
                self._writer = None
                writer.__exit__(None, None, None)

    def finish(self) -> None:
        """Check that every output file received exactly its share of entries."""
        if self._index != len(self._paths) - 1 or self._left != 0 or self._writer is not None:
            raise RuntimeError("the shuffle wrote fewer entries than it read; please report")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:  # unfinished (an error, or finish() was not called)
            failure = error or RuntimeError("the shuffle stopped before an output was complete")
            writer.__exit__(type(failure), failure, traceback)


# -- the shuffle -------------------------------------------------------------------------
#
# The random streams are keyed by what they shuffle, never by the order in which tasks run:
# (seed, 0) draws how many entries of each input go to each bucket, (seed, 1, i) arranges
# them among the entries of input i, (seed, 2, k) permutes bucket k (and splits it again
# when it is too large). One process and any number of dask workers give the same files.

_COUNTS_STREAM, _INPUT_STREAM, _BUCKET_STREAM = 0, 1, 2


@dataclass
class _Plan:
    """What every task needs: the layout, the budget and the buckets' exact sizes."""

    layout: _Layout
    seed: int
    chunk_bytes: int
    chunk_entries: int
    bucket_bytes: int
    basket_entries: int
    compression: Any
    directory: Path
    # Entries of input i sent to bucket k (rows: inputs; columns: buckets).
    counts: np.ndarray


@dataclass
class _Task:
    """Pass 2's unit of work: consecutive buckets that fill consecutive output files."""

    buckets: list[int]
    outputs: list[Path]
    sizes: list[int]


@dataclass
class _Stats:
    buckets: list[_Bucket] = field(default_factory=list)
    resplit: int = 0
    largest_bucket: int = 0


def _buckets_for(nbytes: float, bucket_bytes: int) -> int:
    return max(1, min(MAX_BUCKETS, math.ceil(nbytes * SAFETY_FACTOR / bucket_bytes)))


def _even(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def _tasks(sizes: list[int], paths: list[Path], needed: float, bucket_bytes: int) -> tuple:
    """Buckets of exact sizes aligned with the output files, and pass 2's tasks.

    With fewer buckets than outputs, a bucket fills several whole outputs; otherwise each
    output is made of its own buckets. Returns ``(bucket_sizes, tasks)``.
    """
    wanted = _buckets_for(needed, bucket_bytes)
    total = sum(sizes)
    bucket_sizes: list[int] = []
    tasks = []
    if wanted <= len(sizes):
        groups = np.array_split(np.arange(len(sizes)), wanted)
        for group in groups:
            members = group.tolist()
            tasks.append(
                _Task(
                    [len(bucket_sizes)],
                    [paths[j] for j in members],
                    [sizes[j] for j in members],
                )
            )
            bucket_sizes.append(sum(sizes[j] for j in members))
        return bucket_sizes, tasks
    for path, size in zip(paths, sizes, strict=True):
        parts = max(1, min(size, math.ceil(wanted * size / total)))
        first = len(bucket_sizes)
        bucket_sizes.extend(_even(size, parts))
        tasks.append(_Task(list(range(first, len(bucket_sizes))), [path], [size]))
    return bucket_sizes, tasks


def _assign(bucket_sizes: list[int], file_entries: list[int], seed: int) -> np.ndarray:
    """Entries of each input per bucket: a uniform draw of which entries fill which bucket."""
    rng = np.random.default_rng([seed, _COUNTS_STREAM])
    left = np.array(bucket_sizes, dtype=np.int64)
    counts = np.zeros((len(file_entries), len(bucket_sizes)), dtype=np.int64)
    for index, entries in enumerate(file_entries):
        counts[index] = rng.multivariate_hypergeometric(left, entries)
        left -= counts[index]
    return counts


def _input_directory(plan: _Plan, index: int) -> Path:
    return plan.directory / f"input_{index:05d}"


def _scatter_file(plan: _Plan, job: tuple[int, Path, str]) -> tuple[list[int], list[dict], int]:
    """Pass 1 for one input: its entries, read in chunks, into its own bucket files.

    Entry ``e`` of input ``i`` goes to a bucket drawn from the stream (seed, 1, i), whatever
    the chunks; the files are renamed into place when complete (a retried task starts over).
    Returns each bucket's in-memory bytes and column lengths and the largest chunk's bytes.
    """
    index, path, tree_path = job
    final = _input_directory(plan, index)
    for stale in plan.directory.glob(f".{final.name}.*.part"):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    counts = plan.counts[index]
    labels = np.repeat(np.arange(len(counts), dtype=np.uint16), counts)
    np.random.default_rng([plan.seed, _INPUT_STREAM, index]).shuffle(labels)
    wanted = set(plan.layout.read_branches)

    def selected(branch: Any) -> bool:
        return branch.name in wanted

    temporary = plan.directory / f".{final.name}.{os.getpid()}.part"
    buckets = _Buckets(temporary, len(counts), plan.layout)
    largest_chunk = 0
    try:
        with _open_root(path) as file:
            ttree = _find_tree(file, path, tree_path)
            # ROOT's own byte counts of this file's branches catch files whose events are
            # larger than those of the first chunk.
            step = plan.chunk_entries
            if ttree.num_entries:
                step = min(step, ttree.num_entries_for(plan.chunk_bytes, filter_branch=selected))
            position = 0
            for chunk in ttree.iterate(
                filter_branch=selected, step_size=max(1, int(step)), library="ak"
            ):
                largest_chunk = max(largest_chunk, int(chunk.nbytes))
                columns = _to_columns(chunk, plan.layout)
                stop = position + len(chunk)
                del chunk
                buckets.scatter(columns, labels[position:stop])
                position = stop
                del columns
        if position != len(labels):
            raise InputError(f"{path} changed while it was shuffled; shuffle it again")
        buckets.close()
        os.replace(temporary, final)
    except BaseException:
        buckets.close()
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return buckets.nbytes, buckets.lengths, largest_chunk


def _gather(
    bucket: _Bucket,
    plan: _Plan,
    writer: "_OutputWriter",
    rng: np.random.Generator,
    stats: _Stats,
    depth: int,
) -> None:
    """Shuffle one bucket in memory and write it; split it again first if it is too large."""
    if bucket.entries == 0:
        return
    if bucket.nbytes > plan.bucket_bytes and bucket.entries > 1 and depth < MAX_RESPLIT_DEPTH:
        stats.resplit += 1
        count = max(2, _buckets_for(bucket.nbytes, plan.bucket_bytes))
        directory = Path(tempfile.mkdtemp(prefix="split-", dir=plan.directory)) / "buckets"
        sub = _Buckets(directory, count, plan.layout)
        try:
            for piece in _pieces(bucket, plan.layout):
                sub.scatter(piece, rng.integers(count, size=_entries(piece, plan.layout)))
        finally:
            sub.close()
        for index in range(count):
            _gather(sub.bucket(index), plan, writer, rng, stats, depth + 1)
            sub.paths[index].unlink()
        return
    columns = _load(bucket, plan.layout)
    stats.largest_bucket = max(stats.largest_bucket, _nbytes(columns))
    permutation = rng.permutation(bucket.entries)
    shuffled = _take(columns, plan.layout, permutation)
    del columns, permutation
    writer.write(shuffled)


def _write_outputs(plan: _Plan, job: tuple[_Task, list[_Bucket]]) -> _Stats:
    """Pass 2 for one task: its buckets shuffled in order into its output files.

    Bucket ``k`` is permuted by the stream (seed, 2, k); each output is written under a
    temporary name renamed when complete (a retried task removes what a killed one left).
    """
    task, buckets = job
    for output in task.outputs:
        remove_stale_temporaries(output)
    stats = _Stats(buckets)
    with _OutputWriter(
        task.outputs, task.sizes, plan.layout, plan.compression, plan.basket_entries
    ) as writer:
        for number, bucket in zip(task.buckets, buckets, strict=True):
            rng = np.random.default_rng([plan.seed, _BUCKET_STREAM, number])
            _gather(bucket, plan, writer, rng, stats, 0)
        writer.finish()
    return stats


def _basket_entries(max_memory: int, bytes_per_entry: float) -> int:
    """Entries per output basket: heplearn's usual size, fewer if a twentyfourth is less."""
    fitting = int(max_memory * WRITE_FRACTION / max(bytes_per_entry, 1e-9))
    return max(1, min(BASKET_ENTRIES, fitting))


def _remove_buckets(stats: _Stats) -> None:
    """Free the disk space of a finished task's buckets (it will not run again)."""
    for bucket in stats.buckets:
        for path in bucket.paths:
            path.unlink(missing_ok=True)


def _input_compression(path: Path) -> Any:
    """The compression of an input (checked readable before), given to the outputs."""
    with _open_root(path) as file:
        return file.file.compression


def _measure(
    paths: list[Path], tree_paths: list[str], layout: _Layout, chunk_bytes: int
) -> tuple[float, int]:
    """Read the first chunk of the first input with entries: bytes per entry, chunk bytes."""
    wanted = set(layout.read_branches)
    for path, tree_path in zip(paths, tree_paths, strict=True):
        with _open_root(path) as file:
            ttree = _find_tree(file, path, tree_path)
            if ttree.num_entries == 0:
                continue
            step = ttree.num_entries_for(
                chunk_bytes, filter_branch=lambda branch: branch.name in wanted
            )
            chunk = ttree.arrays(
                filter_branch=lambda branch: branch.name in wanted,
                entry_stop=max(1, int(step)),
                library="ak",
            )
            _describe_columns(chunk, _to_columns(chunk, layout), layout)
            return chunk.nbytes / max(1, len(chunk)), int(chunk.nbytes)
    raise AssertionError("no input has entries")  # (checked before)


def shuffle_files(
    inputs: Sequence[Path | str],
    out_dir: Path,
    *,
    max_memory: int,
    seed: int = 42,
    tree: str | None = None,
    entries_per_file: int | None = None,
    overwrite: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
) -> ShuffleReport:
    """Shuffle the entries of ROOT TTrees larger than memory into new files.

    Two sequential passes (see the module docstring): every input is read in chunks and
    each entry sent to a random temporary bucket; then each bucket is shuffled in memory
    and appended to the outputs. No entry is read at random, and no file is read whole.
    Every input entry appears in the output exactly once.

    Pass 1 runs one task per input file, pass 2 one task per output file (or per group of
    output files that share a bucket), in this process or on dask workers: the outputs
    are the same for any ``workers`` and ``scheduler``.

    Parameters
    ----------
    inputs : sequence of Path or str
        ROOT files holding a TTree with the same branches.
    out_dir : Path
        Directory for ``shuffled_0000.root``, ``shuffled_0001.root``, ...; created if
        missing. The temporary buckets live in a hidden directory inside it (they need
        about the uncompressed size of the data on disk) and are always removed. With
        ``scheduler``, every worker must see it at the same path (a shared file system).
    max_memory : int
        Memory budget in bytes (see :func:`parse_memory`) for the data held at once by
        each process (this one, or each dask worker); the interpreter and libraries come
        on top.
    seed : int
        Seed of the bucket assignment and of the in-memory permutations. The same seed,
        inputs and ``max_memory`` give identical outputs.
    tree : str, optional
        Name of the TTree; may be left out when every file holds exactly one TTree.
    entries_per_file : int, optional
        Entries per output file (the last one may hold fewer). By default there are as
        many output files as input files, of equal size.
    overwrite : bool
        Allow a non-empty ``out_dir``: its ``shuffled_*.root`` files are replaced (stale
        ones from an earlier run with more files removed); other files are left alone.
    workers : int
        Files processed at a time by a local dask cluster of this many processes; 1 runs
        everything in this process.
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://host:8786``) to run the tasks on.

    Returns
    -------
    ShuffleReport
        Entries, files, buckets and memory figures.

    Raises
    ------
    InputError
        A missing or unreadable input, a missing or ambiguous tree, branches that differ
        between inputs or that cannot be written back, or no entries at all.
    OutputError
        ``out_dir`` is not empty and ``overwrite`` is false, or it lacks disk space.
    ConfigError
        ``max_memory``, ``entries_per_file`` or ``workers`` is not positive, or the
        scheduler cannot be reached (nothing is written then).

    Notes
    -----
    The output TTree has the branches of the input in the same order and with the same
    types, except that counter branches of jagged arrays are always written as ``int32``
    (uproot's counters). Branches that are not numbers, fixed-size arrays or arrays with a
    counter branch (``std::vector``, strings, objects) are refused with an ``InputError``.

    The buckets have exact sizes: how many entries of each input go to each bucket is a
    multivariate hypergeometric draw, and which of the input's entries they are is a
    uniform arrangement; each bucket is then permuted uniformly. Every order of all the
    entries is therefore equally likely.
    """
    if int(max_memory) <= 0:
        raise ConfigError(f"max_memory must be a positive number of bytes, not {max_memory}")
    if entries_per_file is not None and int(entries_per_file) <= 0:
        raise ConfigError(f"entries_per_file must be positive, not {entries_per_file}")
    if not inputs:
        raise InputError("no input files given; name at least one ROOT file")
    max_memory = int(max_memory)
    paths = [Path(path) for path in inputs]
    out_dir = Path(out_dir)

    layout, tree_paths, file_entries = _check_inputs(paths, tree)
    total = sum(file_entries)
    if total == 0:
        raise InputError(f"the inputs ({', '.join(map(str, paths))}) hold no entries")
    _check_out_dir(out_dir, paths, overwrite)

    chunk_bytes = max(1, int(max_memory * CHUNK_FRACTION))
    bucket_bytes = max(1, int(max_memory * BUCKET_FRACTION))
    bytes_per_entry, first_chunk = _measure(paths, tree_paths, layout, chunk_bytes)
    needed = total * bytes_per_entry
    sizes = _output_sizes(total, len(paths), entries_per_file)
    names = [f"{OUTPUT_PREFIX}{index:04d}.root" for index in range(len(sizes))]
    with file_workers(workers, scheduler) as client:
        out_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(out_dir).free
        if needed > free:
            raise OutputError(
                f"{out_dir} has {free / 1e9:.1f} GB free; the shuffle needs about "
                f"{needed / 1e9:.1f} GB there for temporary buckets"
            )
        directory = Path(tempfile.mkdtemp(prefix=BUCKET_DIRECTORY_PREFIX, dir=out_dir))
        try:
            staged = directory / "outputs"
            staged.mkdir()
            bucket_sizes, tasks = _tasks(
                sizes, [staged / name for name in names], needed, bucket_bytes
            )
            plan = _Plan(
                layout=layout,
                seed=seed,
                chunk_bytes=chunk_bytes,
                chunk_entries=max(1, int(chunk_bytes / max(bytes_per_entry, 1e-9))),
                bucket_bytes=bucket_bytes,
                basket_entries=_basket_entries(max_memory, bytes_per_entry),
                compression=_input_compression(paths[0]),
                directory=directory,
                counts=_assign(bucket_sizes, file_entries, seed),
            )
            jobs = [
                (index, path, tree_path)
                for index, (path, tree_path) in enumerate(zip(paths, tree_paths, strict=True))
            ]
            scattered = map_files(partial(_scatter_file, plan), jobs, client=client)
            buckets = [
                _Bucket(
                    [_input_directory(plan, i) / _bucket_name(k) for i in range(len(paths))],
                    bucket_sizes[k],
                    sum(nbytes[k] for nbytes, _, _ in scattered),
                    {
                        name: sum(lengths[k][name] for _, lengths, _ in scattered)
                        for name in layout.branch_order
                    },
                )
                for k in range(len(bucket_sizes))
            ]
            written = map_files(
                partial(_write_outputs, plan),
                [(task, [buckets[k] for k in task.buckets]) for task in tasks],
                client=client,
                on_result=_remove_buckets,
            )
            # Every output is complete: move them all into place.
            output_paths = [out_dir / name for name in names]
            for name, path in zip(names, output_paths, strict=True):
                os.replace(staged / name, path)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    if overwrite:
        keep = set(names)
        for stale in out_dir.glob(f"{OUTPUT_PREFIX}*.root"):
            if stale.name not in keep and re.fullmatch(r"shuffled_\d{4,}\.root", stale.name):
                stale.unlink()

    return ShuffleReport(
        entries=total,
        input_files=paths,
        output_files=output_paths,
        tree=layout.tree,
        buckets=len(bucket_sizes),
        resplit_buckets=sum(stats.resplit for stats in written),
        max_memory=max_memory,
        bytes_per_entry=bytes_per_entry,
        chunk_entries=plan.chunk_entries,
        largest_chunk_bytes=max([first_chunk] + [largest for _, _, largest in scattered]),
        largest_bucket_bytes=max(stats.largest_bucket for stats in written),
        peak_rss_bytes=_peak_rss_bytes(),
    )


__all__ = ["ShuffleReport", "parse_memory", "shuffle_files"]
