"""Writing events: ROOT TTrees (explicitly, not RNTuple) or Parquet, atomically.

The one place that knows how heplearn lays out the trees it writes: jagged columns with a
shared prefix become one counter branch, and entries go in baskets of
:data:`BASKET_ENTRIES`. Generation writes samples with :func:`write_events`; prediction
and sampling stream their trees with :func:`tree_branches` and :func:`branch_types`.
"""

from pathlib import Path
from typing import Literal, TypeAlias

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


def write_tree(columns: dict[str, Column], path: Path, tree_name: str) -> None:
    """Write ``columns`` to a TTree ``tree_name`` in ``path`` (temporary name, then rename).

    Jagged columns sharing a prefix get one counter (:func:`tree_branches`); entries go in
    baskets of :data:`BASKET_ENTRIES`.
    """
    branches = tree_branches(columns)
    entries = len(next(iter(branches.values()))) if branches else 0
    with atomic_path(path) as temporary, uproot.recreate(temporary) as output:
        tree = output.mktree(tree_name, branch_types(branches))
        for start in range(0, entries, BASKET_ENTRIES):
            tree.extend(
                {name: values[start : start + BASKET_ENTRIES] for name, values in branches.items()}
            )


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
