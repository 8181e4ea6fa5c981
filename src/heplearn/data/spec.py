"""The dataset spec: what to read, select, compute, weight, standardise and split.

One validated object, written in YAML (the ``data`` section of a config) or built in
Python. ``docs/config.md`` documents every key with examples.
"""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heplearn.config import load_yaml, parse_spec
from heplearn.data.labels import dataset_labels
from heplearn.data.readers.registry import FORMATS, check_format
from heplearn.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """A group of files read the same way, optionally all of one class."""

    files: list[str] = Field(min_length=1, description="paths or globs")
    tree: str | None = Field(None, description="TTree/RNTuple name; optional if only one")
    format: str = Field("auto", description=f"one of {', '.join(FORMATS)}")
    label: int | str | None = Field(None, description="class index or name of every event")
    selection: str | None = Field(None, description="extra selection for these files")

    @field_validator("format")
    @classmethod
    def _known_format(cls, format: str) -> str:
        try:
            return check_format(format)
        except ConfigError as error:
            raise ValueError(str(error)) from None


class TabularInput(_Strict):
    """One value per event and column: ``(N, features)``."""

    kind: Literal["tabular"]
    columns: list[str] = Field(min_length=1, description="branches or expressions")


class ParticlesInput(_Strict):
    """Ragged collections padded to ``(N, length, features)`` with a mask ``(N, length)``."""

    kind: Literal["particles"]
    columns: list[str] = Field(min_length=1, description="jagged branches or expressions")
    length: int = Field(100, gt=0, description="entries kept per event (padding beyond)")
    sort_by: str | None = Field(None, description="jagged expression; descending order")
    pad_value: float = 0.0


class ImageInput(_Strict):
    """Jet images ``(N, channels, bins, bins)`` from constituents (see heplearn.data.images)."""

    kind: Literal["image"]
    eta: str = "part_deta"
    phi: str = "part_dphi"
    weight: str = "part_pt"
    bins: int = Field(40, gt=0)
    extent: float = Field(0.8, gt=0, description="half-width in η and φ")
    centre: Literal["axis", "leading", "centroid"] = "axis"
    rotate: bool = False
    flip: bool = False
    normalise: Literal["none", "sum", "max"] = "sum"
    channels: list[str] | None = Field(
        None, description="one boolean per-constituent expression per channel"
    )


Input = Annotated[TabularInput | ParticlesInput | ImageInput, Field(discriminator="kind")]


class Normalisation(_Strict):
    """Scale weights so that each class (or the whole sample) sums to / averages ``value``."""

    to: Literal["sum", "mean"] = "mean"
    value: float = Field(1.0, gt=0)
    per_class: bool = True


class Reweighting(_Strict):
    """Reweight one variable with histograms: flat, or to the distribution of a class."""

    variable: str
    target: str = Field("flat", description="'flat' or the name of the class to match")
    bins: int = Field(40, gt=1)
    range: tuple[float, float] | None = None


class Weights(_Strict):
    """Per-event weights: a product of branches or expressions, then normalisation."""

    product: list[str] = Field(default_factory=list, description="empty: every weight is 1")
    normalise: Normalisation | None = Normalisation()
    balance_classes: bool = False
    reweight: Reweighting | None = None


class Split(_Strict):
    """Train/validation/test assignment, deterministic from the seed.

    By fractions (a hash of seed, file and entry, so in-memory and streaming loading agree),
    or, with ``event_column``, by the event number modulo ``modulus``.
    """

    train: float = Field(0.6, ge=0, le=1)
    validation: float = Field(0.2, ge=0, le=1)
    test: float = Field(0.2, ge=0, le=1)
    event_column: str | None = None
    modulus: int = Field(5, gt=1)
    validation_remainders: list[int] = Field(default_factory=lambda: [3])
    test_remainders: list[int] = Field(default_factory=lambda: [4])
    folds: int | None = Field(
        None,
        ge=3,
        description="set by training.folds: events fall into this many folds (event_column "
        "modulo folds, or a hash); fold `fold` is the test split, the next the validation",
    )
    fold: int = Field(0, ge=0, description="with folds: the fold that is the test split")

    @model_validator(mode="after")
    def _fold_exists(self) -> "Split":
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"fold {self.fold} does not exist among {self.folds} folds")
        return self

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> "Split":
        total = self.train + self.validation + self.test
        if abs(total - 1) > 1e-6:
            raise ValueError(
                f"train + validation + test = {total:g}; the split fractions must sum to 1"
            )
        return self


class DatasetSpec(_Strict):
    """Everything that turns files into labelled, weighted, split model inputs."""

    sources: list[Source] = Field(min_length=1)
    classes: list[str] | None = Field(None, description="class names, index = label")
    label: str | None = Field(None, description="branch/expression giving the class index")
    target: str | None = Field(None, description="regression target expression")
    selection: str | None = None
    variables: dict[str, str] = Field(default_factory=dict, description="derived columns")
    inputs: dict[str, Input] = Field(min_length=1)
    weights: Weights = Weights()
    standardise: dict[str, Literal["auto", "none"] | dict[str, tuple[float, float]]] = Field(
        default_factory=dict,
        description="per input: 'auto' (fit on train), 'none', or {column: [mean, std]}; "
        "default auto for tabular and particles, none for images",
    )
    split: Split = Split()
    nonfinite: Literal["error", "drop"] = "error"
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="axis labels of variables, 'text [unit]' (default: the metadata.json "
        "beside the files, then heplearn.data.labels.KNOWN_LABELS)",
    )

    @field_validator("classes")
    @classmethod
    def _distinct_classes(cls, classes: list[str] | None) -> list[str] | None:
        if classes is not None and len(set(classes)) != len(classes):
            raise ValueError(f"class names must be distinct, got {classes}")
        return classes

    @model_validator(mode="after")
    def _labels_are_defined(self) -> "DatasetSpec":
        per_source = [source.label is not None for source in self.sources]
        if self.target is not None:
            if self.label is not None or any(per_source):
                raise ValueError("a regression spec (target) takes no label")
            return self
        if self.label is not None and any(per_source):
            raise ValueError("give labels either per source or with 'label', not both")
        if self.label is None and not all(per_source):
            raise ValueError("every source needs a label (or set 'label' to a branch, or 'target')")
        names = [source.label for source in self.sources if isinstance(source.label, str)]
        if names and self.classes is None:
            raise ValueError(f"labels {names} are class names: list them under 'classes'")
        unknown = [name for name in names if self.classes and name not in self.classes]
        if unknown:
            raise ValueError(f"labels {unknown} are not among classes {self.classes}")
        unknown_inputs = set(self.standardise) - set(self.inputs)
        if unknown_inputs:
            raise ValueError(
                f"standardise names {sorted(unknown_inputs)}, which are not inputs "
                f"({', '.join(self.inputs)})"
            )
        return self

    def variable_labels(self) -> dict[str, str]:
        """Axis labels of this dataset's variables (see :mod:`heplearn.data.labels`)."""
        files = [file for source in self.sources for file in source.files]
        return dataset_labels(files, self.labels)

    @property
    def task(self) -> Literal["classification", "regression"]:
        """``regression`` when a target is given, else ``classification``."""
        return "regression" if self.target is not None else "classification"


def load_dataset_spec(path: Path | str) -> DatasetSpec:
    """Read a dataset spec from YAML: the whole file, or its ``data`` section."""
    data = load_yaml(path)
    if isinstance(data, dict) and "data" in data:
        return parse_spec(DatasetSpec, data["data"], prefix="data.")
    return parse_spec(DatasetSpec, data)
