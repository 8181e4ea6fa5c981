"""Vectorised kinematics on numpy or awkward arrays of (px, py, pz, E)."""

from typing import Any

import numpy as np

from heplearn.angles import wrap_phi

Array = Any  # numpy or awkward array: every function here works element-wise on both


def transverse_momentum(px: Array, py: Array) -> Array:
    """Return pT = hypot(px, py)."""
    return np.hypot(px, py)


def pseudorapidity(px: Array, py: Array, pz: Array) -> Array:
    """Return η = asinh(pz / pT); ±inf along the beam."""
    with np.errstate(divide="ignore"):
        return np.arcsinh(pz / np.hypot(px, py))


def azimuth(px: Array, py: Array) -> Array:
    """Return φ in (-π, π]."""
    return np.arctan2(py, px)


def invariant_mass(px: Array, py: Array, pz: Array, energy: Array) -> Array:
    """Return m = sqrt(E² - p²), clipped at 0 for rounding below the light cone."""
    return np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))


def delta_phi(phi1: Array, phi2: Array) -> Array:
    """Return φ1 - φ2 wrapped into [-π, π)."""
    return wrap_phi(phi1 - phi2)


def delta_r(eta1: Array, phi1: Array, eta2: Array, phi2: Array) -> Array:
    """Return ΔR = sqrt(Δη² + Δφ²) with φ wrap-around."""
    return np.hypot(eta1 - eta2, delta_phi(phi1, phi2))


def transverse_mass(pt1: Array, phi1: Array, pt2: Array, phi2: Array) -> Array:
    """Return mT = sqrt(2 pT1 pT2 (1 - cos Δφ)) of two (massless) transverse vectors."""
    return np.sqrt(np.maximum(2 * pt1 * pt2 * (1 - np.cos(phi1 - phi2)), 0.0))
