"""Evaluate and compare real runs: metrics.json, plots, a report that renders, comparisons."""

import json
import math

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from helpers import (
    assert_one_line_error,
    chromium_or_skip,
    run_chromium,
    run_config,
    run_heplearn,
    split_into_files,
)
from heplearn.cli import app
from heplearn.data.spec import DatasetSpec
from heplearn.deploy import predict
from heplearn.errors import ConfigError, InputError
from heplearn.evaluation import run_data
from heplearn.evaluation.plots import AXIS_LABELS_KEY
from heplearn.evaluation.report import format_number
from heplearn.evaluation.run_data import load_run_data, run_predictions, split_predictions
from heplearn.evaluation.runs import compare_run_directories, evaluate_run
from heplearn.training.fit import train

EVALUATION = {"observers": ["jet_pt", "jet_mass"], "images": "image", "bootstrap": 20}


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module")
def runs(top, tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluated")
    made = {}
    for name, model in {
        "mlp": {"name": "mlp", "inputs": ["jet"], "widths": [32, 32]},
        "logistic": {"name": "logistic", "inputs": ["jet"]},
    }.items():
        config = run_config(top, model, epochs=8, batch_size=32)
        config["evaluation"] = EVALUATION
        made[name] = train(config, folder / name)
    evaluate_run(made["mlp"])
    return made


def test_evaluate_writes_metrics_plots_and_a_report(runs):
    run = runs["mlp"].path
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "binary"
    assert 0.85 < metrics["auc"] <= 1
    assert set(metrics["rejection"]) == {"0.3", "0.5", "0.8"}
    assert metrics["rejection"]["0.5"] > 5
    assert set(metrics["efficiency_vs"]) == {"jet_pt", "jet_mass"}
    assert set(metrics["ks"]) == {"qcd", "top"}
    assert metrics["events"]["test"] == pytest.approx(120, abs=30)
    plots = {path.name for path in (run / "plots").iterdir()}
    for stem in ("rejection", "scores", "sculpting_jet_mass", "efficiency_jet_pt", "gallery"):
        assert any(name.startswith(stem) and name.endswith(".png") for name in plots), stem
        assert any(name.startswith(stem) and name.endswith(".pdf") for name in plots), stem
    report = (run / "report.html").read_text()
    assert format_number(metrics["auc"], metrics["auc_uncertainty"]) in report
    assert report.count("data:image/png;base64,") >= len([p for p in plots if p.endswith(".png")])


def test_figures_carry_the_physics_labels_of_the_sample(runs, top):
    assert json.loads((top / "metadata.json").read_text())["labels"]["jet_pt"] == (
        "Jet $p_T$ [GeV]"
    )
    plots = runs["mlp"].path / "plots"

    def labels(stem):
        with Image.open(plots / f"{stem}.png") as image:
            return json.loads(image.text[AXIS_LABELS_KEY])

    assert labels("efficiency_jet_pt")[-1]["x"] == "Jet $p_T$ [GeV]"
    assert labels("sculpting_jet_mass")[0]["x"] == "Jet mass [GeV]"
    report = (runs["mlp"].path / "report.html").read_text()
    assert "bins of Jet pT [GeV]" in report
    assert "jet_pt" not in report.split("<h2>Configuration</h2>")[0]


def test_the_report_of_a_run_renders_in_a_browser(runs, tmp_path):
    browser = chromium_or_skip()
    report = runs["mlp"].path / "report.html"
    figures = report.read_text().count("<img")
    dom = run_chromium(browser, tmp_path / "profile", "--dump-dom", report.as_uri()).stdout
    assert f'data-images-loaded="{figures}"' in dom
    metrics = json.loads((runs["mlp"].path / "metrics.json").read_text())
    auc = format_number(metrics["auc"], metrics["auc_uncertainty"])
    for text in ("Metrics", "Data", "Training", "Configuration", auc):
        assert text in dom
    screenshot = tmp_path / "report.png"
    run_chromium(
        browser,
        tmp_path / "profile",
        f"--screenshot={screenshot}",
        "--window-size=1200,3000",
        report.as_uri(),
    )
    with Image.open(screenshot) as image:
        assert len(image.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 50


def test_evaluating_on_data_without_the_model_inputs_is_refused(runs):
    config = runs["mlp"].config()
    other = config.data.model_copy(
        update={"inputs": {"mass": config.data.inputs["mass"]}, "standardise": {}}
    )
    with pytest.raises(ConfigError, match=r"inputs the model was trained on: jet \(jet_mass"):
        evaluate_run(runs["mlp"], DatasetSpec.model_validate(other.model_dump()))


def test_compare_overlays_runs_and_a_mass_baseline(runs, tmp_path):
    comparison = compare_run_directories(
        [runs["mlp"], runs["logistic"]], tmp_path, baselines=["jet_mass"], bootstrap=10
    )
    assert [row["run"] for row in comparison.rows] == ["mlp", "logistic", "jet_mass"]
    assert comparison.plot.png.is_file() and comparison.html.is_file()
    table = comparison.markdown.read_text()
    assert "mlp" in table and "jet_mass" in table
    mlp, _, mass = comparison.rows
    assert mlp["auc"] > mass["auc"]


def test_evaluate_and_compare_quote_the_same_bootstrap_uncertainty(runs, tmp_path):
    metrics = json.loads((runs["mlp"].path / "metrics.json").read_text())
    comparison = compare_run_directories([runs["logistic"], runs["mlp"]], tmp_path)
    row = comparison.rows[1]  # (not the reference: the bootstrap does not depend on order)
    assert row["auc_uncertainty"] == metrics["auc_uncertainty"] > 0
    for efficiency in ("0.3", "0.5", "0.8"):
        expected = metrics["rejection_uncertainty"][efficiency]
        found = row[f"rejection_{efficiency}_uncertainty"]
        assert found == (math.inf if expected is None else expected)
        assert row[f"rejection_limit_{efficiency}"] == metrics["rejection_limit"][efficiency]
        passing = metrics["background_passing"][efficiency]
        assert row[f"background_events_{efficiency}"] == passing["events"]


def test_compare_refuses_runs_on_other_events(runs, top, tmp_path):
    config = run_config(top, {"name": "logistic", "inputs": ["jet"]}, epochs=1)
    config["seed"] = 99
    other = train(config, tmp_path / "other-seed")
    with pytest.raises(ConfigError, match="split other events"):
        compare_run_directories([runs["mlp"], other], tmp_path / "out")


def test_a_misspelt_keep_or_baseline_names_its_option(runs, top, tmp_path):
    run = str(runs["mlp"].path)
    out = tmp_path / "scores"
    result = CliRunner().invoke(
        app, ["predict", run, str(top / "*.root"), "--out", str(out), "--keep", "evnt"]
    )
    assert_one_line_error(result, "--keep 'evnt' (did you mean 'event'?)", "correct --keep")
    assert not out.exists()
    out = tmp_path / "comparison"
    result = CliRunner().invoke(app, ["compare", run, "--baseline", "jet_mas", "--out", str(out)])
    assert_one_line_error(result, "--baseline 'jet_mas' (did you mean 'jet_mass'", "correct")
    assert not out.exists()


def test_predict_leaves_no_empty_out_directory_on_error(runs, top, tmp_path, monkeypatch):
    def fail(*arguments, **options):
        raise InputError("scoring failed half-way")

    monkeypatch.setattr(predict.FilePredictor, "predict_file", fail)
    out = tmp_path / "scores"
    files = str(top / "*.root")
    result = CliRunner().invoke(app, ["predict", str(runs["mlp"].path), files, "--out", str(out)])
    assert_one_line_error(result, "scoring failed half-way")
    assert not out.exists()


def test_the_cli_prints_where_the_results_are(runs, tmp_path):
    result = run_heplearn("evaluate", str(runs["logistic"].path), "--working-point", "0.3")
    assert result.returncode == 0, result.stderr
    assert "AUC" in result.stdout
    assert "report:" in result.stdout
    metrics = json.loads((runs["logistic"].path / "metrics.json").read_text())
    assert metrics["working_point"]["target_signal_efficiency"] == 0.3
    auc = format_number(metrics["auc"], metrics["auc_uncertainty"])
    assert f": AUC {auc}, 1/ε_B at ε_S = 0.5 " in result.stdout
    # eight epochs of a logistic regression on 350 jets: the validation loss still falls
    assert any("not converged" in warning for warning in metrics["warnings"])
    printed = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    assert printed == [f"warning: {warning}" for warning in metrics["warnings"]]
    report = (runs["logistic"].path / "report.html").read_text(encoding="utf-8")
    assert report.index("<h2>Warnings</h2>") < report.index("<h2>Metrics</h2>")
    out = tmp_path / "compare"
    result = run_heplearn(
        "compare", str(runs["mlp"].path), str(runs["logistic"].path), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert (out / "comparison.html").is_file()


def test_a_multiclass_run_gets_its_confusion_matrix(top, tmp_path):
    config = run_config(
        top, {"name": "mlp", "inputs": ["jet"], "widths": [16]}, epochs=12, batch_size=16
    )
    config["data"]["label"] = "where(is_signal == 1, 2, where(jet_pt > 600, 1, 0))"
    config["data"]["classes"] = ["qcd-low-pt", "qcd-high-pt", "top"]
    run = train(config, tmp_path / "multi")
    metrics = evaluate_run(run).evaluation.metrics
    assert metrics["task"] == "multiclass"
    assert len(metrics["confusion_matrix"]) == 3
    assert metrics["one_vs_rest"]["top"]["auc"] > 0.85
    assert (run.path / "plots" / "confusion_matrix.png").is_file() or any(
        p.name.startswith("confusion") for p in (run.path / "plots").iterdir()
    )


def test_a_regression_run_gets_mae_and_r2(top, tmp_path):
    config = run_config(
        top, {"name": "mlp", "inputs": ["jet"], "widths": [32]}, epochs=20, batch_size=16
    )
    data = config["data"]
    del data["label"], data["classes"]
    data["target"] = "jet_mass"  # in GeV: the network learns it standardised
    run = train(config, tmp_path / "regression")
    target = run.preprocessing().target
    assert target is not None and 20 < target["mean"] < 200 and target["std"] > 10
    metrics = evaluate_run(run).evaluation.metrics
    assert metrics["task"] == "regression"
    assert metrics["r2"] > 0.8  # the jet mass is among the inputs
    assert metrics["mae"] < 0.3 * target["std"]  # in GeV, as the target
    assert any(p.name.startswith("parity") for p in (run.path / "plots").iterdir())
    report = (run.path / "report.html").read_text()
    assert "Predicted against true jet_mass" in report


def test_a_streamed_run_is_evaluated_streaming_with_the_same_numbers(top, tmp_path, monkeypatch):
    streaming = {"chunk_entries": 100, "shuffle_buffer": 200}
    config = run_config(top, {"name": "mlp", "inputs": ["jet"]}, epochs=2, streaming=streaming)
    config["evaluation"] = {"observers": ["jet_pt"], "bootstrap": 0}
    run = train(config, tmp_path / "streamed")
    dataset, scorer = load_run_data(run, observers=["jet_pt"])  # in memory, for comparison
    expected = split_predictions(dataset, scorer, "test", observers=["jet_pt"])

    def no_loading(*args, **kwargs):
        raise AssertionError("a streamed run's evaluation loaded the whole dataset")

    monkeypatch.setattr(run_data, "load_dataset", no_loading)
    streamed = run_predictions(run, observers=["jet_pt"], splits=["test"])["test"]
    order, expected_order = np.argsort(streamed.scores), np.argsort(expected.scores)
    np.testing.assert_allclose(streamed.scores[order], expected.scores[expected_order], atol=1e-6)
    np.testing.assert_array_equal(
        np.sort(streamed.observers["jet_pt"]), np.sort(expected.observers["jet_pt"])
    )
    metrics = evaluate_run(run).evaluation.metrics
    is_top = expected.labels == 1
    assert metrics["auc"] == pytest.approx(
        roc_auc_score(is_top, expected.scores, sample_weight=expected.weights), abs=1e-6
    )
    assert (run.path / "plots" / "efficiency_jet_pt.png").is_file()


@pytest.mark.slow
def test_two_dask_workers_score_a_streamed_run_file_by_file_to_the_same_predictions(top, tmp_path):
    files = split_into_files(top, tmp_path / "files", 200)
    streaming = {"chunk_entries": 100, "shuffle_buffer": 200}
    config = run_config(files, {"name": "mlp", "inputs": ["jet"]}, epochs=1, streaming=streaming)
    run = train(config, tmp_path / "streamed")
    splits = ["train", "test"]
    one = run_predictions(run, observers=["jet_pt"], splits=splits)
    two = run_predictions(run, observers=["jet_pt"], splits=splits, workers=2)
    for split in splits:  # the same events in the same order, the same scores
        np.testing.assert_array_equal(two[split].labels, one[split].labels)
        np.testing.assert_array_equal(two[split].weights, one[split].weights)
        np.testing.assert_array_equal(
            two[split].observers["jet_pt"], one[split].observers["jet_pt"]
        )
        np.testing.assert_allclose(two[split].scores, one[split].scores, rtol=0, atol=1e-7)


def test_workers_are_refused_for_a_run_in_memory(runs):
    with pytest.raises(ConfigError, match="--workers and --scheduler score the files of a run"):
        run_predictions(runs["mlp"], splits=["test"], workers=2)
