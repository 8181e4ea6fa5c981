"""train --seeds: several trainings on one split, mean ± spread of AUC and 1/ε_B."""

import json
import math

import numpy as np
import pytest
import yaml

from helpers import run_config, run_heplearn
from heplearn.evaluation.metrics import auc, roc_curve
from heplearn.evaluation.run_data import run_predictions
from heplearn.evaluation.seeds import summarise_seeds
from heplearn.run_directory import RunDirectory


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def test_train_with_seeds_reports_mean_and_spread_over_trainings_on_one_split(top, tmp_path):
    config = run_config(top, {"name": "mlp", "inputs": ["jet"], "widths": [16]}, epochs=2)
    path = tmp_path / "mlp.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "seeds"
    result = run_heplearn("train", str(path), "--out", str(out), "--seeds", "3")
    assert result.returncode == 0, result.stderr
    assert "(mean ± standard deviation over seeds)" in result.stdout
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["seeds"] == [3, 4, 5]  # from the config's seed
    runs = [RunDirectory(out / f"seed_{seed}") for seed in summary["seeds"]]
    assert [run.config().training.seed for run in runs] == [3, 4, 5]
    tests = [run_predictions(run, splits=("test",))["test"] for run in runs]
    for test in tests[1:]:  # the same test events, scored differently
        np.testing.assert_array_equal(test.labels, tests[0].labels)
        np.testing.assert_array_equal(test.weights, tests[0].weights)
        assert not np.allclose(test.scores, tests[0].scores)
    aucs = [entry["auc"] for entry in summary["runs"]]
    for test, value in zip(tests, aucs, strict=True):
        assert value == pytest.approx(auc(roc_curve(test.scores, test.labels == 1, test.weights)))
    assert len(set(aucs)) == 3
    assert summary["auc"]["mean"] == pytest.approx(np.mean(aucs))
    assert summary["auc"]["std"] == pytest.approx(np.std(aucs, ddof=1))
    rejections = [entry["rejection"]["0.5"] for entry in summary["runs"]]
    assert summary["rejection"]["0.5"]["mean"] == pytest.approx(np.mean(rejections))
    assert set(summary["runs"][0]["background_passing"]) == {"0.3", "0.5", "0.8"}

    refused = run_heplearn("train", str(path), "--out", str(tmp_path / "one"), "--seeds", "1")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: --seeds 1: a spread needs at least 2 trainings"


def test_an_infinite_rejection_for_some_seed_has_no_spread() -> None:
    per_seed = [
        {"seed": 1, "auc": 0.9, "rejection": {"0.3": 50.0}},
        {"seed": 2, "auc": 0.92, "rejection": {"0.3": math.inf}},
    ]
    summary = summarise_seeds(per_seed)
    assert summary["auc"] == {"mean": pytest.approx(0.91), "std": pytest.approx(0.01414, rel=1e-3)}
    assert summary["rejection"]["0.3"]["mean"] == math.inf
    assert math.isnan(summary["rejection"]["0.3"]["std"])
