"""Reweighting closure: the two-sample AUC moves to 0.5, histograms, JSON and report."""

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

from helpers import run_heplearn
from heplearn.cli import USER_ERROR_EXIT_CODE
from heplearn.errors import ConfigError
from heplearn.evaluation.closure import closure_features, reweighting_closure
from heplearn.training.fit import train

# trains a reweighting run on generated samples (about a minute on 2 cores)
pytestmark = pytest.mark.slow

EVENTS = 3000
FEATURES = ["x_shifted", "x_wider", "x_same"]


def write_sample(path: Path, *, shift: float, width: float, seed: int) -> Path:
    """Three features: one shifted, one wider in the target, one identical in both."""
    generator = np.random.default_rng(seed)
    with uproot.recreate(path) as file:
        file["Events"] = {
            "event": np.arange(EVENTS, dtype=np.int64),
            "x_shifted": generator.normal(shift, 1.0, EVENTS).astype(np.float32),
            "x_wider": generator.normal(0.0, width, EVENTS).astype(np.float32),
            "x_same": generator.exponential(1.0, EVENTS).astype(np.float32),
        }
    return path


def reweighting_config(folder: Path, model: dict) -> dict:
    """A source (class 0) vs target (class 1) run on synthetic samples of known densities."""
    source = write_sample(folder / "source.root", shift=0.0, width=1.0, seed=1)
    target = write_sample(folder / "target.root", shift=0.8, width=1.2, seed=2)
    data = {
        "sources": [
            {"files": [str(source)], "label": "nominal"},
            {"files": [str(target)], "label": "varied"},
        ],
        "classes": ["nominal", "varied"],
        "inputs": {"features": {"kind": "tabular", "columns": FEATURES}},
        "weights": {"balance_classes": True},
        "split": {"train": 0.5, "validation": 0.1, "test": 0.4},
    }
    return {"seed": 5, "data": data, "model": model}


@pytest.fixture(scope="module")
def bdt_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("closure")
    # small trees and a small learning rate: smooth probabilities, hence weights without spikes
    model = {"name": "bdt", "max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 4}
    return train(reweighting_config(folder, model), folder / "bdt")


@pytest.fixture(scope="module")
def closure(bdt_run, tmp_path_factory):
    """The closure as a user runs it: ``heplearn reweight RUN --closure --out DIR``."""
    out = tmp_path_factory.mktemp("closure-out")
    result = run_heplearn("reweight", str(bdt_run.path), "--closure", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result.stdout, out, json.loads((out / "closure.json").read_text())


def test_reweighting_moves_the_two_sample_auc_to_one_half(closure):
    _, _, metrics = closure
    # without weights: AUC ~ 0.7 (a shift of 0.8 sigma and a 20% wider feature)
    assert metrics["auc_before"] > 0.64
    assert abs(metrics["auc_after"] - 0.5) < 0.5 * abs(metrics["auc_before"] - 0.5)
    assert abs(metrics["auc_after"] - 0.5) < 0.07
    assert metrics["auc_before_uncertainty"] < 0.03
    assert metrics["events"] == pytest.approx(0.4 * 2 * EVENTS / 2, rel=0.1)
    assert metrics["source_events"] + metrics["target_events"] == pytest.approx(
        0.4 * 2 * EVENTS, rel=0.1
    )


def test_the_cli_prints_both_aucs(closure):
    stdout, out, metrics = closure
    assert f"{metrics['auc_before']:.3f}" in stdout
    assert f"{metrics['auc_after']:.3f}" in stdout
    assert str(out / "closure.html") in stdout


def test_the_weights_are_positive_and_keep_statistics(closure):
    _, _, metrics = closure
    assert 0 < metrics["weight_min"] <= metrics["weight_max"] < 1e3
    # the reweighted source keeps a reasonable share of its statistics
    assert metrics["effective_source_events"] > 0.3 * metrics["source_events"]


def test_the_shapes_close_per_variable_and_the_weights_are_described(closure):
    stdout, _, metrics = closure
    chi2 = metrics["chi2_per_ndf"]
    assert set(chi2) == set(FEATURES)
    # the shifted feature differs clearly before and little after (measured: 10.0 -> 1.9);
    # the 20 % wider one mildly (1.6 -> 1.3); the identical one is compatible both times
    assert chi2["x_shifted"]["before"] > 5
    assert chi2["x_shifted"]["after"] < 0.3 * chi2["x_shifted"]["before"]
    assert chi2["x_wider"]["after"] < chi2["x_wider"]["before"]
    assert chi2["x_same"]["before"] < 1.5 and chi2["x_same"]["after"] < 1.5
    assert chi2["x_same"]["ndf"] == 29
    assert "shape chi2/ndf before -> after reweighting: x_shifted" in stdout
    weights = metrics["weights"]
    reweighted = weights["nominal reweighted"]
    assert reweighted["effective_events"] == pytest.approx(metrics["effective_source_events"])
    assert weights["nominal"]["events"] == metrics["source_events"]
    assert reweighted["negative_fraction"] == 0
    assert 0 < reweighted["largest_share"] < 0.05


def test_closure_json_plots_and_report(closure):
    _, out, metrics = closure
    assert metrics["source"] == "nominal"
    assert metrics["target"] == "varied"
    assert metrics["features"] == FEATURES
    for stem in ("closure_features", "closure_weights"):
        assert (out / "plots" / f"{stem}.png").is_file()
        assert (out / "plots" / f"{stem}.pdf").is_file()
    report = (out / "closure.html").read_text()
    assert "auc after" in report.lower()  # (the row of auc_after, named for people)
    assert "Shape χ²/ndf per variable, held-out events" in report
    assert "Event weights, held-out events" in report
    assert report.count("data:image/png;base64,") == 2


def test_the_features_are_the_columns_the_classifier_reads(bdt_run):
    assert closure_features(bdt_run) == FEATURES


def test_closure_and_files_together_are_refused(bdt_run, tmp_path):
    result = run_heplearn("reweight", str(bdt_run.path), "x.root", "--closure")
    assert result.returncode == USER_ERROR_EXIT_CODE
    assert "not both" in result.stderr


def test_a_regression_run_has_no_closure(tmp_path):
    config = reweighting_config(tmp_path, {"name": "bdt", "max_iter": 5})
    data = config["data"]
    for source in data["sources"]:
        del source["label"]
    del data["classes"]
    data["target"] = "x_shifted"
    data["inputs"]["features"]["columns"] = ["x_wider", "x_same"]
    data["weights"] = {}
    run = train(config, tmp_path / "regression")
    with pytest.raises(ConfigError, match="is a regression run; reweighting needs a binary"):
        reweighting_closure(run)
