"""Writing generated events: ROOT TTrees (explicitly, not RNTuple) or Parquet, atomically."""

from pathlib import Path
from typing import Literal

import awkward as ak
import numpy as np
import uproot

from heplearn.files import atomic_path
from heplearn.generate.samples import Column

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
    """The types ``uproot``'s ``mktree`` needs for these branches."""
    return {
        name: values.type if isinstance(values, ak.Array) else values.dtype
        for name, values in branches.items()
    }


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
    with atomic_path(path) as temporary:
        if file_format == "parquet":
            ak.to_parquet(ak.zip(columns, depth_limit=1), temporary, row_group_size=BASKET_ENTRIES)
            return
        branches = tree_branches(columns)
        with uproot.recreate(temporary) as output:
            tree = output.mktree(tree_name, branch_types(branches))
            entries = len(next(iter(branches.values())))
            for start in range(0, entries, BASKET_ENTRIES):
                tree.extend(
                    {
                        name: values[start : start + BASKET_ENTRIES]
                        for name, values in branches.items()
                    }
                )
