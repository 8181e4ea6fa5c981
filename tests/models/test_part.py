"""Tests of the Particle Transformer (``part`` and ``part-small``)."""

import math

import pytest
import torch

from heplearn.errors import ConfigError
from heplearn.models.part import (
    ParticleTransformer,
    mirrored_pair_index,
    pair_features,
    triangle_pairs,
)
from heplearn.models.registry import build_model, model_params
from heplearn.models.schema import InputInfo

SMALL = {
    "name": "part-small",
    "embed": [16, 16],
    "pair_embed": [8],
    "heads": 2,
    "particle_blocks": 2,
    "class_blocks": 1,
}
WITH_VECTORS = {**SMALL, "vectors": "vectors"}


@pytest.mark.parametrize("section", [SMALL, WITH_VECTORS], ids=["plain", "interactions"])
@pytest.mark.parametrize("n_outputs", [1, 5])
def test_output_shape(zoo, section: dict[str, object], n_outputs: int) -> None:
    schema = zoo.schema(particles=20, tabular=2, vectors="vectors" in section)
    model = zoo.build(section, schema, n_outputs)
    assert isinstance(model, ParticleTransformer)
    zoo.assert_outputs(model, zoo.batch(schema), (8, n_outputs))


@pytest.mark.parametrize("name", ["part", "part-small"])
def test_paper_configurations_run(zoo, name: str) -> None:
    schema = zoo.schema(particles=16, vectors=True)
    model = zoo.build({"name": name, "vectors": "vectors"}, schema, 10)
    zoo.assert_outputs(model, zoo.batch(schema, size=2), (2, 10))


@pytest.mark.parametrize("section", [SMALL, WITH_VECTORS], ids=["plain", "interactions"])
def test_padding_is_ignored(zoo, section: dict[str, object]) -> None:
    schema = zoo.schema(particles=20, tabular=2, vectors="vectors" in section)
    model = zoo.build(section, schema, 1)
    zoo.assert_padding_ignored(model, zoo.batch(schema))


def test_padding_is_ignored_in_training_mode_too(zoo) -> None:
    """Batch-norm statistics of particles and pairs come from real entries only."""
    schema = zoo.schema(particles=20, vectors=True)
    model = zoo.build({**WITH_VECTORS, "dropout": 0.0}, schema, 1)
    zoo.assert_padding_ignored_in_training(model, zoo.batch(schema))


def test_permutation_invariant(zoo) -> None:
    schema = zoo.schema(particles=20, tabular=2, vectors=True)
    model = zoo.build(WITH_VECTORS, schema, 3)
    zoo.assert_permutation_invariant(model, zoo.batch(schema))


def test_events_without_particles_give_finite_outputs(zoo) -> None:
    schema = zoo.schema(particles=8, vectors=True)
    model = zoo.build(WITH_VECTORS, schema, 1)
    batch = zoo.batch(schema, size=32, min_particles=0)
    assert not batch["particles_mask"].any(dim=1).all()  # some events are empty
    assert torch.isfinite(zoo.outputs(model, batch)).all()


def test_interactions_change_the_output(zoo) -> None:
    schema = zoo.schema(particles=10, vectors=True)
    model = zoo.build(WITH_VECTORS, schema, 1)
    batch = zoo.batch(schema)
    boosted = dict(batch, vectors=batch["vectors"] * torch.tensor([1.0, 1.0, 3.0, 3.0]))
    assert not torch.allclose(zoo.outputs(model, boosted), zoo.outputs(model, batch))


def test_pair_features_of_two_massless_particles() -> None:
    def vector(pt: float, eta: float, phi: float) -> list[float]:
        return [
            pt * math.cos(phi),
            pt * math.sin(phi),
            pt * math.sinh(eta),
            pt * math.cosh(eta),
        ]

    first = torch.tensor([vector(30.0, 0.1, 3.0)], dtype=torch.float64)
    second = torch.tensor([vector(10.0, -0.2, -3.0)], dtype=torch.float64)
    delta_phi = 2 * math.pi - 6.0  # across the ±π boundary
    delta = math.hypot(0.3, delta_phi)
    mass2 = 2 * 30.0 * 10.0 * (math.cosh(0.3) - math.cos(delta_phi))
    expected = [math.log(10.0 * delta), math.log(10.0 / 40.0), math.log(delta), math.log(mass2)]
    torch.testing.assert_close(pair_features(first, second)[0].tolist(), expected)
    torch.testing.assert_close(pair_features(second, first), pair_features(first, second))
    assert torch.isfinite(pair_features(torch.zeros(1, 4), torch.zeros(1, 4))).all()


@pytest.mark.parametrize("length", [0, 1, 2, 3, 7, 30, 128, 2100])
def test_pairs_are_those_of_tril_indices_mirrored(length: int) -> None:
    """The arithmetic pairs (which torch.export keeps symbolic) are torch.tril_indices'."""
    row, column = triangle_pairs(length, torch.device("cpu"))
    expected = torch.tril_indices(length, length)
    assert torch.equal(row, expected[0]) and torch.equal(column, expected[1])
    index = mirrored_pair_index(length, torch.device("cpu"))
    assert index.shape == (length, length)
    particle = torch.arange(length)
    torch.testing.assert_close(row[index], torch.maximum(particle[:, None], particle[None, :]))
    torch.testing.assert_close(column[index], torch.minimum(particle[:, None], particle[None, :]))


@pytest.mark.parametrize(
    ("section", "schema_options", "message"),
    [
        (SMALL, {"vectors": True}, r"exactly one particles input.*found particles, vectors"),
        ({**SMALL, "vectors": "jet"}, {"tabular": 2}, r"model\.vectors: 'jet' is not a particles"),
    ],
)
def test_input_errors(zoo, section, schema_options, message: str) -> None:
    schema = zoo.schema(particles=10, **schema_options)
    with pytest.raises(ConfigError, match=message):
        build_model(model_params(section), schema, 1)


def test_vectors_need_four_columns_and_the_same_length() -> None:
    features = InputInfo("particles", "particles", ("a", "b"), (10, 2))
    params = model_params(WITH_VECTORS)
    three = InputInfo("vectors", "particles", ("px", "py", "pz"), (10, 3))
    with pytest.raises(ConfigError, match="4 columns px, py, pz, E"):
        build_model(params, {"particles": features, "vectors": three}, 1)
    longer = InputInfo("vectors", "particles", ("px", "py", "pz", "e"), (20, 4))
    with pytest.raises(ConfigError, match="has length 20 but 'particles' has length 10"):
        build_model(params, {"particles": features, "vectors": longer}, 1)
    with pytest.raises(ConfigError, match=r"exactly one particles input.*\(found none\)"):
        build_model(params, {"vectors": longer}, 1)


def test_heads_must_divide_the_dimension() -> None:
    with pytest.raises(ConfigError, match="multiple of heads = 3"):
        model_params({"name": "part", "heads": 3})


def test_small_defaults() -> None:
    params = model_params({"name": "part-small"})
    assert (params.embed[-1], params.heads, params.particle_blocks, params.class_blocks) == (
        64,
        4,
        3,
        1,
    )
    assert params.pair_embed == [32, 32]


def test_parameter_count_matches_the_paper() -> None:
    """Qu, Li, Qian 2022, table 2: ParT on JetClass (17 features, 10 classes) has 2.14M."""
    columns = tuple(f"feature_{index}" for index in range(17))
    schema = {
        "particles": InputInfo("particles", "particles", columns, (128, 17)),
        "vectors": InputInfo("vectors", "particles", ("px", "py", "pz", "e"), (128, 4)),
    }
    model = build_model(model_params({"name": "part", "vectors": "vectors"}), schema, 10)
    count = sum(parameter.numel() for parameter in model.parameters())
    assert count == pytest.approx(2.14e6, rel=0.01)


def test_learns(zoo) -> None:
    schema = zoo.schema(particles=12, tabular=1, vectors=True)
    zoo.assert_learns(lambda: zoo.build({**WITH_VECTORS, "dropout": 0.0}, schema, 1), schema)


def test_folded_pair_embedding_matches_the_masked_batch_norm_maths(zoo) -> None:
    """In evaluation mode the pair embedding folds each batch norm into its layer; the
    biases of pairs of real particles are those of the masked-batch-norm maths (pairs with
    a padded particle only meet padded keys or padded queries and may differ)."""
    schema = zoo.schema(particles=20, vectors=True)
    model = zoo.build({**WITH_VECTORS, "pair_embed": [8, 8]}, schema, 1)
    generator = torch.Generator().manual_seed(4)
    for module in model.modules():  # running statistics and affine parameters far from 0/1
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(generator=generator)
            module.running_var.uniform_(0.3, 3.0, generator=generator)
            module.weight.data.normal_(generator=generator)
            module.bias.data.normal_(generator=generator)
    batch = zoo.batch(schema, size=16)
    mask = batch["vectors_mask"].bool()
    vectors = torch.where(mask.unsqueeze(-1), batch["vectors"], 0.0)
    embedding = model.pair_embedding
    with torch.inference_mode():
        fast = embedding(vectors, mask)
        row, column = torch.tril_indices(mask.shape[1], mask.shape[1])
        pairs = mask[:, row] & mask[:, column]
        reference = embedding.input_norm(pair_features(vectors[:, row], vectors[:, column]), pairs)
        for layer, norm in zip(embedding.layers, embedding.norms, strict=True):
            reference = torch.nn.functional.gelu(norm(layer(reference), pairs))
    found = fast[:, :, row, column].transpose(1, 2)
    torch.testing.assert_close(found[pairs], reference[pairs], rtol=1e-5, atol=1e-5)
    assert reference[pairs].abs().max() > 0.1
