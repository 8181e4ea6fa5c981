"""Tests of L-GATr (the ``lgatr`` package): Lorentz invariance, padding, permutations, export."""

import sys

import pytest
import torch

from helpers import run_config
from heplearn.deploy import export_onnx
from heplearn.errors import MissingExtraError
from heplearn.models.lgatr import LGATrTagger
from heplearn.models.registry import build_model, model_params
from heplearn.training.fit import train
from lorentz_transformations import LORENTZ, in_float64, rotation, transformed

SMALL = {
    "name": "lgatr",
    "inputs": ["vectors"],
    "blocks": 1,
    "multivectors": 4,
    "hidden_scalars": 8,
}
NO_BEAMS = {**SMALL, "beams": False}


def float64(section: dict[str, object], zoo):
    schema = zoo.schema(particles=12, tabular=2, vectors=True)
    return in_float64(zoo.build(section, schema, 2), zoo.batch(schema, size=8))


@pytest.mark.parametrize("matrix", LORENTZ, ids=["boost", "rotation", "boosts-and-rotation"])
def test_without_beams_the_output_is_lorentz_invariant(zoo, matrix) -> None:
    model, batch = float64(NO_BEAMS, zoo)
    reference = zoo.outputs(model, batch)
    out = zoo.outputs(model, transformed(batch, matrix))
    torch.testing.assert_close(out, reference, rtol=1e-9, atol=1e-9)
    stretch = torch.diag(torch.tensor([1.0, 1.0, 3.0, 3.0], dtype=torch.float64))
    assert (zoo.outputs(model, transformed(batch, stretch)) - reference).abs().max() > 1e-4


def test_with_beams_only_rotations_about_the_beam_axis_leave_the_output(zoo) -> None:
    model, batch = float64(SMALL, zoo)
    reference = zoo.outputs(model, batch)
    about_z = zoo.outputs(model, transformed(batch, rotation((0.0, 0.0, 1.0), 1.3)))
    torch.testing.assert_close(about_z, reference, rtol=1e-9, atol=1e-9)
    matrix = LORENTZ[2]
    assert (zoo.outputs(model, transformed(batch, matrix)) - reference).abs().max() > 1e-4
    assert isinstance(model, LGATrTagger) and model.beams is not None
    model.beams.copy_(model.beams @ matrix.T)  # the beams move too: invariant again
    out = zoo.outputs(model, transformed(batch, matrix))
    torch.testing.assert_close(out, reference, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("section", [SMALL, NO_BEAMS], ids=["beams", "no-beams"])
def test_padding_and_order_are_ignored(zoo, section) -> None:
    schema = zoo.schema(particles=12, tabular=2, vectors=True)
    section = {**section, "inputs": ["vectors", "particles", "jet"], "scalars": "particles"}
    model = zoo.build(section, schema, 3)
    batch = zoo.batch(schema)
    zoo.assert_outputs(model, batch, (8, 3))
    zoo.assert_padding_ignored(model, batch)
    zoo.assert_padding_ignored_in_training(model, batch)
    zoo.assert_permutation_invariant(model, batch)


def test_events_without_particles_give_finite_outputs(zoo) -> None:
    schema = zoo.schema(particles=6, vectors=True)
    model = zoo.build(SMALL, schema, 1)
    batch = zoo.batch(schema, size=32, min_particles=0)
    assert not batch["vectors_mask"].any(dim=1).all()
    assert torch.isfinite(zoo.outputs(model, batch)).all()


def test_without_the_package_one_line_names_the_install(zoo, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "lgatr", None)
    with pytest.raises(
        MissingExtraError, match=r"lgatr needs the lgatr package.*pip install 'heplearn\[lgatr\]'"
    ):
        build_model(model_params(SMALL), zoo.schema(particles=6, vectors=True), 1)


def test_trains_and_exports_to_onnx(generated_sample, tmp_path) -> None:
    sample = generated_sample("top-vs-qcd", events=300, workers=2)  # shared with test_export
    config = run_config(sample, SMALL, epochs=1, batch_size=128)
    config["data"]["inputs"]["vectors"] = {
        "kind": "particles",
        "columns": ["part_px", "part_py", "part_pz", "part_energy"],
        "length": 30,
        "sort_by": "part_pt",
    }
    config["data"]["standardise"] = {"vectors": "none"}
    run = train(config, tmp_path / "run")
    assert len(run.history()) == 1
    report = export_onnx(run)
    assert report.max_abs_difference is not None and report.max_abs_difference <= 1e-5
    assert report.events_compared > 20
