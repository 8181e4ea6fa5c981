"""Tests of the Energy Flow Network, its IRC safety included."""

import pytest
import torch

from heplearn.errors import ConfigError
from heplearn.models.efn import EFN
from heplearn.models.registry import build_model, model_params

SMALL = {"phi": [16, 16], "f": [16]}
ENERGY = 2  # part_pt in the test schema's columns


@pytest.mark.parametrize("n_outputs", [1, 5])
def test_output_shape(zoo, n_outputs: int) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build({"name": "efn", **SMALL}, schema, n_outputs)
    assert isinstance(model, EFN)
    out = zoo.outputs(model, zoo.batch(schema))
    assert out.shape == (8, n_outputs)
    assert torch.isfinite(out).all()


def test_padding_is_ignored(zoo) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build({"name": "efn", **SMALL}, schema, 1)
    zoo.assert_padding_ignored(model, zoo.batch(schema))


def test_permutation_invariant(zoo) -> None:
    schema = zoo.schema(particles=20)
    model = zoo.build({"name": "efn", **SMALL}, schema, 1)
    zoo.assert_permutation_invariant(model, zoo.batch(schema))


def _with_one_more_slot(zoo, batch):
    """The batch with one more slot per jet, to be filled by the IRC tests."""
    grown = zoo.with_more_padding(batch, 1)
    grown["particles"][:, -1] = 0.0
    grown["particles_mask"] = grown["particles_mask"].clone()
    return grown


def test_infrared_safe(zoo) -> None:
    schema = zoo.schema(particles=20)
    model = zoo.build({"name": "efn", **SMALL}, schema, 1)
    batch = zoo.batch(schema)
    soft = _with_one_more_slot(zoo, batch)
    soft["particles"][:, -1] = torch.randn(8, 5)  # a new particle anywhere ...
    soft["particles"][:, -1, ENERGY] = 0.0  # ... with zero energy
    soft["particles_mask"][:, -1] = True
    torch.testing.assert_close(
        zoo.outputs(model, soft), zoo.outputs(model, batch), atol=1e-5, rtol=0
    )


def test_collinear_safe(zoo) -> None:
    schema = zoo.schema(particles=20)
    model = zoo.build({"name": "efn", **SMALL}, schema, 1)
    batch = zoo.batch(schema)
    split = _with_one_more_slot(zoo, batch)
    leading = split["particles"][:, 0].clone()
    fraction = torch.rand(8, 1)
    split["particles"][:, 0, ENERGY] = fraction[:, 0] * leading[:, ENERGY]
    split["particles"][:, -1] = leading  # same direction ...
    split["particles"][:, -1, ENERGY] = (1 - fraction[:, 0]) * leading[:, ENERGY]  # ... the rest
    split["particles_mask"][:, -1] = True
    torch.testing.assert_close(
        zoo.outputs(model, split), zoo.outputs(model, batch), atol=1e-5, rtol=0
    )


def test_phi_reads_only_the_angles(zoo) -> None:
    schema = zoo.schema(particles=10)
    model = zoo.build({"name": "efn", **SMALL}, schema, 1)
    batch = zoo.batch(schema)
    other = dict(batch, particles=batch["particles"].clone())
    other["particles"][..., 3:] += 5.0  # log pT and charge are not read
    torch.testing.assert_close(zoo.outputs(model, other), zoo.outputs(model, batch))


@pytest.mark.parametrize(
    ("key", "value"), [("energy_column", "part_e"), ("angle_columns", ["part_deta", "part_phi"])]
)
def test_missing_column_is_named(zoo, key: str, value: object) -> None:
    params = model_params({"name": "efn", key: value})
    missing = value if isinstance(value, str) else value[1]
    with pytest.raises(ConfigError, match=rf"model\.{key}: '{missing}'.*part_deta, part_dphi"):
        build_model(params, zoo.schema(particles=5), 1)


def test_learns(zoo) -> None:
    schema = zoo.schema(particles=12)
    zoo.assert_learns(lambda: zoo.build({"name": "efn", **SMALL}, schema, 1), schema)
