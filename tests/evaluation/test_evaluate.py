"""One call per task: the metrics it returns, the plots it writes, and metrics.json."""

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.evaluate import Evaluation, evaluate_predictions, write_metrics
from heplearn.evaluation.metrics import auc, background_rejection, roc_curve
from heplearn.evaluation.predictions import Predictions

Factory = Callable[..., Predictions]


@pytest.fixture(scope="module")
def binary_evaluation(
    binary_predictions: Factory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Evaluation, Predictions, Path]:
    test = binary_predictions(seed=2, images=True)
    out_dir = tmp_path_factory.mktemp("binary")
    evaluation = evaluate_predictions(
        binary_predictions(seed=1),
        test,
        "binary",
        ["QCD", "top"],
        out_dir,
        observer_bins={"jet_mass": [0, 50, 100, 150, 200]},
        bootstrap_resamples=20,
        gallery_size=3,
    )
    return evaluation, test, out_dir


def _assert_plots_written(evaluation: Evaluation, plots_dir: Path) -> None:
    for plot in evaluation.plots:
        assert plot.png.parent == plots_dir
        assert plot.png.stat().st_size > 0
        assert plot.pdf.stat().st_size > 0
        assert plot.caption
    assert not list(plots_dir.glob(".*.part"))


def test_binary_metrics(binary_evaluation: tuple[Evaluation, Predictions, Path]) -> None:
    evaluation, test, _ = binary_evaluation
    metrics = evaluation.metrics
    roc = roc_curve(test.scores, test.labels == 1, test.weights)
    assert metrics["task"] == "binary"
    assert metrics["events"] == {"train": 2000, "test": 2000}
    assert metrics["auc"] == pytest.approx(auc(roc))
    assert list(metrics["rejection"]) == ["0.3", "0.5", "0.8"]
    assert metrics["rejection"]["0.5"] == pytest.approx(background_rejection(roc, [0.5])[0])
    assert 0 < metrics["auc_uncertainty"] < 0.05
    assert all(0 < value < math.inf for value in metrics["rejection_uncertainty"].values())
    point = metrics["working_point"]
    assert point["signal_efficiency"] == pytest.approx(0.5, abs=0.01)
    assert point["recall"] == point["signal_efficiency"]
    assert set(metrics["ks"]) == {"QCD", "top"}
    assert metrics["ks"]["top"]["p_value"] > 0.001  # train and test come from one model
    assert metrics["train"]["auc"] == pytest.approx(metrics["auc"], abs=0.05)
    mass = metrics["efficiency_vs"]["jet_mass"]
    assert mass["bin_edges"] == [0, 50, 100, 150, 200]
    assert len(mass["signal_efficiency"]) == 4
    assert metrics["bootstrap"] == {"resamples": 20, "seed": 0}


def test_binary_plots(binary_evaluation: tuple[Evaluation, Predictions, Path]) -> None:
    evaluation, _, out_dir = binary_evaluation
    assert [plot.png.stem for plot in evaluation.plots] == [
        "rejection",
        "roc",
        "scores",
        "efficiency_jet_mass",
        "sculpting_jet_mass",
        "gallery",
        "class_averages",
    ]
    _assert_plots_written(evaluation, out_dir / "plots")


def test_write_metrics_writes_strict_json(tmp_path: Path) -> None:
    path = write_metrics(
        {"rejection": {"0.3": math.inf, "0.5": np.float64(12.5)}, "r2": math.nan, "n": np.int64(3)},
        tmp_path / "metrics.json",
    )
    assert json.loads(path.read_text()) == {
        "rejection": {"0.3": None, "0.5": 12.5},
        "r2": None,
        "n": 3,
    }
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_binary_metrics_round_trip_through_json(
    binary_evaluation: tuple[Evaluation, Predictions, Path], tmp_path: Path
) -> None:
    evaluation, _, _ = binary_evaluation
    written = json.loads(write_metrics(evaluation.metrics, tmp_path / "metrics.json").read_text())
    assert written["auc"] == evaluation.metrics["auc"]
    assert written["rejection"] == evaluation.metrics["rejection"]


def test_multiclass(multiclass_predictions: Factory, tmp_path: Path) -> None:
    names = ["g", "q", "t", "W"]
    test = multiclass_predictions(seed=2)
    evaluation = evaluate_predictions(
        multiclass_predictions(seed=1), test, "multiclass", names, tmp_path, bootstrap_resamples=5
    )
    metrics = evaluation.metrics
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (4, 4)
    assert matrix.sum() == pytest.approx(test.weights.sum())
    assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    np.testing.assert_allclose(np.sum(metrics["confusion_matrix_normalised"], axis=1), 1.0)
    for k, name in enumerate(names):
        roc = roc_curve(test.scores[:, k], test.labels == k, test.weights)
        assert metrics["one_vs_rest"][name]["auc"] == pytest.approx(auc(roc))
        assert set(metrics["one_vs_rest"][name]["rejection"]) == {"0.3", "0.5", "0.8"}
        assert set(metrics["ks"][name]) == set(names)
    assert metrics["auc_macro"] > 0.8
    assert [plot.png.stem for plot in evaluation.plots] == [
        "roc_one_vs_rest",
        "rejection_one_vs_rest",
        "confusion_matrix",
        "confusion_matrix_normalised",
        "scores_g",
        "scores_q",
        "scores_t",
        "scores_W",
    ]
    _assert_plots_written(evaluation, tmp_path / "plots")


def test_regression(regression_predictions: Factory, tmp_path: Path) -> None:
    evaluation = evaluate_predictions(
        regression_predictions(seed=1),
        regression_predictions(seed=2, bias=2.0),
        "regression",
        ["energy"],
        tmp_path,
    )
    metrics = evaluation.metrics
    assert metrics["bias"] == pytest.approx(2.0, abs=0.5)
    assert metrics["rmse"] == pytest.approx(math.hypot(5.0, 2.0), rel=0.1)
    assert metrics["r2"] == pytest.approx(1 - 29 / 400, abs=0.03)
    assert metrics["train"]["bias"] == pytest.approx(0.0, abs=0.5)
    assert metrics["ks"]["p_value"] < 0.5
    assert [plot.png.stem for plot in evaluation.plots] == ["parity", "residuals"]
    _assert_plots_written(evaluation, tmp_path / "plots")


def test_bootstrap_can_be_switched_off(binary_predictions: Factory, tmp_path: Path) -> None:
    predictions = binary_predictions(n=300)
    predictions.observers = {}
    metrics = evaluate_predictions(
        predictions, predictions, "binary", ["b", "s"], tmp_path, bootstrap_resamples=0
    ).metrics
    assert math.isnan(metrics["auc_uncertainty"])
    assert metrics["bootstrap"]["resamples"] == 0
    written = json.loads(write_metrics(metrics, tmp_path / "metrics.json").read_text())
    assert written["rejection_uncertainty"] == {"0.3": None, "0.5": None, "0.8": None}


def test_observer_names_become_safe_file_names(binary_predictions: Factory, tmp_path: Path) -> None:
    predictions = binary_predictions(n=400)
    predictions.observers = {"jet p_T/GeV": predictions.observers["jet_mass"]}
    evaluation = evaluate_predictions(
        predictions, predictions, "binary", ["b", "s"], tmp_path, bootstrap_resamples=2
    )
    assert "efficiency_jet_p_T_GeV" in [plot.png.stem for plot in evaluation.plots]
    assert "jet p_T/GeV" in evaluation.metrics["efficiency_vs"]


def test_errors_name_the_problem(binary_predictions: Factory, tmp_path: Path) -> None:
    predictions = binary_predictions(n=200)
    with pytest.raises(ConfigError, match="task"):
        evaluate_predictions(predictions, predictions, "ranking", ["b", "s"], tmp_path)
    with pytest.raises(ConfigError, match="style"):
        evaluate_predictions(predictions, predictions, "binary", ["b", "s"], tmp_path, style="X")
    with pytest.raises(ConfigError, match="signal efficiencies"):
        evaluate_predictions(
            predictions, predictions, "binary", ["b", "s"], tmp_path, working_point=1.5
        )
    only_background = Predictions(predictions.scores, np.zeros(200), predictions.weights)
    with pytest.raises(InputError, match="'s' has no events in the train"):
        evaluate_predictions(only_background, predictions, "binary", ["b", "s"], tmp_path)
