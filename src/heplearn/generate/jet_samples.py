"""Jet samples: ``top-vs-qcd`` and the five-class ``jets5``.

Each event contributes its leading anti-kT jet if the jet lies in the pT window and
|η| acceptance and passes the truth requirement of its class (see ``docs/samples.md``).
"""

from functools import partial
from typing import ClassVar

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
    TruthRequirement,
    contained_resonance,
    nearest_parton_in,
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
    truth_requirements: ClassVar[dict[str, TruthRequirement]] = {}
    """Process name to the truth requirement its jets must pass (none if absent)."""

    def resolve(self, options: GenerateOptions) -> GenerateOptions:
        """Fill in the sample's default pT window where the options leave it open."""
        pt_min = self.default_pt_window[0] if options.pt_min is None else options.pt_min
        pt_max = self.default_pt_window[1] if options.pt_max is None else options.pt_max
        return GenerateOptions.model_validate(
            {**options.model_dump(), "pt_min": pt_min, "pt_max": pt_max}
        )

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
        requirement = self.truth_requirements.get(process.name)
        if requirement is not None:
            accepted[candidates] = requirement(
                records[candidates],
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
    truth_requirements: ClassVar[dict[str, TruthRequirement]] = {
        "ttbar": partial(contained_resonance, resonance_id=TOP_ID)
    }

    def processes(self, options: GenerateOptions) -> list[Process]:
        """QCD dijets (label 0) and all-hadronic t tbar (label 1), mixed in one file series."""
        window = _pt_hat_window(options)
        return [
            Process("qcd", 0, QCD_DIJETS + window, self.name, "2 -> 2 QCD in the pT-hat window"),
            Process("ttbar", 1, TTBAR_ALL_HADRONIC + window, self.name, "t tbar, W -> qq' only"),
        ]


class FiveJetClasses(JetSample):
    """Gluon, light-quark, top, W and Z jets near 1 TeV, as in the hls4ml jet dataset."""

    name = "jets5"
    summary = "g, q, W, Z, t jets near pT = 1 TeV (hls4ml classes and order), integer label"
    label_branch = "label"
    class_names = ("g", "q", "W", "Z", "t")
    default_pt_window = (900.0, 1100.0)
    truth_requirements: ClassVar[dict[str, TruthRequirement]] = {
        "g": partial(nearest_parton_in, flavours=(GLUON_ID,)),
        "q": partial(nearest_parton_in, flavours=LIGHT_QUARK_IDS),
        "t": partial(contained_resonance, resonance_id=TOP_ID),
        "W": partial(contained_resonance, resonance_id=W_ID),
        "Z": partial(contained_resonance, resonance_id=Z_ID),
    }

    def processes(self, options: GenerateOptions) -> list[Process]:
        """One process per class, labels 0-4 in the order of ``class_names``."""
        window = _pt_hat_window(options)
        settings = (GLUON_PAIRS, LIGHT_QUARK_PAIRS, HADRONIC_WW, HADRONIC_ZZ, TTBAR_ALL_HADRONIC)
        return [
            Process(name, label, process_settings + window, self.name)
            for label, (name, process_settings) in enumerate(
                zip(self.class_names, settings, strict=True)
            )
        ]
