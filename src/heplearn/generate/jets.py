"""Jet finding with FastJet and the per-jet record the jet samples store."""

import contextlib
import os
from collections.abc import Iterator

import awkward as ak
import fastjet
import numpy as np
import vector

from heplearn.generate.kinematics import (
    azimuth,
    delta_phi,
    invariant_mass,
    pseudorapidity,
    transverse_momentum,
)
from heplearn.generate.samples import float32_column
from heplearn.generate.substructure import substructure

vector.register_awkward()


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Silence C-level stdout (FastJet prints its banner on the first clustering)."""
    saved = os.dup(1)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def anti_kt(particles: ak.Array, radius: float, min_pt: float = 0.0) -> tuple[ak.Array, ak.Array]:
    """Cluster every event with anti-kT through FastJet's multi-event interface.

    Parameters
    ----------
    particles : ak.Array
        ``events * var * {px, py, pz, E, ...}``.
    radius : float
        Jet radius R.
    min_pt : float, optional
        Keep jets above this pT (GeV).

    Returns
    -------
    jets : ak.Array
        ``events * var * {px, py, pz, E}``, in FastJet's order.
    constituent_index : ak.Array
        ``events * var * var * int``: for each jet, the positions of its constituents in
        ``particles``.
    """
    momenta = ak.zip(
        {name: particles[name] for name in ("px", "py", "pz", "E")}, with_name="Momentum4D"
    )
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    with _stdout_silenced():
        sequence = fastjet.ClusterSequence(momenta, definition)
        jets = sequence.inclusive_jets(min_pt)
        indices = sequence.constituent_index(min_pt)
    return jets, indices


def leading_jets(particles: ak.Array, radius: float) -> tuple[ak.Array, ak.Array]:
    """Cluster each event with anti-kT and return its highest-pT jet and constituents.

    Parameters
    ----------
    particles : ak.Array
        ``events * var * {px, py, pz, E, ...}``; extra fields travel with the constituents.
    radius : float
        Jet radius R.

    Returns
    -------
    jets : ak.Array
        ``events * {px, py, pz, E}``, zeros for events without particles.
    constituents : ak.Array
        ``events * var * {...}``: the records of ``particles`` in the leading jet.
    """
    jets, indices = anti_kt(particles, radius)
    leading = ak.argmax(transverse_momentum(jets.px, jets.py), axis=1, keepdims=True)
    jet = ak.fill_none(ak.firsts(jets[leading]), {"px": 0.0, "py": 0.0, "pz": 0.0, "E": 0.0})
    members = ak.fill_none(ak.firsts(indices[leading]), [], axis=0)
    constituents = particles[members]
    return ak.zip({name: jet[name] for name in ("px", "py", "pz", "E")}), constituents


def jet_columns(jets: ak.Array, constituents: ak.Array, radius: float) -> dict[str, ak.Array]:
    """Build the stored branches of accepted jets: jet kinematics, substructure, constituents.

    Constituents are sorted by decreasing pT and carry Δη and Δφ to the jet axis.
    Branch names follow the JetClass convention (``jet_*``, ``part_*``).
    """
    px, py, pz, energy = (ak.to_numpy(jets[name]) for name in ("px", "py", "pz", "E"))
    jet_eta = pseudorapidity(px, py, pz)
    jet_phi = azimuth(px, py)
    order = ak.argsort(constituents.pt, axis=1, ascending=False)
    parts = constituents[order]
    shapes = substructure(parts, radius)
    columns: dict[str, np.ndarray | ak.Array] = {
        "jet_pt": transverse_momentum(px, py),
        "jet_eta": jet_eta,
        "jet_phi": jet_phi,
        "jet_mass": invariant_mass(px, py, pz, energy),
        "jet_energy": energy,
        "jet_nparticles": ak.to_numpy(ak.num(parts)).astype(np.int32),
        "jet_sdmass": shapes["msd"],
        **{f"jet_{name}": shapes[name] for name in ("tau1", "tau2", "tau3", "tau21", "tau32")},
        "jet_c2": shapes["c2"],
        "jet_d2": shapes["d2"],
        "part_px": parts.px,
        "part_py": parts.py,
        "part_pz": parts.pz,
        "part_energy": parts.E,
        "part_pt": parts.pt,
        "part_eta": parts.eta,
        "part_phi": parts.phi,
        "part_charge": parts.charge,
        "part_pdgid": parts.pdgId,
        "part_deta": parts.eta - jet_eta,
        "part_dphi": delta_phi(parts.phi, jet_phi),
    }
    integers = {"jet_nparticles", "part_pdgid"}
    return {
        name: values if name in integers else float32_column(values)
        for name, values in columns.items()
    }
