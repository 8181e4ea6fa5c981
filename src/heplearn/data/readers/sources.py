"""Sources: open a file, list its columns, read them over entry ranges or stream them.

A *source* is one file (and, where the format has them, one tree or group inside it). The
functions here open sources through the registry of formats
(:mod:`heplearn.data.readers.registry`) and return checked columns
(:mod:`heplearn.data.readers.columns`), so that the rest of heplearn never needs to know
the format.
"""

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heplearn.data.readers.base import Reader
from heplearn.data.readers.columns import Column, check_names, check_range, read_checked
from heplearn.data.readers.files import missing_path_message
from heplearn.data.readers.names import did_you_mean
from heplearn.data.readers.registry import (
    check_format,
    class_names,
    label_branch,
    open_reader,
    resolve_format,
)
from heplearn.errors import ConfigError, InputError

__all__ = [
    "SourceFile",
    "available_columns",
    "check_columns",
    "check_option_names",
    "chunk_ranges",
    "cluster_starts",
    "entries_for_memory",
    "iterate_columns",
    "open_source",
    "read_columns",
    "read_open_ranges",
    "read_ranges",
]

SAMPLE_ENTRIES = 1000
"""Entries read to measure the bytes per entry of a format without metadata for it."""


@dataclass(frozen=True)
class SourceFile:
    """One opened input: a file, its resolved format, its tree (or group) and its length.

    Attributes
    ----------
    path : Path
        The file.
    format : str
        The resolved format (never ``"auto"``), one of
        :data:`~heplearn.data.readers.registry.FORMATS`.
    tree : str or None
        TTree/RNTuple name (ROOT, JetClass), group (HDF5, hls4ml) or pandas key
        (top-tagging landscape); ``None`` for Parquet or the top level of an HDF5 file.
    entries : int
        Number of entries (events or jets).
    """

    path: Path
    format: str
    tree: str | None
    entries: int

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """Class names of the label of a public data set, ``None`` for the generic formats."""
        return class_names(self.format)

    @property
    def label_branch(self) -> str | None:
        """The label column of a public data set, ``None`` for the generic formats."""
        return label_branch(self.format)


def check_option_names(source: SourceFile, names: Collection[str], option: str) -> None:
    """Check that names given with a command-line option are columns of ``source``.

    Parameters
    ----------
    source : SourceFile
        The file the names are read from.
    names : collection of str
        The names, e.g. the branches of ``--keep``.
    option : str
        The option that gave them, named in the error, e.g. ``--keep``.

    Raises
    ------
    InputError
        Naming the option, the file and each missing name with close matches.
    """
    with reader_for(source) as reader:
        available, where, kind = reader.columns(), reader.where(), reader.column_kind
    missing = [name for name in dict.fromkeys(names) if name not in set(available)]
    if missing:
        details = ", ".join(
            f"'{name}'{did_you_mean(name, available) or ' (no similar name)'}" for name in missing
        )
        raise InputError(f"{option} {details}: {where} has no such {kind}; correct {option}")


def check_columns(source: SourceFile, names: Collection[str]) -> None:
    """Check that ``source`` has every column in ``names``.

    Raises
    ------
    InputError
        Naming the file and each missing column with close matches, and listing its columns.
    """
    with reader_for(source) as reader:
        check_names(reader, names)


def reader_for(source: SourceFile) -> Reader:
    """The open reader of a source from :func:`open_source` (close it after use)."""
    if not isinstance(source, SourceFile):
        raise ConfigError(
            f"expected a SourceFile from open_source, got {type(source).__name__}; "
            "open the file with heplearn.data.readers.open_source first"
        )
    return open_reader(source.path, source.format, source.tree)


def open_source(path: str | Path, format: str = "auto", tree: str | None = None) -> SourceFile:
    """Open a file, find its tree (or group) and count its entries.

    Parameters
    ----------
    path : str or Path
        The file.
    format : str
        One of :data:`~heplearn.data.readers.registry.FORMATS`; ``"auto"`` chooses by
        extension (see :mod:`heplearn.data.readers`).
    tree : str, optional
        TTree/RNTuple name for ROOT files (optional when the file has exactly one), the
        group of an HDF5 file (default: the top level), the pandas key of a top-tagging
        landscape file (default ``"table"``), the tree of a JetClass file (default
        ``"tree"``). Ignored for Parquet.

    Returns
    -------
    SourceFile

    Raises
    ------
    ConfigError
        For a format name not in :data:`~heplearn.data.readers.registry.FORMATS`.
    InputError
        For a missing or unreadable file (with similarly named files), an unknown
        extension, a missing tree (listing the trees) or an ambiguous one.
    """
    path = Path(path).expanduser()
    check_format(format)
    if not path.exists():
        raise InputError(missing_path_message(path) + ". Check the file name")
    if path.is_dir():
        raise InputError(
            f"'{path}' is a directory, not a file; list its files with expand_files"
            f"(['{path / '*.root'}'])"
        )
    resolved = resolve_format(path, format)
    with open_reader(path, resolved, tree) as reader:
        return SourceFile(path=path, format=resolved, tree=reader.tree, entries=reader.entries)


def available_columns(source: SourceFile) -> list[str]:
    """Names of the columns (branches, datasets) that :func:`read_columns` accepts.

    Non-numeric columns are listed too; reading them raises an :class:`InputError`.
    """
    with reader_for(source) as reader:
        return reader.columns()


def read_columns(
    source: SourceFile,
    names: Collection[str],
    entry_start: int = 0,
    entry_stop: int | None = None,
) -> dict[str, Column]:
    """Read columns over an entry range.

    Parameters
    ----------
    source : SourceFile
        From :func:`open_source`.
    names : collection of str
        Column names (duplicates are read once; a single string is one name).
    entry_start, entry_stop : int
        The range ``[entry_start, entry_stop)``; ``entry_stop=None`` reads to the end; a
        stop past the end is clipped.

    Returns
    -------
    dict[str, numpy.ndarray | ak.Array]
        Name → values in the order of ``names``: a 1-D numpy array for flat numeric
        columns, an awkward array for jagged or regular (multi-dimensional) ones.

    Raises
    ------
    InputError
        Naming the file, the tree and each missing name with similar names ("did you
        mean ...?"); or naming a non-numeric column and its type.
    """
    with reader_for(source) as reader:
        wanted = check_names(reader, names)
        start, stop = check_range(reader, entry_start, entry_stop)
        return read_checked(reader, wanted, start, stop)


def read_ranges(
    source: SourceFile, names: Collection[str], ranges: Iterable[tuple[int, int | None]]
) -> Iterator[dict[str, Column]]:
    """Read columns over several entry ranges of one file, opening it once.

    The same as :func:`read_columns` for each range in turn (same checks, same errors),
    without opening the file and finding its tree again for every range. The file stays
    open until the iterator is exhausted or closed.

    Yields
    ------
    dict[str, numpy.ndarray | ak.Array]
        The columns of each range, as :func:`read_columns` returns them.
    """
    with reader_for(source) as reader:
        yield from read_open_ranges(reader, names, ranges)


def read_open_ranges(
    reader: Reader, names: Collection[str], ranges: Iterable[tuple[int, int | None]]
) -> Iterator[dict[str, Column]]:
    """:func:`read_ranges` from a reader already open (:func:`reader_for`), left open."""
    wanted = check_names(reader, names)
    for entry_start, entry_stop in ranges:
        start, stop = check_range(reader, entry_start, entry_stop)
        yield read_checked(reader, wanted, start, stop)


def cluster_starts(source: SourceFile) -> list[int] | None:
    """Entries where a file's baskets start in every branch (ROOT TTrees), else ``None``.

    Reading ranges that begin and end on these boundaries decompresses every basket once;
    a range that cuts a basket pays for the whole basket each time it is read.
    """
    with reader_for(source) as reader:
        return reader.cluster_starts()


def iterate_columns(
    sources: Sequence[SourceFile], names: Collection[str], step_entries: int
) -> Iterator[tuple[SourceFile, int, dict[str, Column]]]:
    """Stream columns in consecutive chunks, file after file, for data larger than memory.

    Every source is checked for the names before the first chunk is read. Each file is
    opened once; each chunk reads only the requested columns.

    Parameters
    ----------
    sources : sequence of SourceFile
    names : collection of str
    step_entries : int
        Most entries per chunk (see :func:`entries_for_memory`). Chunks do not cross file
        boundaries, so the last chunk of a file may be shorter.

    Yields
    ------
    tuple[SourceFile, int, dict[str, numpy.ndarray | ak.Array]]
        The source, the first entry of the chunk in that source, and the columns.
    """
    if isinstance(step_entries, bool) or not isinstance(step_entries, int | np.integer):
        raise ConfigError(f"step_entries must be a whole number of entries, got {step_entries!r}")
    if step_entries < 1:
        raise ConfigError(f"step_entries must be at least 1, got {step_entries}")
    step = int(step_entries)
    sources = list(sources)
    wanted: list[str] = []
    for source in sources:
        with reader_for(source) as reader:
            wanted = check_names(reader, names)
    for source in sources:
        with reader_for(source) as reader:
            for start in range(0, reader.entries, step):
                stop = min(start + step, reader.entries)
                yield source, start, read_checked(reader, wanted, start, stop)


def entries_for_memory(
    source: SourceFile,
    names: Collection[str],
    budget_bytes: int,
    extra_bytes_per_entry: float = 0.0,
) -> int:
    """How many entries of ``names`` fit in ``budget_bytes`` of memory once read.

    For a ROOT TTree the estimate comes from uproot's uncompressed basket sizes, for HDF5
    from the dataset shapes (no data is read); otherwise (RNTuple, Parquet, public formats)
    from reading the first entries (at most 1000) and measuring ``nbytes``. It estimates
    the size of the returned columns, plus the padded blocks a public-format reader holds
    while converting them (top-tagging landscape); not uproot's or h5py's own buffers.

    Parameters
    ----------
    source : SourceFile
    names : collection of str
    budget_bytes : int
    extra_bytes_per_entry : float
        What the caller makes of each entry besides the columns (padded model inputs, say),
        counted in the budget too.

    Returns
    -------
    int
        At least 1 and at most ``source.entries`` (1 for an empty source); does not
        decrease when the budget grows.
    """
    with reader_for(source) as reader:
        return _entries_within(reader, names, budget_bytes, extra_bytes_per_entry)


def chunk_ranges(
    source: SourceFile,
    names: Collection[str],
    budget_bytes: int,
    *,
    extra_bytes_per_entry: float = 0.0,
    most_entries: int | None = None,
) -> list[tuple[int, int]]:
    """Consecutive entry ranges covering ``source``, each within a memory budget.

    Each range holds at most :func:`entries_for_memory` entries (and ``most_entries``)
    and, in a ROOT TTree, ends on a basket cluster boundary where one falls inside it, so
    that reading the ranges one after another decompresses each basket once (a range
    that cuts a basket pays for the whole basket, and the next range pays again). The
    file is opened once.

    Returns
    -------
    list of tuple of int
        ``[start, stop)`` ranges in entry order; none for an empty source.
    """
    with reader_for(source) as reader:
        step = _entries_within(reader, names, budget_bytes, extra_bytes_per_entry)
        if most_entries is not None:
            step = max(1, min(step, most_entries))
        return _ranges_on_clusters(reader.entries, step, reader.cluster_starts())


def _entries_within(reader: Reader, names: Collection[str], budget_bytes: int, extra: float) -> int:
    if budget_bytes <= 0:
        raise ConfigError(f"the memory budget must be positive, got {budget_bytes} bytes")
    wanted = check_names(reader, names)
    if reader.entries == 0 or (not wanted and not extra):
        return max(reader.entries, 1)
    per_entry = reader.bytes_per_entry(wanted) if wanted else 0.0
    if per_entry is None:
        sample = min(reader.entries, SAMPLE_ENTRIES)
        columns = read_checked(reader, wanted, 0, sample)
        per_entry = sum(int(column.nbytes) for column in columns.values()) / sample
    per_entry += reader.temporary_bytes_per_entry(wanted) + extra
    fitting = int(budget_bytes // max(per_entry, 1.0))
    return max(1, min(reader.entries, fitting))


def _ranges_on_clusters(
    entries: int, step: int, clusters: list[int] | None
) -> list[tuple[int, int]]:
    """``[0, entries)`` in ranges of at most ``step``, each ending on the last cluster start
    inside it (where there is one)."""
    boundaries = np.asarray(sorted({*(clusters or ()), entries}), dtype=np.int64)
    ranges, start = [], 0
    while start < entries:
        limit = min(start + step, entries)
        inside = boundaries[(boundaries > start) & (boundaries <= limit)]
        stop = int(inside[-1]) if len(inside) else limit
        ranges.append((start, stop))
        start = stop
    return ranges
