"""The run directory: the one object that travels from training to evaluation and deployment.

Layout (``docs/runs.md``)::

    RUN_DIR/
      config.yaml          the resolved config (every default filled in)
      run.json             status, task, class names, input schema, model family,
                           library versions, times
      preprocessing.json   fitted weights normalisation and standardisation
      model.pt             final weights (state dict of the best epoch; weights_only)
      model.joblib         instead of model.pt for scikit-learn estimators (bdt)
      history.csv          one row per epoch: losses, validation AUC, learning rate
      checkpoints/         last.ckpt and best.ckpt (Lightning), for --resume
      logs/                TensorBoard or MLflow logs when a logger is chosen
      export/scoring.onnx  the graph ``--engine onnx`` scores with, exported on first use
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from heplearn.config import parse_spec
from heplearn.data.preprocessing import Preprocessing
from heplearn.data.spec import DatasetSpec
from heplearn.errors import InputError
from heplearn.files import write_text_atomic
from heplearn.models.schema import InputInfo, InputSchema
from heplearn.training.task import Task

if TYPE_CHECKING:  # the validated config and the model import the model zoo (torch),
    # which scoring with ONNX Runtime does without: they are imported where they are used
    from heplearn.training.config import RunConfig

CONFIG = "config.yaml"
INFO = "run.json"
PREPROCESSING = "preprocessing.json"
WEIGHTS = "model.pt"
ESTIMATOR = "model.joblib"
HISTORY = "history.csv"
CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
BEST_CHECKPOINT = "best.ckpt"


@dataclass
class RunDirectory:
    """A training run on disk; every later step needs only this.

    Parameters
    ----------
    path : Path
        The directory (``--out`` of ``heplearn train``).
    """

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def checkpoints(self) -> Path:
        """Folder of Lightning checkpoints."""
        return self.path / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        """The checkpoint written at the end of the latest finished epoch."""
        return self.checkpoints / LAST_CHECKPOINT

    def exists(self) -> bool:
        """Whether a run was started here (its config is written first)."""
        return (self.path / CONFIG).is_file()

    def config(self) -> "RunConfig":
        """The resolved config of the run."""
        from heplearn.training.config import parse_run_config

        return parse_run_config(self.config_data())

    def config_data(self) -> dict[str, Any]:
        """The resolved config as plain data, not validated (no model zoo imported)."""
        self._require(CONFIG)
        data: dict[str, Any] = yaml.safe_load((self.path / CONFIG).read_text())
        return data

    def model_data(self) -> DatasetSpec:
        """The dataset spec reduced to the inputs the model reads, as
        :meth:`RunConfig.model_data <heplearn.training.config.RunConfig.model_data>` makes
        it, read without the model section of the config (so without torch): the inputs
        are those recorded in ``run.json``.
        """
        spec = parse_spec(DatasetSpec, self.config_data()["data"], prefix="data.")
        chosen = self.schema()
        inputs = {name: spec.inputs[name] for name in spec.inputs if name in chosen}
        standardise = {k: v for k, v in spec.standardise.items() if k in chosen}
        return spec.model_copy(update={"inputs": inputs, "standardise": standardise})

    def info(self) -> dict[str, Any]:
        """The content of ``run.json``."""
        self._require(INFO)
        info: dict[str, Any] = json.loads((self.path / INFO).read_text())
        return info

    def write_info(self, info: dict[str, Any]) -> None:
        """Replace ``run.json`` atomically."""
        write_text_atomic(self.path / INFO, json.dumps(info, indent=2) + "\n")

    def update_info(self, **changes: Any) -> None:
        """Change some keys of ``run.json``."""
        self.write_info({**self.info(), **changes})

    def task(self) -> Task:
        """The learning task (kind, outputs, loss)."""
        return Task.from_dict(self.info()["task"])

    def class_names(self) -> list[str] | None:
        """Class names in label order (``None`` for regression)."""
        names: list[str] | None = self.info()["class_names"]
        return names

    def schema(self) -> InputSchema:
        """Every input of the dataset spec, as the model expects it."""
        return {item["name"]: InputInfo.from_dict(item) for item in self.info()["inputs"]}

    def preprocessing(self) -> Preprocessing:
        """The preprocessing fitted on the training split."""
        self._require(PREPROCESSING)
        return Preprocessing.load(self.path / PREPROCESSING)

    def history(self) -> list[dict[str, float]]:
        """Rows of ``history.csv`` (empty before the first epoch ends)."""
        path = self.path / HISTORY
        if not path.is_file():
            return []
        lines = path.read_text().splitlines()
        header = lines[0].split(",")
        return [
            {key: float(value) for key, value in zip(header, line.split(","), strict=True)}
            for line in lines[1:]
        ]

    def check_finished(self) -> None:
        """Refuse a run whose training has not finished (no final weights yet)."""
        info = self.info()
        if info.get("status") != "finished":
            raise InputError(
                f"{self.path} holds an unfinished run (status {info.get('status')!r}); "
                f"continue it with heplearn train CONFIG --out {self.path} --resume"
            )

    def load_model(self) -> Any:
        """The trained model, in evaluation mode (torch) or fitted (estimator)."""
        import torch

        from heplearn.models.registry import build_model, model_family

        self.check_finished()
        config = self.config()
        estimator = model_family(config.model.name).estimator
        if estimator is not None:
            self._require(ESTIMATOR)
            return estimator.load(self.path / ESTIMATOR)
        self._require(WEIGHTS)
        model = build_model(config.model, self.schema(), self.task().n_outputs)
        state = torch.load(self.path / WEIGHTS, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return model.eval()

    def _require(self, name: str) -> None:
        if not (self.path / name).is_file():
            raise InputError(
                f"{self.path} is not a heplearn run directory (no {name}); "
                "give the --out directory of heplearn train"
            )
