"""ROOT files: TTrees and RNTuples through uproot, and the one way to choose a tree.

``tree`` may be left out when the file holds exactly one TTree/RNTuple; trees inside
directories are named by their path (``"dir/Events"``). Columns are the leaf branches of a
TTree (counter branches such as ``npart`` included) and the leaf fields of an RNTuple; a
field of a record (a list of structs) is named ``record.field`` (``"part.px"``).
"""

from pathlib import Path
from typing import Any

import uproot

from heplearn.data.readers.base import Reader, extract_field
from heplearn.data.readers.names import did_you_mean, quote_list
from heplearn.errors import InputError

__all__ = ["TREE_CLASSES", "RootReader", "find_tree", "open_root_file", "trees_of"]

TREE_CLASSES = frozenset(
    {"TTree", "TNtuple", "TNtupleD", "ROOT::RNTuple", "ROOT::Experimental::RNTuple"}
)
"""ROOT classes read as trees of events."""


def open_root_file(path: Path) -> Any:
    """Open a ROOT file with uproot; an InputError naming the file when it cannot be read."""
    try:
        # Every range is read once: uproot's array cache would only hold memory.
        return uproot.open(path, array_cache=None)
    except Exception as error:
        raise InputError(
            f"'{path}' cannot be opened as a ROOT file ({type(error).__name__}: {error}); "
            "check that the file is complete (a copy or download may have been cut short) "
            "and that format= names its real format"
        ) from error


def trees_of(file: Any) -> dict[str, str]:
    """Names (without cycle numbers) of the TTrees and RNTuples of an open ROOT file."""
    trees: dict[str, str] = {}
    for key, classname in file.classnames(recursive=True).items():
        if classname in TREE_CLASSES:
            trees.setdefault(key.rsplit(";", 1)[0], classname)
    return trees


def find_tree(file: Any, path: Path, tree: str | None, default_tree: str | None = None) -> str:
    """The TTree or RNTuple of an open ROOT file to read: every reader, shuffle and predict.

    Parameters
    ----------
    file : uproot.ReadOnlyDirectory
        The open file (:func:`open_root_file`).
    path : Path
        The file's path, named in the errors.
    tree : str, optional
        The tree asked for: its name or path inside the file (``"dir/Events"``), a cycle
        number (``;1``) allowed. ``None``: ``default_tree`` if the file has it, else the
        file's only tree.
    default_tree : str, optional
        The tree to take when ``tree`` is not given and the file has it.

    Returns
    -------
    str
        The tree's name without cycle number, a key of :func:`trees_of`.

    Raises
    ------
    InputError
        Naming the file and the tree asked for, with similar names and every tree the file
        holds; or, with no tree asked for, a file of several trees or of none.
    """
    trees = trees_of(file)
    listing = ", ".join(f"'{name}' ({classname})" for name, classname in trees.items())
    how = "tree: NAME in the data source, --tree NAME on the command line"
    if tree is None:
        if default_tree is not None and default_tree in trees:
            return default_tree
        if len(trees) == 1:
            return next(iter(trees))
        if not trees:
            contents = ", ".join(
                f"'{key}' ({classname})"
                for key, classname in file.classnames(recursive=True).items()
            )
            raise InputError(
                f"ROOT file '{path}' holds no TTree or RNTuple "
                f"(it holds: {contents or 'nothing'}); give a file with events"
            )
        raise InputError(f"ROOT file '{path}' holds several trees: {listing}; choose one ({how})")
    name = tree.rsplit(";", 1)[0] if ";" in tree else tree
    if name not in trees:
        raise InputError(
            f"ROOT file '{path}' has no tree '{tree}'{did_you_mean(name, list(trees))}; "
            f"its trees are: {listing or 'none'}. Pass one of them ({how})"
        )
    return name


class RootReader(Reader):
    """A TTree or RNTuple read through uproot."""

    format = "root"
    extensions = (".root",)
    column_kind = "branch"

    def __init__(self, path: Path, tree: str | None, default_tree: str | None = None) -> None:
        super().__init__(path)
        self._file = open_root_file(path)
        try:
            self.tree = find_tree(self._file, path, tree, default_tree)
            self._tree = self._file[self.tree]
            self.classname = trees_of(self._file)[self.tree]
            self.is_rntuple = "RNTuple" in self.classname
            if self.is_rntuple:  # (what errors call a column: an RNTuple has fields)
                self.column_kind = "field"
            self.entries = int(self._tree.num_entries)
            self._columns = self._list_columns()
        except BaseException:
            self._file.close()
            raise

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
                f"cannot read {quote_list(names)} from {self.where()} "
                f"({type(error).__name__}: {error}); check that the file is complete and "
                "that these branches hold numbers"
            ) from error
        return {name: extract_field(arrays, name) for name in names}

    def bytes_per_entry(self, names: list[str]) -> float | None:
        if self.is_rntuple or self.entries == 0:
            return None
        total = sum(self._tree[name].uncompressed_bytes for name in names)
        return total / self.entries if total > 0 else None

    def close(self) -> None:
        self._file.close()
