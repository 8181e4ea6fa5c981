"""χ²/ndf of two weighted histograms' shapes: does one sample look like another?

Both histograms are normalised to unit sum, so only their shapes are compared; each bin's
variance is its ``Σw²`` over the squared total weight. Over the bins that hold weight in
either sample,

    χ² = Σ_i (p_i − q_i)² / (σ²(p_i) + σ²(q_i)),   ndf = (number of those bins) − 1,

with ``p_i = W_i / ΣW`` and ``σ²(p_i) = S_i / (ΣW)²`` (``S_i`` the bin's ``Σw²``). Two
samples from one distribution give χ²/ndf ≈ 1; a reweighting that closes brings a large
value down to about 1. Events outside the common bins (the bulk, 0.5–99.5 % quantiles of
both samples together) are not counted.
"""

from dataclasses import dataclass

import numpy as np

from heplearn.errors import InputError
from heplearn.evaluation.metrics import bin_edges


@dataclass(frozen=True)
class ShapeChi2:
    """A χ² comparison of two histogram shapes.

    Attributes
    ----------
    chi2 : float
        The χ² over the bins with weight.
    ndf : int
        Degrees of freedom: those bins minus one (the common normalisation).
    """

    chi2: float
    ndf: int

    @property
    def per_ndf(self) -> float:
        """χ²/ndf (NaN without degrees of freedom)."""
        return self.chi2 / self.ndf if self.ndf > 0 else float("nan")


def shape_chi2(
    values: np.ndarray,
    weights: np.ndarray,
    other_values: np.ndarray,
    other_weights: np.ndarray,
    bins: int = 30,
) -> ShapeChi2:
    """Compare the weighted shapes of two samples of one variable.

    Parameters
    ----------
    values, weights : numpy.ndarray
        ``(N,)`` values and weights of the first sample.
    other_values, other_weights : numpy.ndarray
        ``(M,)`` values and weights of the second sample.
    bins : int
        Equal-width bins over the bulk of both samples together.

    Returns
    -------
    ShapeChi2
        χ² and ndf (see the module docstring).

    Raises
    ------
    InputError
        If either sample has no positive total weight inside the bins.
    """
    edges = bin_edges(np.concatenate([values, other_values]), bins)
    shapes = []
    for sample, sample_weights in ((values, weights), (other_values, other_weights)):
        sums = np.histogram(sample, bins=edges, weights=sample_weights)[0]
        squares = np.histogram(sample, bins=edges, weights=sample_weights**2)[0]
        total = sums.sum()
        if not total > 0:
            raise InputError(
                f"a sample has a total weight of {total:g} inside the bins; the χ² of "
                "shapes needs a positive one for both"
            )
        shapes.append((sums / total, squares / total**2))
    (first, first_variance), (second, second_variance) = shapes
    variance = first_variance + second_variance
    used = variance > 0
    chi2 = float(np.sum((first[used] - second[used]) ** 2 / variance[used]))
    return ShapeChi2(chi2, int(used.sum()) - 1)
