"""Tests for heplearn.generate.lepton_samples on small Pythia batches (seeded, cached)."""

import awkward as ak
import numpy as np
import pytest
import pythia8mc
import uproot

from heplearn.generate.detector import DetectorModel
from heplearn.generate.lepton_samples import (
    LEPTON_CUT_BRANCH,
    LEPTON_SF_BRANCH,
    Higgs4l,
    HWWvsDY,
    prompt_leptons,
)
from heplearn.generate.pythia import new_pythia, next_events
from heplearn.generate.samples import BlockContext, GenerateOptions, Process, Sample, Selection

# generates Pythia events for every lepton sample
pytestmark = pytest.mark.slow

SEED = 2024
OPTIONS = GenerateOptions(events=10, seed=SEED)
HWW, HIGGS_4L = HWWvsDY(), Higgs4l()
# Generated events per process. About a fifth of the H -> WW and DY (m > 50) events pass
# the dilepton preselection; Drell-Yan with 10 < m < 50 GeV passes only ~0.5 %.
N_GENERATED = {"hww": 300, "dy_m10to50": 300, "dy_m50": 300, "zz": 200, "higgs": 200}

WEIGHT_BRANCHES = (
    "SFweight2l",
    LEPTON_SF_BRANCH,
    LEPTON_CUT_BRANCH,
    "GenLepMatch2l",
    "METFilter_MC",
)
HWW_DTYPES = {
    **{
        f"{lepton}_{name}": np.float32
        for lepton in ("lep1", "lep2")
        for name in ("pt", "eta", "phi")
    },
    "lep1_pdgId": np.int32,
    "lep2_pdgId": np.int32,
    **dict.fromkeys(
        ("ptll", "mll", "dphill", "met", "met_phi", "mth", "mtw1", "mtw2", "uperp", "upara"),
        np.float32,
    ),
    "njet": np.int32,
    **dict.fromkeys(("ptTOT_cut", "mTOT_cut", "ptTOT", "mTOT"), np.float32),
    **dict.fromkeys(WEIGHT_BRANCHES, np.float32),
}
LEPTON_FIELDS = {
    "pt": np.float32,
    "eta": np.float32,
    "phi": np.float32,
    "mass": np.float32,
    "charge": np.int32,
    "isolation": np.float32,
}
HIGGS_4L_DTYPES = {
    **{
        f"{collection}_{field}": dtype
        for collection in ("electron", "muon")
        for field, dtype in LEPTON_FIELDS.items()
    },
    "met": np.float32,
    "met_phi": np.float32,
    "m4l": np.float32,
}


def _process(sample: Sample, name: str) -> Process:
    (process,) = (p for p in sample.processes(OPTIONS) if p.name == name)
    return process


def _sample_of(process_name: str) -> Sample:
    return HIGGS_4L if process_name in ("zz", "higgs") else HWW


@pytest.fixture(scope="module")
def generated() -> dict[str, tuple[pythia8mc.Pythia, ak.Array]]:
    """Pythia event records per process name, generated once for the module."""
    events = {}
    for process_name, n_events in N_GENERATED.items():
        process = _process(_sample_of(process_name), process_name)
        pythia = new_pythia(process.settings, SEED, OPTIONS.ecm_gev)
        events[process_name] = (pythia, next_events(pythia, n_events))
    return events


def _select(
    generated: dict[str, tuple[pythia8mc.Pythia, ak.Array]],
    process_name: str,
    rng_seed: int = 1,
    options: GenerateOptions = OPTIONS,
    n_events: int | None = None,
) -> Selection:
    pythia, records = generated[process_name]
    sample = _sample_of(process_name)
    context = BlockContext(pythia, np.random.default_rng(rng_seed), options)
    return sample.select(records[:n_events], _process(sample, process_name), context)


@pytest.fixture(scope="module")
def selected(generated: dict[str, tuple[pythia8mc.Pythia, ak.Array]]) -> dict[str, Selection]:
    """The selection of every process with the default (particle-level) detector."""
    return {name: _select(generated, name) for name in N_GENERATED}


def _weight_product(columns: dict[str, np.ndarray]) -> np.ndarray:
    product = np.ones(len(columns["mll"]), np.float64)
    for name in WEIGHT_BRANCHES:
        product *= columns[name]
    return product


def test_processes_labels_and_groups() -> None:
    hww = {p.name: p for p in HWW.processes(OPTIONS)}
    assert [(p.label, p.group) for p in hww.values()] == [
        (1, "hww"),
        (0, "dy_m10to50"),
        (0, "dy_m50"),
    ]
    assert "25:onIfMatch = 24 -24" in hww["hww"].settings
    assert {"23:mMin = 10", "23:mMax = 50"} <= set(hww["dy_m10to50"].settings)
    assert "PhaseSpace:mHatMin = 50" in hww["dy_m50"].settings
    assert not any("mHatMax" in setting for setting in hww["dy_m50"].settings)
    four_lepton = {p.name: p for p in HIGGS_4L.processes(OPTIONS)}
    assert [(p.label, p.group) for p in four_lepton.values()] == [(0, "zz"), (1, "higgs")]
    assert "25:onIfMatch = 23 23" in four_lepton["higgs"].settings
    for sample, classes in ((HWW, ("drell-yan", "hww")), (HIGGS_4L, ("zz", "higgs"))):
        assert sample.label_branch == "is_signal"
        assert sample.class_names == classes


@pytest.mark.parametrize("process_name", list(N_GENERATED))
def test_columns_have_the_documented_branches_and_one_entry_per_accepted_event(
    selected: dict[str, Selection], process_name: str
) -> None:
    selection = selected[process_name]
    expected = HIGGS_4L_DTYPES if process_name in ("zz", "higgs") else HWW_DTYPES
    assert selection.accepted.dtype == np.bool_
    assert selection.accepted.shape == (N_GENERATED[process_name],)
    n_accepted = int(selection.accepted.sum())
    assert n_accepted > 0
    assert set(selection.columns) == set(expected)
    for name, column in selection.columns.items():
        assert len(column) == n_accepted, name
        if isinstance(column, ak.Array):
            assert column.ndim == 2, name
            column = ak.to_numpy(ak.flatten(column))
        assert column.dtype == expected[name], name


@pytest.mark.parametrize("process_name", ["hww", "dy_m10to50", "dy_m50"])
def test_hww_selected_events_pass_the_dilepton_preselection(
    selected: dict[str, Selection], process_name: str
) -> None:
    c = selected[process_name].columns
    assert np.all(c["lep1_pt"] > 20) and np.all(c["lep2_pt"] > 10)
    assert np.all(c["lep1_pt"] >= c["lep2_pt"])
    assert np.all(np.abs(c["lep1_eta"]) < 2.5) and np.all(np.abs(c["lep2_eta"]) < 2.5)
    assert set(np.abs(c["lep1_pdgId"])) | set(np.abs(c["lep2_pdgId"])) <= {11, 13}
    # e- and mu- have positive ids: opposite charges are opposite id signs
    assert np.all(c["lep1_pdgId"] * c["lep2_pdgId"] < 0)
    assert np.all(c["mll"] > 12)
    assert np.all(c["njet"] >= 0)
    assert np.all(c["ptTOT"] >= 0) and np.all(c["mTOT_cut"] >= 0)


def test_hww_derived_variables_follow_from_the_stored_leptons_and_met(
    selected: dict[str, Selection],
) -> None:
    c = {n: np.asarray(v, np.float64) for n, v in selected["hww"].columns.items()}
    pt1, eta1, phi1 = c["lep1_pt"], c["lep1_eta"], c["lep1_phi"]
    pt2, eta2, phi2 = c["lep2_pt"], c["lep2_eta"], c["lep2_phi"]
    met, met_phi = c["met"], c["met_phi"]
    # leptons are (nearly) massless at these momenta
    mll = np.sqrt(2 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2)))
    np.testing.assert_allclose(c["mll"], mll, rtol=1e-3)
    np.testing.assert_allclose(c["dphill"], np.abs(np.angle(np.exp(1j * (phi1 - phi2)))), atol=1e-5)
    np.testing.assert_allclose(
        c["mtw1"], np.sqrt(2 * pt1 * met * (1 - np.cos(phi1 - met_phi))), rtol=1e-4, atol=1e-3
    )
    np.testing.assert_allclose(
        c["mtw2"], np.sqrt(2 * pt2 * met * (1 - np.cos(phi2 - met_phi))), rtol=1e-4, atol=1e-3
    )
    ll_x = pt1 * np.cos(phi1) + pt2 * np.cos(phi2)
    ll_y = pt1 * np.sin(phi1) + pt2 * np.sin(phi2)
    np.testing.assert_allclose(c["ptll"], np.hypot(ll_x, ll_y), rtol=1e-4)
    met_x, met_y = met * np.cos(met_phi), met * np.sin(met_phi)
    mth = np.sqrt(2 * (np.hypot(ll_x, ll_y) * met - ll_x * met_x - ll_y * met_y).clip(0))
    np.testing.assert_allclose(c["mth"], mth, rtol=1e-3, atol=1e-2)
    recoil_x, recoil_y = -(met_x + ll_x), -(met_y + ll_y)
    along_x, along_y = ll_x / np.hypot(ll_x, ll_y), ll_y / np.hypot(ll_x, ll_y)
    np.testing.assert_allclose(c["upara"], recoil_x * along_x + recoil_y * along_y, atol=1e-2)
    np.testing.assert_allclose(c["uperp"], along_x * recoil_y - along_y * recoil_x, atol=1e-2)


def test_hww_signal_and_drell_yan_differ_where_the_exercise_says(
    selected: dict[str, Selection],
) -> None:
    signal, drell_yan = selected["hww"].columns, selected["dy_m50"].columns
    assert len(signal["mll"]) >= 40 and len(drell_yan["mll"]) >= 40
    # Z peak in DY (m > 50); H -> WW gives soft, small-angle lepton pairs
    assert 86 < np.median(drell_yan["mll"]) < 96
    assert np.mean(np.abs(drell_yan["mll"] - 91.2) < 10) > 0.7
    assert np.mean(signal["mll"] < 80) > 0.8
    assert np.median(signal["dphill"]) < np.median(drell_yan["dphill"])
    # real MET from the neutrinos: larger MET and mth in the signal
    assert np.median(signal["mth"]) > np.median(drell_yan["mth"]) + 30
    assert np.median(signal["met"]) > 2 * np.median(drell_yan["met"])
    # in Z -> ll without real MET the recoil balances the dilepton: u_para ~ -pT(ll)
    response = np.median(-drell_yan["upara"] / drell_yan["ptll"])
    assert 0.5 < response < 1.5


@pytest.mark.parametrize("process_name", ["hww", "dy_m10to50", "dy_m50"])
def test_hww_weight_branches_multiply_to_a_positive_finite_weight(
    selected: dict[str, Selection], process_name: str
) -> None:
    c = selected[process_name].columns
    for name in WEIGHT_BRANCHES:
        assert np.all(np.isfinite(c[name])), name
    assert np.all(c["SFweight2l"] > 0)
    assert np.all((c[LEPTON_SF_BRANCH] > 0.8) & (c[LEPTON_SF_BRANCH] < 1.2))
    for flag in (LEPTON_CUT_BRANCH, "GenLepMatch2l", "METFilter_MC"):
        assert set(np.unique(c[flag])) <= {0.0, 1.0}, flag
    weight = _weight_product(c)
    assert np.all(weight >= 0) and np.all(np.isfinite(weight))
    assert np.sum(weight) > 0
    assert np.mean(c["GenLepMatch2l"]) > 0.9
    assert np.mean(weight > 0) > 0.85
    assert 0.7 < np.mean(c["SFweight2l"]) < 1.3


def test_scale_factor_distributions_are_as_documented(selected: dict[str, Selection]) -> None:
    columns = [selected[name].columns for name in ("hww", "dy_m50")]
    lepton_sf = np.concatenate([c[LEPTON_SF_BRANCH] for c in columns])
    tight = np.concatenate([c[LEPTON_CUT_BRANCH] for c in columns])
    # two leptons, each with a scale factor in about [0.95, 1.02]
    assert lepton_sf.min() > 0.9 and lepton_sf.max() < 1.05
    assert 0.9 < tight.mean() <= 1.0


@pytest.mark.parametrize(("process_name", "mean_min"), [("hww", 1.0), ("dy_m50", 1.5)])
def test_prompt_generator_leptons_come_from_the_bosons(
    generated: dict[str, tuple[pythia8mc.Pythia, ak.Array]], process_name: str, mean_min: float
) -> None:
    """At most two prompt e/mu per event; W -> e, mu or tau -> e, mu fills most events."""
    _, records = generated[process_name]
    counts = ak.to_numpy(ak.num(prompt_leptons(records)))
    assert counts.max() <= 2
    assert counts.mean() > mean_min


@pytest.mark.parametrize("process_name", ["hww", "zz"])
def test_selection_is_deterministic_for_a_seed(
    generated: dict[str, tuple[pythia8mc.Pythia, ak.Array]], process_name: str
) -> None:
    """The calo detector smears with the context's RNG: same seed, same columns."""
    calo = GenerateOptions(events=10, seed=SEED, detector=DetectorModel(kind="calo"))
    first, again, other = (
        _select(generated, process_name, rng_seed=seed, options=calo, n_events=150)
        for seed in (7, 7, 8)
    )
    assert first.accepted.sum() > 0
    np.testing.assert_array_equal(first.accepted, again.accepted)
    for name, column in first.columns.items():
        assert ak.array_equal(column, again.columns[name]), name
    changed = "SFweight2l" if process_name == "hww" else "met"
    assert not ak.array_equal(first.columns[changed], other.columns[changed])


def test_same_pythia_seed_gives_the_same_events() -> None:
    process = _process(HWW, "hww")
    batches = []
    for _ in range(2):
        pythia = new_pythia(process.settings, SEED, OPTIONS.ecm_gev)
        context = BlockContext(pythia, np.random.default_rng(3), OPTIONS)
        batches.append(HWW.select(next_events(pythia, 25), process, context))
    np.testing.assert_array_equal(batches[0].accepted, batches[1].accepted)
    for name, column in batches[0].columns.items():
        np.testing.assert_array_equal(column, batches[1].columns[name], err_msg=name)


@pytest.mark.parametrize("process_name", ["dy_m10to50", "zz"])
def test_a_batch_without_accepted_events_gives_empty_typed_columns(
    generated: dict[str, tuple[pythia8mc.Pythia, ak.Array]],
    selected: dict[str, Selection],
    process_name: str,
) -> None:
    empty = _select(generated, process_name, n_events=0)
    assert empty.accepted.shape == (0,)
    assert set(empty.columns) == set(selected[process_name].columns)
    for name, column in empty.columns.items():
        assert len(column) == 0, name
        reference = selected[process_name].columns[name]
        assert ak.type(column).content == ak.type(reference).content, name


@pytest.mark.parametrize("process_name", ["zz", "higgs"])
def test_four_lepton_collections_are_ragged_sorted_and_in_acceptance(
    selected: dict[str, Selection], process_name: str
) -> None:
    c = selected[process_name].columns
    n_electrons, n_muons = ak.num(c["electron_pt"]), ak.num(c["muon_pt"])
    assert np.all(n_electrons + n_muons >= 4)
    assert len(np.unique(ak.to_numpy(n_electrons))) > 1  # ragged, not padded
    for collection, pt_min, eta_max in (("electron", 7.0, 2.5), ("muon", 5.0, 2.4)):
        pt = c[f"{collection}_pt"]
        assert ak.all(pt[:, 1:] <= pt[:, :-1])
        assert ak.all(pt > pt_min) and ak.all(np.abs(c[f"{collection}_eta"]) < eta_max)
        assert ak.all(np.abs(c[f"{collection}_charge"]) == 1)
        assert ak.all(c[f"{collection}_isolation"] >= 0)
        for field in LEPTON_FIELDS:
            np.testing.assert_array_equal(ak.num(c[f"{collection}_{field}"]), ak.num(pt))
    np.testing.assert_allclose(ak.mean(c["muon_mass"]), 0.10566, rtol=1e-2)
    assert np.all(c["m4l"] > 0)


def test_four_lepton_mass_peaks_at_the_higgs_mass(selected: dict[str, Selection]) -> None:
    signal, continuum = selected["higgs"].columns["m4l"], selected["zz"].columns["m4l"]
    assert len(signal) >= 40 and len(continuum) >= 40
    assert 115 < np.median(signal) < 130
    assert np.mean(np.abs(signal - 125) < 10) > 0.7
    assert np.mean(continuum > 180) > 0.6


@pytest.mark.slow
def test_generate_writes_the_three_hww_file_groups_with_positive_weights(tmp_path) -> None:
    from heplearn.generate.run import generate_sample

    # Few events: Drell-Yan with 10 < m < 50 GeV accepts ~0.5 % of generated events.
    options = GenerateOptions(events=5, seed=SEED)
    metadata = generate_sample("hww-vs-dy", options, tmp_path)
    total = 0.0
    for group, label in (("hww", 1), ("dy_m10to50", 0), ("dy_m50", 0)):
        path = tmp_path / f"{group}_0000.root"
        assert path.is_file()
        with uproot.open(path) as file:
            events = file["Events"].arrays(
                ["XSWeight", "is_signal", "mll", *WEIGHT_BRANCHES], library="np"
            )
        assert len(events["mll"]) == 5
        assert np.all(events["is_signal"] == label)
        weight = events["XSWeight"] * _weight_product(events)
        assert np.all(weight >= 0) and np.all(np.isfinite(weight))
        total += weight.sum()
    assert total > 0
    assert {entry["group"] for entry in metadata["files"]} == {"hww", "dy_m10to50", "dy_m50"}
