"""The ONNX Runtime engine: its graph exported once, kept in the run, loaded without torch."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import uproot

from helpers import EXPORTABLE_MODELS as MODELS
from helpers import run_config
from heplearn.data.dataset import load_dataset
from heplearn.deploy.predict import predict_files
from heplearn.inference import Scorer, ScoringOptions
from heplearn.inference.onnx_cache import scoring_graph_path
from heplearn.run_directory import RunDirectory
from heplearn.training.fit import train

ONNX = ScoringOptions(engine="onnx")

# heplearn predict --engine onnx in a fresh interpreter; prints the heavy modules it imported
PREDICT = """
import sys
from heplearn.cli import app
try:
    app(["predict", *sys.argv[1:], "--engine", "onnx", "--quiet"])
except SystemExit as done:
    assert not done.code, done.code
print(sorted(name for name in ("torch", "lightning", "onnx") if name in sys.modules))
"""


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module")
def particlenet(top, tmp_path_factory):
    config = run_config(top, MODELS["particlenet-lite"], epochs=1, batch_size=128)
    return train(config, tmp_path_factory.mktemp("runs") / "particlenet-lite")


@pytest.fixture
def run(particlenet, tmp_path):
    """A copy of the run, whose graph and weights a test may change."""
    return RunDirectory(shutil.copytree(particlenet.path, tmp_path / "run"))


def standardised_test_arrays(run):
    config = run.config()
    return load_dataset(config.model_data(), config.seed, run.preprocessing()).arrays("test")


def test_the_graph_is_exported_once_kept_in_the_run_and_scores_like_torch(run):
    arrays = standardised_test_arrays(run)
    first = Scorer(run, ONNX)
    assert first.onnx is not None and first.onnx.exported
    assert scoring_graph_path(run).is_file()
    kept = Scorer(run, ONNX)
    assert kept.onnx is not None and not kept.onnx.exported
    cost = kept.memory_cost()  # ONNX Runtime's own, measured when the graph was exported
    assert cost == first.memory_cost() and cost is not None and cost.per_event > 0
    expected = Scorer(run).scores(arrays)
    np.testing.assert_allclose(kept.scores(arrays), expected, rtol=0, atol=1e-4)
    assert np.ptp(expected) > 1e-3  # (not a comparison of constants)
    # weights trained again: the kept graph no longer matches and is exported anew
    state = torch.load(run.path / "model.pt", weights_only=True)
    torch.save({name: values * 1.1 for name, values in state.items()}, run.path / "model.pt")
    retrained = Scorer(run, ONNX)
    assert retrained.onnx is not None and retrained.onnx.exported
    changed = Scorer(run).scores(arrays)
    assert np.abs(changed - expected).max() > 1e-3
    np.testing.assert_allclose(retrained.scores(arrays), changed, rtol=0, atol=1e-4)


def test_predict_with_a_kept_graph_does_not_import_torch(run, top, tmp_path):
    Scorer(run, ONNX)  # exports and keeps the graph
    sample = str(next(top.glob("*.root")))
    command = [sys.executable, "-c", PREDICT, str(run.path), sample]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "onnx")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"  # no torch, lightning or onnx

    eager = predict_files(run, [next(top.glob("*.root"))], tmp_path / "torch")[0].output
    found = uproot.open(tmp_path / "onnx" / eager.name)["Scores"].arrays(library="np")
    expected = uproot.open(eager)["Scores"].arrays(library="np")
    np.testing.assert_allclose(found["score_top"], expected["score_top"], rtol=0, atol=1e-4)
    assert len(found["score_top"]) == len(expected["score_top"]) > 0
