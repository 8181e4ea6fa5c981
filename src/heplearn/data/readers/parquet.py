"""Parquet files: one row per entry, read row group by row group.

Columns are the leaf columns, a field of a record named ``record.field``; ``tree`` is
ignored. An entry range reads, with ``ak.from_parquet(path, columns=..., row_groups=...)``,
only the requested columns of the row groups that overlap the range, then slices the range
out of them; chunks are therefore cheapest when ``step_entries`` is a multiple of the
row-group size. Nullable columns are accepted when they hold no nulls (the option type is
dropped); a null is an :class:`~heplearn.errors.InputError`.
"""

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from heplearn.data.readers.base import Reader, extract_field
from heplearn.errors import InputError

__all__ = ["ParquetReader"]


class ParquetReader(Reader):
    """A Parquet file read with ``ak.from_parquet``, row group by row group."""

    format = "parquet"
    extensions = (".parquet", ".pq")
    tree = None

    def __init__(self, path: Path, tree: str | None = None) -> None:
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
        return {name: ak.to_packed(extract_field(arrays, name)) for name in names}
