"""Axis labels: the spec's labels, then the sample's metadata, then known branches, then names."""

import json

import pytest

from heplearn.data.labels import (
    KNOWN_LABELS,
    metadata_labels,
    plain_text,
    sample_labels,
    variable_label,
)
from heplearn.data.spec import DatasetSpec


def test_known_branches_get_physics_labels_and_others_keep_their_name():
    assert variable_label("jet_pt") == "Jet $p_T$ [GeV]"
    assert variable_label("jet_mass") == "Jet mass [GeV]"
    assert variable_label("log(part_pt)") == "log(part_pt)"
    assert variable_label("jet_pt", {"jet_pt": "Large-R jet $p_T$ [TeV]"}) == (
        "Large-R jet $p_T$ [TeV]"
    )


def test_a_sample_writes_the_labels_of_its_own_branches():
    assert sample_labels(["event", "jet_sdmass", "is_signal", "mll"]) == {
        "jet_sdmass": KNOWN_LABELS["jet_sdmass"],
        "mll": KNOWN_LABELS["mll"],
    }


def _spec(folder, **extra):
    return DatasetSpec.model_validate(
        {
            "sources": [{"files": [str(folder / "*.root")], "label": 0}],
            "inputs": {"x": {"kind": "tabular", "columns": ["x"]}},
            **extra,
        }
    )


def test_the_spec_overrides_the_metadata_beside_the_files(tmp_path):
    (tmp_path / "metadata.json").write_text(
        json.dumps({"labels": {"x": "Metadata $x$ [cm]", "y": "Metadata $y$ [cm]"}})
    )
    assert metadata_labels([tmp_path / "*.root"]) == {
        "x": "Metadata $x$ [cm]",
        "y": "Metadata $y$ [cm]",
    }
    labels = _spec(tmp_path, labels={"y": "Spec $y$ [mm]"}).variable_labels()
    assert variable_label("x", labels) == "Metadata $x$ [cm]"
    assert variable_label("y", labels) == "Spec $y$ [mm]"


@pytest.mark.parametrize("content", [None, "not json", '["a list"]', '{"labels": 3}'])
def test_missing_or_odd_metadata_adds_no_labels(tmp_path, content):
    if content is not None:
        (tmp_path / "metadata.json").write_text(content)
    assert _spec(tmp_path).variable_labels() == {}


def test_the_spec_refuses_labels_that_are_not_text(tmp_path):
    with pytest.raises(ValueError, match="labels"):
        _spec(tmp_path, labels={"x": ["a", "list"]})


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("Jet $p_T$ [GeV]", "Jet pT [GeV]"),
        (r"Constituent $\Delta\eta$ to the jet axis", "Constituent Δη to the jet axis"),
        (r"$E_T^{\mathrm{miss}}$ [GeV]", "ETmiss [GeV]"),
        (r"Jet $\tau_{32}$", "Jet τ32"),
        ("plain", "plain"),
    ],
)
def test_plain_text_drops_mathtext_for_captions(label, text):
    assert plain_text(label) == text
