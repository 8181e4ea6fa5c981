"""The demo end to end at a small size: sample, runs, reports, comparison; reuse of the sample."""

import io

import pytest
from rich.console import Console

from heplearn.demo import DemoModel, run_demo

# runs the whole demo: generation, three trainings, evaluation
pytestmark = pytest.mark.slow


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

    again = io.StringIO()
    run_demo(
        tmp_path / "data", 150, tmp_path / "runs", models=models[:1], console=Console(file=again)
    )
    assert "reusing the sample" in again.getvalue()
