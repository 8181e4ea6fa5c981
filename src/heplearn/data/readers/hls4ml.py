"""The hls4ml jet files: HDF5 with jetImage, jets + jetFeatureNames, jetConstituentList.

The hls4ml jet data set of Duarte et al., JINST 13 (2018) P07027, arXiv:1804.06913 (the
HDF5 files with 100 or 150 constituents and 100 × 100 images): ``jetImage`` becomes
``image`` (float32, ``N * 1 * H * W``, one channel, as an awkward regular array); every
column of ``jets`` named in ``jetFeatureNames`` becomes a flat column of the same name
(``j_pt``, ``j_mass_mmdt``, ``j_tau32_b1``, ...); ``label`` (int32) is the index of the
one-hot ``j_g, j_q, j_w, j_z, j_t`` in the order ``g, q, W, Z, t``; ``jetConstituentList``
becomes jagged ``part_*`` columns named after ``particleFeatureNames`` (``j1_px`` →
``part_px``, ``j1_e`` → ``part_energy``, ...) with all-zero padding rows removed, plus
``npart``. The generated ``jets5`` sample uses the same class order. Nothing here
downloads.
"""

from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np

from heplearn.data.readers.base import Reader
from heplearn.data.readers.hdf5 import hdf5_group, open_hdf5_file
from heplearn.data.readers.names import quote_list
from heplearn.data.readers.published import decode_names, one_hot_index, unpad
from heplearn.errors import InputError

__all__ = ["HLS4ML_CLASSES", "HLS4ML_LABEL_COLUMNS", "Hls4mlImagesReader"]

HLS4ML_CLASSES = ("g", "q", "W", "Z", "t")
HLS4ML_LABEL_COLUMNS = ("j_g", "j_q", "j_w", "j_z", "j_t")


def _particle_column(feature: str) -> str:
    """``j1_px`` → ``part_px``, ``j1_e`` → ``part_energy``."""
    suffix = feature.split("_", 1)[1] if "_" in feature else feature
    return "part_energy" if suffix == "e" else f"part_{suffix}"


class Hls4mlImagesReader(Reader):
    """An hls4ml jet file (arXiv:1804.06913; HDF5: ``jetImage``, ``jets``, constituents)."""

    format = "hls4ml-images"
    class_names: tuple[str, ...] | None = HLS4ML_CLASSES
    label_branch = "label"

    def __init__(self, path: Path, tree: str | None = None) -> None:
        super().__init__(path)
        self.tree = tree
        self._file = open_hdf5_file(path)
        try:
            self._open_layout(hdf5_group(self._file, path, tree))
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
                f"it lacks 'jets' or 'jetFeatureNames' (it holds {quote_list(list(group))})"
            )
        self._jets = jets
        self._jet_columns = {
            name: index for index, name in enumerate(decode_names(feature_names[()]))
        }
        if len(self._jet_columns) != jets.shape[1]:
            raise self._layout_error(
                f"jetFeatureNames names {len(self._jet_columns)} columns but jets has "
                f"{jets.shape[1]}"
            )
        missing = [name for name in HLS4ML_LABEL_COLUMNS if name not in self._jet_columns]
        if missing:
            raise self._layout_error(f"jets has no one-hot label columns {quote_list(missing)}")
        self.entries = jets.shape[0]

        self._image = self._dataset(group, "jetImage", 3)
        self._constituents = self._dataset(group, "jetConstituentList", 3)
        self._particle_columns: dict[str, int] = {}
        if self._constituents is not None:
            particle_names = self._dataset(group, "particleFeatureNames", 1)
            if particle_names is None:
                raise self._layout_error("it has jetConstituentList but no particleFeatureNames")
            features = decode_names(particle_names[()])
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
                result["label"] = one_hot_index(
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
                    result[name] = unpad(feature, mask, counts)
            result["npart"] = counts.astype(np.int32)
        return {name: result[name] for name in names}

    def close(self) -> None:
        self._file.close()
