"""Detector models applied to generated particles: ``particle`` and ``calo``.

``particle`` keeps every visible hadron-level particle within |η| < ``particle_eta_max``.

``calo`` is a simple, configurable detector in the spirit of fast simulations such as
Delphes: charged particles inside the tracker acceptance become tracks with a Gaussian pT
resolution σ(pT)/pT = a·pT ⊕ b; everything else the calorimeter sees (photons, neutral
hadrons, charged particles beyond the tracker) is summed into Δη×Δφ cells whose energy
is smeared with σ(E)/E = s/√E ⊕ c (separate stochastic terms for photons and hadrons).
Cells become massless pseudo-particles at the cell centre with ``pdgId = 0``. Muons
outside the tracker and cells below threshold are dropped.
"""

from typing import Literal

import awkward as ak
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from heplearn.generate.particles import particle_records

MUON_ID = 13
PHOTON_ID = 22
ELECTRON_ID = 11


class DetectorModel(BaseModel):
    """Parameters of the detector model; the defaults resemble a general-purpose LHC detector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["particle", "calo"] = "particle"
    particle_eta_max: float = Field(5.0, gt=0, description="|η| acceptance of `particle`")
    tracker_eta_max: float = Field(2.5, gt=0, description="|η| acceptance of tracks")
    track_pt_min: float = Field(0.5, ge=0, description="GeV; softer charged particles are lost")
    track_resolution_linear: float = Field(1e-4, ge=0, description="a in a·pT (per GeV)")
    track_resolution_constant: float = Field(0.005, ge=0, description="b, relative")
    calo_eta_max: float = Field(4.5, gt=0, description="|η| acceptance of the calorimeter")
    cell_size_eta: float = Field(0.1, gt=0)
    cell_size_phi: float = Field(2 * np.pi / 64, gt=0)
    em_stochastic: float = Field(0.1, ge=0, description="photons and electrons: s in s/√E")
    hadronic_stochastic: float = Field(0.5, ge=0, description="hadrons: s in s/√E")
    calo_constant: float = Field(0.03, ge=0, description="c, relative")
    cell_energy_min: float = Field(0.5, ge=0, description="GeV; softer cells are dropped")

    def apply(self, particles: ak.Array, rng: np.random.Generator) -> ak.Array:
        """Return what this detector sees of ``particles``.

        Parameters
        ----------
        particles : ak.Array
            ``events * var * {px, py, pz, E, pt, eta, phi, charge, pdgId}``.
        rng : numpy.random.Generator
            Source of the resolution smearing.

        Returns
        -------
        ak.Array
            Detector-level particles in the same layout (tracks first, then cells).
        """
        if self.kind == "particle":
            return particles[np.abs(particles.eta) < self.particle_eta_max]
        in_tracker = (
            (particles.charge != 0)
            & (np.abs(particles.eta) < self.tracker_eta_max)
            & (particles.pt > self.track_pt_min)
        )
        to_calo = (
            ~in_tracker
            & (np.abs(particles.pdgId) != MUON_ID)
            & (np.abs(particles.eta) < self.calo_eta_max)
        )
        tracks = self._smear_tracks(particles[in_tracker], rng)
        cells = self._calorimeter_cells(particles[to_calo], rng)
        return ak.concatenate([tracks, cells], axis=1)

    def _smear_tracks(self, tracks: ak.Array, rng: np.random.Generator) -> ak.Array:
        flat = ak.flatten(tracks)
        pt = ak.to_numpy(flat.pt)
        resolution = np.hypot(self.track_resolution_linear * pt, self.track_resolution_constant)
        scale = np.clip(1 + resolution * rng.standard_normal(len(pt)), 0.05, None)
        px, py, pz, energy = (ak.to_numpy(flat[name]) for name in ("px", "py", "pz", "E"))
        mass_squared = np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0)
        px, py, pz = px * scale, py * scale, pz * scale
        energy = np.sqrt(px**2 + py**2 + pz**2 + mass_squared)
        counts = ak.num(tracks)
        px, py, pz, energy = (ak.unflatten(values, counts) for values in (px, py, pz, energy))
        return particle_records(px, py, pz, energy, tracks.charge, tracks.pdgId)

    def _calorimeter_cells(self, deposits: ak.Array, rng: np.random.Generator) -> ak.Array:
        counts = ak.to_numpy(ak.num(deposits))
        flat = ak.flatten(deposits)
        event = np.repeat(np.arange(len(counts)), counts)
        eta = ak.to_numpy(flat.eta)
        phi = ak.to_numpy(flat.phi)
        energy = ak.to_numpy(flat.E)
        pdg = np.abs(ak.to_numpy(flat.pdgId))
        n_eta = int(np.ceil(2 * self.calo_eta_max / self.cell_size_eta))
        n_phi = int(np.ceil(2 * np.pi / self.cell_size_phi))
        eta_bin = np.clip(
            ((eta + self.calo_eta_max) / self.cell_size_eta).astype(np.int64), 0, n_eta - 1
        )
        phi_bin = (((phi + np.pi) / self.cell_size_phi).astype(np.int64)) % n_phi
        key = (event * n_eta + eta_bin) * n_phi + phi_bin
        cell_key, which_cell = np.unique(key, return_inverse=True)
        is_em = (pdg == PHOTON_ID) | (pdg == ELECTRON_ID)
        em_energy = np.bincount(
            which_cell, weights=np.where(is_em, energy, 0.0), minlength=len(cell_key)
        )
        cell_energy = np.bincount(which_cell, weights=energy, minlength=len(cell_key))
        variance = (
            self.em_stochastic**2 * em_energy
            + self.hadronic_stochastic**2 * (cell_energy - em_energy)
            + (self.calo_constant * cell_energy) ** 2
        )
        cell_energy = cell_energy + np.sqrt(variance) * rng.standard_normal(len(cell_key))
        keep = cell_energy > self.cell_energy_min
        cell_key, cell_energy = cell_key[keep], cell_energy[keep]
        cell_event = cell_key // (n_eta * n_phi)
        cell_eta = (cell_key // n_phi % n_eta + 0.5) * self.cell_size_eta - self.calo_eta_max
        cell_phi = (cell_key % n_phi + 0.5) * self.cell_size_phi - np.pi
        pt = cell_energy / np.cosh(cell_eta)
        per_event = np.bincount(cell_event, minlength=len(counts))
        px, py, pz, energy = (
            ak.unflatten(values, per_event)
            for values in (
                pt * np.cos(cell_phi),
                pt * np.sin(cell_phi),
                pt * np.sinh(cell_eta),
                cell_energy,
            )
        )
        return particle_records(
            px,
            py,
            pz,
            energy,
            ak.unflatten(np.zeros(len(pt), np.float32), per_event),
            ak.unflatten(np.zeros(len(pt), np.int32), per_event),
        )
