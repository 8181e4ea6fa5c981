"""Tests of the logistic (linear) model."""

import pytest
import torch

from heplearn.models.logistic import LinearModel


@pytest.mark.parametrize("n_outputs", [1, 5])
def test_one_linear_layer_over_tabular_and_images(zoo, n_outputs: int) -> None:
    schema = zoo.schema(tabular=3, image=(2, 4))
    model = zoo.build({"name": "logistic"}, schema, n_outputs)
    assert isinstance(model, LinearModel)
    features = 3 + 2 * 4 * 4
    assert sum(p.numel() for p in model.parameters()) == (features + 1) * n_outputs
    zoo.assert_outputs(model, zoo.batch(schema), (8, n_outputs))


def test_is_linear_in_its_inputs(zoo) -> None:
    schema = zoo.schema(tabular=3)
    model = zoo.build({"name": "logistic"}, schema, 1)
    first, second = zoo.batch(schema, seed=1), zoo.batch(schema, seed=2)
    mixed = {"jet": 0.25 * first["jet"] + 0.75 * second["jet"]}
    expected = 0.25 * zoo.outputs(model, first) + 0.75 * zoo.outputs(model, second)
    torch.testing.assert_close(zoo.outputs(model, mixed), expected)


def test_learns(zoo) -> None:
    schema = zoo.schema(tabular=4)
    zoo.assert_learns(
        lambda: zoo.build({"name": "logistic"}, schema, 1), schema, learning_rate=0.05
    )
