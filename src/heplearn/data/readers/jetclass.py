"""JetClass ROOT files, with ``label`` built from their one-hot label branches.

JetClass of Qu, Li, Qian, *Particle Transformer for Jet Tagging*, arXiv:2202.03772: ROOT
files with the tree ``tree``. Every branch keeps its name (they already follow this
project's convention); ``label`` (int32) is added: the index of the one-hot ``label_QCD,
label_Hbb, ..., label_Tbl`` in :data:`JETCLASS_CLASSES` order. An entry whose label
branches are not exactly one-hot is an :class:`~heplearn.errors.InputError`. Nothing here
downloads.
"""

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from heplearn.data.readers.base import Reader
from heplearn.data.readers.names import quote_list
from heplearn.data.readers.published import one_hot_index
from heplearn.data.readers.root import RootReader
from heplearn.errors import InputError

__all__ = ["JETCLASS_CLASSES", "JETCLASS_LABEL_BRANCHES", "JetClassReader"]

JETCLASS_CLASSES = ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl")
JETCLASS_LABEL_BRANCHES = tuple(f"label_{name}" for name in JETCLASS_CLASSES)


class JetClassReader(Reader):
    """A JetClass ROOT file (arXiv:2202.03772), with ``label`` built from the one-hot branches."""

    format = "jetclass"
    class_names: tuple[str, ...] | None = JETCLASS_CLASSES
    label_branch = "label"
    column_kind = "branch"

    def __init__(self, path: Path, tree: str | None = None) -> None:
        super().__init__(path)
        self._root = RootReader(path, tree, default_tree="tree")
        self.tree = self._root.tree
        self.entries = self._root.entries
        branches = self._root.columns()
        missing = [name for name in JETCLASS_LABEL_BRANCHES if name not in branches]
        if missing:
            self._root.close()
            raise InputError(
                f"{self.where()} is not a JetClass file: it lacks the label branches "
                f"{quote_list(missing)} (JetClass files carry "
                f"{', '.join(JETCLASS_LABEL_BRANCHES)}); read it with format='root' instead"
            )
        self._branches = branches

    def where(self) -> str:
        return f"JetClass {self._root.where()}"

    def columns(self) -> list[str]:
        return [*self._branches, *([] if "label" in self._branches else ["label"])]

    def read(self, names: list[str], start: int, stop: int) -> dict[str, Any]:
        build_label = "label" in names and "label" not in self._branches
        raw_names = [name for name in names if not (build_label and name == "label")]
        if build_label:
            raw_names = list(dict.fromkeys([*raw_names, *JETCLASS_LABEL_BRANCHES]))
        arrays = self._root.read(raw_names, start, stop)
        if build_label:
            one_hot = np.stack(
                [ak.to_numpy(arrays[name]) for name in JETCLASS_LABEL_BRANCHES], axis=1
            )
            arrays["label"] = one_hot_index(
                one_hot,
                JETCLASS_LABEL_BRANCHES,
                self.where(),
                start,
                "Check that the file is an unmodified JetClass file, or read it with "
                "format='root' and define the label yourself",
            )
        return {name: arrays[name] for name in names}

    def bytes_per_entry(self, names: list[str]) -> float | None:
        raw = [name for name in names if name in self._branches]
        if len(raw) != len(names):
            raw = list(dict.fromkeys([*raw, *JETCLASS_LABEL_BRANCHES]))
        return self._root.bytes_per_entry(raw)

    def close(self) -> None:
        self._root.close()
