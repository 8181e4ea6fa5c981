"""One reading layer for every input format: ROOT (TTree, RNTuple), Parquet, HDF5, public sets.

A *source* is one file (and, where the format has them, one tree or group inside it). The
functions here open sources, list their columns, read columns over an entry range and
stream them in chunks, so that the rest of heplearn never needs to know the format.

Formats (``format=``, see :data:`FORMATS`)
------------------------------------------
``auto``
    Chosen from the extension: ``.root`` → ``root``; ``.parquet``/``.pq`` → ``parquet``;
    ``.h5``/``.hdf5`` → ``hdf5``. Public data sets are never guessed: name them.
``root``
    A TTree or an RNTuple (uproot reads both through the same calls). ``tree`` may be
    left out when the file holds exactly one TTree/RNTuple; trees inside directories are
    named by their path (``"dir/Events"``). Columns are the leaf branches of a TTree
    (counter branches such as ``npart`` included) and the leaf fields of an RNTuple; a
    field of a record (a list of structs) is named ``record.field`` (``"part.px"``).
``parquet``
    One row per entry. Columns are the leaf columns, a field of a record again named
    ``record.field``. ``tree`` is ignored. An entry range reads, with
    ``ak.from_parquet(path, columns=..., row_groups=...)``, only the requested columns of
    the row groups that overlap the range, then slices the range out of them; chunks are
    therefore cheapest when ``step_entries`` is a multiple of the row-group size. Nullable
    columns are accepted when they hold no nulls (the option type is dropped); a null is an
    :class:`~heplearn.errors.InputError`.
``hdf5``
    Every dataset at the top level of the file, or of the group named by ``tree``, is a
    column; the first axis counts entries and must have the same length for every numeric
    dataset. A 1-D dataset is a flat column. A 2-D dataset of shape ``(N, M)`` is a
    *regular* column of M-vectors, returned as an awkward regular array of type
    ``N * M * dtype`` (``ak.to_numpy`` gives the ``(N, M)`` array back without a copy);
    higher dimensions nest the same way. Scalar (0-d) datasets are not columns.
``top-landscape``, ``jetclass``, ``hls4ml-images``
    Public jet data sets mapped onto this project's branch names; see
    :mod:`heplearn.data.public_formats`.

Returned values
---------------
:func:`read_columns` returns one array per name: a 1-D :class:`numpy.ndarray` for a flat
numeric column, an :class:`awkward.Array` for anything with inner dimensions (jagged
``var *`` lists, regular ``M *`` vectors, images). Only numbers are read (booleans,
integers, floating point); strings, objects and records are refused with an error naming
the column and its type.
"""

from __future__ import annotations

import difflib
import glob
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import awkward as ak
import h5py
import numpy as np
import uproot

from heplearn.errors import ConfigError, InputError

__all__ = [
    "FORMATS",
    "Column",
    "SourceFile",
    "available_columns",
    "entries_for_memory",
    "expand_files",
    "iterate_columns",
    "open_source",
    "read_columns",
]

FORMATS = ("auto", "root", "parquet", "hdf5", "top-landscape", "jetclass", "hls4ml-images")
"""Every value ``format=`` accepts."""

EXTENSIONS = {
    ".root": "root",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
}
"""File extension → format, used by ``format="auto"``."""

Column: TypeAlias = np.ndarray | ak.Array

_TREE_CLASSES = frozenset(
    {"TTree", "TNtuple", "TNtupleD", "ROOT::RNTuple", "ROOT::Experimental::RNTuple"}
)
_NUMERIC_KINDS = frozenset("biuf")
_NUMERIC_PRIMITIVES = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "float128",
    }
)
_SAMPLE_ENTRIES = 1000
_LISTED_NAMES = 20


@dataclass(frozen=True)
class SourceFile:
    """One opened input: a file, its resolved format, its tree (or group) and its length.

    Attributes
    ----------
    path : Path
        The file.
    format : str
        The resolved format (never ``"auto"``), one of :data:`FORMATS`.
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
        from heplearn.data.public_formats import class_names

        return class_names(self.format)

    @property
    def label_branch(self) -> str | None:
        """The label column of a public data set, ``None`` for the generic formats."""
        from heplearn.data.public_formats import label_branch

        return label_branch(self.format)


# --------------------------------------------------------------------------------------
# Files and patterns


def _quote_list(names: Sequence[str], limit: int = _LISTED_NAMES) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def _close_matches(name: str, candidates: Sequence[str], count: int = 3) -> list[str]:
    """Candidates that look like ``name``.

    A case-insensitive match first, then names that ``name`` begins (``part_e`` →
    ``part_energy``), then difflib's closest matches.
    """
    folded = name.lower()
    same = [candidate for candidate in candidates if candidate.lower() == folded]
    longer = (
        sorted(
            (candidate for candidate in candidates if candidate.lower().startswith(folded)),
            key=len,
        )
        if len(name) >= 3
        else []
    )
    similar = difflib.get_close_matches(name, list(candidates), n=count, cutoff=0.6)
    return list(dict.fromkeys([*same, *longer, *similar]))[:count]


def _did_you_mean(name: str, candidates: Sequence[str]) -> str:
    matches = _close_matches(name, candidates)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(f"'{match}'" for match in matches) + "?)"


def _missing_path_message(path: Path) -> str:
    parent = path.parent
    if not parent.is_dir():
        return f"file '{path}' does not exist: its directory '{parent}' does not exist either"
    names = sorted(entry.name for entry in parent.iterdir() if entry.is_file())
    if path.suffix.lower() in EXTENSIONS:  # (a data file is not mistaken for a config)
        names = [name for name in names if Path(name).suffix.lower() in EXTENSIONS]
    matches = _close_matches(path.name, names)
    if matches:
        suggestion = " or ".join(f"'{parent / match}'" for match in matches)
        return f"file '{path}' does not exist (did you mean {suggestion}?)"
    return f"file '{path}' does not exist and no file in '{parent}' has a similar name"


def _has_magic(pattern: str) -> bool:
    return any(character in pattern for character in "*?[")


def _unmatched_pattern_message(pattern: str) -> str:
    parts = Path(pattern).parts
    fixed = parts[: next(index for index, part in enumerate(parts) if _has_magic(part))]
    base = Path(*fixed) if fixed else Path(".")
    if not base.is_dir():
        return f"pattern '{pattern}' matches no file: directory '{base}' does not exist"
    names = sorted(entry.name for entry in base.iterdir() if not entry.name.startswith("."))
    if not names:
        return f"pattern '{pattern}' matches no file: directory '{base}' is empty"
    return f"pattern '{pattern}' matches no file; '{base}' holds {_quote_list(names, 5)}"


def expand_files(patterns: Sequence[str | Path]) -> list[Path]:
    """Expand file names and glob patterns into a list of existing files.

    Each pattern may use ``*``, ``?``, ``[...]`` and ``**`` (any number of directories);
    ``~`` is expanded. The matches of one pattern are sorted; patterns keep their order;
    a file matched twice is listed once (at its first place). Hidden files (names starting
    with a dot, e.g. unfinished ``.*.part`` outputs) are not matched by wildcards.

    Parameters
    ----------
    patterns : sequence of str or Path
        File names or glob patterns. A single string is taken as one pattern.

    Returns
    -------
    list[Path]
        The matched files.

    Raises
    ------
    InputError
        Naming every pattern that matched nothing and every plain path that does not exist
        (with files of similar names in its directory).
    ConfigError
        If no pattern is given.
    """
    if isinstance(patterns, str | Path):
        patterns = [patterns]
    if not patterns:
        raise ConfigError("no input files given: pass at least one file name or glob pattern")
    files: list[Path] = []
    seen: set[Path] = set()
    problems: list[str] = []
    for pattern in patterns:
        text = os.path.expanduser(str(pattern))
        if _has_magic(text):
            matches = sorted(
                Path(match) for match in glob.glob(text, recursive=True) if Path(match).is_file()
            )
            if not matches:
                problems.append(_unmatched_pattern_message(text))
        else:
            path = Path(text)
            matches = [path] if path.is_file() else []
            if path.is_dir():
                problems.append(
                    f"'{path}' is a directory, not a file; give a pattern such as "
                    f"'{path / '*.root'}'"
                )
            elif not matches:
                problems.append(_missing_path_message(path))
        for match in matches:
            key = match.resolve()
            if key not in seen:
                seen.add(key)
                files.append(match)
    if problems:
        raise InputError("; ".join(problems) + ". Check the file names and patterns.")
    return files


# --------------------------------------------------------------------------------------
# Readers: one small class per format, all with the same methods


class _Reader:
    """An open source: its tree, entries and columns, and reads over entry ranges."""

    tree: str | None
    entries: int
    column_kind = "column"

    def __init__(self, path: Path) -> None:
        self.path = path

    def where(self) -> str:
        """Where the columns live, for messages ("tree 'Events' of file 'x.root'")."""
        return f"file '{self.path}'"

    def columns(self) -> list[str]:
        raise NotImplementedError

    def read(self, names: list[str], start: int, stop: int) -> dict[str, Any]:
        """Raw arrays (numpy or awkward) for ``names`` over ``[start, stop)``."""
        raise NotImplementedError

    def bytes_per_entry(self, names: list[str]) -> float | None:
        """Approximate in-memory bytes per entry of ``names`` from metadata, if known."""
        return None

    def cluster_starts(self) -> list[int] | None:
        """Entries where the file's compression clusters begin, if reads should align to them."""
        return None

    def temporary_bytes_per_entry(self, names: list[str]) -> float:
        """Bytes per entry the reader holds only while reading (padded blocks, say)."""
        return 0.0

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_root_file(path: Path) -> Any:
    try:
        # Every range is read once: uproot's array cache would only hold memory.
        return uproot.open(path, array_cache=None)
    except Exception as error:
        raise InputError(
            f"'{path}' cannot be opened as a ROOT file ({type(error).__name__}: {error}); "
            "check that the file is complete (a copy or download may have been cut short) "
            "and that format= names its real format"
        ) from error


def _trees_of(file: Any) -> dict[str, str]:
    """Names (without cycle numbers) of the TTrees and RNTuples of an open ROOT file."""
    trees: dict[str, str] = {}
    for key, classname in file.classnames(recursive=True).items():
        if classname in _TREE_CLASSES:
            trees.setdefault(key.rsplit(";", 1)[0], classname)
    return trees


class _RootReader(_Reader):
    """A TTree or RNTuple read through uproot."""

    column_kind = "branch"

    def __init__(self, path: Path, tree: str | None, default_tree: str | None = None) -> None:
        super().__init__(path)
        self._file = _open_root_file(path)
        try:
            self.tree = self._choose_tree(tree, default_tree)
            self._tree = self._file[self.tree]
            self.classname = _trees_of(self._file)[self.tree]
            self.is_rntuple = "RNTuple" in self.classname
            self.entries = int(self._tree.num_entries)
            self._columns = self._list_columns()
        except BaseException:
            self._file.close()
            raise

    def _choose_tree(self, tree: str | None, default_tree: str | None) -> str:
        trees = _trees_of(self._file)
        listing = ", ".join(f"'{name}' ({classname})" for name, classname in trees.items())
        if tree is None:
            if default_tree is not None and default_tree in trees:
                return default_tree
            if len(trees) == 1:
                return next(iter(trees))
            if not trees:
                contents = ", ".join(
                    f"'{key}' ({classname})"
                    for key, classname in self._file.classnames(recursive=True).items()
                )
                raise InputError(
                    f"ROOT file '{self.path}' holds no TTree or RNTuple "
                    f"(it holds: {contents or 'nothing'}); give a file with events"
                )
            raise InputError(
                f"ROOT file '{self.path}' holds several trees: {listing}; "
                "choose one with tree='NAME'"
            )
        name = tree.rsplit(";", 1)[0] if ";" in tree else tree
        if name not in trees:
            raise InputError(
                f"ROOT file '{self.path}' has no tree '{tree}'{_did_you_mean(name, list(trees))}; "
                f"its trees are: {listing or 'none'}. Pass one of them as tree='NAME'"
            )
        return name

    def _list_columns(self) -> list[str]:
        if self.is_rntuple:
            keys = list(self._tree.keys())
            return [key for key in keys if not any(other.startswith(key + ".") for other in keys)]
        return list(self._tree.keys(filter_branch=lambda branch: len(branch.branches) == 0))

    def cluster_starts(self) -> list[int] | None:
        if self.is_rntuple:
            return None
        return [int(offset) for offset in self._tree.common_entry_offsets()[:-1]]

    def where(self) -> str:
        kind = "RNTuple" if self.is_rntuple else "tree"
        return f"{kind} '{self.tree}' of file '{self.path}'"

    def columns(self) -> list[str]:
        return list(self._columns)

    def read(self, names: list[str], start: int, stop: int) -> dict[str, Any]:
        wanted = set(names)
        try:
            arrays = self._tree.arrays(
                filter_name=lambda name: name in wanted,
                entry_start=start,
                entry_stop=stop,
                library="ak",
                how=dict,
            )
        except Exception as error:
            raise InputError(
                f"cannot read {_quote_list(names)} from {self.where()} "
                f"({type(error).__name__}: {error}); check that the file is complete and "
                "that these branches hold numbers"
            ) from error
        return {name: _extract_field(arrays, name) for name in names}

    def bytes_per_entry(self, names: list[str]) -> float | None:
        if self.is_rntuple or self.entries == 0:
            return None
        total = sum(self._tree[name].uncompressed_bytes for name in names)
        return total / self.entries if total > 0 else None

    def close(self) -> None:
        self._file.close()


def _extract_field(arrays: dict[str, Any], name: str) -> Any:
    """``arrays[name]``, or for ``"record.field"`` the field projected out of the record."""
    if name in arrays:
        return arrays[name]
    head, _, rest = name.partition(".")
    value = arrays[head]
    for field in rest.split("."):
        value = value[field]
    return value


class _ParquetReader(_Reader):
    """A Parquet file read with ``ak.from_parquet``, row group by row group."""

    tree = None

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            metadata = ak.metadata_from_parquet(path)
        except Exception as error:
            raise InputError(
                f"'{path}' cannot be read as a Parquet file ({type(error).__name__}: {error}); "
                "check that the file is complete and that format= names its real format"
            ) from error
        self._columns = list(metadata["form"].columns())
        self.entries = int(metadata["num_rows"])
        self._group_starts = np.concatenate([[0], np.cumsum(metadata["col_counts"])]).astype(
            np.int64
        )
        self._cache: tuple[tuple[str, ...], tuple[int, ...], ak.Array] | None = None

    def columns(self) -> list[str]:
        return list(self._columns)

    def read(self, names: list[str], start: int, stop: int) -> dict[str, Any]:
        n_groups = len(self._group_starts) - 1
        first = max(int(np.searchsorted(self._group_starts, start, side="right")) - 1, 0)
        last = max(int(np.searchsorted(self._group_starts, stop, side="left")), first + 1)
        groups = tuple(range(first, min(last, n_groups)))
        key = (tuple(names), groups)
        if self._cache is not None and self._cache[:2] == key:
            table = self._cache[2]
        else:
            table = ak.from_parquet(
                self.path, columns=list(names), row_groups=list(groups) if groups else None
            )
            self._cache = (*key, table)
        offset = int(self._group_starts[first]) if groups else 0
        piece = table[start - offset : stop - offset]
        arrays = {field: piece[field] for field in piece.fields}
        return {name: ak.to_packed(_extract_field(arrays, name)) for name in names}


def _open_hdf5_file(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except Exception as error:
        raise InputError(
            f"'{path}' cannot be opened as an HDF5 file ({type(error).__name__}: {error}); "
            "check that the file is complete and that format= names its real format"
        ) from error


def _groups_with_datasets(file: h5py.File) -> list[str]:
    groups: list[str] = []
    if any(isinstance(item, h5py.Dataset) for item in file.values()):
        groups.append("/")

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Group) and any(
            isinstance(child, h5py.Dataset) for child in item.values()
        ):
            groups.append(name)

    file.visititems(visit)
    return groups


def _hdf5_group(file: h5py.File, path: Path, tree: str | None) -> h5py.Group:
    """The group ``tree`` of an open HDF5 file (the file itself for ``None``)."""
    if tree is None:
        return file
    item = file.get(tree)
    if isinstance(item, h5py.Group):
        return item
    groups = _groups_with_datasets(file)
    what = "is a dataset, not a group" if item is not None else "does not exist"
    raise InputError(
        f"HDF5 file '{path}': '{tree}' {what}{_did_you_mean(tree, groups)}; groups holding "
        f"datasets: {_quote_list(groups) or 'none'}. Pass one of them as tree='GROUP' "
        "(or leave tree out for the top level)"
    )


def _describe_dtype(dtype: np.dtype) -> str:
    if dtype.kind == "S":
        return f"bytes ({dtype.str})"
    if dtype.kind == "U":
        return f"string ({dtype.str})"
    if dtype.kind == "O":
        return "object (variable-length strings or references)"
    if dtype.names:
        return "compound {" + ", ".join(dtype.names) + "}"
    return str(dtype)


class _Hdf5Reader(_Reader):
    """Datasets of one HDF5 group as columns (see the module documentation)."""

    column_kind = "dataset"

    def __init__(self, path: Path, tree: str | None) -> None:
        super().__init__(path)
        self._file = _open_hdf5_file(path)
        try:
            self.tree = tree
            group = _hdf5_group(self._file, path, tree)
            self._datasets = {
                name: item
                for name, item in group.items()
                if isinstance(item, h5py.Dataset) and item.ndim >= 1
            }
            if not self._datasets:
                groups = _groups_with_datasets(self._file)
                raise InputError(
                    f"{self.where()} holds no datasets; groups holding datasets: "
                    f"{_quote_list(groups) or 'none'}. Pass one of them as tree='GROUP'"
                )
            lengths = {
                name: item.shape[0]
                for name, item in self._datasets.items()
                if item.dtype.kind in _NUMERIC_KINDS
            }
            if len(set(lengths.values())) > 1:
                listing = ", ".join(f"'{name}' {length}" for name, length in lengths.items())
                raise InputError(
                    f"the datasets of {self.where()} have different lengths ({listing}); "
                    "every dataset of a group is a column with one row per entry: move the "
                    "others into another group, or pass the group holding the events as tree"
                )
            self.entries = (
                next(iter(lengths.values()))
                if lengths
                else next(iter(self._datasets.values())).shape[0]
            )
        except BaseException:
            self._file.close()
            raise

    def where(self) -> str:
        if self.tree is None:
            return f"HDF5 file '{self.path}'"
        return f"group '{self.tree}' of HDF5 file '{self.path}'"

    def columns(self) -> list[str]:
        return list(self._datasets)

    def read(self, names: list[str], start: int, stop: int) -> dict[str, Any]:
        arrays: dict[str, Any] = {}
        for name in names:
            dataset = self._datasets[name]
            if dataset.dtype.kind not in _NUMERIC_KINDS:
                raise _non_numeric_error(self, name, _describe_dtype(dataset.dtype))
            arrays[name] = dataset[start:stop]
        return arrays

    def bytes_per_entry(self, names: list[str]) -> float | None:
        return float(
            sum(
                self._datasets[name].dtype.itemsize * int(np.prod(self._datasets[name].shape[1:]))
                for name in names
            )
        )

    def close(self) -> None:
        self._file.close()


def _open_reader(path: Path, format: str, tree: str | None) -> _Reader:
    if format == "root":
        return _RootReader(path, tree)
    if format == "parquet":
        return _ParquetReader(path)
    if format == "hdf5":
        return _Hdf5Reader(path, tree)
    from heplearn.data.public_formats import open_public_reader

    return open_public_reader(path, format, tree)


# --------------------------------------------------------------------------------------
# Checking and converting what the readers return


def _non_numeric_error(reader: _Reader, name: str, type_name: str) -> InputError:
    return InputError(
        f"{reader.column_kind} '{name}' of {reader.where()} has type {type_name}, which is "
        "not numeric; heplearn reads only numbers (booleans, integers, floats): remove it "
        "from the inputs or derive a numeric column from it"
    )


def _is_numeric_form(form: ak.forms.Form) -> bool:
    if isinstance(form, ak.forms.NumpyForm):
        return form.primitive in _NUMERIC_PRIMITIVES
    if isinstance(form, ak.forms.EmptyForm):
        return True
    if isinstance(form, ak.forms.ListOffsetForm | ak.forms.ListForm | ak.forms.RegularForm):
        if form.parameter("__array__") in ("string", "bytestring", "char", "byte"):
            return False
        return _is_numeric_form(form.content)
    if isinstance(
        form,
        ak.forms.IndexedOptionForm
        | ak.forms.ByteMaskedForm
        | ak.forms.BitMaskedForm
        | ak.forms.UnmaskedForm
        | ak.forms.IndexedForm,
    ):
        return _is_numeric_form(form.content)
    return False


def _has_option(form: ak.forms.Form) -> bool:
    if isinstance(
        form,
        ak.forms.IndexedOptionForm
        | ak.forms.ByteMaskedForm
        | ak.forms.BitMaskedForm
        | ak.forms.UnmaskedForm,
    ):
        return True
    content = getattr(form, "content", None)
    return content is not None and _has_option(content)


def _type_name(array: ak.Array) -> str:
    return str(array.type.content)


def _as_column(value: Any, name: str, reader: _Reader) -> Column:
    """Check that ``value`` holds numbers and give it the returned shape (1-D numpy or awkward)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise _non_numeric_error(reader, name, _describe_dtype(value.dtype))
        if value.ndim == 1:
            return value
        return ak.from_numpy(value, regulararray=True)
    array = ak.Array(value)
    form = array.layout.form
    if not _is_numeric_form(form):
        raise _non_numeric_error(reader, name, _type_name(array))
    if _has_option(form):
        missing = sum(
            int(ak.sum(ak.is_none(array, axis=depth), axis=None)) for depth in range(array.ndim)
        )
        if missing:
            raise InputError(
                f"{reader.column_kind} '{name}' of {reader.where()} has {missing} missing "
                "(null) values; fill them or select the entries that have a value before "
                "using it as an input"
            )
        array = ak.drop_none(array)
    if array.ndim == 1:
        return np.asarray(ak.to_numpy(ak.to_packed(array), allow_missing=False))
    return array


def _check_names(reader: _Reader, names: Collection[str]) -> list[str]:
    """``names`` as a de-duplicated list, after checking that the source has every one."""
    if isinstance(names, str):
        names = [names]
    wanted = list(dict.fromkeys(names))
    available = reader.columns()
    present = set(available)
    missing = [name for name in wanted if name not in present]
    if missing:
        kind = reader.column_kind
        details = ", ".join(
            f"'{name}'{_did_you_mean(name, available) or ' (no similar name)'}" for name in missing
        )
        plural = "es" if kind == "branch" else "s"
        raise InputError(
            f"{reader.where()} has no {kind} {details}; its {kind}{plural} are: "
            f"{_quote_list(available) or 'none'}. Correct the names in the inputs"
        )
    return wanted


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
    with _reader_for(source) as reader:
        available, where, kind = reader.columns(), reader.where(), reader.column_kind
    missing = [name for name in dict.fromkeys(names) if name not in set(available)]
    if missing:
        details = ", ".join(
            f"'{name}'{_did_you_mean(name, available) or ' (no similar name)'}" for name in missing
        )
        raise InputError(f"{option} {details}: {where} has no such {kind}; correct {option}")


def _check_range(reader: _Reader, entry_start: int, entry_stop: int | None) -> tuple[int, int]:
    if entry_start < 0 or (entry_stop is not None and entry_stop < 0):
        raise ConfigError(
            f"entry range ({entry_start}, {entry_stop}) of {reader.where()} must not be "
            "negative; give entry_start >= 0 and entry_stop >= 0 (or None for the end)"
        )
    stop = reader.entries if entry_stop is None else min(entry_stop, reader.entries)
    start = min(entry_start, stop)
    return start, stop


def _read(reader: _Reader, names: list[str], start: int, stop: int) -> dict[str, Column]:
    raw = reader.read(names, start, stop)
    return {name: _as_column(raw[name], name, reader) for name in names}


# --------------------------------------------------------------------------------------
# Public functions


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ConfigError(
            f"unknown format '{format}'{_did_you_mean(format, FORMATS)}; "
            f"choose one of {', '.join(FORMATS)}"
        )


def _resolve_format(path: Path, format: str) -> str:
    _check_format(format)
    if format != "auto":
        return format
    suffix = path.suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise InputError(
        f"cannot tell the format of '{path}' from its extension '{suffix}' (known: "
        f"{', '.join(EXTENSIONS)}); pass format= one of {', '.join(FORMATS[1:])}"
    )


def _reader_for(source: SourceFile) -> _Reader:
    if not isinstance(source, SourceFile):
        raise ConfigError(
            f"expected a SourceFile from open_source, got {type(source).__name__}; "
            "open the file with heplearn.data.sources.open_source first"
        )
    return _open_reader(source.path, source.format, source.tree)


def open_source(path: str | Path, format: str = "auto", tree: str | None = None) -> SourceFile:
    """Open a file, find its tree (or group) and count its entries.

    Parameters
    ----------
    path : str or Path
        The file.
    format : str
        One of :data:`FORMATS`; ``"auto"`` chooses by extension (see the module notes).
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
        For a format name not in :data:`FORMATS`.
    InputError
        For a missing or unreadable file (with similarly named files), an unknown
        extension, a missing tree (listing the trees) or an ambiguous one.
    """
    path = Path(path).expanduser()
    _check_format(format)
    if not path.exists():
        raise InputError(_missing_path_message(path) + ". Check the file name")
    if path.is_dir():
        raise InputError(
            f"'{path}' is a directory, not a file; list its files with expand_files"
            f"(['{path / '*.root'}'])"
        )
    resolved = _resolve_format(path, format)
    with _open_reader(path, resolved, tree) as reader:
        return SourceFile(path=path, format=resolved, tree=reader.tree, entries=reader.entries)


def available_columns(source: SourceFile) -> list[str]:
    """Names of the columns (branches, datasets) that :func:`read_columns` accepts.

    Non-numeric columns are listed too; reading them raises an :class:`InputError`.
    """
    with _reader_for(source) as reader:
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
    with _reader_for(source) as reader:
        wanted = _check_names(reader, names)
        start, stop = _check_range(reader, entry_start, entry_stop)
        return _read(reader, wanted, start, stop)


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
    with _reader_for(source) as reader:
        wanted = _check_names(reader, names)
        for entry_start, entry_stop in ranges:
            start, stop = _check_range(reader, entry_start, entry_stop)
            yield _read(reader, wanted, start, stop)


def cluster_starts(source: SourceFile) -> list[int] | None:
    """Entries where a file's baskets start in every branch (ROOT TTrees), else ``None``.

    Reading ranges that begin and end on these boundaries decompresses every basket once;
    a range that cuts a basket pays for the whole basket each time it is read.
    """
    with _reader_for(source) as reader:
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
        with _reader_for(source) as reader:
            wanted = _check_names(reader, names)
    for source in sources:
        with _reader_for(source) as reader:
            for start in range(0, reader.entries, step):
                stop = min(start + step, reader.entries)
                yield source, start, _read(reader, wanted, start, stop)


def entries_for_memory(source: SourceFile, names: Collection[str], budget_bytes: int) -> int:
    """How many entries of ``names`` fit in ``budget_bytes`` of memory once read.

    For a ROOT TTree the estimate comes from uproot's uncompressed basket sizes, for HDF5
    from the dataset shapes (no data is read); otherwise (RNTuple, Parquet, public formats)
    from reading the first entries (at most 1000) and measuring ``nbytes``. It estimates
    the size of the returned columns, plus the padded blocks a public-format reader holds
    while converting them (top-tagging landscape); not uproot's or h5py's own buffers.

    Returns
    -------
    int
        At least 1 and at most ``source.entries`` (1 for an empty source); does not
        decrease when the budget grows.
    """
    if budget_bytes <= 0:
        raise ConfigError(f"the memory budget must be positive, got {budget_bytes} bytes")
    with _reader_for(source) as reader:
        wanted = _check_names(reader, names)
        if reader.entries == 0 or not wanted:
            return max(reader.entries, 1)
        per_entry = reader.bytes_per_entry(wanted)
        if per_entry is None:
            sample = min(reader.entries, _SAMPLE_ENTRIES)
            columns = _read(reader, wanted, 0, sample)
            per_entry = sum(int(column.nbytes) for column in columns.values()) / sample
        per_entry += reader.temporary_bytes_per_entry(wanted)
        fitting = int(budget_bytes // max(per_entry, 1.0))
        return max(1, min(reader.entries, fitting))
