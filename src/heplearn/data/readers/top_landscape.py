"""The top-tagging landscape files: a pandas fixed-format HDFStore, read with h5py.

The top-tagging comparison of Kasieczka et al., *The Machine Learning Landscape of Top
Taggers*, SciPost Phys. 7 (2019) 014, arXiv:1902.09914 (``train.h5``, ``val.h5``,
``test.h5``): a pandas HDFStore in *fixed* format under the key ``table`` (``tree`` names
another key), read with h5py (no pandas needed). Its columns ``E_i, PX_i, PY_i, PZ_i``
(i = 0..199, zero-padded, pT-ordered) become the jagged ``part_energy, part_px, part_py,
part_pz`` with the padding (E == 0) removed, plus ``npart`` (int32, constituents per jet);
``is_signal_new`` becomes ``is_signal`` (int32, 1 = top); ``ttv`` becomes int32; every
other column (``truthE, truthPX, truthPY, truthPZ``) keeps its name. Only the columns
needed are read from the value blocks. Classes ``("qcd", "top")``, label ``is_signal``, as
in the generated ``top-vs-qcd`` sample. Nothing here downloads.
"""

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from heplearn.data.readers.base import Reader
from heplearn.data.readers.hdf5 import open_hdf5_file
from heplearn.data.readers.names import did_you_mean, quote_list
from heplearn.data.readers.published import as_int32, decode_names, unpad
from heplearn.errors import InputError

__all__ = ["TOP_LANDSCAPE_CLASSES", "TopLandscapeReader"]

TOP_LANDSCAPE_CLASSES = ("qcd", "top")

_CONSTITUENT_COLUMN = re.compile(r"^(E|PX|PY|PZ)_(\d+)$")
_TOP_RENAMES = {"E": "part_energy", "PX": "part_px", "PY": "part_py", "PZ": "part_pz"}


class TopLandscapeReader(Reader):
    """A top-tagging landscape file (arXiv:1902.09914: ``train.h5``, ``val.h5``, ``test.h5``)."""

    format = "top-landscape"
    class_names: tuple[str, ...] | None = TOP_LANDSCAPE_CLASSES
    label_branch = "is_signal"

    def __init__(self, path: Path, tree: str | None = None) -> None:
        super().__init__(path)
        self.tree = self._key = tree or "table"
        self._file = open_hdf5_file(path)
        try:
            self._blocks: list[tuple[h5py.Dataset, bool]] = []
            self._where: dict[str, tuple[int, int]] = {}
            self._open_store()
        except BaseException:
            self._file.close()
            raise

    def where(self) -> str:
        return f"top-tagging landscape store '{self.tree}' of file '{self.path}'"

    def _layout_error(self, problem: str) -> InputError:
        return InputError(
            f"'{self.path}' is not a top-tagging landscape file: {problem}. The published "
            "files (train.h5, val.h5, test.h5) are pandas stores in fixed format under the "
            "key 'table' (groups table/axis0, table/block0_items, table/block0_values); pass "
            "tree='KEY' if yours uses another key, or format='hdf5' for a generic HDF5 file"
        )

    def _open_store(self) -> None:
        group = self._file.get(self._key)
        if not isinstance(group, h5py.Group):
            keys = list(self._file.keys())
            raise self._layout_error(
                f"it has no group '{self._key}'{did_you_mean(self._key, keys)} "
                f"(top-level keys: {quote_list(keys) or 'none'})"
            )
        if "table" in group and isinstance(group["table"], h5py.Dataset):
            raise self._layout_error(
                f"key '{self.tree}' was written in pandas 'table' format; re-save it with "
                "DataFrame.to_hdf(path, key='table', format='fixed')"
            )
        index = 0
        while f"block{index}_values" in group:
            values = group[f"block{index}_values"]
            items = decode_names(group[f"block{index}_items"][()])
            if values.ndim != 2 or len(items) not in values.shape:
                raise self._layout_error(
                    f"'{self.tree}/block{index}_values' has shape {values.shape}, which does "
                    f"not match its {len(items)} column names"
                )
            # pandas stores a block transposed, as (entries, items), and says so in an
            # attribute; files without it are recognised by their shape.
            transposed = values.attrs.get("transposed")
            if transposed is not None:
                columns_first = not bool(transposed)
            else:
                columns_first = values.shape[1] != len(items)
            if values.shape[0 if columns_first else 1] != len(items):
                raise self._layout_error(
                    f"'{self.tree}/block{index}_values' has shape {values.shape}, which does "
                    f"not match its {len(items)} column names"
                )
            self._blocks.append((values, columns_first))
            for position, item in enumerate(items):
                self._where[item] = (index, position)
            index += 1
        if not self._blocks:
            raise self._layout_error(f"'{self.tree}' has no block0_values")
        lengths = {values.shape[1 if flipped else 0] for values, flipped in self._blocks}
        if len(lengths) != 1:
            raise self._layout_error(f"its value blocks have different lengths {sorted(lengths)}")
        self.entries = lengths.pop()

        self._constituents: dict[str, list[str]] = {}
        for prefix in _TOP_RENAMES:
            slots = sorted(
                int(match.group(2))
                for name in self._where
                if (match := _CONSTITUENT_COLUMN.match(name)) and match.group(1) == prefix
            )
            if slots:
                self._constituents[prefix] = [f"{prefix}_{slot}" for slot in slots]
        if "E" not in self._constituents:
            raise self._layout_error(
                f"'{self.tree}' has no constituent energies E_0, E_1, ... "
                f"(its columns: {quote_list(list(self._where))})"
            )
        n_slots = len(self._constituents["E"])
        for prefix, names in self._constituents.items():
            if names != [f"{prefix}_{slot}" for slot in range(n_slots)]:
                raise self._layout_error(
                    f"its {prefix}_* columns are not {prefix}_0 ... {prefix}_{n_slots - 1}, "
                    "one per constituent slot of E_*"
                )
        self._scalars = {
            ("is_signal" if name == "is_signal_new" else name): name
            for name in self._where
            if not _CONSTITUENT_COLUMN.match(name)
        }

    def columns(self) -> list[str]:
        return [
            *(_TOP_RENAMES[prefix] for prefix in self._constituents),
            "npart",
            *self._scalars,
        ]

    def _read_raw(self, raw_names: list[str], start: int, stop: int) -> dict[str, np.ndarray]:
        """Raw store columns by name, each block read once over the span it needs."""
        by_block: dict[int, list[tuple[str, int]]] = {}
        for name in raw_names:
            block, position = self._where[name]
            by_block.setdefault(block, []).append((name, position))
        result: dict[str, np.ndarray] = {}
        for block, wanted in by_block.items():
            values, columns_first = self._blocks[block]
            positions = np.array([position for _, position in wanted])
            low, high = int(positions.min()), int(positions.max()) + 1
            span = values[low:high, start:stop].T if columns_first else values[start:stop, low:high]
            for (name, _), column in zip(wanted, positions - low, strict=True):
                result[name] = span[:, column]
        return result

    def _read_matrix(self, prefix: str, raw: dict[str, np.ndarray]) -> np.ndarray:
        return np.stack([raw[name] for name in self._constituents[prefix]], axis=1)

    def _prefixes(self, names: list[str]) -> list[str]:
        """Constituent prefixes to read for ``names`` (E first: it tells padding apart)."""
        renamed = {value: key for key, value in _TOP_RENAMES.items()}
        prefixes = [renamed[name] for name in names if name in renamed]
        if prefixes or "npart" in names:
            prefixes = list(dict.fromkeys(["E", *prefixes]))
        return prefixes

    def _raw_names(self, names: list[str]) -> list[str]:
        raw_names = [raw for prefix in self._prefixes(names) for raw in self._constituents[prefix]]
        raw_names += [self._scalars[name] for name in names if name in self._scalars]
        return list(dict.fromkeys(raw_names))

    def read(self, names: list[str], start: int, stop: int) -> dict[str, Any]:
        prefixes = self._prefixes(names)
        raw = self._read_raw(self._raw_names(names), start, stop)

        result: dict[str, Any] = {}
        if prefixes:
            energies = self._read_matrix("E", raw)
            mask = energies != 0
            counts = np.count_nonzero(mask, axis=1)
            for prefix in prefixes:
                if _TOP_RENAMES[prefix] in names:
                    matrix = energies if prefix == "E" else self._read_matrix(prefix, raw)
                    result[_TOP_RENAMES[prefix]] = unpad(matrix, mask, counts)
            result["npart"] = counts.astype(np.int32)
        for name in names:
            if name in self._scalars:
                values = raw[self._scalars[name]]
                if name in ("is_signal", "ttv"):
                    values = as_int32(values, self._scalars[name], self.where(), start)
                if name == "is_signal" and not np.all((values == 0) | (values == 1)):
                    bad = int(np.flatnonzero((values != 0) & (values != 1))[0])
                    raise InputError(
                        f"column 'is_signal_new' of {self.where()} must be 0 (QCD) or 1 "
                        f"(top), but entry {start + bad} is {values[bad]}; check that the "
                        "file is an unmodified copy of the published one"
                    )
                result[name] = np.ascontiguousarray(values)
        return {name: result[name] for name in names}

    def temporary_bytes_per_entry(self, names: list[str]) -> float:
        """The padded rows read from the value blocks before the padding is removed."""
        total = 0.0
        by_block: dict[int, list[int]] = {}
        for raw in self._raw_names(names):
            block, position = self._where[raw]
            by_block.setdefault(block, []).append(position)
        for block, positions in by_block.items():
            values, _ = self._blocks[block]
            total += (max(positions) - min(positions) + 1) * values.dtype.itemsize
        return total

    def close(self) -> None:
        self._file.close()
