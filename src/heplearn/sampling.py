"""``heplearn sample``: draw new events from a generative run and write them as a ROOT file.

A generative run (a normalizing flow of jet features, a diffusion model of jet images)
draws events in the standardised units it was trained in; :class:`Sampler` converts them
back to physical units with the run's own preprocessing. :func:`sample_run` writes them
to a TTree ``Events``: one branch per generated column (named after the column's
expression, made a valid branch name: ``log(jet_mass)`` becomes ``log_jet_mass``), a
fixed-size array branch per image input (``float[C][H][W]``), jagged branches per
particles input, and one branch per condition column.

A conditional model (a flow with ``model.condition``) draws each event for given values
of its condition input: by default resampled with replacement from the run's own test
split (each event with a probability proportional to its weight), or drawn uniformly in
ranges given per column (``--condition jet_pt=550:650``; a single value fixes it).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch

from heplearn.data.batch import mask_key
from heplearn.data.dataset import load_dataset
from heplearn.errors import ConfigError, InputError, OutputError
from heplearn.io import write_tree
from heplearn.models.base import ModelParams, Samples
from heplearn.models.registry import MODELS
from heplearn.models.schema import InputSchema
from heplearn.run_directory import RunDirectory

TREE = "Events"
DEFAULT_BATCH = 65_536

ConditionRanges = Mapping[str, tuple[float, float]]


def generative_models() -> list[str]:
    """Names of the registered model families that draw new events."""
    return [name for name, family in MODELS.items() if family.samples]


def condition_names(params: ModelParams) -> list[str]:
    """The inputs a generative model is given rather than draws (``model.condition``)."""
    condition = getattr(params, "condition", None)
    if condition is None:
        return []
    return [condition] if isinstance(condition, str) else list(condition)


def require_generative(run: RunDirectory) -> None:
    """Raise :class:`ConfigError` unless ``run`` holds a model that draws events.

    Raises
    ------
    ConfigError
        For a classifier, a regression or an autoencoder without a prior, naming the
        run's task and model and the models that can be sampled.
    """
    model = run.config().model.name
    if not MODELS[model].samples:
        kind = run.task().kind
        article = "an" if kind[0] in "aeiou" else "a"
        raise ConfigError(
            f"{run.path} is {article} {kind} run of model {model!r}; heplearn sample needs "
            f"a generative run (model {', '.join(generative_models())})"
        )


def safe_branch_name(expression: str) -> str:
    """A ROOT branch name for a column expression: ``log(jet_mass)`` → ``log_jet_mass``."""
    name = re.sub(r"\W+", "_", expression).strip("_") or "column"
    return f"_{name}" if name[0].isdigit() else name


def _unique(names: Sequence[str]) -> list[str]:
    """The names, with ``_2``, ``_3``... appended to repeats."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def parse_condition_ranges(texts: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Read ``column=low:high`` (uniform in the range) or ``column=value`` (fixed) options.

    Raises
    ------
    ConfigError
        For text without ``=``, values that are not numbers, or ``low > high``.
    """
    ranges = {}
    for text in texts:
        column, separator, values = text.rpartition("=")
        low_text, _, high_text = values.partition(":")
        try:
            low = float(low_text)
            high = float(high_text) if high_text else low
        except ValueError:
            low = high = float("nan")
        if not separator or not column or not np.isfinite([low, high]).all():
            raise ConfigError(
                f"--condition {text!r}: write column=low:high or column=value, e.g. jet_pt=550:650"
            )
        if low > high:
            raise ConfigError(f"--condition {text!r}: the lower edge is above the upper one")
        ranges[column.strip()] = (low, high)
    return ranges


def held_out_split(run: RunDirectory, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The run's test split, preprocessed as in training: inputs, masks, label, weight.

    Parameters
    ----------
    run : RunDirectory
        A finished run.
    names : sequence of str, optional
        The inputs to load (default: every input the model reads).
    """
    config = run.config()
    spec = config.model_data()
    chosen = list(spec.inputs) if names is None else list(names)
    inputs = {name: spec.inputs[name] for name in chosen}
    standardise = {k: v for k, v in spec.standardise.items() if k in inputs}
    spec = spec.model_copy(update={"inputs": inputs, "standardise": standardise})
    return load_dataset(spec, config.seed, run.preprocessing()).arrays("test")


class Sampler:
    """Draws events from a generative run, in batches, reproducibly from a seed.

    Parameters
    ----------
    run : RunDirectory
        A finished generative run.
    batch_size : int
        Events drawn per call of the model.

    Raises
    ------
    ConfigError
        If the run is not generative.
    """

    def __init__(self, run: RunDirectory, batch_size: int = DEFAULT_BATCH) -> None:
        require_generative(run)
        self.run = run
        self.schema: InputSchema = run.schema()
        self.preprocessing = run.preprocessing()
        self.conditions = condition_names(run.config().model)
        self.model: Any = run.load_model()
        if not isinstance(self.model, Samples):
            raise ConfigError(f"the model of {run.path} cannot draw events (no sample method)")
        self.batch_size = batch_size

    def draw(
        self, count: int, conditions: Mapping[str, np.ndarray] | None = None, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        """``count`` events in standardised units (and the masks of particle inputs).

        Parameters
        ----------
        count : int
            Events to draw.
        conditions : mapping of str to numpy.ndarray, optional
            The standardised condition inputs, ``count`` rows each (conditional models).
        seed : int
            Seed of torch's random numbers for this draw (the global state is restored).
        """
        if count < 0:
            raise ConfigError(f"--n: cannot draw {count} events")
        missing = [name for name in self.conditions if conditions is None or name not in conditions]
        if missing:
            raise ConfigError(f"the model is conditioned on {missing}; give their values")
        parts: list[dict[str, np.ndarray]] = []
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            for start in range(0, count, self.batch_size):
                size = min(self.batch_size, count - start)
                given = {
                    name: torch.from_numpy(
                        np.ascontiguousarray(values[start : start + size], np.float32)
                    )
                    for name, values in (conditions or {}).items()
                    if name in self.conditions
                }
                drawn = self.model.sample(size, given or None)
                parts.append({name: value.detach().cpu().numpy() for name, value in drawn.items()})
        if not parts:
            return {name: np.zeros((0, *info.shape), np.float32) for name, info in self._drawn()}
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _drawn(self) -> list[tuple[str, Any]]:
        return [(n, i) for n, i in self.schema.items() if n not in self.conditions]

    def physical(self, name: str, values: np.ndarray) -> np.ndarray:
        """Values of input ``name`` in physical units (the run's standardisation undone)."""
        # float64 arithmetic, rounded to float32 once
        return self.preprocessing.destandardise(name, values, np.float64)

    def conditions_in_ranges(
        self, count: int, ranges: ConditionRanges, *, seed: int = 0
    ) -> dict[str, np.ndarray]:
        """Physical condition values drawn uniformly, column by column, in ``ranges``.

        Raises
        ------
        ConfigError
            When a condition column has no range or a range names no condition column.
        """
        columns = {n: self.schema[n].columns for n in self.conditions}
        known = [column for names in columns.values() for column in names]
        unknown = sorted(set(ranges) - set(known))
        missing = [column for column in known if column not in ranges]
        if unknown or missing:
            problem = f"{unknown} are not condition columns" if unknown else "a range is missing"
            raise ConfigError(
                f"--condition: {problem}; give a range for each of: {', '.join(known) or 'none'}"
            )
        generator = np.random.default_rng(seed)
        return {
            name: np.stack(
                [generator.uniform(*ranges[column], size=count) for column in names], axis=1
            )
            if count
            else np.zeros((0, len(names)))
            for name, names in columns.items()
        }

    def conditions_from_test(self, count: int, *, seed: int = 0) -> dict[str, np.ndarray]:
        """Physical condition values of ``count`` events resampled from the test split.

        Events are drawn with replacement, each with a probability proportional to its
        weight.

        Raises
        ------
        InputError
            When the test split is empty or has negative weights.
        """
        arrays = held_out_split(self.run, self.conditions)
        weights = arrays["weight"].astype(np.float64)
        if len(weights) == 0 or weights.sum() <= 0 or (weights < 0).any():
            raise InputError(
                f"the test split of {self.run.path} has no events with positive weights to "
                "draw conditions from; give ranges with --condition"
            )
        rows = np.random.default_rng(seed).choice(len(weights), count, p=weights / weights.sum())
        return {name: self.physical(name, arrays[name][rows]) for name in self.conditions}


@dataclass(frozen=True)
class SampledFile:
    """What :func:`sample_run` wrote."""

    path: Path
    events: int
    branches: list[str]


def event_branches(
    sampler: Sampler,
    drawn: Mapping[str, np.ndarray],
    physical_conditions: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """Branch name to values (physical units): generated columns, images, particles, conditions.

    Parameters
    ----------
    sampler : Sampler
        Knows the run's schema and preprocessing.
    drawn : mapping of str to numpy.ndarray
        What :meth:`Sampler.draw` returned (standardised).
    physical_conditions : mapping of str to numpy.ndarray
        The condition inputs in physical units.
    """
    names: list[str] = []
    values: list[Any] = []
    for name, info in sampler.schema.items():
        if name in sampler.conditions:
            continue
        if name not in drawn:
            raise InputError(f"the model of {sampler.run.path} did not draw its input {name!r}")
        physical = sampler.physical(name, drawn[name])
        if info.kind == "tabular":
            names += [safe_branch_name(column) for column in info.columns]
            values += [physical[:, index] for index in range(len(info.columns))]
        elif info.kind == "image":
            names.append(safe_branch_name(name))
            values.append(physical)
        else:
            mask = np.asarray(drawn[mask_key(name)], bool)
            counts = mask.sum(axis=1)
            for index, column in enumerate(info.columns):
                names.append(f"{safe_branch_name(name)}_{safe_branch_name(column)}")
                values.append(ak.unflatten(physical[..., index][mask], counts))
    for name in sampler.conditions:
        names += [safe_branch_name(column) for column in sampler.schema[name].columns]
        values += list(np.asarray(physical_conditions[name], np.float32).T)
    return dict(zip(_unique(names), values, strict=True))


def write_events(branches: Mapping[str, Any], path: Path) -> None:
    """Write the branches to a TTree ``Events`` under a temporary name, then rename it.

    Jagged branches ``<input>_<column>`` become one record per input (one counter each);
    the others are written as float32.
    """
    columns = {
        name: values if isinstance(values, ak.Array) else np.ascontiguousarray(values, np.float32)
        for name, values in branches.items()
    }
    write_tree(columns, path, TREE)


def _check_output(out_path: Path, overwrite: bool) -> None:
    if out_path.is_dir():
        raise OutputError(f"--out {out_path} is a directory; give a file name, e.g. samples.root")
    if out_path.exists() and not overwrite:
        raise OutputError(f"{out_path} exists; choose another --out or pass --overwrite")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create {out_path.parent}: {error.strerror}") from None


def sample_run(
    run_dir: Path | str,
    count: int,
    out_path: Path | str,
    *,
    conditions_from: ConditionRanges | None = None,
    seed: int = 0,
    overwrite: bool = False,
    batch_size: int = DEFAULT_BATCH,
) -> SampledFile:
    """Draw ``count`` events from a generative run and write them to a ROOT file.

    Parameters
    ----------
    run_dir : Path or str
        A finished generative run (``heplearn train --out``).
    count : int
        Events to draw.
    out_path : Path or str
        The ROOT file to write (tree ``Events``), atomically.
    conditions_from : mapping of str to (float, float), optional
        For a conditional model: per condition column, the range ``(low, high)`` its
        values are drawn uniformly from (equal edges fix the value). ``None``: resample
        the conditions of the run's test split.
    seed : int
        Seed of the conditions and of the drawing.
    overwrite : bool
        Replace an existing ``out_path``.
    batch_size : int
        Events drawn per call of the model.

    Returns
    -------
    SampledFile
        The path, the number of events and the branch names.

    Raises
    ------
    ConfigError
        If the run is not generative, or the condition ranges do not fit its conditions.
    OutputError
        If ``out_path`` exists (without ``overwrite``) or cannot be created.
    """
    run = RunDirectory(Path(run_dir))
    out_path = Path(out_path)
    if count <= 0:
        raise ConfigError(f"--n: draw at least one event, not {count}")
    sampler = Sampler(run, batch_size)
    if conditions_from is not None and not sampler.conditions:
        raise ConfigError(f"--condition: the model of {run.path} is unconditional")
    physical: dict[str, np.ndarray] = {}
    if conditions_from is not None:
        physical = sampler.conditions_in_ranges(count, conditions_from, seed=seed)
    _check_output(out_path, overwrite)
    if sampler.conditions and conditions_from is None:
        physical = sampler.conditions_from_test(count, seed=seed)
    standardised = {
        name: sampler.preprocessing.standardise_input(name, values, np.float64)
        for name, values in physical.items()
    }
    drawn = sampler.draw(count, standardised, seed=seed)
    branches = event_branches(sampler, drawn, physical)
    write_events(branches, out_path)
    return SampledFile(out_path, count, list(branches))
