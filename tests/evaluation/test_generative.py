"""Evaluating generative runs: generated against test events, two-sample test, report."""

import json
import math

import pytest
from typer.testing import CliRunner

from helpers import TINY_DDPM, flow_config, run_config
from heplearn.cli import app
from heplearn.evaluation.report import format_number
from heplearn.evaluation.runs import evaluate_run
from heplearn.training.fit import train

FEATURES = ["jet_mass", "jet_sdmass", "jet_tau21", "jet_tau32", "jet_d2"]


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module")
def flow_run(top, tmp_path_factory):
    config = flow_config(top, epochs=3, batch_size=64)
    return train(config, tmp_path_factory.mktemp("generative") / "flow")


def test_evaluate_compares_generated_with_test_jets(flow_run):
    result = CliRunner().invoke(app, ["evaluate", str(flow_run.path)])
    assert result.exit_code == 0, result.output
    assert "report:" in result.stdout
    metrics = json.loads((flow_run.path / "metrics.json").read_text())
    assert metrics["task"] == "generative"
    assert metrics["model"] == "flow"
    assert metrics["conditions"] == ["conditions"]
    test_events = metrics["events"]["test"]
    assert test_events == pytest.approx(120, abs=30)
    assert metrics["events"]["generated"] == test_events
    two_sample = metrics["two_sample"]
    assert 0 <= two_sample["auc"] <= 1
    assert 0 < two_sample["auc_uncertainty"] < 0.2
    assert two_sample["events"] == test_events  # half of real + generated
    assert math.isfinite(metrics["nll"]["test"])
    assert math.isfinite(metrics["nll"]["train"])
    assert list(metrics["features"]) == FEATURES
    mass = metrics["features"]["jet_mass"]
    assert mass["real_mean"] == pytest.approx(130, rel=0.4)  # GeV: physical units
    assert 0 <= mass["ks_statistic"] <= 1
    plots = {path.name for path in (flow_run.path / "plots").iterdir()}
    assert {"generated_jet.png", "generated_jet.pdf"} <= plots
    report = (flow_run.path / "report.html").read_text()
    assert format_number(two_sample["auc"], two_sample["auc_uncertainty"]) in report
    assert "Two-sample classifier: AUC" in report
    assert report.count("data:image/png;base64,") >= 2  # training curves and histograms


def test_evaluate_compares_generated_with_test_images(top, tmp_path):
    run = train(run_config(top, TINY_DDPM, epochs=1, threads=1), tmp_path / "ddpm")
    evaluation = evaluate_run(run)
    metrics = evaluation.evaluation.metrics
    assert metrics["task"] == "generative"
    assert metrics["conditions"] == []
    assert 0 <= metrics["two_sample"]["auc"] <= 1
    assert set(metrics["features"]) == {
        "image total intensity",
        "image maximum pixel",
        "image non-empty pixels",
    }
    assert metrics["features"]["image total intensity"]["real_mean"] == pytest.approx(1, rel=1e-3)
    assert "event_loss" in metrics
    stems = {plot.png.stem for plot in evaluation.evaluation.plots}
    assert stems == {"generated_image_average", "generated_image_summaries"}
    assert evaluation.report_path.is_file()
