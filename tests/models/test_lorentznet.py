"""Tests of LorentzNet: Lorentz invariance, padding, permutations, export, training."""

import dataclasses
import math

import numpy as np
import onnxruntime
import pytest
import torch

from helpers import run_config
from heplearn.data.dataset import load_dataset
from heplearn.deploy import export_onnx
from heplearn.errors import ConfigError
from heplearn.models.lorentznet import LorentzNet, minkowski, psi, squared_mass
from heplearn.models.registry import build_model, model_params
from heplearn.models.schema import InputInfo
from heplearn.training.fit import train
from lorentz_transformations import LORENTZ, boost, in_float64, rotation, transformed

SMALL = {"name": "lorentznet", "inputs": ["vectors"], "hidden": 8, "blocks": 3}
NO_BEAMS = {**SMALL, "beams": False}


def float64(section: dict[str, object], zoo):
    """A model of ``section`` and a batch, both in float64 (for tight invariance checks)."""
    schema = zoo.schema(particles=20, tabular=2, vectors=True)
    return in_float64(zoo.build(section, schema, 3), zoo.batch(schema, size=16))


def test_the_test_transformations_are_lorentz_transformations() -> None:
    metric = torch.diag(torch.tensor([-1.0, -1.0, -1.0, 1.0], dtype=torch.float64))
    for matrix in LORENTZ:
        torch.testing.assert_close(matrix.T @ metric @ matrix, metric)
        assert not torch.allclose(matrix, torch.eye(4, dtype=torch.float64))


@pytest.mark.parametrize("matrix", LORENTZ, ids=["boost", "rotation", "boosts-and-rotation"])
def test_without_beams_the_output_is_lorentz_invariant(zoo, matrix) -> None:
    model, batch = float64(NO_BEAMS, zoo)
    reference = zoo.outputs(model, batch)
    out = zoo.outputs(model, transformed(batch, matrix))
    torch.testing.assert_close(out, reference, rtol=1e-9, atol=1e-9)


def test_a_transformation_that_is_not_lorentz_changes_the_output(zoo) -> None:
    """The invariance tests can fail: stretching pz and E by 3 is no Lorentz transformation."""
    model, batch = float64(NO_BEAMS, zoo)
    stretch = torch.diag(torch.tensor([1.0, 1.0, 3.0, 3.0], dtype=torch.float64))
    difference = zoo.outputs(model, transformed(batch, stretch)) - zoo.outputs(model, batch)
    assert difference.abs().max() > 1e-3


@pytest.mark.parametrize("matrix", LORENTZ, ids=["boost", "rotation", "boosts-and-rotation"])
def test_with_beams_the_output_is_invariant_when_the_beams_move_too(zoo, matrix) -> None:
    model, batch = float64(SMALL, zoo)
    reference = zoo.outputs(model, batch)
    assert model.beams is not None
    model.beams.copy_(model.beams @ matrix.T)
    out = zoo.outputs(model, transformed(batch, matrix))
    torch.testing.assert_close(out, reference, rtol=1e-9, atol=1e-9)


def test_the_beams_leave_rotations_about_the_beam_axis_but_not_boosts(zoo) -> None:
    model, batch = float64(SMALL, zoo)
    reference = zoo.outputs(model, batch)
    about_z = zoo.outputs(model, transformed(batch, rotation((0.0, 0.0, 1.0), 1.3)))
    torch.testing.assert_close(about_z, reference, rtol=1e-9, atol=1e-9)
    for matrix in (boost((0.0, 0.0, 0.5)), boost((0.5, 0.0, 0.0)), rotation((1, 0, 0), 1.0)):
        changed = zoo.outputs(model, transformed(batch, matrix)) - reference
        assert changed.abs().max() > 1e-4


def test_float32_is_invariant_to_float_tolerance(zoo) -> None:
    schema = zoo.schema(particles=20, vectors=True)
    model = zoo.build(NO_BEAMS, schema, 1)
    batch = zoo.batch(schema, size=32)
    matrix = (boost((0.2, 0.3, -0.4)) @ rotation((1.0, 1.0, 1.0), 0.5)).float()
    torch.testing.assert_close(
        zoo.outputs(model, transformed(batch, matrix)),
        zoo.outputs(model, batch),
        rtol=1e-3,
        atol=1e-3,
    )


@pytest.mark.parametrize("beams", [True, False])
@pytest.mark.parametrize("n_outputs", [1, 4])
def test_output_shape_with_jet_features_and_scalars(zoo, beams: bool, n_outputs: int) -> None:
    schema = zoo.schema(particles=12, tabular=2, vectors=True)
    section = {**SMALL, "inputs": ["vectors", "particles", "jet"], "scalars": "particles"}
    model = zoo.build({**section, "beams": beams}, schema, n_outputs)
    assert isinstance(model, LorentzNet)
    zoo.assert_outputs(model, zoo.batch(schema), (8, n_outputs))


@pytest.mark.parametrize("section", [SMALL, NO_BEAMS], ids=["beams", "no-beams"])
def test_padding_is_ignored(zoo, section) -> None:
    schema = zoo.schema(particles=20, vectors=True)
    model = zoo.build({**section, "dropout": 0.0}, schema, 1)
    batch = zoo.batch(schema)
    zoo.assert_padding_ignored(model, batch)
    zoo.assert_padding_ignored_in_training(model, batch)  # edge and node batch norm


def test_permutation_invariant(zoo) -> None:
    schema = zoo.schema(particles=20, vectors=True)
    section = {**SMALL, "inputs": ["vectors", "particles"], "scalars": "particles"}
    model = zoo.build(section, schema, 2)
    zoo.assert_permutation_invariant(model, zoo.batch(schema))


@pytest.mark.parametrize("section", [SMALL, NO_BEAMS], ids=["beams", "no-beams"])
def test_events_without_particles_give_finite_outputs(zoo, section) -> None:
    schema = zoo.schema(particles=8, vectors=True)
    model = zoo.build(section, schema, 1)
    batch = zoo.batch(schema, size=32, min_particles=0)
    assert not batch["vectors_mask"].any(dim=1).all()  # some events are empty
    assert torch.isfinite(zoo.outputs(model, batch)).all()


def test_invariants() -> None:
    pion = torch.tensor([[3.0, -4.0, 12.0, math.sqrt(169 + 0.14**2)]], dtype=torch.float64)
    torch.testing.assert_close(squared_mass(pion), torch.tensor([0.14**2], dtype=torch.float64))
    torch.testing.assert_close(minkowski(pion, pion), squared_mass(pion))
    values = torch.tensor([-math.e + 1, 0.0, math.e**2 - 1])
    torch.testing.assert_close(psi(values), torch.tensor([-1.0, 0.0, 2.0]))


def test_defaults_are_cpu_sized_and_the_paper_configuration_has_224k_parameters() -> None:
    """Gong et al. 2022, table 2: LorentzNet has 224k parameters (72 hidden, 6 blocks)."""
    params = model_params({"name": "lorentznet"})
    assert (params.hidden, params.blocks, params.beams, params.vectors) == (32, 4, True, "vectors")
    schema = {"vectors": InputInfo("vectors", "particles", ("px", "py", "pz", "e"), (100, 4))}
    paper = build_model(model_params({"name": "lorentznet", "hidden": 72, "blocks": 6}), schema, 2)
    count = sum(parameter.numel() for parameter in paper.parameters())
    assert count == pytest.approx(224e3, rel=0.005)


def test_input_errors(zoo) -> None:
    schema = zoo.schema(particles=10, tabular=1, vectors=True)
    cases = [
        ({"name": "lorentznet"}, r"not also particles; choose its inputs with model\.inputs"),
        ({**SMALL, "vectors": "jet"}, r"model\.vectors: 'jet' is not a particles input"),
        ({**SMALL, "scalars": "particles"}, r"model\.scalars: 'particles' is not a particles"),
    ]
    for section, message in cases:
        with pytest.raises(ConfigError, match=message):
            build_model(model_params(section), schema, 1)
    three = InputInfo("vectors", "particles", ("px", "py", "pz"), (10, 3))
    with pytest.raises(ConfigError, match="must have the 4 columns px, py, pz, E"):
        build_model(model_params(SMALL), {"vectors": three}, 1)
    vectors = InputInfo("vectors", "particles", ("px", "py", "pz", "e"), (10, 4))
    longer = InputInfo("charge", "particles", ("charge",), (20, 1))
    with pytest.raises(ConfigError, match="has length 20 but 'vectors' has length 10"):
        build_model(
            model_params({**SMALL, "inputs": None, "scalars": "charge"}),
            {"vectors": vectors, "charge": longer},
            1,
        )


def test_learns(zoo) -> None:
    schema = zoo.schema(particles=10, vectors=True)
    section = {**SMALL, "blocks": 2, "dropout": 0.0}
    zoo.assert_learns(lambda: zoo.build(section, schema, 1), schema)


@pytest.fixture(scope="module")
def trained(generated_sample, tmp_path_factory):
    """A tiny LorentzNet trained through the normal path on a generated top-vs-qcd sample."""
    sample = generated_sample("top-vs-qcd", events=300, workers=2)  # shared with test_export
    config = run_config(sample, {**SMALL, "hidden": 12}, epochs=2, batch_size=128)
    config["data"]["inputs"]["vectors"] = {
        "kind": "particles",
        "columns": ["part_px", "part_py", "part_pz", "part_energy"],
        "length": 30,
        "sort_by": "part_pt",
    }
    config["data"]["standardise"] = {"vectors": "none"}
    return train(config, tmp_path_factory.mktemp("runs") / "lorentznet")


def test_trains_through_the_normal_path(trained) -> None:
    history = trained.history()
    assert len(history) == 2
    assert all(math.isfinite(value) for epoch in history for value in epoch.values())
    assert list(trained.schema()) == ["vectors"]
    assert isinstance(trained.load_model(), LorentzNet)


def test_onnx_export_agrees_with_pytorch(trained) -> None:
    report = export_onnx(trained)
    assert report.max_abs_difference is not None and report.max_abs_difference <= 1e-5
    assert report.dynamic_particles is True
    config = trained.config()
    preprocessing = dataclasses.replace(trained.preprocessing(), standardisation={})
    arrays = load_dataset(config.model_data(), config.seed, preprocessing).arrays("test")
    model = trained.load_model()
    with torch.no_grad():
        inputs = {name: torch.from_numpy(values) for name, values in arrays.items()}
        reference = torch.sigmoid(model(inputs)[:, 0]).numpy()
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    feed = {value.name: arrays[value.name] for value in session.get_inputs()}
    scores = session.run(["scores"], feed)[0]
    assert len(scores) > 20
    np.testing.assert_allclose(scores, reference, rtol=0, atol=1e-5)
