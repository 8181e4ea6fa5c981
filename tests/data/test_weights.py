"""Weights: normalisation, balancing, reweighting, and the errors they raise."""

import numpy as np
import pytest

from heplearn.data.spec import Normalisation, Reweighting, Weights
from heplearn.data.weights import (
    apply_class_scales,
    apply_reweighting,
    class_scales,
    reweighting_factors,
)
from heplearn.errors import InputError

LABEL = np.array([0, 0, 0, 1, 1])
WEIGHT = np.array([1.0, 2.0, 3.0, 10.0, -2.0])  # a negative (NLO-like) weight in class 1


def _scaled(settings):
    scales = class_scales(LABEL, WEIGHT, settings, ["b", "s"], 2)
    return apply_class_scales(LABEL, WEIGHT, scales)


def test_per_class_mean_one():
    weight = _scaled(Weights())
    assert weight[LABEL == 0].mean() == pytest.approx(1.0)
    assert weight[LABEL == 1].mean() == pytest.approx(1.0)
    assert weight[4] < 0  # negative weights stay negative


def test_per_class_sum_and_whole_sample():
    weight = _scaled(Weights(normalise=Normalisation(to="sum", value=100.0)))
    assert weight[LABEL == 0].sum() == pytest.approx(100.0)
    assert weight[LABEL == 1].sum() == pytest.approx(100.0)
    weight = _scaled(Weights(normalise=Normalisation(to="sum", value=1.0, per_class=False)))
    assert weight.sum() == pytest.approx(1.0)
    assert weight[0] / weight[3] == pytest.approx(0.1)


def test_balance_classes_equalises_totals():
    weight = _scaled(Weights(normalise=None, balance_classes=True))
    assert weight[LABEL == 0].sum() == pytest.approx(weight[LABEL == 1].sum())
    assert weight.sum() == pytest.approx(WEIGHT.sum())


def test_a_class_without_events_is_named():
    with pytest.raises(InputError, match="class 'extra' has no events"):
        class_scales(LABEL, WEIGHT, Weights(), ["b", "s", "extra"], 3)


def test_non_positive_total_weight_is_named():
    with pytest.raises(InputError, match="class 's' has a total weight of -2"):
        class_scales(LABEL, np.array([1.0, 1, 1, 1, -3]), Weights(), ["b", "s"], 2)


def test_reweighting_to_flat_and_to_another_class():
    rng = np.random.default_rng(0)
    variable = np.concatenate([rng.exponential(1.0, 20000), rng.uniform(0, 4, 20000)])
    label = np.repeat([0, 1], 20000)
    weight = np.ones_like(variable)
    flat = Reweighting(variable="x", target="flat", bins=8, range=(0.0, 4.0))
    factors = reweighting_factors(variable, label, weight, flat, ["a", "b"])
    reweighted = apply_reweighting(variable, label, weight, factors)
    inside = (label == 0) & (variable < 4)
    heights, _ = np.histogram(variable[inside], 8, (0, 4), weights=reweighted[inside])
    np.testing.assert_allclose(heights, heights.mean(), rtol=1e-9)

    to_b = Reweighting(variable="x", target="b", bins=8, range=(0.0, 4.0))
    factors = reweighting_factors(variable, label, weight, to_b, ["a", "b"])
    reweighted = apply_reweighting(variable, label, weight, factors)
    a, _ = np.histogram(variable[inside], 8, (0, 4), weights=reweighted[inside])
    b, _ = np.histogram(variable[label == 1], 8, (0, 4))
    np.testing.assert_allclose(a / a.sum(), b / b.sum(), rtol=1e-9)
    np.testing.assert_array_equal(reweighted[label == 1], 1.0)


def test_reweighting_to_an_unknown_class():
    with pytest.raises(InputError, match="'c' is not a class"):
        reweighting_factors(
            np.ones(5), LABEL, WEIGHT, Reweighting(variable="x", target="c"), ["b", "s"]
        )
