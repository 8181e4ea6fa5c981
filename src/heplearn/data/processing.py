"""Turning one chunk of raw columns into model inputs, labels, raw weights and splits.

The same :class:`ChunkProcessor` serves the in-memory loader (all chunks, concatenated)
and the streaming loader (one chunk at a time), so both produce identical events.
"""

from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from heplearn.data.expressions import Expression, parse_expression
from heplearn.data.images import ImageSpec, jet_images
from heplearn.data.padding import pad_collection, select_events
from heplearn.data.readers import expand_files
from heplearn.data.spec import DatasetSpec, ImageInput, ParticlesInput, Source, TabularInput
from heplearn.data.splits import assign_splits
from heplearn.data.weight_diagnostics import refuse_nonfinite_weights
from heplearn.errors import ConfigError, InputError

Columns = dict[str, np.ndarray | ak.Array]
# Input name -> float32 mean and standard deviation of each feature.
Scaling = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class Processed:
    """The selected events of a chunk, before weight normalisation and standardisation."""

    inputs: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    label: np.ndarray
    weight: np.ndarray
    split: np.ndarray
    reweight_variable: np.ndarray | None = None
    source_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.label)

    def take(self, keep: np.ndarray | slice) -> "Processed":
        """The events selected by a boolean mask, an index array or a slice (views)."""
        return Processed(
            inputs={name: values[keep] for name, values in self.inputs.items()},
            masks={name: values[keep] for name, values in self.masks.items()},
            label=self.label[keep],
            weight=self.weight[keep],
            split=self.split[keep],
            reweight_variable=None
            if self.reweight_variable is None
            else self.reweight_variable[keep],
            source_index=self.source_index[keep],
        )

    @staticmethod
    def concatenate(parts: list["Processed"]) -> "Processed":
        """Join chunks, event after event."""
        first = parts[0]
        return Processed(
            inputs={n: np.concatenate([p.inputs[n] for p in parts]) for n in first.inputs},
            masks={n: np.concatenate([p.masks[n] for p in parts]) for n in first.masks},
            label=np.concatenate([p.label for p in parts]),
            weight=np.concatenate([p.weight for p in parts]),
            split=np.concatenate([p.split for p in parts]),
            reweight_variable=None
            if first.reweight_variable is None
            else np.concatenate([p.reweight_variable for p in parts]),
            source_index=np.concatenate([p.source_index for p in parts]),
        )


def _scalar(values: np.ndarray | ak.Array, what: str) -> np.ndarray:
    """Check that an expression gave one number per event and return it as numpy."""
    if isinstance(values, ak.Array):
        if values.ndim != 1:
            raise InputError(
                f"{what} gives a list per event; it must give one number per event "
                "(reduce it, e.g. with sum(...) or max(...))"
            )
        values = ak.to_numpy(values)
    return np.asarray(values)


class ChunkProcessor:
    """Compiles a dataset spec once and applies it to chunks of raw columns.

    Parameters
    ----------
    spec : DatasetSpec
        The validated dataset spec.
    seed : int
        Seed of the split assignment.
    """

    def __init__(self, spec: DatasetSpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self.class_names = list(spec.classes) if spec.classes else None
        self._variables = {name: parse_expression(text) for name, text in spec.variables.items()}
        self._selection = parse_expression(spec.selection) if spec.selection else None
        self._source_selections = [
            parse_expression(source.selection) if source.selection else None
            for source in spec.sources
        ]
        self._label = parse_expression(spec.label) if spec.label else None
        self._target = parse_expression(spec.target) if spec.target else None
        self._weights = [parse_expression(text) for text in spec.weights.product]
        self._reweight = (
            parse_expression(spec.weights.reweight.variable) if spec.weights.reweight else None
        )
        self._inputs: dict[str, list[Expression]] = {}
        self._extras: dict[str, dict[str, Expression]] = {}
        for name, definition in spec.inputs.items():
            if isinstance(definition, ImageInput):
                channels = definition.channels or []
                self._inputs[name] = [parse_expression(c) for c in channels]
                self._extras[name] = {
                    axis: parse_expression(getattr(definition, axis))
                    for axis in ("eta", "phi", "weight")
                }
            else:
                self._inputs[name] = [parse_expression(c) for c in definition.columns]
                if isinstance(definition, ParticlesInput) and definition.sort_by:
                    self._extras[name] = {"sort_by": parse_expression(definition.sort_by)}

    def _expressions(self) -> list[Expression]:
        found = [
            *self._variables.values(),
            *(e for e in self._source_selections if e is not None),
            *self._weights,
            *self._input_expressions(),
        ]
        found += [e for e in (self._selection, self._label, self._target, self._reweight) if e]
        return found

    @property
    def required_columns(self) -> set[str]:
        """Branches to read from the files (derived variables excluded)."""
        names = {name for expression in self._expressions() for name in expression.names}
        if self.spec.split.event_column:
            names.add(self.spec.split.event_column)
        return names - set(self._variables)

    def input_columns(self, name: str) -> list[str]:
        """The column (expression) names of an input, in feature order."""
        definition = self.spec.inputs[name]
        if isinstance(definition, ImageInput):
            return definition.channels or ["image"]
        return list(definition.columns)

    def _label_of(self, source: Source, columns: Columns, count: int) -> np.ndarray:
        if self._target is not None:
            return _scalar(self._target.evaluate(columns), "target").astype(np.float32)
        if self._label is not None:
            return _scalar(self._label.evaluate(columns), "label").astype(np.int64)
        label = source.label
        if isinstance(label, str):
            assert self.class_names is not None  # checked by the spec
            label = self.class_names.index(label)
        return np.full(count, label, dtype=np.int64)

    @property
    def _weight_text(self) -> str:
        return " * ".join(expression.text for expression in self._weights)

    def _file_name(self, file_index: int) -> str:
        """The path of the spec's ``file_index``-th file (the order of :func:`spec_files`)."""
        paths = [path for source in self.spec.sources for path in expand_files(source.files)]
        return str(paths[file_index]) if file_index < len(paths) else f"file {file_index}"

    def process(
        self,
        columns: Columns,
        source_index: int,
        file_index: int,
        entry_start: int,
        *,
        split: int | None = None,
        scaling: Scaling | None = None,
        out: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> Processed:
        """Select the chunk's events and compute their inputs, labels, raw weights, splits.

        Parameters
        ----------
        columns : dict
            Raw columns of consecutive entries of one file.
        source_index : int
            Which of the spec's sources the file belongs to.
        file_index : int
            Position of the file among all files of the spec (for the split hash).
        entry_start : int
            Entry number of the chunk's first event in its file.
        split : int, optional
            Keep only the events of this split (0 train, 1 validation, 2 test); the inputs
            of the others are not computed.
        scaling : dict, optional
            Input name to the float32 mean and standard deviation of each of its features:
            those inputs come standardised exactly as :meth:`Preprocessing.standardise`
            makes them (padded entries keep the pad value).
        out : dict, optional
            Particle input name to ``(values, mask)`` arrays with at least as many rows as
            the chunk has entries: the input is padded into their first rows (see
            :func:`pad_collection`), with no new arrays.
        """
        columns = dict(columns)
        count = len(next(iter(columns.values()))) if columns else 0
        for name, expression in self._variables.items():
            columns[name] = expression.evaluate(columns)
        keep = np.ones(count, dtype=bool)
        for selection in (self._selection, self._source_selections[source_index]):
            if selection is not None:
                keep &= _scalar(selection.evaluate(columns), "selection").astype(bool)
        entries = np.arange(entry_start, entry_start + count)
        event_numbers = (
            _scalar(columns[self.spec.split.event_column], "event_column")
            if self.spec.split.event_column
            else None
        )
        splits = assign_splits(self.spec.split, self.seed, file_index, entries, event_numbers)
        if split is not None:
            keep &= splits == split
        if not keep.all():  # (copying every column is not free)
            columns = {name: select_events(values, keep) for name, values in columns.items()}
            splits = splits[keep]
            count = int(keep.sum())

        inputs, masks = self._model_inputs(columns, scaling, out)
        weight = np.ones(count)
        for expression in self._weights:
            weight = weight * _scalar(expression.evaluate(columns), f"weight {expression.text!r}")
        if self.spec.nonfinite == "error" and not np.isfinite(weight).all():
            refuse_nonfinite_weights(
                weight, entries[keep], f"{self._file_name(file_index)} (weight {self._weight_text})"
            )
        return Processed(
            inputs=inputs,
            masks=masks,
            label=self._label_of(self.spec.sources[source_index], columns, count),
            weight=weight.astype(np.float64),
            split=splits,
            reweight_variable=None
            if self._reweight is None
            else _scalar(self._reweight.evaluate(columns), "reweight variable").astype(float),
            source_index=np.full(count, source_index, dtype=np.int32),
        )

    def model_inputs(
        self, columns: Columns, scaling: Scaling | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Inputs and masks of every entry, with no selection, label or weight (prediction).

        Only the derived variables the inputs use are computed, so new files need only
        the branches of :attr:`input_branches`. ``scaling`` standardises inputs while they
        are built, as in :meth:`process`.
        """
        columns = dict(columns)
        for name in self._input_variables():
            columns[name] = self._variables[name].evaluate(columns)
        return self._model_inputs(columns, scaling)

    @property
    def input_branches(self) -> set[str]:
        """Branches the inputs need (through derived variables too): what prediction reads."""
        names = {name for expression in self._input_expressions() for name in expression.names}
        for variable in self._input_variables():
            names |= self._variables[variable].names
        return names - set(self._variables)

    def _input_expressions(self) -> list[Expression]:
        return [
            *(e for group in self._inputs.values() for e in group),
            *(e for group in self._extras.values() for e in group.values()),
        ]

    def _input_variables(self) -> list[str]:
        """Derived variables the inputs depend on, directly or through other variables."""
        needed: set[str] = set()
        pending = {n for e in self._input_expressions() for n in e.names if n in self._variables}
        while pending:
            name = pending.pop()
            needed.add(name)
            pending |= {n for n in self._variables[name].names if n in self._variables} - needed
        return [name for name in self._variables if name in needed]  # definition order

    def _model_inputs(
        self,
        columns: Columns,
        scaling: Scaling | None = None,
        out: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        scaling = scaling or {}
        out = out or {}
        inputs: dict[str, np.ndarray] = {}
        masks: dict[str, np.ndarray] = {}
        for name, definition in self.spec.inputs.items():
            expressions = self._inputs[name]
            scale = scaling.get(name)
            if isinstance(definition, ParticlesInput):
                sort = self._extras.get(name, {}).get("sort_by")
                features = [self._jagged(e, columns, name) for e in expressions]
                inputs[name], masks[name] = pad_collection(
                    features,
                    definition.length,
                    definition.pad_value,
                    None if sort is None else self._jagged(sort, columns, name),
                    scale=scale,
                    out=out.get(name),
                )
                continue
            if isinstance(definition, TabularInput):
                values = [
                    _scalar(e.evaluate(columns), f"input {name!r} column {e.text!r}")
                    for e in expressions
                ]
                inputs[name] = np.stack(values, axis=1).astype(np.float32)
            else:
                inputs[name] = self._images(name, definition, columns)
            if scale is not None:  # the arithmetic of Preprocessing.standardise
                inputs[name] = inputs[name] - scale[0]
                inputs[name] /= scale[1]
        return inputs, masks

    @staticmethod
    def _jagged(expression: Expression, columns: Columns, input_name: str) -> ak.Array:
        values = expression.evaluate(columns)
        if not isinstance(values, ak.Array) or values.ndim != 2:
            raise ConfigError(
                f"input {input_name!r}: {expression.text!r} gives one number per event; "
                "particle inputs need a list per event (a jagged branch such as part_pt)"
            )
        return values

    def _images(self, name: str, definition: ImageInput, columns: Columns) -> np.ndarray:
        axes = {axis: self._jagged(e, columns, name) for axis, e in self._extras[name].items()}
        masks = [self._jagged(e, columns, name) for e in self._inputs[name]] or None
        spec = ImageSpec(
            bins=definition.bins,
            extent=definition.extent,
            centre=definition.centre,
            rotate=definition.rotate,
            flip=definition.flip,
            normalise=definition.normalise,
            channels=tuple(definition.channels or ()),
        )
        return jet_images(axes["eta"], axes["phi"], axes["weight"], spec, masks)
