"""Weighted metrics against scikit-learn, scipy and cases with known answers."""

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import ks_2samp, norm
from sklearn import metrics as sk

from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.metrics import (
    SIGNAL_EFFICIENCIES,
    RocCurve,
    auc,
    background_efficiency_at,
    background_rejection,
    bin_edges,
    binned_efficiency,
    binned_mean_and_spread,
    bootstrap_roc,
    bootstrap_uncertainty,
    confusion_matrix,
    ks_test,
    normalise_rows,
    regression_metrics,
    roc_curve,
    roc_summary,
    working_point,
)


def _sample(n: int, seed: int, *, negative: bool = False) -> tuple[np.ndarray, ...]:
    """Rounded Gaussian scores (many ties), labels and weights (10 % negative if asked)."""
    generator = np.random.default_rng(seed)
    labels = generator.integers(0, 2, n)
    scores = np.round(generator.normal(labels, 1.0), 1)
    weights = generator.normal(1.0, 0.8, n) if negative else generator.uniform(0.2, 2.0, n)
    return scores, labels, weights


# signal at 0.9 and 0.5, background at 0.5 and 0.1: the curve is
# (0, 0) -> (ε_S 0.5, ε_B 0) -> (1, 0.5) -> (1, 1)
HAND_SCORES = np.array([0.9, 0.5, 0.5, 0.1])
HAND_SIGNAL = np.array([True, True, False, False])


@pytest.mark.parametrize("negative", [False, True])
def test_roc_curve_matches_sklearn_point_by_point(negative: bool) -> None:
    scores, labels, weights = _sample(4000, seed=1, negative=negative)
    roc = roc_curve(scores, labels == 1, weights)
    fpr, tpr, thresholds = sk.roc_curve(
        labels, scores, sample_weight=weights, drop_intermediate=False
    )
    np.testing.assert_allclose(roc.background_efficiency, fpr, atol=1e-12)
    np.testing.assert_allclose(roc.signal_efficiency, tpr, atol=1e-12)
    np.testing.assert_array_equal(roc.thresholds, thresholds)
    # with negative weights the curve is not monotonic and roc_auc_score refuses it
    assert auc(roc) == pytest.approx(np.trapezoid(tpr, fpr))
    if not negative:
        assert auc(roc) == pytest.approx(sk.roc_auc_score(labels, scores, sample_weight=weights))


def test_auc_of_gaussian_scores_is_phi_of_separation_over_root_two() -> None:
    generator = np.random.default_rng(2)
    separation = 1.2
    signal = generator.normal(separation, 1.0, 100_000)
    background = generator.normal(0.0, 1.0, 100_000)
    roc = roc_curve(np.concatenate([signal, background]), np.arange(200_000) < 100_000)
    assert auc(roc) == pytest.approx(norm.cdf(separation / math.sqrt(2)), abs=3e-3)
    # at ε_S the cut is Φ⁻¹(1−ε_S) + Δ, so ε_B = 1 − Φ(Φ⁻¹(1−ε_S) + Δ)
    expected = 1 / norm.sf(norm.isf(0.5) + separation)
    assert background_rejection(roc, [0.5])[0] == pytest.approx(expected, rel=0.03)


def test_integer_weights_equal_duplicated_events() -> None:
    scores, labels, _ = _sample(500, seed=3)
    counts = np.random.default_rng(4).integers(1, 4, 500)
    weighted = roc_curve(scores, labels == 1, counts)
    duplicated = roc_curve(np.repeat(scores, counts), np.repeat(labels, counts) == 1)
    np.testing.assert_allclose(weighted.signal_efficiency, duplicated.signal_efficiency)
    np.testing.assert_allclose(weighted.background_efficiency, duplicated.background_efficiency)
    np.testing.assert_allclose(
        background_rejection(weighted, SIGNAL_EFFICIENCIES),
        background_rejection(duplicated, SIGNAL_EFFICIENCIES),
    )


def test_negative_weight_cancels_an_identical_event() -> None:
    scores, labels, weights = _sample(300, seed=5)
    cancelled = roc_curve(
        np.concatenate([scores, [0.7, 0.7]]),
        np.concatenate([labels, [0, 0]]) == 1,
        np.concatenate([weights, [2.0, -2.0]]),
    )
    reference = roc_curve(scores, labels == 1, weights)
    assert auc(cancelled) == pytest.approx(auc(reference))
    np.testing.assert_allclose(
        background_rejection(cancelled, SIGNAL_EFFICIENCIES),
        background_rejection(reference, SIGNAL_EFFICIENCIES),
    )


def test_tied_scores_enter_together() -> None:
    roc = roc_curve(np.full(6, 0.5), [True, False] * 3)
    np.testing.assert_array_equal(roc.signal_efficiency, [0.0, 1.0])
    assert auc(roc) == pytest.approx(0.5)


def test_roc_needs_positive_signal_and_background_weight() -> None:
    with pytest.raises(InputError, match="background"):
        roc_curve([0.1, 0.2], [True, False], [1.0, -1.0])


def test_rejection_interpolates_along_the_curve() -> None:
    roc = roc_curve(HAND_SCORES, HAND_SIGNAL)
    np.testing.assert_allclose(
        background_efficiency_at(roc, [0.5, 0.6, 0.75, 1.0]), [0, 0.1, 0.25, 0.5]
    )
    np.testing.assert_allclose(background_rejection(roc, [0.5, 0.6, 0.75, 1.0]), [np.inf, 10, 4, 2])


def test_rejection_of_equal_signal_efficiencies_takes_the_tightest_cut() -> None:
    # signal 0.9, background 0.7, signal 0.5: ε_S = 0.5 at (0.5, 0) and at (0.5, 1)
    roc = roc_curve([0.9, 0.7, 0.5], [True, False, True])
    assert background_efficiency_at(roc, [0.5])[0] == 0.0
    assert background_efficiency_at(roc, [0.75])[0] == pytest.approx(1.0)


@pytest.mark.parametrize("efficiency", [0.0, -0.1, 1.2])
def test_signal_efficiency_outside_the_unit_interval_is_refused(efficiency: float) -> None:
    with pytest.raises(ConfigError, match="signal efficiencies"):
        background_rejection(roc_curve(HAND_SCORES, HAND_SIGNAL), [efficiency])


def test_working_point_threshold_precision_and_recall() -> None:
    roc = roc_curve(HAND_SCORES, HAND_SIGNAL, [1.0, 1.0, 1.0, 1.0])
    tight = working_point(roc, 0.5)
    assert (tight.threshold, tight.signal_efficiency, tight.background_efficiency) == (
        0.9,
        0.5,
        0.0,
    )
    assert tight.precision == 1.0
    assert tight.background_rejection == math.inf
    loose = working_point(roc, 0.75)
    assert (loose.threshold, loose.recall, loose.background_efficiency) == (0.5, 1.0, 0.5)
    assert loose.precision == pytest.approx(2 / 3)
    assert loose.background_rejection == pytest.approx(2.0)


def _summary(roc: RocCurve) -> np.ndarray:
    return roc_summary(roc, SIGNAL_EFFICIENCIES)


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    scores, labels, weights = _sample(1000, seed=6)
    first = bootstrap_roc(scores, labels == 1, weights, _summary, resamples=20, seed=7)
    again = bootstrap_roc(scores, labels == 1, weights, _summary, resamples=20, seed=7)
    other = bootstrap_roc(scores, labels == 1, weights, _summary, resamples=20, seed=8)
    assert first.shape == (20, 1 + len(SIGNAL_EFFICIENCIES))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_bootstrap_uncertainty_shrinks_as_one_over_root_n() -> None:
    small = _sample(1000, seed=9)
    large = _sample(16_000, seed=10)

    def auc_spread(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
        replicas = bootstrap_roc(scores, labels == 1, weights, _summary, resamples=40, seed=0)
        return float(bootstrap_uncertainty(replicas)[0])

    ratio = auc_spread(*small) / auc_spread(*large)
    assert 2.5 < ratio < 6.5  # √16 = 4


def test_bootstrap_uncertainty_is_infinite_when_a_replica_is() -> None:
    replicas = np.array([[0.9, 10.0], [0.8, np.inf], [0.85, 12.0]])
    uncertainty = bootstrap_uncertainty(replicas)
    assert uncertainty[0] == pytest.approx(np.std([0.9, 0.8, 0.85], ddof=1))
    assert uncertainty[1] == math.inf


def test_ks_matches_scipy_for_unit_weights() -> None:
    generator = np.random.default_rng(11)
    first, second = generator.normal(0.0, 1.0, 800), generator.normal(0.1, 1.0, 1200)
    result = ks_test(first, np.ones(800), second, np.ones(1200))
    reference = ks_2samp(first, second, method="asymp")
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue, rel=0.1)
    assert result.effective_sizes == (800.0, 1200.0)


def test_ks_detects_a_shift_and_accepts_the_same_distribution() -> None:
    generator = np.random.default_rng(12)
    weights = generator.uniform(0.5, 1.5, 3000)
    same = ks_test(generator.normal(0, 1, 3000), weights, generator.normal(0, 1, 3000), weights)
    shifted = ks_test(
        generator.normal(0, 1, 3000), weights, generator.normal(0.3, 1, 3000), weights
    )
    assert same.p_value > 0.05
    assert shifted.p_value < 1e-6


def test_ks_uses_effective_sizes_of_weighted_samples() -> None:
    generator = np.random.default_rng(13)
    first, second = generator.normal(0, 1, 500), generator.normal(0.15, 1, 500)
    unit = ks_test(first, np.ones(500), second, np.ones(500))
    scaled = ks_test(first, np.full(500, 3.0), second, np.full(500, 0.2))
    assert (scaled.statistic, scaled.p_value) == pytest.approx((unit.statistic, unit.p_value))
    counts = generator.integers(1, 4, 500)
    weighted = ks_test(first, counts, second, np.ones(500))
    duplicated = ks_test(np.repeat(first, counts), np.ones(counts.sum()), second, np.ones(500))
    assert weighted.statistic == pytest.approx(duplicated.statistic)
    # unequal weights carry less information than as many duplicated events
    assert weighted.effective_sizes[0] < duplicated.effective_sizes[0]


def test_confusion_matrix_matches_sklearn() -> None:
    generator = np.random.default_rng(14)
    labels, predicted = generator.integers(0, 3, 500), generator.integers(0, 3, 500)
    weights = generator.uniform(0, 2, 500)
    matrix = confusion_matrix(labels, predicted, weights, 3)
    np.testing.assert_allclose(
        matrix, sk.confusion_matrix(labels, predicted, sample_weight=weights)
    )
    np.testing.assert_allclose(normalise_rows(matrix).sum(axis=1), 1.0)


def test_regression_metrics_match_sklearn() -> None:
    generator = np.random.default_rng(15)
    target = generator.normal(100, 20, 1000)
    predicted = target + generator.normal(2, 5, 1000)
    weights = generator.uniform(0.1, 2, 1000)
    result = regression_metrics(predicted, target, weights)
    assert result.mae == pytest.approx(
        sk.mean_absolute_error(target, predicted, sample_weight=weights)
    )
    assert result.rmse == pytest.approx(
        sk.root_mean_squared_error(target, predicted, sample_weight=weights)
    )
    assert result.r2 == pytest.approx(sk.r2_score(target, predicted, sample_weight=weights))
    assert result.bias == pytest.approx(np.average(predicted - target, weights=weights))


def test_binned_efficiency_of_unit_weights_has_binomial_errors() -> None:
    values = np.array([0.5] * 10 + [1.5] * 4)
    passed = np.array([True] * 3 + [False] * 7 + [True] * 4)
    result = binned_efficiency(values, passed, np.ones(14), np.array([0.0, 1.0, 2.0, 3.0]))
    np.testing.assert_allclose(result.efficiency, [0.3, 1.0, np.nan])
    np.testing.assert_allclose(result.uncertainty, [math.sqrt(0.3 * 0.7 / 10), 0.0, np.nan])
    rejection, error = result.inverse()
    np.testing.assert_allclose(rejection, [1 / 0.3, 1.0, np.nan])
    assert error[0] == pytest.approx(math.sqrt(0.021) / 0.09)


def test_binned_mean_and_spread() -> None:
    x = np.array([0.5, 0.5, 0.5, 1.5])
    y = np.array([1.0, 3.0, 5.0, 2.0])
    mean, spread = binned_mean_and_spread(
        x, y, np.array([1.0, 1.0, 2.0, 1.0]), np.array([0.0, 1, 2])
    )
    np.testing.assert_allclose(mean, [3.5, 2.0])
    np.testing.assert_allclose(spread, [math.sqrt((6.25 + 0.25 + 2 * 2.25) / 4), 0.0])


def test_bin_edges_span_the_bulk_or_follow_the_user() -> None:
    values = np.concatenate([np.linspace(0, 100, 1001), [1e6, np.nan]])
    edges = bin_edges(values, 10)
    assert len(edges) == 11
    assert edges[-1] < 200
    np.testing.assert_array_equal(bin_edges(values, [0, 50, 100]), [0, 50, 100])
    with pytest.raises(ConfigError, match="increase"):
        bin_edges(values, [0, 50, 20])


def test_metrics_import_without_matplotlib() -> None:
    """Training computes its validation AUC with these metrics; it must not pay for plotting."""
    code = (
        "import sys, heplearn.evaluation.metrics; assert 'matplotlib' not in sys.modules; "
        "from heplearn.evaluation import evaluate_predictions; assert 'matplotlib' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
