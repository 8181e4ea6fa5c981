"""Jet samples: ``top-vs-qcd`` and the five-class ``jets5``.

Each event contributes its leading anti-kT jet if the jet lies in the pT window and
|η| acceptance and passes the truth requirement of its class (see ``docs/samples.md``).
"""

import awkward as ak
import numpy as np

from heplearn.generate.jets import jet_columns, leading_jets
from heplearn.generate.kinematics import azimuth, pseudorapidity, transverse_momentum
from heplearn.generate.particles import visible_final_state
from heplearn.generate.samples import (
    BlockContext,
    GenerateOptions,
    Process,
    Sample,
    Selection,
)
from heplearn.generate.truth import (
    GLUON_ID,
    LIGHT_QUARK_IDS,
    contained_resonance,
    matched_parton_id,
)

TOP_ID, W_ID, Z_ID = 6, 24, 23

TTBAR_ALL_HADRONIC = (
    "Top:gg2ttbar = on",
    "Top:qqbar2ttbar = on",
    "24:onMode = off",
    "24:onIfAny = 1 2 3 4 5",
)
QCD_DIJETS = ("HardQCD:all = on",)
GLUON_PAIRS = ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on")
LIGHT_QUARK_PAIRS = (
    "HardQCD:qq2qq = on",
    "HardQCD:qqbar2qqbarNew = on",
    "HardQCD:gg2qqbar = on",
    "HardQCD:nQuarkNew = 3",
)
HADRONIC_WW = ("WeakDoubleBoson:ffbar2WW = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5")
HADRONIC_ZZ = (
    "WeakDoubleBoson:ffbar2gmZgmZ = on",
    "WeakZ0:gmZmode = 2",
    "23:onMode = off",
    "23:onIfAny = 1 2 3 4 5",
)

# The hard-scattering pT is generated in [0.8 pt_min, 1.2 pt_max]: jets in the window
# come from partons near it, and generating far outside it only wastes time.
PT_HAT_LOW, PT_HAT_HIGH = 0.8, 1.2


def _pt_hat_window(options: GenerateOptions) -> tuple[str, ...]:
    assert options.pt_min is not None
    assert options.pt_max is not None
    return (
        f"PhaseSpace:pTHatMin = {PT_HAT_LOW * options.pt_min:g}",
        f"PhaseSpace:pTHatMax = {PT_HAT_HIGH * options.pt_max:g}",
    )


class JetSample(Sample):
    """Leading-jet samples; subclasses say which processes and truth requirement."""

    default_pt_window: tuple[float, float]

    def resolve(self, options: GenerateOptions) -> GenerateOptions:
        """Fill in the sample's default pT window where the options leave it open."""
        pt_min = self.default_pt_window[0] if options.pt_min is None else options.pt_min
        pt_max = self.default_pt_window[1] if options.pt_max is None else options.pt_max
        return GenerateOptions.model_validate(
            {**options.model_dump(), "pt_min": pt_min, "pt_max": pt_max}
        )

    def truth_requirement(
        self,
        records: ak.Array,
        process: Process,
        jet_eta: np.ndarray,
        jet_phi: np.ndarray,
        radius: float,
    ) -> np.ndarray:
        """Boolean per jet: does the jet come from what its class says? Default: yes."""
        return np.ones(len(jet_eta), dtype=bool)

    def select(self, records: ak.Array, process: Process, context: BlockContext) -> Selection:
        """Keep events whose leading jet is in the window, in acceptance and truth-matched."""
        options = context.options
        particles = options.detector.apply(
            visible_final_state(records, context.charge_of), context.rng
        )
        jets, constituents = leading_jets(particles, options.jet_radius)
        px, py, pz = (ak.to_numpy(jets[name]) for name in ("px", "py", "pz"))
        pt = transverse_momentum(px, py)
        eta = pseudorapidity(px, py, pz)
        in_window = (pt >= options.pt_min) & (pt < options.pt_max) & (np.abs(eta) < options.eta_max)
        accepted = in_window.copy()
        candidates = np.flatnonzero(in_window)
        accepted[candidates] = self.truth_requirement(
            records[candidates],
            process,
            eta[candidates],
            azimuth(px, py)[candidates],
            options.jet_radius,
        )
        columns = jet_columns(jets[accepted], constituents[accepted], options.jet_radius)
        return Selection(accepted=accepted, columns=columns)


class TopVsQCD(JetSample):
    """Hadronic top jets against QCD jets (the top-tagging benchmark, arXiv:1902.09914)."""

    name = "top-vs-qcd"
    summary = "hadronic t tbar vs QCD dijets: leading anti-kT R=0.8 jet, label is_signal"
    label_branch = "is_signal"
    class_names = ("qcd", "top")
    default_pt_window = (550.0, 650.0)

    def processes(self, options: GenerateOptions) -> list[Process]:
        """QCD dijets (label 0) and all-hadronic t tbar (label 1), mixed in one file series."""
        window = _pt_hat_window(options)
        return [
            Process("qcd", 0, QCD_DIJETS + window, self.name, "2 -> 2 QCD in the pT-hat window"),
            Process("ttbar", 1, TTBAR_ALL_HADRONIC + window, self.name, "t tbar, W -> qq' only"),
        ]

    def truth_requirement(
        self,
        records: ak.Array,
        process: Process,
        jet_eta: np.ndarray,
        jet_phi: np.ndarray,
        radius: float,
    ) -> np.ndarray:
        """A top jet must contain the top and its three decay quarks (ΔR < R)."""
        if process.label == 0:
            return np.ones(len(jet_eta), dtype=bool)
        return contained_resonance(records, jet_eta, jet_phi, TOP_ID, radius)


class FiveJetClasses(JetSample):
    """Gluon, light-quark, top, W and Z jets near 1 TeV, as in the hls4ml jet dataset."""

    name = "jets5"
    summary = "g, q, t, W, Z jets near pT = 1 TeV (hls4ml classes), integer label"
    label_branch = "label"
    class_names = ("g", "q", "t", "W", "Z")
    default_pt_window = (900.0, 1100.0)

    def processes(self, options: GenerateOptions) -> list[Process]:
        """One process per class, labels 0-4 in the order of ``class_names``."""
        window = _pt_hat_window(options)
        settings = (GLUON_PAIRS, LIGHT_QUARK_PAIRS, TTBAR_ALL_HADRONIC, HADRONIC_WW, HADRONIC_ZZ)
        return [
            Process(name, label, process_settings + window, self.name)
            for label, (name, process_settings) in enumerate(
                zip(self.class_names, settings, strict=True)
            )
        ]

    def truth_requirement(
        self,
        records: ak.Array,
        process: Process,
        jet_eta: np.ndarray,
        jet_phi: np.ndarray,
        radius: float,
    ) -> np.ndarray:
        """g and q jets match a hard parton of their flavour; t, W, Z jets contain the decay."""
        name = process.name
        if name in ("t", "W", "Z"):
            resonance = {"t": TOP_ID, "W": W_ID, "Z": Z_ID}[name]
            return contained_resonance(records, jet_eta, jet_phi, resonance, radius)
        parton = np.abs(matched_parton_id(records, jet_eta, jet_phi, radius))
        return parton == GLUON_ID if name == "g" else np.isin(parton, LIGHT_QUARK_IDS)
