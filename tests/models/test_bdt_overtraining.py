"""The bdt defaults on the top-vs-qcd substructure config do not overtrain its two inputs."""

from pathlib import Path

import numpy as np
import pytest

from heplearn.evaluation.metrics import auc, ks_test, roc_curve
from heplearn.evaluation.run_data import run_predictions
from heplearn.training.config import load_run_config
from heplearn.training.fit import train

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "top-vs-qcd" / "bdt.yaml"
# scikit-learn's defaults without early stopping: 200 trees of 31 leaves of 20+ events
UNREGULARISED = [
    "model.max_iter=200",
    "model.max_leaf_nodes=31",
    "model.min_leaf_fraction=0",
    "model.l2_regularization=0",
    "model.early_stopping=false",
]


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def _train_and_test(top: Path, out: Path, overrides: list[str]) -> tuple[float, float, float]:
    """Train AUC, test AUC and the smallest per-class train-vs-test KS p-value."""
    files = f"data.sources=[{{files: ['{top}/*.root'], tree: Events}}]"
    run = train(load_run_config(CONFIG, [files, *overrides]), out)
    predictions = run_predictions(run, splits=("train", "test"))
    train_split, test_split = predictions["train"], predictions["test"]
    aucs = [auc(roc_curve(p.scores, p.labels == 1, p.weights)) for p in (train_split, test_split)]
    p_values = [
        ks_test(
            train_split.scores[train_split.labels == c],
            train_split.weights[train_split.labels == c],
            test_split.scores[test_split.labels == c],
            test_split.weights[test_split.labels == c],
        ).p_value
        for c in (0, 1)
    ]
    return aucs[0], aucs[1], min(p_values)


def test_the_default_bdt_on_soft_drop_mass_and_tau32_does_not_overtrain(top, tmp_path):
    train_auc, test_auc, p_value = _train_and_test(top, tmp_path / "bdt", [])
    assert test_auc > 0.88
    # ~70 test jets per class: the statistical spread of the test AUC is about 0.015
    assert train_auc - test_auc < 0.025
    assert p_value > 0.01
    # the same trees without the defaults' regularisation and early stopping learn the
    # training jets by heart (train AUC ~1), which the checks above would catch
    loose_train, loose_test, loose_p = _train_and_test(top, tmp_path / "loose", UNREGULARISED)
    assert loose_train > 0.99
    assert loose_train - loose_test > 2 * (train_auc - test_auc)
    assert np.isfinite(loose_p)
