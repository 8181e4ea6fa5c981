"""Public jet data sets a user has already downloaded, read as if heplearn had generated them.

Nothing here downloads: every reader opens a local file. Each maps the published layout
onto this project's branch names (``part_px, part_py, part_pz, part_energy`` jagged
constituents, a label column, class names), so the rest of heplearn treats the files like
generated samples. Open them with :func:`heplearn.data.sources.open_source` and the format
name; read them with :func:`~heplearn.data.sources.read_columns` or
:func:`~heplearn.data.sources.iterate_columns`.

``top-landscape``
    The top-tagging comparison of Kasieczka et al., *The Machine Learning Landscape of Top
    Taggers*, SciPost Phys. 7 (2019) 014, arXiv:1902.09914 (``train.h5``, ``val.h5``,
    ``test.h5``): a pandas HDFStore in *fixed* format under the key ``table`` (``tree``
    names another key), read with h5py (no pandas needed). Its columns ``E_i, PX_i, PY_i,
    PZ_i`` (i = 0..199, zero-padded, pT-ordered) become the jagged ``part_energy,
    part_px, part_py, part_pz`` with the padding (E == 0) removed, plus ``npart`` (int32,
    constituents per jet); ``is_signal_new`` becomes ``is_signal`` (int32, 1 = top);
    ``ttv`` becomes int32; every other column (``truthE, truthPX, truthPY, truthPZ``)
    keeps its name. Only the columns needed are read from the value blocks. Classes
    ``("qcd", "top")``, label ``is_signal``, as in the generated ``top-vs-qcd`` sample.
``jetclass``
    JetClass of Qu, Li, Qian, *Particle Transformer for Jet Tagging*, arXiv:2202.03772:
    ROOT files with the tree ``tree``. Every branch keeps its name (they already follow
    this project's convention); ``label`` (int32) is added: the index of the one-hot
    ``label_QCD, label_Hbb, ..., label_Tbl`` in :data:`JETCLASS_CLASSES` order. An entry
    whose label branches are not exactly one-hot is an :class:`InputError`.
``hls4ml-images``
    The hls4ml jet data set of Duarte et al., JINST 13 (2018) P07027, arXiv:1804.06913
    (the HDF5 files with 100 or 150 constituents and 100 × 100 images): ``jetImage``
    becomes ``image`` (float32, ``N * 1 * H * W``, one channel, as an awkward regular
    array); every column of ``jets`` named in ``jetFeatureNames`` becomes a flat column
    of the same name (``j_pt``, ``j_mass_mmdt``, ``j_tau32_b1``, ...); ``label`` (int32)
    is the index of the one-hot ``j_g, j_q, j_w, j_z, j_t`` in the order ``g, q, W, Z,
    t``; ``jetConstituentList`` becomes jagged ``part_*`` columns named after
    ``particleFeatureNames`` (``j1_px`` → ``part_px``, ``j1_e`` → ``part_energy``, ...)
    with all-zero padding rows removed, plus ``npart``. The generated ``jets5`` sample
    uses the same class order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np

from heplearn.data.sources import (
    _check_format,
    _did_you_mean,
    _hdf5_group,
    _open_hdf5_file,
    _quote_list,
    _Reader,
    _RootReader,
)
from heplearn.errors import ConfigError, InputError

__all__ = [
    "HLS4ML_CLASSES",
    "HLS4ML_LABEL_COLUMNS",
    "JETCLASS_CLASSES",
    "JETCLASS_LABEL_BRANCHES",
    "PUBLIC_FORMATS",
    "TOP_LANDSCAPE_CLASSES",
    "Hls4mlImagesReader",
    "JetClassReader",
    "TopLandscapeReader",
    "class_names",
    "label_branch",
    "open_public_reader",
]

PUBLIC_FORMATS = ("top-landscape", "jetclass", "hls4ml-images")

TOP_LANDSCAPE_CLASSES = ("qcd", "top")
JETCLASS_CLASSES = ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl")
JETCLASS_LABEL_BRANCHES = tuple(f"label_{name}" for name in JETCLASS_CLASSES)
HLS4ML_CLASSES = ("g", "q", "W", "Z", "t")
HLS4ML_LABEL_COLUMNS = ("j_g", "j_q", "j_w", "j_z", "j_t")


def _decode_names(values: np.ndarray) -> list[str]:
    return [value.decode() if isinstance(value, bytes) else str(value) for value in values]


def _one_hot_index(
    one_hot: np.ndarray, label_names: tuple[str, ...], where: str, first_entry: int, fix: str
) -> np.ndarray:
    """Index of the single 1 in each row of ``one_hot``; InputError naming the bad entries."""
    is_zero = one_hot == 0
    is_one = one_hot == 1
    good = np.all(is_zero | is_one, axis=1) & (np.sum(is_one, axis=1) == 1)
    if not np.all(good):
        bad = np.flatnonzero(~good)
        row = one_hot[bad[0]]
        values = ", ".join(
            f"{name}={value:g}" for name, value in zip(label_names, row, strict=True)
        )
        raise InputError(
            f"entry {first_entry + int(bad[0])} of {where} is not one-hot ({values}; exactly "
            f"one of {', '.join(label_names)} must be 1 and the others 0); {len(bad)} of the "
            f"entries {first_entry}-{first_entry + len(one_hot) - 1} are affected. {fix}"
        )
    return np.argmax(is_one, axis=1).astype(np.int32)


def _as_int32(values: np.ndarray, name: str, where: str, first_entry: int) -> np.ndarray:
    rounded = np.rint(values)
    bad = np.flatnonzero(rounded != values)
    if len(bad):
        raise InputError(
            f"column '{name}' of {where} must hold whole numbers, but entry "
            f"{first_entry + int(bad[0])} is {values[bad[0]]!r}; check that the file is an "
            "unmodified copy of the published one"
        )
    return rounded.astype(np.int32)


def _unpad(padded: np.ndarray, mask: np.ndarray, counts: np.ndarray) -> ak.Array:
    """Rows of ``padded`` (entries × slots) without the slots where ``mask`` is False."""
    return ak.unflatten(padded[mask], counts)


# --------------------------------------------------------------------------------------
# Top-tagging landscape: a pandas fixed-format HDFStore

_CONSTITUENT_COLUMN = re.compile(r"^(E|PX|PY|PZ)_(\d+)$")
_TOP_RENAMES = {"E": "part_energy", "PX": "part_px", "PY": "part_py", "PZ": "part_pz"}


class TopLandscapeReader(_Reader):
    """A top-tagging landscape file (``train.h5``, ``val.h5``, ``test.h5``)."""

    format = "top-landscape"
    class_names = TOP_LANDSCAPE_CLASSES
    label_branch = "is_signal"

    def __init__(self, path: Path, tree: str | None = None) -> None:
        super().__init__(path)
        self.tree = self._key = tree or "table"
        self._file = _open_hdf5_file(path)
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
                f"it has no group '{self._key}'{_did_you_mean(self._key, keys)} "
                f"(top-level keys: {_quote_list(keys) or 'none'})"
            )
        if "table" in group and isinstance(group["table"], h5py.Dataset):
            raise self._layout_error(
                f"key '{self.tree}' was written in pandas 'table' format; re-save it with "
                "DataFrame.to_hdf(path, key='table', format='fixed')"
            )
        index = 0
        while f"block{index}_values" in group:
            values = group[f"block{index}_values"]
            items = _decode_names(group[f"block{index}_items"][()])
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
                f"(its columns: {_quote_list(list(self._where))})"
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
                    result[_TOP_RENAMES[prefix]] = _unpad(matrix, mask, counts)
            result["npart"] = counts.astype(np.int32)
        for name in names:
            if name in self._scalars:
                values = raw[self._scalars[name]]
                if name in ("is_signal", "ttv"):
                    values = _as_int32(values, self._scalars[name], self.where(), start)
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


# --------------------------------------------------------------------------------------
# JetClass: ROOT files with one-hot labels


class JetClassReader(_Reader):
    """A JetClass ROOT file (tree ``tree``), with ``label`` built from the one-hot branches."""

    format = "jetclass"
    class_names = JETCLASS_CLASSES
    label_branch = "label"
    column_kind = "branch"

    def __init__(self, path: Path, tree: str | None = None) -> None:
        super().__init__(path)
        self._root = _RootReader(path, tree, default_tree="tree")
        self.tree = self._root.tree
        self.entries = self._root.entries
        branches = self._root.columns()
        missing = [name for name in JETCLASS_LABEL_BRANCHES if name not in branches]
        if missing:
            self._root.close()
            raise InputError(
                f"{self.where()} is not a JetClass file: it lacks the label branches "
                f"{_quote_list(missing)} (JetClass files carry "
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
            arrays["label"] = _one_hot_index(
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


# --------------------------------------------------------------------------------------
# hls4ml jet images: HDF5 with jetImage, jets + jetFeatureNames, jetConstituentList


def _particle_column(feature: str) -> str:
    """``j1_px`` → ``part_px``, ``j1_e`` → ``part_energy``."""
    suffix = feature.split("_", 1)[1] if "_" in feature else feature
    return "part_energy" if suffix == "e" else f"part_{suffix}"


class Hls4mlImagesReader(_Reader):
    """An hls4ml jet HDF5 file (``jetImage``, ``jets``, ``jetConstituentList``)."""

    format = "hls4ml-images"
    class_names = HLS4ML_CLASSES
    label_branch = "label"

    def __init__(self, path: Path, tree: str | None = None) -> None:
        super().__init__(path)
        self.tree = tree
        self._file = _open_hdf5_file(path)
        try:
            self._open_layout(_hdf5_group(self._file, path, tree))
        except BaseException:
            self._file.close()
            raise

    def where(self) -> str:
        group = "" if self.tree is None else f"group '{self.tree}' of "
        return f"hls4ml jet {group}file '{self.path}'"

    def _layout_error(self, problem: str) -> InputError:
        return InputError(
            f"'{self.path}' is not an hls4ml jet file: {problem}. These files hold the "
            "datasets jets (N × features) with jetFeatureNames, and optionally jetImage "
            "(N × H × W) and jetConstituentList (N × particles × features) with "
            "particleFeatureNames; use format='hdf5' for a generic HDF5 file"
        )

    def _dataset(self, group: h5py.Group, name: str, ndim: int) -> h5py.Dataset | None:
        item = group.get(name)
        if item is None:
            return None
        if not isinstance(item, h5py.Dataset) or item.ndim != ndim:
            shape = getattr(item, "shape", "a group")
            raise self._layout_error(f"'{name}' should be a {ndim}-D dataset, found {shape}")
        return item

    def _open_layout(self, group: h5py.Group) -> None:
        jets = self._dataset(group, "jets", 2)
        feature_names = self._dataset(group, "jetFeatureNames", 1)
        if jets is None or feature_names is None:
            raise self._layout_error(
                f"it lacks 'jets' or 'jetFeatureNames' (it holds {_quote_list(list(group))})"
            )
        self._jets = jets
        self._jet_columns = {
            name: index for index, name in enumerate(_decode_names(feature_names[()]))
        }
        if len(self._jet_columns) != jets.shape[1]:
            raise self._layout_error(
                f"jetFeatureNames names {len(self._jet_columns)} columns but jets has "
                f"{jets.shape[1]}"
            )
        missing = [name for name in HLS4ML_LABEL_COLUMNS if name not in self._jet_columns]
        if missing:
            raise self._layout_error(f"jets has no one-hot label columns {_quote_list(missing)}")
        self.entries = jets.shape[0]

        self._image = self._dataset(group, "jetImage", 3)
        self._constituents = self._dataset(group, "jetConstituentList", 3)
        self._particle_columns: dict[str, int] = {}
        if self._constituents is not None:
            particle_names = self._dataset(group, "particleFeatureNames", 1)
            if particle_names is None:
                raise self._layout_error("it has jetConstituentList but no particleFeatureNames")
            features = _decode_names(particle_names[()])
            if len(features) != self._constituents.shape[2]:
                raise self._layout_error(
                    f"particleFeatureNames names {len(features)} features but "
                    f"jetConstituentList has {self._constituents.shape[2]}"
                )
            self._particle_columns = {
                _particle_column(feature): index for index, feature in enumerate(features)
            }
        for name, dataset in (
            ("jetImage", self._image),
            ("jetConstituentList", self._constituents),
        ):
            if dataset is not None and dataset.shape[0] != self.entries:
                raise self._layout_error(
                    f"'{name}' has {dataset.shape[0]} jets but 'jets' has {self.entries}"
                )

    def columns(self) -> list[str]:
        names = [*self._jet_columns, "label"]
        if self._image is not None:
            names.insert(0, "image")
        if self._constituents is not None:
            names += [*self._particle_columns, "npart"]
        return names

    def read(self, names: list[str], start: int, stop: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if any(name in self._jet_columns or name == "label" for name in names):
            jets = self._jets[start:stop]
            for name in names:
                if name in self._jet_columns:
                    result[name] = np.ascontiguousarray(jets[:, self._jet_columns[name]])
            if "label" in names:
                columns = [self._jet_columns[name] for name in HLS4ML_LABEL_COLUMNS]
                result["label"] = _one_hot_index(
                    jets[:, columns],
                    HLS4ML_LABEL_COLUMNS,
                    self.where(),
                    start,
                    "Check that the file is an unmodified hls4ml jet file, or read it with "
                    "format='hdf5' and define the label yourself",
                )
        if "image" in names and self._image is not None:
            image = self._image[start:stop].astype(np.float32, copy=False)[:, np.newaxis]
            result["image"] = ak.from_numpy(np.ascontiguousarray(image), regulararray=True)
        if self._constituents is not None and any(
            name in self._particle_columns or name == "npart" for name in names
        ):
            particles = self._constituents[start:stop]
            mask = np.any(particles != 0, axis=2)
            counts = np.count_nonzero(mask, axis=1)
            for name in names:
                if name in self._particle_columns:
                    feature = particles[:, :, self._particle_columns[name]]
                    result[name] = _unpad(feature, mask, counts)
            result["npart"] = counts.astype(np.int32)
        return {name: result[name] for name in names}

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------------------
# Dispatch

_READERS: dict[str, type[TopLandscapeReader | JetClassReader | Hls4mlImagesReader]] = {
    "top-landscape": TopLandscapeReader,
    "jetclass": JetClassReader,
    "hls4ml-images": Hls4mlImagesReader,
}


def open_public_reader(path: Path, format: str, tree: str | None = None) -> _Reader:
    """Open a public data-set file with the reader of ``format`` (one of PUBLIC_FORMATS)."""
    if format not in _READERS:
        _check_format(format)
        raise ConfigError(
            f"format '{format}' is not a public data-set format; choose one of "
            f"{', '.join(PUBLIC_FORMATS)}"
        )
    return _READERS[format](Path(path), tree)


def class_names(format: str) -> tuple[str, ...] | None:
    """Class names of the label of a public format, in label order; ``None`` for others.

    Raises
    ------
    ConfigError
        For a name not in :data:`heplearn.data.sources.FORMATS`.
    """
    _check_format(format)
    reader = _READERS.get(format)
    return None if reader is None else reader.class_names


def label_branch(format: str) -> str | None:
    """The label column a public format exposes (``is_signal`` or ``label``); else ``None``."""
    _check_format(format)
    reader = _READERS.get(format)
    return None if reader is None else reader.label_branch
