"""Tests of the multilayer perceptron."""

import pytest
import torch

from heplearn.errors import ConfigError
from heplearn.models.mlp import MLPParams
from heplearn.models.registry import model_params


def test_defaults() -> None:
    params = model_params({"name": "mlp"})
    assert params == MLPParams(name="mlp", widths=[64, 64, 64], activation="relu")


@pytest.mark.parametrize("n_outputs", [1, 5])
@pytest.mark.parametrize(
    "options",
    [{}, {"activation": "silu", "batch_norm": True}, {"activation": "tanh", "dropout": 0.2}],
)
def test_output_shape(zoo, n_outputs: int, options: dict[str, object]) -> None:
    schema = zoo.schema(tabular=3, image=(1, 4))
    model = zoo.build({"name": "mlp", "widths": [16, 8], **options}, schema, n_outputs)
    zoo.assert_outputs(model, zoo.batch(schema), (8, n_outputs))


def test_hidden_layers_follow_widths(zoo) -> None:
    model = zoo.build({"name": "mlp", "widths": [7, 5]}, zoo.schema(tabular=3), 2)
    linear = [layer for layer in model.modules() if isinstance(layer, torch.nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linear] == [(3, 7), (7, 5), (5, 2)]


def test_rejects_bad_widths_and_activations() -> None:
    with pytest.raises(ConfigError, match=r"model\.widths\.1"):
        model_params({"name": "mlp", "widths": [8, 0]})
    with pytest.raises(ConfigError, match=r"model\.activation"):
        model_params({"name": "mlp", "activation": "softplus"})


def test_learns(zoo) -> None:
    schema = zoo.schema(tabular=4)
    zoo.assert_learns(lambda: zoo.build({"name": "mlp", "widths": [16, 16]}, schema, 1), schema)
