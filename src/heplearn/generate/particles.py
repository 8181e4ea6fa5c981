"""Final-state particles of Pythia events as flat-per-event awkward records."""

from collections.abc import Callable

import awkward as ak
import numpy as np

from heplearn.generate.kinematics import azimuth, pseudorapidity, transverse_momentum

NEUTRINO_IDS = (12, 14, 16)

ChargeLookup = Callable[[np.ndarray], np.ndarray]
"""Maps a numpy array of PDG ids to their charges."""

# The fields of every particle collection the generator passes between its stages.
PARTICLE_FIELDS = ("px", "py", "pz", "E", "pt", "eta", "phi", "charge", "pdgId")


def pdg_in(pdg_ids: ak.Array, wanted: tuple[int, ...]) -> ak.Array:
    """Element-wise ``|pdg_id| in wanted`` for jagged arrays (``np.isin`` needs flat input)."""
    magnitude = np.abs(pdg_ids)
    result = magnitude == wanted[0]
    for value in wanted[1:]:
        result = result | (magnitude == value)
    return result


def particle_records(
    px: ak.Array, py: ak.Array, pz: ak.Array, energy: ak.Array, charge: ak.Array, pdg_id: ak.Array
) -> ak.Array:
    """Zip momentum components, charge and id into records with pT, η and φ filled in."""
    return ak.zip(
        {
            "px": px,
            "py": py,
            "pz": pz,
            "E": energy,
            "pt": transverse_momentum(px, py),
            "eta": pseudorapidity(px, py, pz),
            "phi": azimuth(px, py),
            "charge": charge,
            "pdgId": pdg_id,
        }
    )


def visible_final_state(records: ak.Array, charge_of: ChargeLookup) -> ak.Array:
    """Select the stable particles a detector could see: final state, no neutrinos.

    Parameters
    ----------
    records : ak.Array
        Pythia event records, ``events * var * {id, status, p, ...}``.
    charge_of : callable
        Maps a numpy array of PDG ids to charges (see
        :func:`heplearn.generate.pythia.charges`).

    Returns
    -------
    ak.Array
        ``events * var * {px, py, pz, E, pt, eta, phi, charge, pdgId}`` (float64 momenta,
        float32 charge, int32 id), particles along the beam (pT = 0) removed.
    """
    final = records[
        (records.status > 0)
        & ~pdg_in(records.id, NEUTRINO_IDS)
        & ((records.p.px != 0) | (records.p.py != 0))
    ]
    pdg_id = final.id
    counts = ak.num(pdg_id)
    flat_charge = charge_of(ak.to_numpy(ak.flatten(pdg_id)))
    momentum = final.p
    return particle_records(
        momentum.px,
        momentum.py,
        momentum.pz,
        momentum.e,
        ak.unflatten(flat_charge, counts),
        pdg_id,
    )
