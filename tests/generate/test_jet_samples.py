"""The jet samples: schema, kinematics and the physics each class must show."""

import awkward as ak
import numpy as np
import pytest

from helpers import read_events, read_metadata

TOP_EVENTS = 150
JETS5_EVENTS = 60

JET_BRANCHES = {
    "jet_pt",
    "jet_eta",
    "jet_phi",
    "jet_mass",
    "jet_energy",
    "jet_nparticles",
    "jet_sdmass",
    "jet_tau1",
    "jet_tau2",
    "jet_tau3",
    "jet_tau21",
    "jet_tau32",
    "jet_c2",
    "jet_d2",
}
PARTICLE_BRANCHES = {
    "part_px",
    "part_py",
    "part_pz",
    "part_energy",
    "part_pt",
    "part_eta",
    "part_phi",
    "part_charge",
    "part_pdgid",
    "part_deta",
    "part_dphi",
}


@pytest.fixture(scope="module")
def top_vs_qcd(generated_sample):
    return generated_sample("top-vs-qcd", events=TOP_EVENTS)


@pytest.fixture(scope="module")
def jets5(generated_sample):
    return generated_sample("jets5", events=JETS5_EVENTS)


def test_top_vs_qcd_schema(top_vs_qcd):
    events = read_events(top_vs_qcd)
    assert set(events.fields) == JET_BRANCHES | PARTICLE_BRANCHES | {
        "event",
        "is_signal",
        "XSWeight",
        "npart",
    }
    assert len(events) == 2 * TOP_EVENTS
    assert np.bincount(ak.to_numpy(events.is_signal)).tolist() == [TOP_EVENTS, TOP_EVENTS]
    assert events.part_px.type.content.content.primitive == "float32"
    assert events.jet_nparticles.type.content.primitive == "int32"
    np.testing.assert_array_equal(events.npart, events.jet_nparticles)
    np.testing.assert_array_equal(events.npart, ak.num(events.part_pt))


def test_top_vs_qcd_mixes_the_classes_within_files(top_vs_qcd):
    labels = ak.to_numpy(read_events(top_vs_qcd).is_signal)
    # Shuffled, not in two blocks: the label changes many times along the file.
    assert np.count_nonzero(np.diff(labels)) > TOP_EVENTS / 2


def test_jets_are_in_the_window_and_acceptance(top_vs_qcd):
    events = read_events(top_vs_qcd)
    assert ak.all(events.jet_pt >= 550)
    assert ak.all(events.jet_pt < 650)
    assert ak.all(np.abs(events.jet_eta) < 2.0)


def test_constituents_add_up_to_the_jet(top_vs_qcd):
    events = read_events(top_vs_qcd)
    for component, total in (("part_px", None), ("part_py", None), ("part_energy", "jet_energy")):
        summed = ak.to_numpy(ak.sum(events[component], axis=1))
        if total is None:
            axis = component[-2:]
            expected = ak.to_numpy(events.jet_pt) * (
                np.cos(events.jet_phi) if axis == "px" else np.sin(events.jet_phi)
            )
        else:
            expected = ak.to_numpy(events[total])
        np.testing.assert_allclose(summed, expected, rtol=1e-4, atol=1e-2)


def test_constituents_are_sorted_and_relative_to_the_axis(top_vs_qcd):
    events = read_events(top_vs_qcd)
    assert ak.all(events.part_pt[:, :-1] >= events.part_pt[:, 1:])
    np.testing.assert_allclose(
        ak.flatten(events.part_deta), ak.flatten(events.part_eta - events.jet_eta), atol=1e-5
    )
    # Anti-kT jets are cones of radius R in (rapidity, φ) around the hard core; the final
    # axis moves a little as soft particles join. Δη is larger for soft massive hadrons.
    energy, pz = events.part_energy, events.part_pz
    rapidity = 0.5 * np.log((energy + pz) / (energy - pz))
    jet_pz = ak.sum(pz, axis=1)
    jet_rapidity = 0.5 * np.log((events.jet_energy + jet_pz) / (events.jet_energy - jet_pz))
    distance = np.hypot(rapidity - jet_rapidity, events.part_dphi)
    assert ak.mean(distance < 0.8) > 0.99
    assert ak.max(distance) < 0.8 * 1.25
    assert set(np.unique(ak.flatten(events.part_charge)).tolist()) <= {-1.0, 0.0, 1.0}


def test_top_jets_carry_the_top_mass_and_three_prongs(top_vs_qcd):
    events = read_events(top_vs_qcd)
    top = events[events.is_signal == 1]
    qcd = events[events.is_signal == 0]
    assert 150 < np.median(top.jet_mass) < 200
    assert np.median(top.jet_mass) > np.median(qcd.jet_mass) + 50
    assert np.median(top.jet_sdmass) > 2 * np.median(qcd.jet_sdmass)
    assert np.median(top.jet_tau32) < np.median(qcd.jet_tau32) - 0.1
    assert ak.all(events.jet_sdmass <= events.jet_mass * (1 + 1e-5))


def test_jets5_classes_peak_at_their_masses(jets5):
    events = read_events(jets5)
    metadata = read_metadata(jets5)
    assert metadata["classes"] == ["g", "q", "W", "Z", "t"]
    assert np.bincount(ak.to_numpy(events.label)).tolist() == [JETS5_EVENTS] * 5
    soft_drop = {
        name: np.median(events.jet_sdmass[events.label == label])
        for label, name in enumerate(metadata["classes"])
    }
    assert 70 < soft_drop["W"] < 90
    assert 80 < soft_drop["Z"] < 100
    assert soft_drop["Z"] > soft_drop["W"]
    assert 150 < soft_drop["t"] < 200
    assert soft_drop["g"] < 60
    assert soft_drop["q"] < 60
    # Gluon jets radiate more than quark jets: more constituents (Casimir scaling).
    multiplicity = {
        name: np.median(events.jet_nparticles[events.label == label])
        for label, name in enumerate(metadata["classes"])
    }
    assert multiplicity["g"] > multiplicity["q"]


def test_jets5_window_defaults_to_one_tev(jets5):
    events = read_events(jets5)
    assert ak.all((events.jet_pt >= 900) & (events.jet_pt < 1100))
    assert read_metadata(jets5)["options"]["pt_min"] == 900


def test_calo_detector_makes_cells_and_tracks(generated_sample):
    sample = generated_sample(
        "top-vs-qcd", events=40, detector={"kind": "calo"}, pt_min=500, pt_max=700
    )
    events = read_events(sample)
    charged = events.part_charge != 0
    cells = events.part_pdgid == 0
    assert ak.all(cells == ~charged)
    assert ak.all(np.abs(events.part_eta[charged]) < 2.5)
    assert ak.all(events.part_pt[charged] > 0.5 * 0.9)
    assert ak.sum(cells) > 0
    top = events[events.is_signal == 1]
    assert 130 < np.median(top.jet_mass) < 220
