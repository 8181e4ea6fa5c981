"""Training a BDT run: one history row per boosting iteration, drawn against iterations."""

import pytest

from helpers import run_config
from heplearn.evaluation.plots import training_curves_figure
from heplearn.training.fit import train


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def test_a_bdt_records_its_losses_per_boosting_iteration(top, tmp_path):
    model = {"name": "bdt", "inputs": ["jet"], "max_iter": 15, "early_stopping": False}
    config = run_config(top, model)
    history = train(config, tmp_path / "bdt").history()
    assert [row["iteration"] for row in history] == list(range(1, 16))
    assert all("epoch" not in row for row in history)
    train_losses = [row["train_loss"] for row in history]
    assert train_losses[-1] < train_losses[0] < 0.7
    assert 0.5 < history[-1]["val_auc"] <= 1
    axes = training_curves_figure(history).axes
    assert len(axes) == 1  # (one validation AUC is no curve)
    assert axes[0].get_xlabel() == "Boosting iteration"
    assert axes[0].get_lines()[0].get_xdata()[0] == 1
