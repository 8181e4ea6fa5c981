"""The detector models on hand-made particles."""

import awkward as ak
import numpy as np
import pytest
from pydantic import ValidationError

from heplearn.generate.detector import DetectorModel
from heplearn.generate.particles import particle_records


def _particles(rows):
    """Events of (pt, eta, phi, mass, charge, pdgId) tuples as particle records."""
    counts = [len(row) for row in rows]
    flat = np.array([particle for row in rows for particle in row], dtype=float).reshape(-1, 6)
    pt, eta, phi, mass, charge, pdg = flat.T
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return particle_records(
        *(ak.unflatten(values, counts) for values in (px, py, pz, energy)),
        ak.unflatten(charge.astype(np.float32), counts),
        ak.unflatten(pdg.astype(np.int32), counts),
    )


EVENTS = [
    [
        (50.0, 0.31, 1.01, 0.14, 1, 211),  # track
        (20.0, 0.32, 1.02, 0.0, 0, 22),  # photon and neutron in the same cell
        (30.0, 0.33, 1.03, 0.94, 0, 2112),
        (10.0, 3.0, -2.0, 0.14, -1, -211),  # charged beyond the tracker: to the calorimeter
        (40.0, 3.0, 0.0, 0.106, -1, 13),  # muon beyond the tracker: lost
        (0.3, 0.5, 0.5, 0.14, 1, 211),  # below the track threshold: to the calorimeter
    ],
    [],
    [(100.0, -1.0, 3.1, 0.0, 0, 22), (100.0, -1.0, -3.1, 0.0, 0, 22)],  # across φ = ±π
]


def test_particle_model_only_cuts_on_eta():
    particles = _particles([[(10.0, 4.9, 0.0, 0.0, 0, 22), (10.0, 5.1, 0.0, 0.0, 0, 22)]])
    seen = DetectorModel().apply(particles, np.random.default_rng(0))
    assert ak.num(seen).tolist() == [1]


def test_calo_model_makes_tracks_and_cells():
    detector = DetectorModel(kind="calo", calo_constant=0.0)
    seen = detector.apply(_particles(EVENTS), np.random.default_rng(1))
    first = seen[0]
    tracks = first[first.charge != 0]
    assert ak.to_list(tracks.pdgId) == [211]
    assert tracks.pt[0] == pytest.approx(50.0, rel=0.05)
    cells = first[first.pdgId == 0]
    # photon + neutron merged into one cell, the forward pion in another, the soft pion
    # below the cell threshold lost, the muon lost
    assert len(cells) == 2
    central = cells[np.abs(cells.eta) < 1]
    assert central.E[0] == pytest.approx(20 * np.cosh(0.32) + 30 * np.cosh(0.33), rel=0.3)
    assert np.all(np.abs(cells.eta) < 4.5)
    assert ak.num(seen)[1] == 0
    # the two photons across φ = ±π land in two different cells near |φ| = π
    assert ak.num(seen)[2] == 2
    assert np.all(np.abs(seen[2].phi) > 3.0)


def test_calo_resolution_has_the_configured_width():
    n = 4000
    particles = _particles([[(100.0, 0.05, 0.05, 0.0, 0, 22)] for _ in range(n)])
    detector = DetectorModel(kind="calo", em_stochastic=0.2, calo_constant=0.0)
    energy = ak.to_numpy(ak.flatten(detector.apply(particles, np.random.default_rng(2)).E))
    true_energy = 100.0 * np.cosh(0.05)
    expected_width = 0.2 * np.sqrt(true_energy)
    assert np.std(energy) == pytest.approx(expected_width, rel=0.08)
    assert np.mean(energy) == pytest.approx(true_energy, rel=0.01)


def test_same_rng_seed_same_smearing():
    particles = _particles(EVENTS)
    detector = DetectorModel(kind="calo")
    one = detector.apply(particles, np.random.default_rng(5))
    two = detector.apply(particles, np.random.default_rng(5))
    assert ak.to_list(one) == ak.to_list(two)


def test_unknown_detector_parameter_is_rejected():
    with pytest.raises(ValidationError, match="cell_size"):
        DetectorModel(kind="calo", cell_size=0.1)
