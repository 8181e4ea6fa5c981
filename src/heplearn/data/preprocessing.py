"""What is fitted on the data and must travel with a model: weight scales, reweighting
factors and standardisation. Fitted once, saved as JSON with the run, reused at prediction.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from heplearn.data.processing import Processed
from heplearn.data.spec import DatasetSpec, ImageInput, ParticlesInput
from heplearn.data.splits import TRAIN
from heplearn.data.weights import (
    apply_class_scales,
    apply_reweighting,
    class_scales,
    reweighting_factors,
)
from heplearn.errors import InputError

FORMAT_VERSION = 1


@dataclass
class Preprocessing:
    """Fitted preprocessing of a dataset spec (JSON-serialisable)."""

    class_scales: dict[str, float]
    reweighting: dict[str, list[float]] | None = None
    standardisation: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    target: dict[str, float] | None = None  # a regression target's training mean and std
    version: int = FORMAT_VERSION

    @classmethod
    def fit(cls, spec: DatasetSpec, events: Processed, n_classes: int) -> "Preprocessing":
        """Fit weights on all events and standardisation on the training split only."""
        statistics = FitStatistics(spec)
        statistics.add(events)
        return statistics.preprocessing(n_classes)

    def apply(self, spec: DatasetSpec, events: Processed) -> Processed:
        """Return the events with final weights and standardised inputs (float32)."""
        inputs = self.standardise(spec, events.inputs, events.masks)
        return Processed(
            inputs=inputs,
            masks=events.masks,
            label=events.label,
            weight=self.event_weights(spec, events),
            split=events.split,
            reweight_variable=events.reweight_variable,
            source_index=events.source_index,
        )

    def event_weights(self, spec: DatasetSpec, events: Processed) -> np.ndarray:
        """The final weights of the events (float32): reweighted and scaled per class."""
        labels = _weight_groups(spec, events)
        weight = events.weight
        if self.reweighting is not None:
            assert events.reweight_variable is not None
            weight = apply_reweighting(events.reweight_variable, labels, weight, self.reweighting)
        return apply_class_scales(labels, weight, self.class_scales).astype(np.float32)

    def scaling(self, dtype: DTypeLike = np.float32) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Input name to the mean and standard deviation of each feature (float32 by default).

        What :meth:`standardise` uses; :meth:`ChunkProcessor.process` applies it while it
        builds the inputs and the ONNX export puts it inside the graph.
        """
        return {
            name: (
                np.asarray(values["mean"], dtype),
                np.asarray(values["std"], dtype),
            )
            for name, values in self.standardisation.items()
        }

    def standardise(
        self, spec: DatasetSpec, inputs: dict[str, np.ndarray], masks: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Standardised copies of the inputs (float32); padded entries keep the pad value."""
        standardised = {}
        for name, values in inputs.items():
            if name not in self.standardisation:
                standardised[name] = values
                continue
            scaled = self.standardise_input(name, values)
            mask = masks.get(name)
            if mask is not None:
                np.copyto(scaled, np.float32(_pad_value(spec, name)), where=~mask[..., np.newaxis])
            standardised[name] = scaled
        return standardised

    def standardise_input(
        self, name: str, values: np.ndarray, dtype: DTypeLike = np.float32
    ) -> np.ndarray:
        """Input ``name`` in standardised units, ``(values - mean) / std`` (float32).

        Parameters
        ----------
        name : str
            The input (an input without standardisation is returned as float32).
        values : numpy.ndarray
            ``(events, ...)``: the input's values in physical units.
        dtype : numpy dtype, default float32
            The precision of the arithmetic (training uses float32; sampling float64).
        """
        if name not in self.standardisation:
            return values.astype(np.float32, copy=False)
        mean, std = self._parameters(name, values, dtype)
        scaled = values - mean
        scaled /= std
        return scaled.astype(np.float32, copy=False)

    def destandardise(
        self, name: str, values: np.ndarray, dtype: DTypeLike = np.float32
    ) -> np.ndarray:
        """Input ``name`` back in physical units, ``values * std + mean`` (float32).

        The inverse of :meth:`standardise_input`; its parameters are the same.
        """
        if name not in self.standardisation:
            return values.astype(np.float32, copy=False)
        mean, std = self._parameters(name, values, dtype)
        return (values * std + mean).astype(np.float32, copy=False)

    def _parameters(
        self, name: str, values: np.ndarray, dtype: DTypeLike
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of input ``name`` in ``dtype``, broadcastable to ``values``."""
        event_shape = values.shape[1:]
        parameters = []
        for key in ("mean", "std"):
            parameter = np.asarray(self.standardisation[name][key], dtype)
            if parameter.size == int(np.prod(event_shape)):  # one per column or pixel
                parameter = parameter.reshape(event_shape)
            parameters.append(parameter)  # else one per feature: the last axis (particles)
        return parameters[0], parameters[1]

    def save(self, path: Path) -> None:
        """Write as JSON."""
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Preprocessing":
        """Read from JSON written by :meth:`save`."""
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("version") != FORMAT_VERSION:
            raise InputError(
                f"{path} was written by another heplearn version (format "
                f"{data.get('version')}, expected {FORMAT_VERSION}); retrain or use that version"
            )
        return cls(**data)


class FitStatistics:
    """What fitting needs, accumulated chunk by chunk with bounded memory.

    Weights need every event's label, raw weight and reweighting variable (three numbers
    per event); standardisation needs only sums and sums of squares over training events.
    """

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self.labels: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []
        self.variables: list[np.ndarray] = []
        self.moments: dict[str, list[np.ndarray]] = {}
        self.target_moments = np.zeros(3)  # count, sum and sum of squares
        self.training_events = 0

    def add(self, events: Processed) -> None:
        """Accumulate a chunk of (selected, not yet preprocessed) events."""
        self.labels.append(_weight_groups(self.spec, events))
        self.weights.append(events.weight)
        if events.reweight_variable is not None:
            self.variables.append(events.reweight_variable)
        train = events.split == TRAIN
        self.training_events += int(train.sum())
        if self.spec.task == "regression":
            target = events.label[train].astype(np.float64)
            self.target_moments += [len(target), target.sum(), (target**2).sum()]
        for name, values in events.inputs.items():
            if self._mode(name) == "none":
                continue
            mask = events.masks.get(name)
            flat = values[train][mask[train]] if mask is not None else values[train]
            flat = flat.reshape(len(flat), -1).astype(np.float64)
            sums = [np.array(float(len(flat))), flat.sum(axis=0), (flat**2).sum(axis=0)]
            previous = self.moments.get(name)
            self.moments[name] = (
                sums if previous is None else [a + b for a, b in zip(previous, sums, strict=True)]
            )

    def _mode(self, name: str) -> object:
        default = "none" if isinstance(self.spec.inputs[name], ImageInput) else "auto"
        return self.spec.standardise.get(name, default)

    def preprocessing(self, n_classes: int) -> Preprocessing:
        """The fitted preprocessing."""
        spec = self.spec
        if self.training_events == 0:
            raise InputError("the training split is empty: check split fractions and selection")
        labels = np.concatenate(self.labels)
        weight = np.concatenate(self.weights)
        reweighting = None
        if spec.weights.reweight is not None:
            variable = np.concatenate(self.variables)
            reweighting = reweighting_factors(
                variable, labels, weight, spec.weights.reweight, spec.classes
            )
            weight = apply_reweighting(variable, labels, weight, reweighting)
        groups = 1 if spec.task == "regression" else n_classes
        scales = class_scales(labels, weight, spec.weights, spec.classes, groups)
        standardisation = {}
        for name, (count, total, total_sq) in self.moments.items():
            mean, std = _mean_and_std(count, total, total_sq)
            mode = self._mode(name)
            if isinstance(mode, dict):
                columns = _columns(spec, name)
                for column, (manual_mean, manual_std) in mode.items():
                    index = columns.index(column)
                    mean[index], std[index] = manual_mean, manual_std
            definition = spec.inputs[name]
            if isinstance(definition, ImageInput):  # one mean and spread per pixel
                shape = (len(definition.channels or [None]), definition.bins, definition.bins)
                mean, std = mean.reshape(shape), std.reshape(shape)
            standardisation[name] = {"mean": mean.tolist(), "std": std.tolist()}
        target = None
        if spec.task == "regression":
            target_mean, target_std = _mean_and_std(*self.target_moments)
            target = {"mean": float(target_mean), "std": float(target_std)}
        return Preprocessing(scales, reweighting, standardisation, target)


def _mean_and_std(
    count: np.ndarray, total: np.ndarray, total_sq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation from sums (a spread of zero becomes 1: no scaling)."""
    mean = total / max(float(count), 1.0)
    std = np.sqrt(np.maximum(total_sq / max(float(count), 1.0) - mean**2, 0.0))
    return mean, np.where(std > 0, std, 1.0)


def class_count(spec: DatasetSpec, labels: np.ndarray) -> int:
    """Number of classes: the spec's class names, else one more than the largest label."""
    return len(spec.classes) if spec.classes else int(labels.max(initial=0)) + 1


def _weight_groups(spec: DatasetSpec, events: Processed) -> np.ndarray:
    """Labels for weight normalisation: the class, or one group for regression."""
    if spec.task == "regression":
        return np.zeros(len(events), dtype=np.int64)
    return events.label


def _pad_value(spec: DatasetSpec, name: str) -> float:
    definition = spec.inputs[name]
    return definition.pad_value if isinstance(definition, ParticlesInput) else 0.0


def _columns(spec: DatasetSpec, name: str) -> list[str]:
    definition = spec.inputs[name]
    return [] if isinstance(definition, ImageInput) else list(definition.columns)
