"""Truth labelling of jets from the Pythia event record, vectorised over events.

Pythia's record links each particle to its mother by index. The decay products of a
resonance (t → bW, W → qq', Z → qq̄) and the outgoing partons of the hard process have
status ±23; walking at most two steps up from them finds the resonance they came from.
"""

from collections.abc import Callable

import awkward as ak
import numpy as np

from heplearn.generate.kinematics import azimuth, delta_r, pseudorapidity
from heplearn.generate.particles import pdg_in

HARD_OUTGOING_STATUS = 23
QUARK_IDS = (1, 2, 3, 4, 5)
LIGHT_QUARK_IDS = (1, 2, 3)
GLUON_ID = 21


def _eta_phi(momentum: ak.Array) -> tuple[ak.Array, ak.Array]:
    return pseudorapidity(momentum.px, momentum.py, momentum.pz), azimuth(momentum.px, momentum.py)


TruthRequirement = Callable[[ak.Array, np.ndarray, np.ndarray, float], np.ndarray]
"""(records, jet_eta, jet_phi, radius) -> boolean per jet: does it come from its class?"""


def contained_resonance(
    records: ak.Array, jet_eta: np.ndarray, jet_phi: np.ndarray, radius: float, resonance_id: int
) -> np.ndarray:
    """Whether a resonance and all its decay quarks lie within ``radius`` of the jet axis.

    Parameters
    ----------
    records : ak.Array
        Pythia event records, one per jet.
    jet_eta, jet_phi : numpy.ndarray
        The jet axes.
    radius : float
        The containment radius (the jet radius).
    resonance_id : int
        |PDG id| of the resonance: 6 (top: b and the W's two quarks), 24 (W) or 23 (Z).

    Returns
    -------
    numpy.ndarray
        Boolean per jet: true when at least one such resonance is fully contained.
    """
    quarks = (np.abs(records.status) == HARD_OUTGOING_STATUS) & pdg_in(records.id, QUARK_IDS)
    mother = records.mother1
    grandmother = records[mother].mother1
    from_mother = np.abs(records[mother].id) == resonance_id
    from_grandmother = np.abs(records[grandmother].id) == resonance_id
    parent = ak.where(from_mother, mother, ak.where(from_grandmother, grandmother, -1))
    daughters = quarks & (parent >= 0)
    parent = parent[daughters]
    quark_eta, quark_phi = _eta_phi(records.p[daughters])
    parent_eta, parent_phi = _eta_phi(records.p[parent])
    inside = (delta_r(quark_eta, quark_phi, jet_eta, jet_phi) < radius) & (
        delta_r(parent_eta, parent_phi, jet_eta, jet_phi) < radius
    )
    pairs = ak.cartesian([parent, parent], axis=1, nested=True)
    inside_pairs = ak.cartesian([inside, inside], axis=1, nested=True)
    same_parent = pairs["0"] == pairs["1"]
    all_siblings_inside = ak.all(~same_parent | inside_pairs["1"], axis=2)
    return ak.to_numpy(ak.any(all_siblings_inside, axis=1))


def nearest_parton_in(
    records: ak.Array,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    radius: float,
    flavours: tuple[int, ...],
) -> np.ndarray:
    """Whether the hard-process parton nearest the jet axis lies within ``radius`` and has
    one of the given |PDG ids|.

    Only the first copies of the outgoing partons of the hard scattering are considered
    (status ±23 with a beam parton as mother), so resonance decay products are ignored.
    """
    incoming = records[records.mother1].status
    partons = records[
        (np.abs(records.status) == HARD_OUTGOING_STATUS)
        & (np.abs(incoming) == 21)
        & ((np.abs(records.id) <= 6) | (records.id == GLUON_ID))
    ]
    eta, phi = _eta_phi(partons.p)
    distance = delta_r(eta, phi, jet_eta, jet_phi)
    nearest = ak.argmin(distance, axis=1, keepdims=True)
    closest_id = ak.fill_none(ak.firsts(partons.id[nearest]), 0)
    closest_distance = ak.fill_none(ak.firsts(distance[nearest]), np.inf)
    matched = ak.to_numpy(closest_distance) < radius
    return matched & np.isin(np.abs(ak.to_numpy(closest_id)), flavours)
