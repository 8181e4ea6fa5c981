"""Tests of the model registry: names, parameters, input selection and building."""

import pytest
from torch import nn

from heplearn.errors import ConfigError
from heplearn.models.bdt import BoostedDecisionTrees
from heplearn.models.forest import RandomForest
from heplearn.models.registry import MODELS, build_model, model_params, select_inputs

FAMILIES = [
    "logistic",
    "mlp",
    "bdt",
    "forest",
    "cnn",
    "deepsets",
    "pfn",
    "efn",
    "particlenet",
    "particlenet-lite",
    "part",
    "part-small",
    "lorentznet",
    "lgatr",
    "autoencoder",
    "vae",
    "flow",
    "ddpm",
]


def test_every_family_is_registered() -> None:
    assert list(MODELS) == FAMILIES
    assert [name for name, family in MODELS.items() if family.estimator] == ["bdt", "forest"]
    for name in MODELS:
        assert model_params({"name": name}).name == name


def test_unknown_name_lists_the_families_and_suggests_one() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'particlenet'\?\); available: logistic"):
        model_params({"name": "particlnet"})
    with pytest.raises(ConfigError, match="needs a 'name'"):
        model_params({"widths": [3]})


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"model\.widht: unknown key \(did you mean 'widths'\?\)"):
        model_params({"name": "mlp", "widht": [8]})
    with pytest.raises(ConfigError, match=r"model\.k: Input should be greater than 0"):
        model_params({"name": "particlenet", "k": 0})


def test_cnn_needs_an_image(zoo) -> None:
    schema = zoo.schema(particles=10, tabular=2)
    with pytest.raises(ConfigError, match=r"'cnn' needs exactly one image input \(found none\)"):
        select_inputs(model_params({"name": "cnn"}), schema)


def test_logistic_cannot_read_particles(zoo) -> None:
    schema = zoo.schema(particles=10)
    with pytest.raises(ConfigError, match=r"'logistic' reads image/tabular inputs"):
        select_inputs(model_params({"name": "logistic"}), schema)
    with pytest.raises(ConfigError, match=r"not particles \(particles\)"):
        select_inputs(model_params({"name": "logistic", "inputs": ["particles"]}), schema)


def test_selection_keeps_the_kinds_a_family_reads(zoo) -> None:
    schema = zoo.schema(particles=10, tabular=2, image=(1, 8))
    assert list(select_inputs(model_params({"name": "pfn"}), schema)) == ["particles", "jet"]
    assert list(select_inputs(model_params({"name": "cnn"}), schema)) == ["jet", "image"]
    assert list(select_inputs(model_params({"name": "bdt"}), schema)) == ["jet"]
    chosen = select_inputs(model_params({"name": "mlp", "inputs": ["jet"]}), schema)
    assert list(chosen) == ["jet"]


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_builds_with_its_defaults(zoo, name: str) -> None:
    schema = zoo.schema(particles=16, tabular=2, image=(1, 16), vectors=True)
    section: dict[str, object] = {"name": name}
    if name in {"part", "part-small"}:
        section["vectors"] = "vectors"
    elif name in {"logistic", "mlp", "autoencoder", "vae"}:
        section["inputs"] = ["jet"]
    elif name == "ddpm":
        section["inputs"] = ["image"]
    elif name in {"lorentznet", "lgatr"}:
        section["inputs"] = ["vectors", "jet"]
    elif name not in {"cnn", "bdt", "forest", "flow"}:  # a flow picks its features itself
        section["inputs"] = ["particles", "jet"]  # not the four-vectors
    # models that learn their inputs give one value per event (anomaly score, NLL)
    outputs = 3 if MODELS[name].objective == "supervised" else 1
    model = build_model(model_params(section), schema, outputs)
    if name in {"bdt", "forest"}:
        assert isinstance(model, BoostedDecisionTrees if name == "bdt" else RandomForest)
        return
    assert isinstance(model, nn.Module)
    zoo.assert_outputs(model, zoo.batch(schema, size=2), (2, outputs))
