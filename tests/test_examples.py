"""The examples run at small scale, their notebooks match their scripts, docs/cli.md is current."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from helpers import docs_script

REPOSITORY = Path(__file__).resolve().parents[1]
EXAMPLES = REPOSITORY / "examples"
SCRIPTS = sorted(path for path in EXAMPLES.glob("*.py") if path.name != "common.py")
EXAMPLE_TIMEOUT_S = 600

# Samples an example generates at small scale that other tests' session fixtures generate
# too: (sample, generate_sample options, workers of the fixture, directory name).
SHARED_SAMPLES = {
    "hww_vs_dy": [("hww-vs-dy", {"events": 60}, 1, "hww-vs-dy")],
    "fitting_fundamentals": [("top-vs-qcd", {"events": 300}, 2, "top-vs-qcd")],
    "architectures": [("top-vs-qcd", {"events": 300}, 2, "top-vs-qcd")],
}

# What each example must write under the output root, beside its printed numbers.
EXPECTED_FILES = {
    "hww_vs_dy": [
        "runs/examples/hww_vs_dy/mtw1.png",
        "runs/examples/hww_vs_dy/mlp/report.html",
        "runs/examples/hww_vs_dy/mlp/metrics.json",
        "runs/examples/hww_vs_dy/mlp/plots/scores.png",
        "runs/examples/hww_vs_dy/mlp/plots/roc.png",
        "runs/examples/hww_vs_dy/scores/hww_0000_scores.root",
        "runs/examples/hww_vs_dy/mlp-streaming/metrics.json",
        "runs/examples/hww_vs_dy/mlp-shuffled/report.html",
        "data/examples/hww-vs-dy-shuffled/shuffled_0000.root",
    ],
    "jet_images": [
        "runs/examples/jet_images/images.png",
        "runs/examples/jet_images/training_history.png",
        *(
            f"runs/examples/jet_images/{model}/{name}"
            for model in ("logistic", "mlp", "cnn")
            for name in ("report.html", "metrics.json", "plots/rejection.png")
        ),
        "runs/examples/jet_images/cnn/plots/gallery.png",
        "runs/examples/jet_images/cnn/plots/class_averages.png",
        "runs/examples/jet_images/compare/comparison.md",
        "runs/examples/jet_images/compare/rejection_comparison.png",
    ],
    "fitting_fundamentals": [
        "runs/examples/fitting_fundamentals/polynomials.png",
        "runs/examples/fitting_fundamentals/mass-linear/metrics.json",
        "runs/examples/fitting_fundamentals/mass-linear/plots/parity.png",
        "runs/examples/fitting_fundamentals/mass-mlp/report.html",
        "runs/examples/fitting_fundamentals/mass-mlp/plots/parity.png",
        "runs/examples/fitting_fundamentals/model_size.png",
        "runs/examples/fitting_fundamentals/regularisation_paths.png",
        "runs/examples/fitting_fundamentals/image_templates.png",
    ],
    "architectures": [
        "runs/examples/architectures/jets5-cnn/report.html",
        "runs/examples/architectures/jets5-cnn/metrics.json",
        "runs/examples/architectures/jets5-cnn/plots/confusion_matrix_normalised.png",
        "runs/examples/architectures/higgs-deepsets/report.html",
        "runs/examples/architectures/higgs-deepsets/metrics.json",
        "runs/examples/architectures/higgs-compare/comparison.md",
        "runs/examples/architectures/particlenet-lite/model.pt",
        "runs/examples/architectures/part-small/model.pt",
        "runs/examples/architectures/cloud-compare/rejection_comparison.png",
        "runs/examples/architectures/jets5-autoencoder/plots/embedding.png",
        "runs/examples/architectures/jets5-autoencoder/plots/clusters.png",
    ],
}

# Metrics every example's main runs must have written, with the task they belong to.
EXPECTED_METRICS = {
    "hww_vs_dy": ("runs/examples/hww_vs_dy/mlp/metrics.json", "binary"),
    "jet_images": ("runs/examples/jet_images/cnn/metrics.json", "binary"),
    "fitting_fundamentals": (
        "runs/examples/fitting_fundamentals/mass-mlp/metrics.json",
        "regression",
    ),
    "architectures": ("runs/examples/architectures/jets5-cnn/metrics.json", "multiclass"),
}


def test_every_example_is_covered():
    assert {path.stem for path in SCRIPTS} == set(EXPECTED_FILES) == set(EXPECTED_METRICS)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_example_runs_at_small_scale(script, tmp_path, generated_sample):
    for sample, options, workers, name in SHARED_SAMPLES.get(script.stem, []):
        target = tmp_path / "data" / "examples" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(generated_sample(sample, workers=workers, **options))
    environment = {
        **os.environ,
        "HEPLEARN_EXAMPLES_SMALL": "1",
        "HEPLEARN_EXAMPLES_OUT": str(tmp_path),
        "MPLBACKEND": "Agg",
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    missing = [name for name in EXPECTED_FILES[script.stem] if not (tmp_path / name).is_file()]
    assert not missing, f"{script.name} did not write {missing}"
    metrics_file, task = EXPECTED_METRICS[script.stem]
    metrics = json.loads((tmp_path / metrics_file).read_text())
    assert metrics["task"] == task
    assert metrics["events"]["test"] > 0


def test_output_root_and_size_follow_the_environment(tmp_path):
    environment = {**os.environ, "HEPLEARN_EXAMPLES_OUT": str(tmp_path)}
    code = "import common; print(common.OUTPUT_ROOT, common.SMALL)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=EXAMPLES,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [str(tmp_path.resolve()), "False"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_committed_notebook_matches_its_script(script):
    notebook_path = script.with_suffix(".ipynb")
    assert notebook_path.is_file(), f"render it: .venv/bin/jupytext --to ipynb {script}"
    rendered = jupytext.read(script)
    committed = nbformat.read(notebook_path, as_version=4)

    def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
        return [(cell.cell_type, cell.source) for cell in notebook.cells]

    assert cells(committed) == cells(rendered), (
        f"{notebook_path.name} is out of date: .venv/bin/jupytext --to ipynb {script}"
    )
    code_cells = [cell for cell in committed.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code_cells)


def test_cli_reference_is_current():
    module = docs_script("generate_cli_reference")
    committed = (REPOSITORY / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == module.cli_reference(), (
        "docs/cli.md is out of date: run .venv/bin/python docs/generate_cli_reference.py"
    )
