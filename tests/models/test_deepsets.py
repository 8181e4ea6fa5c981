"""Tests of Deep Sets and the Particle Flow Network (``deepsets`` and ``pfn``)."""

import pytest
import torch

from heplearn.models.deepsets import DeepSets
from heplearn.models.registry import build_model, model_params
from heplearn.models.schema import InputInfo

SMALL = {"phi": [16, 16], "f": [16]}


@pytest.mark.parametrize("name", ["deepsets", "pfn"])
@pytest.mark.parametrize("n_outputs", [1, 5])
def test_output_shape(zoo, name: str, n_outputs: int) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build({"name": name, **SMALL}, schema, n_outputs)
    assert isinstance(model, DeepSets)
    zoo.assert_outputs(model, zoo.batch(schema), (8, n_outputs))


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_padding_is_ignored(zoo, pooling: str) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build({"name": "pfn", "pooling": pooling, **SMALL}, schema, 1)
    zoo.assert_padding_ignored(model, zoo.batch(schema))


def test_permutation_invariant(zoo) -> None:
    schema = zoo.schema(particles=20, tabular=2)
    model = zoo.build({"name": "deepsets", **SMALL}, schema, 3)
    zoo.assert_permutation_invariant(model, zoo.batch(schema))


def test_events_without_particles_give_finite_outputs(zoo) -> None:
    schema = zoo.schema(particles=10)
    model = zoo.build({"name": "pfn", **SMALL}, schema, 1)
    assert torch.isfinite(zoo.outputs(model, zoo.batch(schema, min_particles=0, size=32))).all()


@pytest.mark.parametrize(
    ("features", "n_outputs", "published"),
    [
        # Komiske, Metodiev, Thaler 2019 on the top-tagging landscape (pT, y, φ; 2 outputs):
        # 82k, as listed in Kasieczka et al., SciPost Phys. 7, 014 (2019).
        (3, 2, 82e3),
        # Qu, Li, Qian 2022, table 2: the PFN on JetClass (17 features, 10 classes): 86.1k.
        (17, 10, 86.1e3),
    ],
)
def test_pfn_parameter_count_matches_the_papers(
    features: int, n_outputs: int, published: float
) -> None:
    columns = tuple(f"feature_{index}" for index in range(features))
    schema = {"particles": InputInfo("particles", "particles", columns, (100, features))}
    model = build_model(model_params({"name": "pfn"}), schema, n_outputs)
    count = sum(parameter.numel() for parameter in model.parameters())
    assert count == pytest.approx(published, rel=0.03)


@pytest.mark.slow  # trains to separate two classes
def test_learns(zoo) -> None:
    schema = zoo.schema(particles=12, tabular=1)
    zoo.assert_learns(lambda: zoo.build({"name": "pfn", **SMALL}, schema, 1), schema)
