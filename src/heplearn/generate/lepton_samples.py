"""Lepton samples: ``hww-vs-dy`` (the H → WW dilepton exercise) and ``higgs-4l``.

Both start from the detector-level particles (``options.detector`` applied to the visible
final state) and identify electrons and muons by their PDG id, so the ``calo`` detector
model (leptons are smeared tracks) works as well as ``particle``. The selections and every
branch, with the scale-factor models, are described in ``docs/samples.md``.
"""

from typing import Any

import awkward as ak
import numpy as np

from heplearn.generate.jets import anti_kt
from heplearn.generate.kinematics import (
    azimuth,
    delta_phi,
    delta_r,
    invariant_mass,
    pseudorapidity,
    transverse_mass,
    transverse_momentum,
)
from heplearn.generate.particles import visible_final_state
from heplearn.generate.samples import (
    BlockContext,
    Column,
    GenerateOptions,
    Process,
    Sample,
    Selection,
    float32_column,
)

ELECTRON_ID, MUON_ID, TAU_ID = 11, 13, 15
Z_ID, W_ID, HIGGS_ID = 23, 24, 25

ISOLATION_CONE = 0.3
GEN_MATCH_CONE = 0.1
# Pythia copies a lepton each time it radiates or recoils (chains of up to ~4 copies in
# these processes); a longer chain than this means a broken record.
MAX_COPY_CHAIN = 64

HIGGS_TO_WW_TO_LEPTONS = (
    "HiggsSM:gg2H = on",
    "25:onMode = off",
    "25:onIfMatch = 24 -24",
    "24:onMode = off",
    "24:onIfAny = 11 13 15",
)
DRELL_YAN_TO_LEPTONS = (
    "WeakSingleBoson:ffbar2gmZ = on",
    "23:onMode = off",
    "23:onIfAny = 11 13 15",
)
# Low-mass Drell-Yan passes the lepton thresholds (20 and 10 GeV, with m < 50 GeV) mostly
# when the γ* recoils against a jet: inclusive generation accepts ~0.6% of its events, γ*+jet
# with pT-hat > 20 GeV ~7%, at the price of the part of the selected cross-section (about
# 40%) from softer recoil, which this sample does not contain (docs/samples.md).
LOW_MASS_DRELL_YAN_PLUS_JET = (
    "WeakBosonAndParton:qqbar2gmZg = on",
    "WeakBosonAndParton:qg2gmZq = on",
    "23:mMin = 10",
    "23:mMax = 50",
    "PhaseSpace:pTHatMin = 20",
    "23:onMode = off",
    "23:onIfAny = 11 13 15",
)
HIGGS_TO_ZZ_TO_4L = (
    "HiggsSM:gg2H = on",
    "25:onMode = off",
    "25:onIfMatch = 23 23",
    "23:onMode = off",
    "23:onIfAny = 11 13",
)
# Pythia has no pure-ZZ switch of its own; this is the full γ*/Z γ*/Z process
# (each γ*/Z with mass above 23:mMin = 10 GeV), as the irreducible background is.
ZZ_TO_4L = ("WeakDoubleBoson:ffbar2gmZgmZ = on", "23:onMode = off", "23:onIfAny = 11 13")

# hww-vs-dy preselection
LEPTON_PT_MIN = 10.0
LEADING_LEPTON_PT_MIN = 20.0
LEPTON_ETA_MAX = 2.5
ISOLATION_MAX = 0.15
MLL_MIN = 12.0
JET_RADIUS = 0.4
JET_PT_MIN, JET_ETA_MAX = 30.0, 4.7
SOFT_JET_PT_MIN = 20.0

# higgs-4l lepton acceptance
ELECTRON_PT_MIN_4L, ELECTRON_ETA_MAX_4L = 7.0, 2.5
MUON_PT_MIN_4L, MUON_ETA_MAX_4L = 5.0, 2.4

# Scale-factor models of hww-vs-dy (see the module docstring).
TRIGGER_TURN_ON = {  # (plateau efficiency, pT at half plateau, width); GeV
    ELECTRON_ID: (0.98, 20.0, 3.0),
    MUON_ID: (0.99, 15.0, 2.5),
}
PILEUP_GAMMA_SHAPE = 25.0
ID_SCALE_FACTOR = {  # (base, rise, pT scale in GeV, η penalty, η scale)
    ELECTRON_ID: (0.96, 0.04, 25.0, 0.01, 2.5),
    MUON_ID: (0.985, 0.03, 20.0, 0.01, 2.4),
}
ID_SCALE_FACTOR_SMEAR = 0.005
TIGHT_ID_PASS_PROBABILITY = {ELECTRON_ID: (0.98,), MUON_ID: (0.99,)}
MET_FILTER_FAIL_PROBABILITY = 0.001

LEPTON_SF_BRANCH = "LepSF2l__ele_mvaFall17V1Iso_WP90__mu_cut_Tight_HWWW"
LEPTON_CUT_BRANCH = "LepCut2l__ele_mvaFall17V1Iso_WP90__mu_cut_Tight_HWWW"

_MOMENTUM = ("px", "py", "pz", "E")


def detector_particles(records: ak.Array, context: BlockContext) -> ak.Array:
    """Visible final state seen through the run's detector model, with each particle's index.

    Returns
    -------
    ak.Array
        ``events * var * {px, py, pz, E, pt, eta, phi, charge, pdgId, index}``, where
        ``index`` is the particle's position in its event.
    """
    visible = visible_final_state(records, context.charge_of)
    particles = context.options.detector.apply(visible, context.rng)
    return ak.with_field(particles, ak.local_index(particles, axis=1), "index")


def relative_isolation(candidates: ak.Array, particles: ak.Array, cone: float) -> ak.Array:
    """Scalar pT sum of the other particles within ``cone`` of each candidate, over its pT.

    Parameters
    ----------
    candidates : ak.Array
        ``events * var * {pt, eta, phi, index}``: a subset of ``particles``.
    particles : ak.Array
        ``events * var * {pt, eta, phi, index}``: everything that enters the sum.
    cone : float
        The isolation cone radius ΔR.

    Returns
    -------
    ak.Array
        ``events * var * float64``, one value per candidate.
    """
    fields = ("pt", "eta", "phi", "index")
    pairs = ak.cartesian(
        [ak.zip({f: candidates[f] for f in fields}), ak.zip({f: particles[f] for f in fields})],
        axis=1,
        nested=True,
    )
    candidate, other = pairs["0"], pairs["1"]
    inside = (delta_r(candidate.eta, candidate.phi, other.eta, other.phi) < cone) & (
        candidate.index != other.index
    )
    return ak.sum(ak.where(inside, other.pt, 0.0), axis=2) / candidates.pt


def missing_momentum(particles: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (MET_x, MET_y) = minus the vector sum of the particles' transverse momenta."""
    return (
        -ak.to_numpy(ak.sum(particles.px, axis=1)),
        -ak.to_numpy(ak.sum(particles.py, axis=1)),
    )


def _first_distinct_ancestor(records: ak.Array, index: ak.Array) -> ak.Array:
    """Follow ``mother1`` from ``index`` past copies of the same particle (same id)."""
    identity = records.id[index]
    parent = records.mother1[index]
    for _ in range(MAX_COPY_CHAIN):
        is_copy = records.id[parent] == identity
        if not ak.any(is_copy):
            return parent
        parent = ak.where(is_copy, records.mother1[parent], parent)
    raise RuntimeError(f"a particle was copied more than {MAX_COPY_CHAIN} times")


def prompt_leptons(records: ak.Array) -> ak.Array:
    """Final-state electrons and muons from W, Z/γ* decays, directly or through a τ.

    Parameters
    ----------
    records : ak.Array
        Pythia event records.

    Returns
    -------
    ak.Array
        ``events * var * {eta, phi}`` of the prompt leptons.
    """
    index = ak.local_index(records.id, axis=1)
    flavour = np.abs(records.id)
    is_lepton = (records.status > 0) & ((flavour == ELECTRON_ID) | (flavour == MUON_ID))
    index = index[is_lepton]
    parent = _first_distinct_ancestor(records, index)
    parent_id = np.abs(records.id[parent])
    from_boson = (parent_id == Z_ID) | (parent_id == W_ID)
    from_tau = parent_id == TAU_ID
    tau_parent_id = np.abs(records.id[_first_distinct_ancestor(records, parent)])
    prompt_tau = from_tau & (
        (tau_parent_id == Z_ID) | (tau_parent_id == W_ID) | (tau_parent_id == HIGGS_ID)
    )
    momentum = records.p[index[from_boson | prompt_tau]]
    return ak.zip(
        {
            "eta": pseudorapidity(momentum.px, momentum.py, momentum.pz),
            "phi": azimuth(momentum.px, momentum.py),
        }
    )


def _isolation_region(particles: ak.Array, lepton_eta_max: float) -> ak.Array:
    """The particles that can lie in the isolation cone of a lepton with |η| < lepton_eta_max."""
    return particles[np.abs(particles.eta) < lepton_eta_max + ISOLATION_CONE]


def _sort_by_pt(particles: ak.Array) -> ak.Array:
    return particles[ak.argsort(particles.pt, axis=1, ascending=False)]


def _lepton_arrays(leptons: ak.Array) -> dict[str, np.ndarray]:
    """Numpy arrays of one lepton per event (a record array without a var dimension)."""
    fields = (*_MOMENTUM, "eta", "phi", "pt", "charge", "pdgId", "index")
    return {name: ak.to_numpy(leptons[name]) for name in fields}


def _jet_sums(
    particles: ak.Array, excluded: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Cluster anti-kT R = 0.4 jets without the leptons; count and sum the selected jets.

    Returns
    -------
    njet : numpy.ndarray
        Jets with pT > 30 GeV and |η| < 4.7, per event.
    tight, loose : dict[str, numpy.ndarray]
        Summed (px, py, pz, E) of those jets, and of all jets with pT > 20 GeV.
    """
    n_events = len(particles)
    if n_events == 0:
        empty = {name: np.zeros(0) for name in _MOMENTUM}
        return np.zeros(0, np.int32), empty, dict(empty)
    keep = (particles.index != excluded[0]) & (particles.index != excluded[1])
    jet_inputs = particles[keep]
    jets, _ = anti_kt(jet_inputs, JET_RADIUS, SOFT_JET_PT_MIN)
    pt = transverse_momentum(jets.px, jets.py)
    eta = pseudorapidity(jets.px, jets.py, jets.pz)
    central = (pt > JET_PT_MIN) & (np.abs(eta) < JET_ETA_MAX)
    njet = ak.to_numpy(ak.sum(central, axis=1)).astype(np.int32)
    tight = {name: ak.to_numpy(ak.sum(jets[name][central], axis=1)) for name in _MOMENTUM}
    loose = {name: ak.to_numpy(ak.sum(jets[name], axis=1)) for name in _MOMENTUM}
    return njet, tight, loose


class HWWvsDY(Sample):
    """gg → H → WW → 2ℓ2ν against Drell–Yan, with the branches of the HWW exercise."""

    name = "hww-vs-dy"
    summary = (
        "gg -> H -> WW -> 2l2nu vs Drell-Yan (m 10-50 and > 50 GeV): dilepton ntuple "
        "with the HWW exercise's branches and weights, label is_signal"
    )
    label_branch = "is_signal"
    class_names = ("drell-yan", "hww")

    def processes(self, options: GenerateOptions) -> list[Process]:
        """The H → WW signal and the two Drell–Yan mass ranges, each in files of its own."""
        return [
            Process(
                "hww",
                1,
                HIGGS_TO_WW_TO_LEPTONS,
                "hww",
                "gg -> H (mH = 125 GeV) times BR(H -> WW) times BR(W -> e/mu/tau nu)^2",
            ),
            Process(
                "dy_m10to50",
                0,
                LOW_MASS_DRELL_YAN_PLUS_JET,
                "dy_m10to50",
                "Z/gamma* + jet -> ee, mumu, tautau with 10 < m < 50 GeV and pT-hat > 20 GeV",
            ),
            Process(
                "dy_m50",
                0,
                (*DRELL_YAN_TO_LEPTONS, "PhaseSpace:mHatMin = 50"),
                "dy_m50",
                "Z/gamma* -> ee, mumu, tautau with m > 50 GeV",
            ),
        ]

    def select(self, records: ak.Array, process: Process, context: BlockContext) -> Selection:
        """Apply the dilepton preselection and build the exercise's branches."""
        particles = detector_particles(records, context)
        flavour = np.abs(particles.pdgId)
        candidates = particles[
            ((flavour == ELECTRON_ID) | (flavour == MUON_ID))
            & (particles.pt > LEPTON_PT_MIN)
            & (np.abs(particles.eta) < LEPTON_ETA_MAX)
        ]
        isolation = relative_isolation(
            candidates, _isolation_region(particles, LEPTON_ETA_MAX), ISOLATION_CONE
        )
        candidates = _sort_by_pt(candidates[isolation < ISOLATION_MAX])

        accepted = ak.to_numpy(ak.num(candidates, axis=1) == 2)
        pairs = candidates[accepted]
        lead, sub = _lepton_arrays(pairs[:, 0]), _lepton_arrays(pairs[:, 1])
        mll = invariant_mass(*(lead[n] + sub[n] for n in _MOMENTUM))
        passes = (
            (lead["pt"] > LEADING_LEPTON_PT_MIN)
            & (lead["charge"] * sub["charge"] < 0)
            & (mll > MLL_MIN)
        )
        accepted[np.flatnonzero(accepted)] = passes
        lead = {name: values[passes] for name, values in lead.items()}
        sub = {name: values[passes] for name, values in sub.items()}
        columns = self._columns(particles[accepted], records[accepted], lead, sub, context.rng)
        return Selection(accepted=accepted, columns=columns)

    def _columns(
        self,
        particles: ak.Array,
        records: ak.Array,
        lead: dict[str, np.ndarray],
        sub: dict[str, np.ndarray],
        rng: np.random.Generator,
    ) -> dict[str, Column]:
        met_x, met_y = missing_momentum(particles)
        met = transverse_momentum(met_x, met_y)
        met_phi = azimuth(met_x, met_y)
        ll = {name: lead[name] + sub[name] for name in _MOMENTUM}
        ptll = transverse_momentum(ll["px"], ll["py"])
        phill = azimuth(ll["px"], ll["py"])
        recoil_x, recoil_y = -(met_x + ll["px"]), -(met_y + ll["py"])
        with np.errstate(invalid="ignore", divide="ignore"):
            along_x = np.where(ptll > 0, ll["px"] / ptll, 1.0)
            along_y = np.where(ptll > 0, ll["py"] / ptll, 0.0)
        njet, tight_jets, loose_jets = _jet_sums(particles, (lead["index"], sub["index"]))
        met_vector = {"px": met_x, "py": met_y, "pz": np.zeros_like(met), "E": met}
        total_cut = {n: ll[n] + met_vector[n] + tight_jets[n] for n in _MOMENTUM}
        total = {n: ll[n] + met_vector[n] + loose_jets[n] for n in _MOMENTUM}

        columns: dict[str, Column] = {}
        for prefix, lepton in (("lep1", lead), ("lep2", sub)):
            columns[f"{prefix}_pt"] = float32_column(lepton["pt"])
            columns[f"{prefix}_eta"] = float32_column(lepton["eta"])
            columns[f"{prefix}_phi"] = float32_column(lepton["phi"])
            columns[f"{prefix}_pdgId"] = lepton["pdgId"].astype(np.int32)
        columns |= {
            "ptll": float32_column(ptll),
            "mll": float32_column(invariant_mass(*(ll[n] for n in _MOMENTUM))),
            "dphill": float32_column(np.abs(delta_phi(lead["phi"], sub["phi"]))),
            "met": float32_column(met),
            "met_phi": float32_column(met_phi),
            "mth": float32_column(transverse_mass(ptll, phill, met, met_phi)),
            "mtw1": float32_column(transverse_mass(lead["pt"], lead["phi"], met, met_phi)),
            "mtw2": float32_column(transverse_mass(sub["pt"], sub["phi"], met, met_phi)),
            "upara": float32_column(recoil_x * along_x + recoil_y * along_y),
            "uperp": float32_column(along_x * recoil_y - along_y * recoil_x),
            "njet": njet,
            "ptTOT_cut": float32_column(transverse_momentum(total_cut["px"], total_cut["py"])),
            "mTOT_cut": float32_column(invariant_mass(*(total_cut[n] for n in _MOMENTUM))),
            "ptTOT": float32_column(transverse_momentum(total["px"], total["py"])),
            "mTOT": float32_column(invariant_mass(*(total[n] for n in _MOMENTUM))),
        }
        columns |= _scale_factors(records, lead, sub, rng)
        return columns


def _by_flavour(pdg_id: np.ndarray, table: dict[int, Any]) -> np.ndarray:
    """Look up each lepton's parameters in a table keyed by |PDG id| (11 or 13).

    Returns an array of shape ``(n_parameters, n_leptons)``.
    """
    rows = np.array([np.atleast_1d(table[ELECTRON_ID]), np.atleast_1d(table[MUON_ID])], float)
    return rows[(np.abs(pdg_id) == MUON_ID).astype(np.intp)].T


def _trigger_efficiency(lepton: dict[str, np.ndarray]) -> np.ndarray:
    plateau, half_point, width = _by_flavour(lepton["pdgId"], TRIGGER_TURN_ON)
    return plateau / (1 + np.exp(-(lepton["pt"] - half_point) / width))


def _id_scale_factor(lepton: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    base, rise, pt_scale, eta_penalty, eta_scale = _by_flavour(lepton["pdgId"], ID_SCALE_FACTOR)
    pt_rise = rise * (1 - np.exp(-lepton["pt"] / pt_scale))
    smooth = base + pt_rise - eta_penalty * (lepton["eta"] / eta_scale) ** 2
    smear = 1 + ID_SCALE_FACTOR_SMEAR * rng.standard_normal(len(smooth))
    return np.clip(smooth * smear, 0.9, 1.1)


def _passes_tight_id(lepton: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    (probability,) = _by_flavour(lepton["pdgId"], TIGHT_ID_PASS_PROBABILITY)
    return rng.random(len(probability)) < probability


def _gen_lepton_match(records: ak.Array, lepton: dict[str, np.ndarray]) -> np.ndarray:
    generated = prompt_leptons(records)
    distance = delta_r(generated.eta, generated.phi, lepton["eta"], lepton["phi"])
    return ak.to_numpy(ak.any(distance < GEN_MATCH_CONE, axis=1))


def _scale_factors(
    records: ak.Array,
    lead: dict[str, np.ndarray],
    sub: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """The weight branches of the exercise (see the module docstring)."""
    n_events = len(lead["pt"])
    trigger = 1 - (1 - _trigger_efficiency(lead)) * (1 - _trigger_efficiency(sub))
    pileup = rng.gamma(PILEUP_GAMMA_SHAPE, 1 / PILEUP_GAMMA_SHAPE, n_events)
    id_sf = _id_scale_factor(lead, rng) * _id_scale_factor(sub, rng)
    tight = _passes_tight_id(lead, rng) & _passes_tight_id(sub, rng)
    if n_events:
        matched = _gen_lepton_match(records, lead) & _gen_lepton_match(records, sub)
    else:
        matched = np.zeros(0, bool)
    met_filter = rng.random(n_events) >= MET_FILTER_FAIL_PROBABILITY
    return {
        "SFweight2l": float32_column(trigger * pileup),
        LEPTON_SF_BRANCH: float32_column(id_sf),
        LEPTON_CUT_BRANCH: float32_column(tight),
        "GenLepMatch2l": float32_column(matched),
        "METFilter_MC": float32_column(met_filter),
    }


class Higgs4l(Sample):
    """H → ZZ* → 4ℓ against continuum ZZ → 4ℓ, with ragged electron and muon collections."""

    name = "higgs-4l"
    summary = (
        "gg -> H -> ZZ* -> 4l vs continuum ZZ -> 4l: ragged electrons and muons, m4l, "
        "label is_signal"
    )
    label_branch = "is_signal"
    class_names = ("zz", "higgs")

    def processes(self, options: GenerateOptions) -> list[Process]:
        """The continuum ZZ (label 0) and H → ZZ* (label 1), each in files of its own."""
        return [
            Process(
                "zz",
                0,
                ZZ_TO_4L,
                "zz",
                "ffbar -> gamma*/Z gamma*/Z (each m > 10 GeV), gamma*/Z -> ee or mumu",
            ),
            Process(
                "higgs",
                1,
                HIGGS_TO_ZZ_TO_4L,
                "higgs",
                "gg -> H (mH = 125 GeV) times BR(H -> ZZ) times BR(Z -> ee/mumu)^2",
            ),
        ]

    def select(self, records: ak.Array, process: Process, context: BlockContext) -> Selection:
        """Keep events with at least four leptons in acceptance; store them as ragged columns."""
        particles = detector_particles(records, context)
        flavour = np.abs(particles.pdgId)
        abs_eta = np.abs(particles.eta)
        is_electron = (
            (flavour == ELECTRON_ID)
            & (particles.pt > ELECTRON_PT_MIN_4L)
            & (abs_eta < ELECTRON_ETA_MAX_4L)
        )
        is_muon = (
            (flavour == MUON_ID) & (particles.pt > MUON_PT_MIN_4L) & (abs_eta < MUON_ETA_MAX_4L)
        )
        leptons = particles[is_electron | is_muon]
        accepted = ak.to_numpy(ak.num(leptons, axis=1) >= 4)
        particles, leptons = particles[accepted], leptons[accepted]
        leptons = ak.with_field(
            leptons,
            relative_isolation(
                leptons, _isolation_region(particles, ELECTRON_ETA_MAX_4L), ISOLATION_CONE
            ),
            "isolation",
        )
        leptons = _sort_by_pt(leptons)

        leading = leptons[:, :4]
        four = {n: ak.to_numpy(ak.sum(leading[n], axis=1)) for n in _MOMENTUM}
        met_x, met_y = missing_momentum(particles)
        columns: dict[str, Column] = {}
        for prefix, pdg in (("electron", ELECTRON_ID), ("muon", MUON_ID)):
            chosen = leptons[np.abs(leptons.pdgId) == pdg]
            columns |= {
                f"{prefix}_pt": float32_column(chosen.pt),
                f"{prefix}_eta": float32_column(chosen.eta),
                f"{prefix}_phi": float32_column(chosen.phi),
                f"{prefix}_mass": float32_column(invariant_mass(*(chosen[n] for n in _MOMENTUM))),
                f"{prefix}_charge": ak.to_packed(ak.values_astype(chosen.charge, np.int32)),
                f"{prefix}_isolation": float32_column(chosen.isolation),
            }
        columns |= {
            "met": float32_column(transverse_momentum(met_x, met_y)),
            "met_phi": float32_column(azimuth(met_x, met_y)),
            "m4l": float32_column(invariant_mass(*(four[n] for n in _MOMENTUM))),
        }
        return Selection(accepted=accepted, columns=columns)
