"""Loading whole specs into memory, on samples made by ``heplearn generate``."""

import awkward as ak
import numpy as np
import pytest

from helpers import read_events
from heplearn.config import parse_spec
from heplearn.data.dataset import load_dataset
from heplearn.data.preprocessing import Preprocessing
from heplearn.data.spec import DatasetSpec
from heplearn.data.splits import SPLIT_NAMES
from heplearn.errors import InputError

WEIGHT_BRANCHES = [
    "XSWeight",
    "SFweight2l",
    "LepSF2l__ele_mvaFall17V1Iso_WP90__mu_cut_Tight_HWWW",
    "LepCut2l__ele_mvaFall17V1Iso_WP90__mu_cut_Tight_HWWW",
    "GenLepMatch2l",
    "METFilter_MC",
]
HWW_INPUTS = ["ptll", "mth", "uperp", "upara", "ptTOT_cut", "mTOT_cut"]


@pytest.fixture(scope="module")
def hww(generated_sample):
    return generated_sample("hww-vs-dy", events=60)


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=150)


def hww_spec(directory, **changes):
    spec = {
        "sources": [
            {"files": [f"{directory}/hww_*.root"], "label": "hww"},
            {"files": [f"{directory}/dy_*.root"], "label": "drell-yan"},
        ],
        "classes": ["drell-yan", "hww"],
        "inputs": {"features": {"kind": "tabular", "columns": HWW_INPUTS}},
        "weights": {"product": WEIGHT_BRANCHES},
    }
    spec.update(changes)
    return parse_spec(DatasetSpec, spec)


def test_weighted_classification_from_ntuples(hww):
    dataset = load_dataset(hww_spec(hww), seed=3)
    events = dataset.events
    assert len(events) == 180
    assert np.bincount(events.label).tolist() == [120, 60]
    # weights: product of the branches, normalised to mean 1 per class after merging the
    # two Drell-Yan samples (the exercise's recipe)
    for label in (0, 1):
        nonzero = events.weight[events.label == label]
        assert nonzero.mean() == pytest.approx(1.0, rel=1e-5)
    raw = np.concatenate(
        [
            np.prod([read_events(hww, group)[branch] for branch in WEIGHT_BRANCHES], axis=0)
            for group in ("dy_m10to50", "dy_m50")
        ]
    )
    assert np.sort(events.weight[events.label == 0]) == pytest.approx(
        np.sort(raw / raw.mean()), rel=1e-5
    )
    # standardised on the training split only
    train = dataset.arrays("train")["features"]
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0), 1, rtol=1e-4)
    assert abs(dataset.arrays("test")["features"].mean()) > 1e-6
    fractions = [len(dataset.arrays(split)["label"]) / len(events) for split in SPLIT_NAMES]
    np.testing.assert_allclose(fractions, [0.6, 0.2, 0.2], atol=0.1)


def test_inputs_labels_and_weights_stay_aligned(hww):
    spec = hww_spec(
        hww,
        inputs={"ids": {"kind": "tabular", "columns": ["event", "is_signal"]}},
        weights={"product": ["event + 1"], "normalise": None},
        standardise={"ids": "none"},
    )
    dataset = load_dataset(spec, seed=5)
    for split in SPLIT_NAMES:
        arrays = dataset.arrays(split)
        np.testing.assert_array_equal(arrays["weight"], arrays["ids"][:, 0] + 1)
        np.testing.assert_array_equal(arrays["label"], arrays["ids"][:, 1])
    # shuffled jointly: labels are not in file order
    assert np.count_nonzero(np.diff(dataset.events.label)) > 20


def test_same_seed_same_dataset_other_seed_other_split(hww):
    one = load_dataset(hww_spec(hww), seed=11)
    two = load_dataset(hww_spec(hww), seed=11)
    other = load_dataset(hww_spec(hww), seed=12)
    np.testing.assert_array_equal(one.events.inputs["features"], two.events.inputs["features"])
    np.testing.assert_array_equal(one.events.split, two.events.split)
    assert not np.array_equal(one.events.split, other.events.split)


def test_preprocessing_round_trip_reproduces_the_inputs(hww, tmp_path):
    dataset = load_dataset(hww_spec(hww), seed=3)
    dataset.preprocessing.save(tmp_path / "preprocessing.json")
    loaded = Preprocessing.load(tmp_path / "preprocessing.json")
    again = load_dataset(hww_spec(hww), seed=3, preprocessing=loaded)
    np.testing.assert_array_equal(
        again.events.inputs["features"], dataset.events.inputs["features"]
    )


def test_particles_jet_features_and_images(top):
    spec = parse_spec(
        DatasetSpec,
        {
            "sources": [{"files": [f"{top}/*.root"]}],
            "label": "is_signal",
            "classes": ["qcd", "top"],
            "selection": "jet_sdmass > 0",
            "inputs": {
                "particles": {
                    "kind": "particles",
                    "columns": ["part_deta", "part_dphi", "log(part_pt)"],
                    "length": 50,
                    "sort_by": "part_pt",
                },
                "jet": {"kind": "tabular", "columns": ["jet_sdmass", "jet_tau32"]},
                "image": {
                    "kind": "image",
                    "bins": 16,
                    "channels": ["part_charge != 0", "part_charge == 0"],
                },
            },
        },
    )
    dataset = load_dataset(spec, seed=1)
    train = dataset.arrays("train")
    n = len(train["label"])
    assert train["particles"].shape == (n, 50, 3)
    assert train["particles_mask"].dtype == bool
    assert train["jet"].shape == (n, 2)
    assert train["image"].shape == (n, 2, 16, 16)
    np.testing.assert_allclose(train["image"].sum(axis=(1, 2, 3)), 1, rtol=1e-4)
    events = read_events(top)
    kept = int(ak.sum(events.jet_sdmass > 0))
    assert len(dataset.events) == kept
    counts = np.minimum(ak.to_numpy(events.npart[events.jet_sdmass > 0]), 50)
    assert sorted(dataset.events.masks["particles"].sum(axis=1)) == sorted(counts)
    # padded entries keep the pad value after standardisation
    assert np.all(train["particles"][~train["particles_mask"]] == 0)


def test_missing_branch_names_it_with_a_close_match(top):
    spec = parse_spec(
        DatasetSpec,
        {
            "sources": [{"files": [f"{top}/*.root"]}],
            "label": "is_signal",
            "inputs": {"jet": {"kind": "tabular", "columns": ["jet_sdmas"]}},
        },
    )
    with pytest.raises(InputError, match=r"jet_sdmas.*jet_sdmass"):
        load_dataset(spec, seed=1)


def test_class_without_events_after_selection(hww):
    with pytest.raises(InputError, match="class 'hww' has no events"):
        load_dataset(hww_spec(hww, selection="mll > 1e9 or is_signal == 0"), seed=1)


def test_non_positive_class_weight(hww):
    spec = hww_spec(
        hww, weights={"product": ["-XSWeight * is_signal + XSWeight * (1 - is_signal)"]}
    )
    with pytest.raises(InputError, match="class 'hww' has a total weight of -"):
        load_dataset(spec, seed=1)


def test_nan_inputs_are_counted_or_dropped(hww):
    changes = {
        "variables": {"bad": "where(mth > 60, log(mth - 1e9), mth)"},
        "inputs": {"f": {"kind": "tabular", "columns": ["bad", "mll"]}},
    }
    with pytest.raises(InputError, match=r"input 'f' column 'bad': \d+ events with NaN or inf"):
        load_dataset(hww_spec(hww, **changes), seed=1)
    dropped = load_dataset(hww_spec(hww, nonfinite="drop", **changes), seed=1)
    assert np.all(np.isfinite(dropped.events.inputs["f"]))
    assert 0 < len(dropped.events) < 180


def test_jagged_branch_in_a_tabular_input(top):
    spec = parse_spec(
        DatasetSpec,
        {
            "sources": [{"files": [f"{top}/*.root"]}],
            "label": "is_signal",
            "inputs": {"jet": {"kind": "tabular", "columns": ["part_pt"]}},
        },
    )
    with pytest.raises(InputError, match=r"'part_pt' gives a list per event.*sum\(\.\.\.\)"):
        load_dataset(spec, seed=1)


def test_regression_target_and_manual_standardisation(top):
    spec = parse_spec(
        DatasetSpec,
        {
            "sources": [{"files": [f"{top}/*.root"]}],
            "target": "jet_mass",
            "inputs": {"jet": {"kind": "tabular", "columns": ["jet_sdmass", "jet_nparticles"]}},
            "standardise": {"jet": {"jet_sdmass": [100.0, 50.0]}},
            "weights": {"normalise": {"to": "sum", "value": 10.0}},
        },
    )
    dataset = load_dataset(spec, seed=2)
    assert spec.task == "regression"
    assert dataset.events.label.dtype == np.float32
    assert dataset.events.weight.sum() == pytest.approx(10.0, rel=1e-5)
    events = read_events(top)
    assert sorted(dataset.events.label) == pytest.approx(sorted(ak.to_numpy(events.jet_mass)))
    standardisation = dataset.preprocessing.standardisation["jet"]
    assert standardisation["mean"][0] == 100.0
    assert standardisation["std"][0] == 50.0
    sdmass = np.sort(dataset.events.inputs["jet"][:, 0] * 50.0 + 100.0)
    np.testing.assert_allclose(sdmass, np.sort(ak.to_numpy(events.jet_sdmass)), rtol=1e-4)
    rows = dataset.summary()
    assert {row["class"] for row in rows} == {"all"}
    assert sum(row["events"] for row in rows) == len(events)


def test_images_standardised_pixel_by_pixel(top, tmp_path):
    spec = parse_spec(
        DatasetSpec,
        {
            "sources": [{"files": [f"{top}/*.root"]}],
            "label": "is_signal",
            "inputs": {"image": {"kind": "image", "bins": 8, "channels": ["part_charge != 0"]}},
            "standardise": {"image": "auto"},
        },
    )
    dataset = load_dataset(spec, seed=2)
    train = dataset.arrays("train")["image"]
    assert train.shape[1:] == (1, 8, 8)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    spread = train.std(axis=0)
    # every pixel with activity has unit spread on the training split
    assert np.allclose(spread[spread > 0], 1.0, atol=1e-3)
    dataset.preprocessing.save(tmp_path / "preprocessing.json")
    again = load_dataset(
        spec, seed=2, preprocessing=Preprocessing.load(tmp_path / "preprocessing.json")
    )
    np.testing.assert_array_equal(again.arrays("train")["image"], train)
