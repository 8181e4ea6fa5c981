"""Writing events: ROOT TTrees (explicitly, not RNTuple) or Parquet, atomically.

The one place that knows how heplearn lays out the trees it writes: jagged columns with a
shared prefix become one counter branch, and entries go in baskets of
:data:`BASKET_ENTRIES`. Generation and sampling write whole samples with
:func:`write_events` / :func:`write_tree`; prediction and reweighting stream their trees
chunk by chunk through a :class:`TreeWriter`; the on-disk shuffle streams through one too,
with the branches, counters, title and compression of its inputs (a :class:`TreeLayout`).
"""

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeAlias

import awkward as ak
import numpy as np
import uproot

from heplearn.files import atomic_path

Column: TypeAlias = np.ndarray | ak.Array
"""One value per event: a numpy array, or an awkward array (jagged columns)."""

EXTENSIONS = {"root": "root", "parquet": "parquet"}
# Entries per TTree basket (and Parquet row group): small enough that a streaming reader
# can take chunks of a file without decompressing far more than it needs.
BASKET_ENTRIES = 5_000
# uproot's own default, named so that ``None`` can mean "uncompressed" as it does there.
DEFAULT_COMPRESSION = uproot.ZLIB(1)


def _is_jagged(column: Column) -> bool:
    return isinstance(column, ak.Array) and column.ndim > 1


def tree_branches(columns: dict[str, Column]) -> dict[str, Column]:
    """Group jagged columns sharing a prefix (``part_px``, ``part_eta``) into one record.

    uproot then writes them as branches ``part_px``, ``part_eta`` with a single counter
    branch ``npart``, the layout of analysis ntuples and of the JetClass files.
    """
    branches: dict[str, Column] = {}
    collections: dict[str, dict[str, ak.Array]] = {}
    for name, column in columns.items():
        if _is_jagged(column):
            prefix, _, field = name.partition("_")
            collections.setdefault(prefix, {})[field] = column
        else:
            branches[name] = np.asarray(column)
    for prefix, fields in collections.items():
        branches[prefix] = ak.zip(fields)
    return branches


def branch_types(branches: dict[str, Column]) -> dict[str, object]:
    """The types ``uproot``'s ``mktree`` needs for these branches (fixed-size arrays too)."""
    return {
        name: values.type
        if isinstance(values, ak.Array)
        else np.dtype((values.dtype, values.shape[1:]))
        for name, values in branches.items()
    }


@dataclass(frozen=True)
class TreeLayout:
    """A TTree's branches declared up front, for a tree that copies another one's.

    Attributes
    ----------
    types : dict[str, object]
        Branch name to the type ``uproot``'s ``mktree`` takes, in branch order: numpy
        dtypes (fixed-size arrays as ``np.dtype((dtype, shape))``), awkward types for
        jagged branches, and their counter branches too (uproot writes them as int32).
    counters : dict[str, str]
        Jagged branch name to the name of its counter branch.
    title : str
        Title of the tree.
    """

    types: dict[str, Any]
    counters: dict[str, str] = field(default_factory=dict)
    title: str = ""


class TreeWriter:
    """Stream chunks of events into one TTree, atomically (temporary name, then rename).

    Use as a context manager and call :meth:`extend` once per chunk; the file appears at
    ``path`` only when the block ends without an error. Jagged columns sharing a prefix
    get one counter (:func:`tree_branches`), unless a ``layout`` declares the branches;
    entries go in baskets of ``basket_entries``, however large the chunks.

    Parameters
    ----------
    path : Path
        The ROOT file to write.
    tree_name : str
        Name of the TTree.
    empty : dict, optional
        Branch name to type of the tree written when no chunk arrives (default: a tree
        without branches). Not used with a ``layout``.
    layout : TreeLayout, optional
        The branches, counters and title of the tree. :meth:`extend` then takes the
        values of every branch but the counters as they are written (jagged ones as
        awkward arrays), without grouping by prefix; the tree has these branches even
        when no chunk arrives.
    compression : uproot.compression.Compression or None
        Compression of the file (``None``: uncompressed); uproot's ZLIB level 1 by default.
    basket_entries : int
        Most entries per basket: :data:`BASKET_ENTRIES` by default, fewer where baskets
        that large would not fit a memory budget (uproot copies each basket to big-endian
        and compresses it).

    Attributes
    ----------
    entries : int
        Entries written so far.
    """

    def __init__(
        self,
        path: Path,
        tree_name: str,
        empty: dict[str, Any] | None = None,
        *,
        layout: TreeLayout | None = None,
        compression: Any = DEFAULT_COMPRESSION,
        basket_entries: int = BASKET_ENTRIES,
    ) -> None:
        self.path = Path(path)
        self.tree_name = tree_name
        self.empty = empty or {}
        self.layout = layout
        self.compression = compression
        self.basket_entries = max(1, int(basket_entries))
        self.entries = 0
        self._stack = ExitStack()
        self._file: Any = None
        self._tree: Any = None

    def __enter__(self) -> "TreeWriter":
        with ExitStack() as stack:
            temporary = stack.enter_context(atomic_path(self.path))
            self._file = stack.enter_context(
                uproot.recreate(temporary, compression=self.compression)
            )
            self._stack = stack.pop_all()
        return self

    def _create(self, branches: dict[str, Column] | None) -> Any:
        """The tree: as the layout declares it, else typed after ``branches`` or ``empty``."""
        if self.layout is None:
            types = self.empty if branches is None else branch_types(branches)
            return self._file.mktree(self.tree_name, types)
        counters = self.layout.counters
        return self._file.mktree(
            self.tree_name,
            self.layout.types,
            title=self.layout.title,
            counter_name=lambda branch: counters.get(branch, f"n{branch}"),
        )

    def extend(self, columns: dict[str, Column]) -> None:
        """Append one chunk: column name to values, the same names and types each time."""
        branches = columns if self.layout is not None else tree_branches(columns)
        if self._tree is None:
            self._tree = self._create(branches)
        entries = len(next(iter(branches.values()))) if branches else 0
        step = self.basket_entries
        for start in range(0, entries, step):
            self._tree.extend(
                {name: values[start : start + step] for name, values in branches.items()}
            )
        self.entries += entries

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        if kind is None and self._tree is None:  # no chunk: an empty tree all the same
            try:
                self._create(None)
            except BaseException as failure:  # nothing left behind
                self._stack.__exit__(type(failure), failure, failure.__traceback__)
                raise
        return self._stack.__exit__(kind, error, traceback)


def write_tree(columns: dict[str, Column], path: Path, tree_name: str) -> None:
    """Write ``columns`` to a TTree ``tree_name`` in ``path`` (temporary name, then rename).

    One chunk through a :class:`TreeWriter`.
    """
    with TreeWriter(path, tree_name) as writer:
        writer.extend(columns)


def write_events(
    columns: dict[str, Column], path: Path, file_format: Literal["root", "parquet"], tree_name: str
) -> None:
    """Write one file of events under a temporary name, then rename it to ``path``.

    Parameters
    ----------
    columns : dict[str, numpy.ndarray | ak.Array]
        Branch name to values, one entry per event; jagged columns share a counter per
        name prefix.
    path : Path
        Final file path.
    file_format : {"root", "parquet"}
        ``root`` writes a TTree named ``tree_name``; ``parquet`` one row per event.
    tree_name : str
        Name of the TTree.
    """
    if file_format == "root":
        write_tree(columns, path, tree_name)
        return
    with atomic_path(path) as temporary:
        ak.to_parquet(ak.zip(columns, depth_limit=1), temporary, row_group_size=BASKET_ENTRIES)
