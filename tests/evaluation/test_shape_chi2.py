"""χ²/ndf of two weighted histogram shapes."""

import numpy as np
import pytest

from heplearn.errors import InputError
from heplearn.evaluation.shape_chi2 import shape_chi2


def test_a_hand_computed_case():
    # two bins (edges from the bulk of the values): [0, 0.5) and [0.5, 1]
    values, other = np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 1.0, 1.0, 1.0])
    result = shape_chi2(values, np.ones(4), other, np.ones(4), bins=2)
    # p = (1/2, 1/2), σ²(p) = (2/16, 2/16); q = (1/4, 3/4), σ²(q) = (1/16, 3/16)
    expected = (0.25**2) / (3 / 16) + (0.25**2) / (5 / 16)
    assert result.chi2 == pytest.approx(expected)
    assert result.ndf == 1
    assert result.per_ndf == pytest.approx(expected)


def test_samples_of_one_distribution_give_about_one():
    generator = np.random.default_rng(3)
    per_ndf = [
        shape_chi2(
            generator.normal(size=4000),
            generator.uniform(0.5, 1.5, 4000),
            generator.normal(size=3000),
            np.ones(3000),
            bins=20,
        ).per_ndf
        for _ in range(20)
    ]
    assert np.mean(per_ndf) == pytest.approx(1.0, abs=0.15)
    shifted = shape_chi2(
        generator.normal(size=4000), np.ones(4000), generator.normal(0.3, 1, 4000), np.ones(4000)
    )
    assert shifted.per_ndf > 5


def test_a_sample_without_weight_is_refused():
    with pytest.raises(InputError, match="total weight of 0"):
        shape_chi2(np.ones(3), np.zeros(3), np.ones(3), np.ones(3))
