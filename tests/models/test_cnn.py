"""Tests of the jet-image CNN."""

import pytest
import torch

from heplearn.errors import ConfigError
from heplearn.models.registry import build_model, model_params


@pytest.mark.parametrize("n_outputs", [1, 5])
@pytest.mark.parametrize(("channels", "bins"), [(1, 40), (2, 32), (3, 33)])
def test_output_shape(zoo, n_outputs: int, channels: int, bins: int) -> None:
    schema = zoo.schema(image=(channels, bins), tabular=2)
    model = zoo.build({"name": "cnn", "filters": [4, 8, 8], "dense": [16]}, schema, n_outputs)
    zoo.assert_outputs(model, zoo.batch(schema, size=4), (4, n_outputs))


def test_default_configuration_on_a_40_bin_image(zoo) -> None:
    schema = zoo.schema(image=(1, 40))
    model = zoo.build({"name": "cnn"}, schema, 1)
    convolutions = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [conv.out_channels for conv in convolutions] == [32, 64, 64]
    assert model.head.hidden[0].in_features == 64 * 5 * 5  # 40 → 20 → 10 → 5
    assert zoo.outputs(model, zoo.batch(schema, size=2)).shape == (2, 1)


def test_tabular_features_reach_the_head(zoo) -> None:
    schema = zoo.schema(image=(1, 8), tabular=3)
    model = zoo.build({"name": "cnn", "filters": [4]}, schema, 1)
    batch = zoo.batch(schema, size=4)
    changed = dict(batch, jet=batch["jet"] + 1)
    assert not torch.allclose(zoo.outputs(model, batch), zoo.outputs(model, changed))


def test_image_too_small_for_the_blocks(zoo) -> None:
    schema = zoo.schema(image=(1, 4))
    params = model_params({"name": "cnn", "filters": [4, 4, 4]})
    with pytest.raises(ConfigError, match=r"model\.filters: 3 blocks.*4x4 bins"):
        build_model(params, schema, 1)


def test_even_kernel_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"model\.kernel_size: kernel_size must be odd"):
        model_params({"name": "cnn", "kernel_size": 4})


def test_learns(zoo) -> None:
    schema = zoo.schema(image=(1, 8))
    section = {"name": "cnn", "filters": [4, 8], "dense": [16], "dropout": 0.0}
    zoo.assert_learns(lambda: zoo.build(section, schema, 1), schema)
