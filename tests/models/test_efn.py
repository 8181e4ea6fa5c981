"""Tests of the Energy Flow Network, its IRC safety included."""

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

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
    zoo.assert_outputs(model, zoo.batch(schema), (8, n_outputs))


def test_padding_is_ignored(zoo) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build({"name": "efn", **SMALL}, schema, 1)
    zoo.assert_padding_ignored(model, zoo.batch(schema))


def test_permutation_invariant(zoo) -> None:
    schema = zoo.schema(particles=20)
    model = zoo.build({"name": "efn", **SMALL}, schema, 1)
    zoo.assert_permutation_invariant(model, zoo.batch(schema))


def _assert_unchanged_by_one_more_particle(zoo, fill: Callable[[Tensor], None]) -> None:
    """The EFN output stays the same when ``fill`` edits the particles ``(8, 21, 5)`` of a
    batch of 20-slot jets grown by one real particle in the last slot (zero until filled)."""
    schema = zoo.schema(particles=20)
    model = zoo.build({"name": "efn", **SMALL}, schema, 1)
    batch = zoo.batch(schema)
    grown = zoo.with_more_padding(batch, 1)
    grown["particles"][:, -1] = 0.0
    fill(grown["particles"])
    grown["particles_mask"] = grown["particles_mask"].clone()
    grown["particles_mask"][:, -1] = True
    torch.testing.assert_close(
        zoo.outputs(model, grown), zoo.outputs(model, batch), atol=1e-5, rtol=0
    )


def test_infrared_safe(zoo) -> None:
    def add_soft_particle(particles: Tensor) -> None:
        particles[:, -1] = torch.randn(8, 5)  # a new particle anywhere ...
        particles[:, -1, ENERGY] = 0.0  # ... with zero energy

    _assert_unchanged_by_one_more_particle(zoo, add_soft_particle)


def test_collinear_safe(zoo) -> None:
    def split_leading_particle(particles: Tensor) -> None:
        leading = particles[:, 0].clone()
        fraction = torch.rand(8)
        particles[:, 0, ENERGY] = fraction * leading[:, ENERGY]
        particles[:, -1] = leading  # same direction ...
        particles[:, -1, ENERGY] = (1 - fraction) * leading[:, ENERGY]  # ... the rest

    _assert_unchanged_by_one_more_particle(zoo, split_leading_particle)


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
