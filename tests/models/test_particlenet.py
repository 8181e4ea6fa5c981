"""Tests of ParticleNet and ParticleNet-Lite."""

import copy

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


def _reference_block(block, points, features, mask):
    """EdgeConv computed the plain way: every edge ``(x_i, x_j − x_i)`` concatenated, each
    linear layer followed by its masked batch norm over the real edges (batch statistics
    in training mode, running ones in evaluation mode), a masked mean over the neighbours."""
    index, valid = nearest_neighbours(points, mask, block.k)
    neighbours = torch.stack([rows[at] for rows, at in zip(features, index, strict=True)])
    centres = features.unsqueeze(2).expand_as(neighbours)
    edges = torch.cat([centres, neighbours - centres], dim=-1)
    layers = [block.edge, *block.edge_layers]
    for layer, norm in zip(layers, [block.edge_norm, *block.edge_norms], strict=True):
        edges = torch.relu(norm(layer(edges), valid))
    count = valid.sum(dim=2, keepdim=True).clamp(min=1).to(edges.dtype)
    aggregated = torch.where(valid.unsqueeze(-1), edges, 0.0).sum(dim=2) / count
    shortcut = features
    if block.shortcut is not None:
        shortcut = block.shortcut_norm(block.shortcut(features), mask)
    return torch.where(mask.unsqueeze(-1), torch.relu(aggregated + shortcut), 0.0)


def _far_from_defaults(model, seed: int = 3) -> None:
    """Running statistics and affine parameters of every batch norm far from 0 and 1."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(generator=generator)
            module.running_var.uniform_(0.3, 3.0, generator=generator)
            module.weight.data.normal_(generator=generator)
            module.bias.data.normal_(generator=generator)


def _small_model_and_batch(zoo):
    """A small ParticleNet (k = 7) far from its defaults, and a batch's particles, mask
    and coordinates."""
    schema = zoo.schema(particles=20)
    model = zoo.build({**SMALL, "k": 7}, schema, 1)
    _far_from_defaults(model)
    batch = zoo.batch(schema, size=16, min_particles=1)
    particles, mask = batch["particles"], batch["particles_mask"].bool()
    return model, particles, mask, particles[..., model.coordinate_indices]


def test_training_path_matches_the_plain_edge_convolution(zoo) -> None:
    """Only the real edges computed, as rows, and summed with index_add: the same outputs,
    gradients and running statistics as the plain computation on every edge slot."""
    model, particles, mask, points = _small_model_and_batch(zoo)
    features = model.input_norm.eval()(particles, mask).detach()
    for block in model.blocks:
        reference = copy.deepcopy(block).train()
        block.train()
        fast = block(points, features, mask)
        plain = _reference_block(reference, points, features, mask)
        torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
        assert fast.abs().max() > 0.1  # (not a comparison of zeros)
        weights = torch.randn(fast.shape, generator=torch.Generator().manual_seed(5))
        (fast * weights).sum().backward()
        (plain * weights).sum().backward()
        for (name, mine), theirs in zip(
            block.named_parameters(), reference.parameters(), strict=True
        ):
            torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-4, atol=1e-5, msg=name)
        for mine, theirs in zip(block.buffers(), reference.buffers(), strict=True):
            torch.testing.assert_close(mine, theirs)
        points = features = fast.detach()


def test_folded_evaluation_path_matches_the_masked_batch_norm_maths(zoo) -> None:
    """The inference fast path (batch norms folded into the linear layers, no masking of
    edges, index_select gather, aggregation as a product) changes nothing beyond rounding."""
    model, particles, mask, points = _small_model_and_batch(zoo)
    features = model.input_norm(particles, mask)
    with torch.inference_mode():
        for block in model.blocks:
            fast = block(points, features, mask)
            reference = _reference_block(block, points, features, mask)
            torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5)
            assert fast.abs().max() > 0.1  # (not a comparison of zeros)
            points = features = fast
