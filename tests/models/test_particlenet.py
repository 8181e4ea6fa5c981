"""Tests of ParticleNet and ParticleNet-Lite."""

import pytest
import torch

from heplearn.errors import ConfigError
from heplearn.models.particlenet import ParticleNet, nearest_neighbours
from heplearn.models.registry import build_model, model_params
from heplearn.models.schema import InputInfo

SMALL = {"name": "particlenet", "k": 4, "convs": [[8, 8], [16, 16]], "fc": [16]}


@pytest.mark.parametrize("n_outputs", [1, 5])
def test_output_shape(zoo, n_outputs: int) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build(SMALL, schema, n_outputs)
    assert isinstance(model, ParticleNet)
    zoo.assert_outputs(model, zoo.batch(schema), (8, n_outputs))


@pytest.mark.parametrize("name", ["particlenet", "particlenet-lite"])
def test_paper_configurations_run(zoo, name: str) -> None:
    schema = zoo.schema(particles=30)
    zoo.assert_outputs(zoo.build({"name": name}, schema, 2), zoo.batch(schema, size=4), (4, 2))


@pytest.mark.parametrize("fusion", [False, True])
def test_padding_is_ignored(zoo, fusion: bool) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build({**SMALL, "fusion": fusion}, schema, 1)
    zoo.assert_padding_ignored(model, zoo.batch(schema))


def test_padding_is_ignored_in_training_mode_too(zoo) -> None:
    """Batch-norm statistics come from real particles and edges only."""
    schema = zoo.schema(particles=20)
    model = zoo.build({**SMALL, "dropout": 0.0}, schema, 1)
    zoo.assert_padding_ignored_in_training(model, zoo.batch(schema))


def test_permutation_invariant(zoo) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build(SMALL, schema, 3)
    zoo.assert_permutation_invariant(model, zoo.batch(schema))


def test_neighbours_are_other_real_particles() -> None:
    torch.manual_seed(0)
    points = torch.randn(3, 10, 2)
    mask = torch.arange(10) < torch.tensor([10, 5, 1]).view(-1, 1)
    index, valid = nearest_neighbours(points, mask, k=4)
    assert index.shape == valid.shape == (3, 10, 4)
    # every real particle has min(k, real - 1) valid neighbours; padded ones have none
    assert valid.sum(dim=2).tolist() == [[4] * 10, [4] * 5 + [0] * 5, [0] * 10]
    rows = torch.arange(10).view(1, -1, 1)
    assert not (valid & (index == rows)).any()  # never itself
    assert mask.gather(1, index.flatten(1)).view_as(index)[valid].all()  # never padding
    distances = torch.cdist(points[0], points[0]).fill_diagonal_(torch.inf)
    expected = distances.topk(4, largest=False).indices.sort(dim=1).values
    assert torch.equal(index[0].sort(dim=1).values, expected)


def test_jets_with_fewer_particles_than_k(zoo) -> None:
    schema = zoo.schema(particles=6)
    model = zoo.build({**SMALL, "k": 16}, schema, 1)
    batch = zoo.batch(schema, size=16, min_particles=0)
    assert torch.isfinite(zoo.outputs(model, batch)).all()
    zoo.assert_padding_ignored(model, batch)


def test_coordinates_must_be_columns(zoo) -> None:
    params = model_params({"name": "particlenet", "coordinates": ["part_eta", "part_phi"]})
    with pytest.raises(ConfigError, match=r"model\.coordinates: 'part_eta' is not a column"):
        build_model(params, zoo.schema(particles=5), 1)


def test_lite_defaults() -> None:
    params = model_params({"name": "particlenet-lite"})
    assert (params.k, params.convs, params.fc) == (7, [[32] * 3, [64] * 3], [128])


@pytest.mark.parametrize(
    ("name", "features", "n_outputs", "published"),
    [
        # Qu & Gouskos 2020, table 2: top tagging with 7 features per particle, 2 outputs.
        ("particlenet", 7, 2, 366e3),
        ("particlenet-lite", 7, 2, 26e3),
        # Qu, Li, Qian 2022, table 2: JetClass, 17 features, 10 classes.
        ("particlenet", 17, 10, 370e3),
    ],
)
def test_parameter_count_matches_the_papers(
    name: str, features: int, n_outputs: int, published: float
) -> None:
    columns = ("part_deta", "part_dphi", *(f"feature_{i}" for i in range(features - 2)))
    schema = {"particles": InputInfo("particles", "particles", columns, (100, features))}
    model = build_model(model_params({"name": name}), schema, n_outputs)
    count = sum(parameter.numel() for parameter in model.parameters())
    assert count == pytest.approx(published, rel=0.02)


def test_learns(zoo) -> None:
    schema = zoo.schema(particles=12, tabular=1)
    zoo.assert_learns(lambda: zoo.build({**SMALL, "dropout": 0.0}, schema, 1), schema)
