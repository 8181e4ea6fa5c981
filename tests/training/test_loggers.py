"""Experiment loggers: where MLflow writes a run's metrics, and a missing package."""

import sys
from pathlib import Path

import numpy as np
import pytest
import uproot

from heplearn.errors import ConfigError
from heplearn.training.fit import train

EVENTS = 400


def write_class(path: Path, shift: float, seed: int) -> Path:
    """Two features, the second shifted for one class: a quick, learnable toy."""
    generator = np.random.default_rng(seed)
    with uproot.recreate(path) as file:
        file["Events"] = {
            "a": generator.normal(0.0, 1.0, EVENTS).astype(np.float32),
            "b": generator.normal(shift, 1.0, EVENTS).astype(np.float32),
        }
    return path


def toy_config(folder: Path, logger: str) -> dict:
    data = {
        "sources": [
            {"files": [str(write_class(folder / "background.root", 0.0, 1))], "label": "bkg"},
            {"files": [str(write_class(folder / "signal.root", 1.5, 2))], "label": "sig"},
        ],
        "classes": ["bkg", "sig"],
        "inputs": {"features": {"kind": "tabular", "columns": ["a", "b"]}},
        "split": {"train": 0.6, "validation": 0.2, "test": 0.2},
    }
    training = {"epochs": 2, "batch_size": 64, "progress_bar": False, "logger": logger}
    model = {"name": "mlp", "widths": [8]}
    return {"seed": 1, "data": data, "model": model, "training": training}


# mlflow 3.17's database code uses a loader strategy SQLAlchemy 2.1 deprecates (not shown to
# users: Python hides DeprecationWarning outside __main__)
@pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
)
def test_mlflow_logs_the_epoch_metrics_to_a_database_in_the_run(tmp_path) -> None:
    mlflow = pytest.importorskip("mlflow")
    run = train(toy_config(tmp_path, "mlflow"), tmp_path / "run")
    database = run.path / "logs" / "mlflow.db"
    assert database.is_file()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{database}")
    experiment = client.get_experiment_by_name("run")  # named after the run directory
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_name == "run"
    history = run.history()
    assert len(history) == 2
    for name in ("train_loss", "val_loss", "val_auc"):  # one value an epoch, as history.csv
        values = [metric.value for metric in client.get_metric_history(logged.info.run_id, name)]
        np.testing.assert_allclose(values, [row[name] for row in history], rtol=1e-6)


def test_a_missing_mlflow_is_one_line_naming_the_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if heplearn[tracking] were not
    with pytest.raises(ConfigError, match=r"^training\.logger: mlflow .*needs the mlflow pack"):
        train(toy_config(tmp_path, "mlflow"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
