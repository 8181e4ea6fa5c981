"""HDF5 files: the datasets of one group are the columns.

Every dataset at the top level of the file, or of the group named by ``tree``, is a
column; the first axis counts entries and must have the same length for every numeric
dataset. A 1-D dataset is a flat column. A 2-D dataset of shape ``(N, M)`` is a *regular*
column of M-vectors, returned as an awkward regular array of type ``N * M * dtype``
(``ak.to_numpy`` gives the ``(N, M)`` array back without a copy); higher dimensions nest
the same way. Scalar (0-d) datasets are not columns.
"""

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from heplearn.data.readers.base import NUMERIC_KINDS, Reader, describe_dtype, non_numeric_error
from heplearn.data.readers.names import did_you_mean, quote_list
from heplearn.errors import InputError

__all__ = ["Hdf5Reader", "hdf5_group", "open_hdf5_file"]


def open_hdf5_file(path: Path) -> h5py.File:
    """Open an HDF5 file for reading; an InputError naming the file when it cannot be."""
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


def hdf5_group(file: h5py.File, path: Path, tree: str | None) -> h5py.Group:
    """The group ``tree`` of an open HDF5 file (the file itself for ``None``)."""
    if tree is None:
        return file
    item = file.get(tree)
    if isinstance(item, h5py.Group):
        return item
    groups = _groups_with_datasets(file)
    what = "is a dataset, not a group" if item is not None else "does not exist"
    raise InputError(
        f"HDF5 file '{path}': '{tree}' {what}{did_you_mean(tree, groups)}; groups holding "
        f"datasets: {quote_list(groups) or 'none'}. Pass one of them as tree='GROUP' "
        "(or leave tree out for the top level)"
    )


class Hdf5Reader(Reader):
    """The datasets of one HDF5 group (the top level, or the group ``tree`` names) as columns."""

    format = "hdf5"
    extensions = (".h5", ".hdf5")
    column_kind = "dataset"

    def __init__(self, path: Path, tree: str | None = None) -> None:
        super().__init__(path)
        self._file = open_hdf5_file(path)
        try:
            self.tree = tree
            group = hdf5_group(self._file, path, tree)
            self._datasets = {
                name: item
                for name, item in group.items()
                if isinstance(item, h5py.Dataset) and item.ndim >= 1
            }
            if not self._datasets:
                groups = _groups_with_datasets(self._file)
                raise InputError(
                    f"{self.where()} holds no datasets; groups holding datasets: "
                    f"{quote_list(groups) or 'none'}. Pass one of them as tree='GROUP'"
                )
            lengths = {
                name: item.shape[0]
                for name, item in self._datasets.items()
                if item.dtype.kind in NUMERIC_KINDS
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
            if dataset.dtype.kind not in NUMERIC_KINDS:
                raise non_numeric_error(self, name, describe_dtype(dataset.dtype))
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
