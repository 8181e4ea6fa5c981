import numpy as np
import pytest
import torch

from heplearn.data.spec import DatasetSpec
from heplearn.errors import ConfigError
from heplearn.training.task import Task

SOURCES = [{"files": ["x.root"]}]
INPUTS = {"jet": {"kind": "tabular", "columns": ["a"]}}


def spec(**extra):
    return DatasetSpec.model_validate({"sources": SOURCES, "inputs": INPUTS, **extra})


def test_task_follows_the_number_of_classes_and_the_target():
    assert Task.of(spec(label="y"), 2) == Task("binary", 1, "bce")
    assert Task.of(spec(label="y"), 5) == Task("multiclass", 5, "cross-entropy")
    assert Task.of(spec(target="m"), 0, "huber") == Task("regression", 1, "huber")


def test_bad_loss_or_a_single_class_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"training\.loss: 'mse' does not fit a binary task"):
        Task.of(spec(label="y"), 2, "mse")
    with pytest.raises(ConfigError, match="at least two classes"):
        Task.of(spec(label="y"), 1)


def test_weighted_loss_is_the_mean_of_weight_times_event_loss():
    task = Task("binary", 1, "bce")
    logits = torch.tensor([[0.3], [-1.2], [2.0]])
    labels = torch.tensor([1, 0, 1])
    weights = torch.tensor([2.0, -0.5, 1.0])
    p = 1 / (1 + np.exp(-np.array([0.3, -1.2, 2.0])))
    event = -np.array([np.log(p[0]), np.log(1 - p[1]), np.log(p[2])])
    expected = np.mean(np.array([2.0, -0.5, 1.0]) * event)
    assert task.weighted_loss(logits, labels, weights).item() == pytest.approx(expected, rel=1e-6)


def test_scores_are_probabilities_or_values():
    outputs = torch.tensor([[0.0, 1.0, 2.0]])
    probabilities = Task("multiclass", 3, "cross-entropy").scores(outputs)
    assert probabilities.sum().item() == pytest.approx(1.0)
    assert Task("binary", 1, "bce").scores(torch.zeros(4, 1)).tolist() == [0.5] * 4
    assert Task("regression", 1, "mse").scores(torch.tensor([[7.0]])).tolist() == [7.0]


def test_a_regression_learns_the_standardised_target_and_scores_in_its_unit():
    task = Task("regression", 1, "mse", target_mean=170.0, target_std=20.0)
    jet_mass = torch.tensor([150.0, 170.0, 210.0])
    learned = torch.tensor([[-1.0], [0.0], [2.0]])  # the standardised masses
    assert task.event_losses(learned, jet_mass).tolist() == [0.0, 0.0, 0.0]
    assert task.scores(learned).tolist() == [150.0, 170.0, 210.0]
    assert Task.from_dict(task.to_dict()) == task
    recorded_before_the_scaling = {"kind": "regression", "n_outputs": 1, "loss": "mse"}
    assert Task.from_dict(recorded_before_the_scaling).target_std == 1.0
