"""The demo end to end at a small size: sample, runs, reports, comparison; reuse of the sample."""

import io

import pytest
from rich.console import Console

from heplearn.demo import DemoModel, rejection_cell, run_demo


@pytest.mark.slow  # runs the whole demo: generation, trainings, evaluation
def test_the_demo_trains_evaluates_and_compares_then_reuses_its_sample(tmp_path):
    output = io.StringIO()
    console = Console(file=output, width=200)
    models = (DemoModel("bdt", None), DemoModel("mlp", 2))
    compare = run_demo(tmp_path / "data", 150, tmp_path / "runs", models=models, console=console)
    text = output.getvalue()
    for model in ("bdt", "mlp"):
        assert (tmp_path / "runs" / model / "report.html").is_file()
        assert (tmp_path / "runs" / model / "metrics.json").is_file()
        assert f"report of {model}" in text
    assert (compare / "comparison.html").is_file()
    assert "jet_mass" in (compare / "comparison.md").read_text()
    assert "generating 150 top and 150 QCD jets" in text
    assert "bdt: AUC 0." in text and " ± " in text  # (with its bootstrap uncertainty)
    assert "test split of " in text  # the table says on how many jets
    assert "not how good the taggers are" in text and "benchmarks.bench_physics" in text

    again = io.StringIO()
    run_demo(
        tmp_path / "data", 150, tmp_path / "runs", models=models[:1], console=Console(file=again)
    )
    assert "reusing the sample" in again.getvalue()


def test_the_demo_table_shows_the_background_behind_a_rejection_or_its_limit():
    row = {
        "rejection_0.3": 79.2,
        "rejection_0.3_uncertainty": 12.3,
        "rejection_limit_0.3": 55.1,
        "background_events_0.3": 25,
        "rejection_0.5": 396.0,
        "rejection_0.5_uncertainty": 250.0,
        "rejection_limit_0.5": 83.6,
        "background_events_0.5": 1,
    }
    assert rejection_cell(row, "0.3") == "79 ± 12 (25 background jets pass)"
    assert rejection_cell(row, "0.5") == "> 83 (95 % CL lower limit: 1 background event passes)"
