"""Tests for heplearn.generate.substructure, checked against FastJet/fjcontrib."""

import importlib

import awkward as ak
import fastjet
import numpy as np
import pytest

from heplearn.generate.substructure import substructure

# The module itself (for its private helpers), even if the package re-exports the function.
substructure_module = importlib.import_module("heplearn.generate.substructure")

KEYS = ("tau1", "tau2", "tau3", "tau21", "tau32", "c2", "d2", "msd")
N_JETS = 24  # per toy sample


def _momenta(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: np.ndarray | float = 0.0
) -> dict[str, np.ndarray]:
    pz = pt * np.sinh(eta)
    return {
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": pz,
        "E": np.sqrt(pt**2 + pz**2 + np.square(mass)),
    }


def _toy_jets(rng: np.random.Generator, n_jets: int, n_prongs: int) -> ak.Array:
    """Toy jets: ``n_prongs`` hard collimated subjets plus a soft wide-angle spray.

    Jet pT is 500-700 GeV and |η| < 2; every third jet is centred at φ = π so that its
    constituents straddle φ = ±π. Constituents are pions or photons, so that rapidity
    and pseudorapidity differ.
    """
    spray_fraction = 0.03 if n_prongs == 3 else 0.07
    jets = []
    for i in range(n_jets):
        jet_pt = rng.uniform(500.0, 700.0)
        jet_eta = rng.uniform(-1.5, 1.5)
        jet_phi = np.pi if i % 3 == 0 else rng.uniform(-np.pi, np.pi)
        if n_prongs == 3:
            radius = rng.uniform(0.15, 0.35, 3)
            angle = rng.uniform(0.0, 2 * np.pi) + np.array([0.0, 2.1, 4.2])
            prong_eta, prong_phi = radius * np.cos(angle), radius * np.sin(angle)
            prong_pt = rng.dirichlet([8.0, 8.0, 8.0])
            prong_size = rng.integers(4, 20, 3)
        else:
            prong_eta, prong_phi = np.zeros(1), np.zeros(1)
            prong_pt = np.ones(1)
            prong_size = rng.integers(10, 40, 1)
        pt, eta, phi = [], [], []
        for k in range(n_prongs):
            pt.append((1 - spray_fraction) * prong_pt[k] * rng.dirichlet(np.ones(prong_size[k])))
            eta.append(prong_eta[k] + rng.normal(0.0, 0.02, prong_size[k]))
            phi.append(prong_phi[k] + rng.normal(0.0, 0.02, prong_size[k]))
        n_spray = rng.integers(5, 20)
        spray_radius = 0.7 * np.sqrt(rng.uniform(0.0, 1.0, n_spray))
        spray_angle = rng.uniform(0.0, 2 * np.pi, n_spray)
        pt.append(spray_fraction * rng.dirichlet(np.ones(n_spray)))
        eta.append(spray_radius * np.cos(spray_angle))
        phi.append(spray_radius * np.sin(spray_angle))
        pt_all = jet_pt * np.concatenate(pt)
        mass = np.where(rng.random(len(pt_all)) < 0.7, 0.13957, 0.0)
        jets.append(
            _momenta(pt_all, jet_eta + np.concatenate(eta), jet_phi + np.concatenate(phi), mass)
        )
    return _from_jet_dicts(jets)


def _from_jet_dicts(jets: list[dict[str, np.ndarray]]) -> ak.Array:
    counts = [len(jet["px"]) for jet in jets]
    flat = {field: np.concatenate([jet[field] for jet in jets]) for field in jets[0]}
    return ak.unflatten(ak.zip(flat, with_name="Momentum4D"), counts)


def _jet_mass(jets: ak.Array) -> np.ndarray:
    px, py, pz, E = (ak.to_numpy(ak.sum(jets[field], axis=1)) for field in ("px", "py", "pz", "E"))
    return np.sqrt(np.maximum(E**2 - px**2 - py**2 - pz**2, 0.0))


def _cluster(jets: ak.Array, algorithm: int) -> fastjet.ClusterSequence:
    # Large R, so that the exclusive 1-jet holds every constituent (as in the module).
    return fastjet.ClusterSequence(
        jets, fastjet.JetDefinition(algorithm, fastjet.JetDefinition.max_allowable_R)
    )


@pytest.fixture(scope="module")
def three_prong() -> ak.Array:
    return _toy_jets(np.random.default_rng(20240531), N_JETS, 3)


@pytest.fixture(scope="module")
def one_prong() -> ak.Array:
    return _toy_jets(np.random.default_rng(20240601), N_JETS, 1)


@pytest.fixture(scope="module")
def toy_jets(three_prong: ak.Array, one_prong: ak.Array) -> ak.Array:
    return ak.concatenate([three_prong, one_prong])


@pytest.fixture(scope="module")
def toy_result(toy_jets: ak.Array) -> dict[str, np.ndarray]:
    return substructure(toy_jets)


def test_toy_jets_are_realistic(toy_jets: ak.Array) -> None:
    counts = ak.to_numpy(ak.num(toy_jets))
    assert counts.min() >= 10
    assert counts.max() <= 80
    pt = np.hypot(ak.sum(toy_jets.px, axis=1), ak.sum(toy_jets.py, axis=1))
    assert np.all((pt > 499.0) & (pt < 701.0))
    phi = np.arctan2(toy_jets.py, toy_jets.px)
    straddles = (ak.max(phi, axis=1) > 2.5) & (ak.min(phi, axis=1) < -2.5)
    assert ak.sum(straddles) >= N_JETS // 2


def test_output_format(toy_jets: ak.Array, toy_result: dict[str, np.ndarray]) -> None:
    assert set(toy_result) == set(KEYS)
    for value in toy_result.values():
        assert isinstance(value, np.ndarray)
        assert value.dtype == np.float64
        assert value.shape == (len(toy_jets),)
        assert np.all(np.isfinite(value))


@pytest.mark.parametrize("func", ["c2", "d2"])
def test_energy_correlation_ratios_match_fastjet(
    toy_jets: ak.Array, toy_result: dict[str, np.ndarray], func: str
) -> None:
    # fjcontrib EnergyCorrelatorC2/D2 with beta=1 and its default pt_R measure
    # (weights pT_i, ΔR in rapidity-azimuth) on the exclusive 1-jet of a kT sequence.
    reference = _cluster(toy_jets, fastjet.kt_algorithm).exclusive_jets_energy_correlator(
        njets=1, func=func, beta=1
    )
    np.testing.assert_allclose(toy_result[func], ak.to_numpy(reference), rtol=1e-9)


@pytest.mark.parametrize("jet_radius", [0.8, 1.2])
def test_nsubjettiness_matches_fastjet(toy_jets: ak.Array, jet_radius: float) -> None:
    # fjcontrib Njettiness with NormalizedMeasure(beta=1, R0) and KT_Axes: exclusive kT
    # axes without one-pass minimisation, distances in rapidity-azimuth.
    result = substructure(toy_jets, jet_radius)
    reference = ak.to_numpy(
        _cluster(toy_jets, fastjet.kt_algorithm).njettiness(
            measure_definition="NormalizedMeasure",
            axes_definition="KT_Axes",
            njets=[1, 2, 3],
            beta=1.0,
            R0=jet_radius,
        )
    )
    for n in (1, 2, 3):
        np.testing.assert_allclose(result[f"tau{n}"], reference[:, n - 1], rtol=1e-9)
    np.testing.assert_allclose(result["tau21"], reference[:, 1] / reference[:, 0], rtol=1e-9)
    np.testing.assert_allclose(result["tau32"], reference[:, 2] / reference[:, 1], rtol=1e-9)


def test_few_constituents() -> None:
    rng = np.random.default_rng(7)
    jets = _from_jet_dicts(
        [
            _momenta(rng.uniform(50, 300, n), rng.normal(0.5, 0.3, n), rng.normal(1.0, 0.3, n))
            for n in (1, 2, 3, 4)
        ]
    )
    result = substructure(jets)
    for n in (1, 2, 3):
        has_fewer = np.arange(1, 5) <= n
        np.testing.assert_array_equal(result[f"tau{n}"][has_fewer], 0.0)
        assert np.all(result[f"tau{n}"][~has_fewer] > 0.0)
    reference = ak.to_numpy(
        _cluster(jets, fastjet.kt_algorithm).njettiness(
            measure_definition="NormalizedMeasure", axes_definition="KT_Axes", njets=[1, 2, 3]
        )
    )
    np.testing.assert_allclose(
        np.stack([result["tau1"], result["tau2"], result["tau3"]], axis=1),
        reference,
        rtol=1e-9,
        atol=1e-15,
    )
    # One or two particles have e3 = 0, and a single particle also e2 = 0.
    np.testing.assert_array_equal(result["c2"][:2], 0.0)
    np.testing.assert_array_equal(result["d2"][:2], 0.0)
    # msd of one massless particle is its mass, 0 up to rounding in sqrt(E² - p²).
    assert result["msd"][0] == pytest.approx(0.0, abs=1e-3)


def test_two_particle_jet() -> None:
    # Two massless particles on either side of φ = ±π: ΔR = hypot(0.3, 0.2).
    pt = np.array([400.0, 150.0])
    eta = np.array([0.6, 0.9])
    phi = np.array([np.pi - 0.05, -np.pi + 0.15])
    jets = _from_jet_dicts([_momenta(pt, eta, phi)])
    result = substructure(jets)
    assert result["tau1"][0] > 0.0
    assert result["tau2"][0] == 0.0
    assert result["tau3"][0] == 0.0

    z = pt / pt.sum()
    delta_r = np.hypot(0.3, 0.2)
    e2, e3 = substructure_module._energy_correlations(eta, phi, z, np.array([2]))
    assert e2[0] == pytest.approx(z[0] * z[1] * delta_r, rel=1e-12)
    assert e3[0] == 0.0


def test_three_particle_jet_analytic() -> None:
    pt = np.array([300.0, 200.0, 100.0])
    eta = np.array([0.0, 0.3, -0.2])
    phi = np.array([-np.pi + 0.1, np.pi - 0.1, -np.pi + 0.4])
    result = substructure(_from_jet_dicts([_momenta(pt, eta, phi)]))
    z = pt / pt.sum()
    r01, r02, r12 = np.hypot(0.3, 0.2), np.hypot(0.2, 0.3), np.hypot(0.5, 0.5)
    e2 = z[0] * z[1] * r01 + z[0] * z[2] * r02 + z[1] * z[2] * r12
    e3 = z[0] * z[1] * z[2] * r01 * r02 * r12
    assert result["c2"][0] == pytest.approx(e3 / e2**2, rel=1e-12)
    assert result["d2"][0] == pytest.approx(e3 / e2**3, rel=1e-12)
    assert result["tau3"][0] == 0.0


def test_three_prong_jets_have_lower_tau32(
    three_prong: ak.Array, one_prong: ak.Array, toy_result: dict[str, np.ndarray]
) -> None:
    tau32 = toy_result["tau32"]
    three, one = tau32[: len(three_prong)], tau32[len(three_prong) :]
    assert len(one) == len(one_prong)
    assert three.mean() < 0.7 * one.mean()


def test_softdrop_mass(
    toy_jets: ak.Array, three_prong: ak.Array, toy_result: dict[str, np.ndarray]
) -> None:
    mass = _jet_mass(toy_jets)
    msd = toy_result["msd"]
    assert np.all(msd <= mass * (1 + 1e-9))
    ratio = msd / mass
    three, one = ratio[: len(three_prong)], ratio[len(three_prong) :]
    # Soft drop keeps the three hard prongs but removes the soft wide-angle spray that
    # dominates the mass of the 1-prong jets.
    assert three.min() > 0.8
    assert np.median(three) > 0.9
    assert np.median(one) < 0.4


def test_softdrop_parameters(toy_jets: ak.Array, toy_result: dict[str, np.ndarray]) -> None:
    ungroomed = substructure(toy_jets, softdrop_zcut=0.0)["msd"]
    np.testing.assert_allclose(ungroomed, _jet_mass(toy_jets), rtol=1e-9)
    # A positive β weakens the condition z > z_cut (ΔR/R0)^β, so less is groomed away.
    with_beta = substructure(toy_jets, softdrop_beta=1.0)["msd"]
    assert np.all(with_beta >= toy_result["msd"] * (1 - 1e-9))
    assert np.any(with_beta > toy_result["msd"] * 1.01)


def test_constituent_order_invariance(
    toy_jets: ak.Array, toy_result: dict[str, np.ndarray]
) -> None:
    keys = ak.unflatten(np.random.default_rng(3).random(ak.count(toy_jets.px)), ak.num(toy_jets))
    shuffled = toy_jets[ak.argsort(keys, axis=1)]
    assert not ak.all(shuffled.px == toy_jets.px)
    result = substructure(shuffled)
    for key in KEYS:
        np.testing.assert_allclose(result[key], toy_result[key], rtol=1e-9, atol=1e-12)


def test_batch_and_padding_invariance(
    toy_jets: ak.Array, toy_result: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another batch composition and order, and tiny padded blocks in the pairwise step.
    subset = np.arange(len(toy_jets))[::-3]
    monkeypatch.setattr(substructure_module, "_PAIR_BLOCK_SIZE", 5000)
    result = substructure(toy_jets[subset])
    for key in KEYS:
        np.testing.assert_allclose(result[key], toy_result[key][subset], rtol=1e-9, atol=1e-12)


def test_empty_jets(toy_jets: ak.Array, toy_result: dict[str, np.ndarray]) -> None:
    empty = toy_jets[:2][:, :0]
    mixed = ak.concatenate([empty[:1], toy_jets[:3], empty, toy_jets[3:5]])
    result = substructure(mixed)
    is_empty = np.array([True, False, False, False, True, True, False, False])
    for key in KEYS:
        np.testing.assert_array_equal(result[key][is_empty], 0.0)
        np.testing.assert_allclose(result[key][~is_empty], toy_result[key][:5], rtol=1e-9)

    only_empty = substructure(empty)
    no_jets = substructure(toy_jets[:0])
    for key in KEYS:
        np.testing.assert_array_equal(only_empty[key], np.zeros(2))
        assert no_jets[key].shape == (0,)


def test_missing_field_raises(toy_jets: ak.Array) -> None:
    with pytest.raises(ValueError, match="E"):
        substructure(ak.zip({"px": toy_jets.px, "py": toy_jets.py, "pz": toy_jets.pz}))
