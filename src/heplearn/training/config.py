"""The run config: a seed, the dataset spec, the model and how to train it.

``heplearn train CONFIG.yaml --set training.epochs=3`` reads it with
:func:`load_run_config`; ``heplearn.train(config)`` takes the same object (or a dict).
"""

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from heplearn.config import load_yaml, parse_spec
from heplearn.data.spec import DatasetSpec
from heplearn.errors import ConfigError
from heplearn.models.base import ModelParams
from heplearn.models.registry import model_params, select_inputs
from heplearn.models.schema import input_schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Optimizer(_Strict):
    """AdamW (decoupled weight decay) or Adam."""

    name: Literal["adamw", "adam"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)


class Schedule(_Strict):
    """Learning-rate schedule over the whole run, stepped every optimiser step."""

    name: Literal["constant", "cosine", "onecycle", "step"] = "constant"
    warmup_fraction: float = Field(0.0, ge=0, lt=1, description="onecycle: rising part")
    step_epochs: int = Field(10, gt=0, description="step: epochs between decays")
    gamma: float = Field(0.1, gt=0, description="step: factor per decay")
    final_fraction: float = Field(0.0, ge=0, le=1, description="cosine: final lr / lr")


class EarlyStopping(_Strict):
    """Stop when the validation loss has not improved for ``patience`` epochs."""

    patience: int = Field(5, gt=0)
    min_delta: float = Field(0.0, ge=0)


class Streaming(_Strict):
    """Read the data chunk by chunk instead of all at once (data larger than memory)."""

    chunk_entries: int = Field(50_000, gt=0)
    shuffle_buffer: int = Field(100_000, ge=0)
    workers: int = Field(0, ge=0, description="DataLoader worker processes")


class TrainingConfig(_Strict):
    """How to train: epochs, batches, optimiser, schedule and the machinery around them."""

    epochs: int = Field(10, gt=0)
    batch_size: int = Field(256, gt=0)
    seed: int | None = Field(
        None,
        description="seed of the initialisation, the batch order and a bdt's trees (default: "
        "the run's seed, which also fixes the split); heplearn train --seeds varies it",
    )
    folds: int | None = Field(
        None,
        ge=3,
        description="k-fold: train this many models, each tested on one fold of the events "
        "and validated on the next (docs/guide-kfold-and-seeds.md)",
    )
    optimizer: Optimizer = Optimizer()
    schedule: Schedule = Schedule()
    loss: Literal["auto", "bce", "cross-entropy", "mse", "mae", "huber"] = Field(
        "auto", description="auto: bce (2 classes), cross-entropy (more), mse (regression)"
    )
    gradient_clip: float | None = Field(None, gt=0, description="max gradient norm")
    early_stopping: EarlyStopping | None = None
    shuffle: bool = Field(True, description="reshuffle the training events every epoch")
    streaming: Streaming | None = Field(None, description="stream instead of loading in memory")
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | Literal["auto"] = "auto"
    num_nodes: int = Field(1, gt=0, description="machines, each running `devices` processes")
    strategy: Literal["auto", "ddp", "ddp_spawn"] = "auto"
    precision: Literal["32-true", "16-mixed", "bf16-mixed"] = "32-true"
    compile: bool = Field(False, description="torch.compile the model")
    threads: int | None = Field(
        None,
        gt=0,
        description="torch CPU threads of each process (default: OMP_NUM_THREADS if set, "
        "else cores / processes on the machine; one process: torch's)",
    )
    logger: Literal["none", "tensorboard", "mlflow"] = "none"
    progress_bar: bool = True
    classes: list[str] | None = Field(
        None,
        description="train and validate on events of these classes only (e.g. [qcd] for an "
        "anomaly detector trained on background); the test split keeps every class",
    )

    @property
    def shows_steps(self) -> bool:
        """Whether step losses are shown (progress bar) or logged (a logger)."""
        return self.progress_bar or self.logger != "none"


class EvaluationConfig(_Strict):
    """What ``heplearn evaluate`` shows beyond the metrics of the task."""

    observers: list[str] = Field(
        default_factory=list,
        description="expressions (e.g. jet_pt, jet_mass) for efficiency-vs and sculpting plots",
    )
    observer_bins: dict[str, int | list[float]] = Field(
        default_factory=dict, description="bins per observer: a number or the edges"
    )
    working_point: float = Field(0.5, gt=0, le=1, description="signal efficiency of the cut")
    style: Literal["CMS", "ATLAS", "LHCb"] = "CMS"
    bootstrap: int = Field(100, ge=0, description="Poisson bootstrap replicas")
    images: str | None = Field(
        None, description="image input of the data shown in galleries (default: the model's)"
    )


class RunConfig(_Strict):
    """A whole training run: ``seed``, ``data``, ``model``, ``training`` and ``evaluation``."""

    seed: int = 42
    data: DatasetSpec
    model: ModelParams
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()

    @model_validator(mode="before")
    @classmethod
    def _model_of_its_family(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("model"), dict):
            values = {**values, "model": model_params(values["model"])}
        return values

    @model_validator(mode="after")
    def _model_reads_the_inputs(self) -> "RunConfig":
        select_inputs(self.model, input_schema(self.data))
        return self

    @model_validator(mode="after")
    def _folds_given_once(self) -> "RunConfig":
        if self.training.folds is not None and self.data.split.folds is not None:
            raise ConfigError(
                "data.split.folds is set for each fold by training.folds; give training.folds only"
            )
        return self

    @model_validator(mode="after")
    def _training_classes_exist(self) -> "RunConfig":
        chosen = self.training.classes
        if chosen is None:
            return self
        known = self.data.classes or []
        unknown = [name for name in chosen if name not in known]
        if unknown or not chosen:
            raise ConfigError(
                f"training.classes: {unknown or chosen} are not classes of the data; "
                f"data.classes lists {known or 'none'}"
            )
        if self.training.streaming is not None:
            raise ConfigError(
                "training.classes cannot be combined with training.streaming yet; train in "
                "memory, or select the classes with data.selection"
            )
        return self

    @property
    def training_seed(self) -> int:
        """Seed of the initialisation and batch order: ``training.seed``, else ``seed``.

        The split always follows ``seed``, so runs that differ in ``training.seed`` share
        their training, validation and test events.
        """
        return self.seed if self.training.seed is None else self.training.seed

    def model_data(self) -> DatasetSpec:
        """The dataset spec reduced to the inputs the model reads (nothing else is loaded)."""
        chosen = select_inputs(self.model, input_schema(self.data))
        standardise = {k: v for k, v in self.data.standardise.items() if k in chosen}
        inputs = {name: self.data.inputs[name] for name in chosen}
        return self.data.model_copy(update={"inputs": inputs, "standardise": standardise})

    def to_dict(self) -> dict[str, Any]:
        """Plain data with every default filled in (the run directory's ``config.yaml``)."""
        data = self.model_dump(mode="json")
        data["model"] = self.model.model_dump(mode="json")
        return data

    def to_yaml(self) -> str:
        """The resolved config as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys from ``key=value`` strings; values are read as YAML (``3``, ``[1,2]``).

    Raises
    ------
    ConfigError
        For an override without ``=`` or one that descends into a non-mapping.
    """
    data = yaml.safe_load(yaml.safe_dump(data))  # a deep copy
    for override in overrides:
        key, separator, text = override.partition("=")
        if not separator or not key:
            raise ConfigError(f"--set {override!r}: write key=value, e.g. training.epochs=3")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section of the config")
            node = child
        node[parts[-1]] = yaml.safe_load(text)
    return data


def parse_run_config(data: Any) -> RunConfig:
    """Validate plain data as a run config; errors name the dotted key."""
    if not isinstance(data, dict):
        raise ConfigError("a config is a mapping with seed, data, model and training")
    if "model" not in data:
        raise ConfigError("model: missing; give at least model.name")
    return parse_spec(RunConfig, data)


def load_run_config(path: Path | str, overrides: list[str] | None = None) -> RunConfig:
    """Read a run config from YAML and apply ``--set`` overrides.

    ``data`` may be the path of a YAML file holding the dataset spec, relative to the
    config file, so that the configs of several models share one spec.
    """
    path = Path(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a mapping with seed, data, model and training")
    if isinstance(data.get("data"), str):
        data = {**data, "data": load_yaml(path.parent / data["data"])}
    return parse_run_config(apply_overrides(data, overrides or []))
