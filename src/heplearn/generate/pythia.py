"""Pythia 8 set-up and batched event generation through its awkward-array interface."""

import ctypes
import difflib
import os
import sys
import tempfile
from collections.abc import Sequence

import awkward as ak
import numpy as np
import pythia8mc

from heplearn.errors import ConfigError

# Pythia accepts seeds in [1, 900 000 000].
MAX_PYTHIA_SEED = 900_000_000
MILLIBARN_TO_PICOBARN = 1e9
PYTHIA_MANUAL = "https://pythia.org/latest-manual/"

# Settings heplearn sets itself for every block; a user value would be overwritten or would
# break the reproducibility of the sample.
_RESERVED = {
    "random:": "seeds are set per block from --seed",
    "beams:ecm": "use --ecm",
}

_QUIET = (
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
)


def new_pythia(
    settings: Sequence[str], seed: int, ecm_gev: float, extra_settings: Sequence[str] = ()
) -> pythia8mc.Pythia:
    """Create and initialise a silent Pythia instance for pp collisions.

    Parameters
    ----------
    settings : Sequence[str]
        Pythia settings (``"Top:gg2ttbar = on"``, ...) defining the process.
    seed : int
        Random seed, in [1, 900 000 000].
    ecm_gev : float
        Centre-of-mass energy in GeV.
    extra_settings : Sequence[str]
        The user's settings (``heplearn generate --pythia``), read after the process
        settings so that they win (``"TimeShower:alphaSvalue = 0.15"``).

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
        *extra_settings,
    ):
        if not pythia.readString(line):
            raise ValueError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise with settings {list(settings)}")
    return pythia


def check_settings(settings: Sequence[str]) -> None:
    """Check user settings with a throw-away Pythia before any event is generated.

    Each setting is read with ``readString`` into a fresh instance; Pythia's own complaint
    (an unknown name, a value out of range) is captured and quoted, with close matches of a
    misspelled name.

    Parameters
    ----------
    settings : Sequence[str]
        Settings such as ``"TimeShower:alphaSvalue = 0.15"`` (``--pythia``).

    Raises
    ------
    ConfigError
        For the first setting Pythia rejects, or one heplearn sets itself (the seed, the
        beam energy).
    """
    if not settings:
        return
    pythia = pythia8mc.Pythia("", False)
    for setting in settings:
        name = setting.split("=")[0].strip()
        reserved = next(
            (why for prefix, why in _RESERVED.items() if name.lower().startswith(prefix)), None
        )
        if reserved is not None:
            raise ConfigError(f"--pythia {setting!r}: heplearn sets {name} itself; {reserved}")
        accepted, complaint = _read_quietly(pythia, setting)
        if not accepted:
            raise ConfigError(_rejection_message(pythia, setting, complaint))


def _read_quietly(pythia: pythia8mc.Pythia, setting: str) -> tuple[bool, str]:
    """``pythia.readString(setting)`` with Pythia's printout captured instead of shown.

    Pythia prints from C++ to file descriptor 1, so the descriptor itself is redirected.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            accepted = bool(pythia.readString(setting))
            ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        capture.seek(0)
        printed = capture.read().decode(errors="replace")
    return accepted, printed


def _rejection_message(pythia: pythia8mc.Pythia, setting: str, printed: str) -> str:
    """One line: the setting, Pythia's reason, close matches, where to look names up."""
    reasons = [
        line.strip().removeprefix("PYTHIA Error:").strip().rstrip(":")
        for line in printed.splitlines()
        if line.strip().startswith("PYTHIA Error:")
    ]
    reason = f": {reasons[-1]}" if reasons else ""
    name = setting.split("=")[0].strip()
    known = {known.lower(): known for known in _setting_names(pythia)}
    matches = [known[match] for match in difflib.get_close_matches(name.lower(), known, n=3)]
    hint = "."
    if matches and name.lower() not in known:
        hint = f"; did you mean {' or '.join(matches)}?"
    return (
        f"Pythia rejected the setting --pythia {setting!r}{reason}{hint} Check the name's "
        f"spelling and the allowed values in the Pythia manual ({PYTHIA_MANUAL})."
    )


def _setting_names(pythia: pythia8mc.Pythia) -> list[str]:
    """Every setting name Pythia knows (flags, modes, parameters, words and vectors)."""
    settings = pythia.settings
    maps = (
        settings.getFlagMap,
        settings.getModeMap,
        settings.getParmMap,
        settings.getWordMap,
        settings.getFVecMap,
        settings.getMVecMap,
        settings.getPVecMap,
        settings.getWVecMap,
    )
    return [entry.name for listing in maps for entry in listing("").values()]


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
