"""Loading a whole dataset spec into memory: read, select, weight, standardise, split."""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from heplearn.data.batch import batch_arrays
from heplearn.data.preprocessing import Preprocessing, class_count
from heplearn.data.processing import ChunkProcessor, Processed
from heplearn.data.readers import SourceFile, expand_files, open_source, read_columns
from heplearn.data.spec import DatasetSpec
from heplearn.data.splits import SPLIT_NAMES
from heplearn.errors import InputError


def spec_files(spec: DatasetSpec) -> Iterator[tuple[int, SourceFile]]:
    """Every file of the spec with the index of its source, in a fixed order."""
    for source_index, source in enumerate(spec.sources):
        for path in expand_files(source.files):
            yield source_index, open_source(path, source.format, source.tree)


@dataclass
class Dataset:
    """Preprocessed events of every split, shuffled jointly, with their preprocessing."""

    spec: DatasetSpec
    events: Processed
    preprocessing: Preprocessing
    class_names: list[str] | None

    def arrays(self, split: str) -> dict[str, np.ndarray]:
        """The batch dictionary of one split: inputs, ``<input>_mask``, label, weight."""
        selected = self.events.take(self.events.split == SPLIT_NAMES.index(split))
        return batch_arrays(selected.inputs, selected.masks, selected.label, selected.weight)

    def summary(self) -> list[dict[str, object]]:
        """Events and sum of weights per class and split (rows for reports)."""
        rows = []
        labels = (
            range(len(self.class_names))
            if self.class_names
            else np.unique(self.events.label).astype(int)
        )
        for split_index, split in enumerate(SPLIT_NAMES):
            in_split = self.events.split == split_index
            for label in labels if self.spec.task == "classification" else [None]:
                selected = in_split if label is None else in_split & (self.events.label == label)
                rows.append(
                    {
                        "split": split,
                        "class": "all" if label is None else self._class_name(int(label)),
                        "events": int(selected.sum()),
                        "sum_of_weights": float(self.events.weight[selected].sum()),
                    }
                )
        return rows

    def _class_name(self, label: int) -> str:
        return self.class_names[label] if self.class_names else str(label)


def _nonfinite_events(events: Processed, processor: ChunkProcessor) -> dict[str, np.ndarray]:
    """Boolean per event for every column holding NaN or inf, keyed by a description."""
    problems = {}
    for name, values in events.inputs.items():
        bad = ~np.isfinite(values)
        if values.ndim == 3 and name in events.masks:  # particles (events, length, features)
            per_column = (bad & events.masks[name][..., None]).any(axis=1)
        elif values.ndim == 4:  # images (events, channels, eta, phi)
            per_column = bad.reshape(len(values), values.shape[1], -1).any(axis=2)
        else:  # tabular (events, features)
            per_column = bad
        for index, column in enumerate(processor.input_columns(name)):
            if per_column[:, index].any():
                problems[f"input {name!r} column {column!r}"] = per_column[:, index]
    for what, values in (("the label/target", events.label), ("the weight", events.weight)):
        flagged = ~np.isfinite(values.astype(float))
        if flagged.any():
            problems[what] = flagged
    return problems


def _handle_nonfinite(spec: DatasetSpec, events: Processed, processor: ChunkProcessor) -> Processed:
    problems = _nonfinite_events(events, processor)
    if not problems:
        return events
    if spec.nonfinite == "drop":
        bad = np.logical_or.reduce(list(problems.values()))
        return events.take(~bad)
    details = []
    for what, flagged in problems.items():
        sources = np.unique(events.source_index[flagged]).tolist()
        files = "; ".join(", ".join(spec.sources[i].files) for i in sources)
        details.append(f"{what}: {int(flagged.sum())} events with NaN or inf (files {files})")
    raise InputError("; ".join(details) + "; fix the inputs or set nonfinite: drop in the spec")


def load_dataset(
    spec: DatasetSpec, seed: int, preprocessing: Preprocessing | None = None
) -> Dataset:
    """Read every file of the spec into memory and prepare it for training.

    Parameters
    ----------
    spec : DatasetSpec
        The validated dataset spec.
    seed : int
        Drives the split assignment and the joint shuffle.
    preprocessing : Preprocessing, optional
        Fitted preprocessing to reuse (prediction); fitted here when absent.

    Returns
    -------
    Dataset
        All events, shuffled jointly (inputs, labels, weights stay aligned).
    """
    processor = ChunkProcessor(spec, seed)
    needed = processor.required_columns
    parts = [
        processor.process(read_columns(source, needed), source_index, file_index, 0)
        for file_index, (source_index, source) in enumerate(spec_files(spec))
    ]
    events = Processed.concatenate(parts)
    del parts  # (copied into events: freed before the copies below raise the peak memory)
    events = _handle_nonfinite(spec, events, processor)
    n_classes = class_count(spec, events.label)
    if spec.task == "classification" and len(events):
        out_of_range = (events.label < 0) | (events.label >= n_classes)
        if out_of_range.any():
            raise InputError(
                f"{int(out_of_range.sum())} events have labels outside 0..{n_classes - 1} "
                f"(classes {spec.classes}); check 'label' and 'classes'"
            )
    if preprocessing is None:
        preprocessing = Preprocessing.fit(spec, events, n_classes)
    events = preprocessing.apply(spec, events)
    events = events.take(np.random.default_rng(seed).permutation(len(events)))
    return Dataset(spec, events, preprocessing, list(spec.classes) if spec.classes else None)
