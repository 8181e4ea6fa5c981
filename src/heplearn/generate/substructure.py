"""Vectorised jet-substructure observables.

All jets of a batch are processed at once: FastJet reclusters every jet in a
single multi-event call (one "event" per jet), and everything else is done with
flat or padded numpy arrays, without a Python loop over jets or particles.

Angular distances are ΔR in (rapidity, φ), as in FastJet's ``PseudoJet`` and in
the fjcontrib ``Nsubjettiness`` and ``EnergyCorrelator`` packages, which these
observables reproduce (see ``tests/generate/test_substructure.py``).
"""

import warnings

import awkward as ak
import fastjet
import numpy as np

__all__ = ["substructure"]

_FIELDS = ("px", "py", "pz", "E")
_N_AXES = (1, 2, 3)

# Reclustering radius for the whole-jet kT and C/A sequences. It must be large enough
# that no constituent merges with the beam, so that the exclusive jets of each sequence
# are built from all constituents; fjcontrib's KT_Axes and SoftDrop use the same value.
_RECLUSTER_R = fastjet.JetDefinition.max_allowable_R

# Upper bound on the number of (jet, i, j) entries of one padded pairwise-distance block
# (2 MiB per float64 array, so that a block's temporaries stay in cache).
_PAIR_BLOCK_SIZE = 1 << 18

# The scikit-hep bindings issue this for every exclusive-jet request, even for kT, for
# which exclusive jets are well defined (their check compares a JetDefinition with an
# algorithm enum).
_SPURIOUS_EXCLUSIVE_WARNING = "dcut and exclusive jets for jet-finders other than kt"


def substructure(
    constituents: ak.Array,
    jet_radius: float = 0.8,
    *,
    softdrop_zcut: float = 0.1,
    softdrop_beta: float = 0.0,
) -> dict[str, np.ndarray]:
    """Compute substructure observables for a batch of jets.

    Parameters
    ----------
    constituents : ak.Array
        One jet per row, ``n_jets * var * {px, py, pz, E}`` (GeV). Constituents are
        assumed to have non-zero transverse momentum.
    jet_radius : float, optional
        Jet radius R0, used in the N-subjettiness normalisation and in soft drop.
    softdrop_zcut : float, optional
        Soft-drop symmetry cut z_cut.
    softdrop_beta : float, optional
        Soft-drop angular exponent β (0 gives the modified mass-drop tagger).

    Returns
    -------
    dict[str, np.ndarray]
        float64 arrays of length ``n_jets``:

        ``tau1``, ``tau2``, ``tau3``
            Normalised N-subjettiness (arXiv:1011.2268) with β = 1 and exclusive-kT
            axes, τ_N = Σ_k pT_k min_a ΔR_ka / (Σ_k pT_k R0); 0 for jets with fewer
            than N constituents.
        ``tau21``, ``tau32``
            τ2/τ1 and τ3/τ2, 0 where the denominator is 0.
        ``c2``, ``d2``
            Energy-correlation ratios with β = 1 (arXiv:1305.0007, arXiv:1409.6298),
            C2 = e3/e2² and D2 = e3/e2³ with z_i = pT_i/Σ pT; 0 where e2 is 0.
        ``msd``
            Soft-drop groomed mass (arXiv:1402.2657): fjcontrib SoftDrop through the
            FastJet bindings (scalar_z symmetry measure, larger-pT recursion) after
            Cambridge/Aachen reclustering of the whole jet.

        Jets without constituents get 0 for every observable.

    Raises
    ------
    ValueError
        If ``constituents`` lacks one of the fields px, py, pz, E, or if
        ``jet_radius`` is not positive.

    Notes
    -----
    Soft drop dominates the run time: the grooming call of the FastJet bindings grows
    quadratically with the number of constituents kept (measured: about 1.7 ms for a
    jet of 100 constituents, against about 0.2 ms for all other observables together).
    """
    missing = [field for field in _FIELDS if field not in ak.fields(constituents)]
    if missing:
        raise ValueError(f"constituents lack the field(s) {', '.join(missing)}")
    if jet_radius <= 0:
        raise ValueError(f"jet_radius must be positive, got {jet_radius}")

    counts = ak.to_numpy(ak.num(constituents, axis=1)).astype(np.int64)
    filled = counts > 0
    out = {
        name: np.zeros(len(counts))
        for name in ("tau1", "tau2", "tau3", "tau21", "tau32", "c2", "d2", "msd")
    }
    if not filled.any():
        return out

    px, py, pz, E = (
        np.asarray(ak.flatten(constituents[field], axis=1), dtype=np.float64) for field in _FIELDS
    )
    # Only jets with constituents are passed on: empty ones own no flat entries.
    counts = counts[filled]
    jet_index = np.repeat(np.arange(len(counts)), counts)
    pt = np.hypot(px, py)
    rap = _rapidity(px, py, pz, E)
    phi = np.arctan2(py, px)
    jets = ak.unflatten(
        ak.zip({"px": px, "py": py, "pz": pz, "E": E}, with_name="Momentum4D"), counts
    )

    kt_sequence = fastjet.ClusterSequence(
        jets, fastjet.JetDefinition(fastjet.kt_algorithm, _RECLUSTER_R)
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_SPURIOUS_EXCLUSIVE_WARNING)
        axes = {n: kt_sequence.exclusive_jets_up_to(n) for n in _N_AXES}
    ca_sequence = fastjet.ClusterSequence(
        jets, fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_R)
    )
    groomed = ca_sequence.exclusive_jets_softdrop_grooming(
        njets=1, beta=softdrop_beta, symmetry_cut=softdrop_zcut, R0=jet_radius
    )

    pt_sum = np.bincount(jet_index, weights=pt, minlength=len(counts))
    taus = {}
    for n in _N_AXES:
        tau = _nsubjettiness(rap, phi, pt, jet_index, axes[n], n) / (pt_sum * jet_radius)
        taus[n] = np.where(counts >= n, tau, 0.0)
    e2, e3 = _energy_correlations(rap, phi, pt / pt_sum[jet_index], counts)

    out["tau1"][filled], out["tau2"][filled], out["tau3"][filled] = taus[1], taus[2], taus[3]
    out["tau21"][filled] = _safe_ratio(taus[2], taus[1])
    out["tau32"][filled] = _safe_ratio(taus[3], taus[2])
    out["c2"][filled] = _safe_ratio(e3, e2**2)
    out["d2"][filled] = _safe_ratio(e3, e2**3)
    out["msd"][filled] = ak.to_numpy(groomed.msoftdrop)
    return out


def _rapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Rapidity, in FastJet's numerically safe form (tachyonic masses set to 0)."""
    kt2 = px * px + py * py
    m2 = np.maximum(E * E - kt2 - pz * pz, 0.0)
    rap = 0.5 * np.log((kt2 + m2) / (E + np.abs(pz)) ** 2)
    return np.where(pz > 0, -rap, rap)


def _delta_r(rap1: np.ndarray, phi1: np.ndarray, rap2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """Broadcast ΔR = sqrt(Δy² + Δφ²), with Δφ wrapped into [0, π] (in place, for speed)."""
    dphi = np.subtract(phi1, phi2)
    np.abs(dphi, out=dphi)
    np.minimum(dphi, 2 * np.pi - dphi, out=dphi)
    dphi *= dphi
    drap = np.subtract(rap1, rap2)
    drap *= drap
    drap += dphi
    return np.sqrt(drap, out=drap)


def _padded(
    values: np.ndarray, counts: np.ndarray, rows: np.ndarray, width: int, fill: float
) -> np.ndarray:
    """Gather the first ``width`` entries of the chosen rows of a flat jagged array.

    Returns a ``(len(rows), width)`` array, with ``fill`` beyond each row's length.
    """
    starts = np.cumsum(counts) - counts
    columns = np.arange(width)
    index = np.minimum(starts[rows, None] + columns, len(values) - 1)
    return np.where(columns < counts[rows, None], values[index], fill)


def _nsubjettiness(
    rap: np.ndarray,
    phi: np.ndarray,
    pt: np.ndarray,
    jet_index: np.ndarray,
    axes: ak.Array,
    n_axes: int,
) -> np.ndarray:
    """Unnormalised N-subjettiness Σ_k pT_k min_a ΔR_ka for every jet.

    ``axes`` holds up to ``n_axes`` axes per jet; missing ones are placed at infinite
    rapidity so that they are never the nearest.
    """
    axis_counts = ak.to_numpy(ak.num(axes, axis=1))
    flat_axes = ak.flatten(axes, axis=1)
    px, py, pz, E = (ak.to_numpy(flat_axes[field]) for field in _FIELDS)
    rows = np.arange(len(axis_counts))
    axis_rap = _padded(_rapidity(px, py, pz, E), axis_counts, rows, n_axes, np.inf)
    axis_phi = _padded(np.arctan2(py, px), axis_counts, rows, n_axes, 0.0)
    distances = _delta_r(rap[:, None], phi[:, None], axis_rap[jet_index], axis_phi[jet_index])
    return np.bincount(jet_index, weights=pt * distances.min(axis=1), minlength=len(axis_counts))


def _energy_correlations(
    rap: np.ndarray, phi: np.ndarray, z: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised two- and three-point energy correlation functions with β = 1.

    Jets are taken in blocks of similar multiplicity and padded to the block's largest
    one (padding has z = 0). With A the pairwise ΔR matrix (zero diagonal) and
    B = diag(√z) A diag(√z): e2 = zᵀ A z / 2 and e3 = tr(B³) / 6, since the diagonal of A
    removes every term of tr(B³) with a repeated index.
    """
    e2 = np.zeros(len(counts))
    e3 = np.zeros(len(counts))
    order = np.argsort(-counts, kind="stable")
    start = 0
    while start < len(order) and counts[order[start]] >= 2:
        width = int(counts[order[start]])
        rows = order[start : start + max(1, _PAIR_BLOCK_SIZE // width**2)]
        block_rap, block_phi, block_z = (
            _padded(values, counts, rows, width, 0.0) for values in (rap, phi, z)
        )
        A = _delta_r(
            block_rap[:, :, None],
            block_phi[:, :, None],
            block_rap[:, None, :],
            block_phi[:, None, :],
        )
        e2[rows] = np.einsum("ni,nij,nj->n", block_z, A, block_z) / 2
        root_z = np.sqrt(block_z)
        B = root_z[:, :, None] * A * root_z[:, None, :]
        e3[rows] = np.einsum("nij,nji->n", B @ B, B) / 6
        start += len(rows)
    return e2, e3


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise numerator/denominator, 0 where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)
