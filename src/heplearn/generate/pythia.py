"""Pythia 8 set-up and batched event generation through its awkward-array interface."""

from collections.abc import Sequence

import awkward as ak
import numpy as np
import pythia8mc

# Pythia accepts seeds in [1, 900 000 000].
MAX_PYTHIA_SEED = 900_000_000
MILLIBARN_TO_PICOBARN = 1e9

_QUIET = (
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
)


def new_pythia(settings: Sequence[str], seed: int, ecm_gev: float) -> pythia8mc.Pythia:
    """Create and initialise a silent Pythia instance for pp collisions.

    Parameters
    ----------
    settings : Sequence[str]
        Pythia settings (``"Top:gg2ttbar = on"``, ...) defining the process.
    seed : int
        Random seed, in [1, 900 000 000].
    ecm_gev : float
        Centre-of-mass energy in GeV.

    Returns
    -------
    pythia8mc.Pythia
        An initialised instance.
    """
    pythia = pythia8mc.Pythia("", False)
    for line in (
        *_QUIET,
        f"Beams:eCM = {ecm_gev}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        *settings,
    ):
        if not pythia.readString(line):
            raise ValueError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise with settings {list(settings)}")
    return pythia


def next_events(pythia: pythia8mc.Pythia, n_events: int) -> ak.Array:
    """Generate ``n_events`` events and return their particle records.

    Returns
    -------
    ak.Array
        ``n_events * var * {id, status, mother1, ..., p: Momentum4D, m, ...}``, the
        complete event record of each event (Pythia's ``nextBatch`` layout).
    """
    return pythia.nextBatch(n_events).prt


def cross_section_pb(pythia: pythia8mc.Pythia) -> tuple[float, float]:
    """Return Pythia's estimate of the generated cross-section and its error, in pb."""
    info = pythia.infoPython()
    return info.sigmaGen() * MILLIBARN_TO_PICOBARN, info.sigmaErr() * MILLIBARN_TO_PICOBARN


def charges(pythia: pythia8mc.Pythia, pdg_ids: np.ndarray) -> np.ndarray:
    """Look up electric charges (in units of e) for an array of PDG ids.

    Pythia is asked once per distinct id, so the cost does not grow with the array.
    """
    distinct, positions = np.unique(pdg_ids, return_inverse=True)
    table = np.array([pythia.particleData.charge(int(pdg)) for pdg in distinct], np.float32)
    return table[positions].reshape(np.shape(pdg_ids))
