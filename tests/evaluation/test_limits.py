"""Honest rejections: background counts at working points and 95 % CL lower limits."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from heplearn.evaluation.compare import compare_runs
from heplearn.evaluation.evaluate import evaluate_predictions
from heplearn.evaluation.limits import (
    MIN_BACKGROUND_EVENTS,
    efficiency_upper_limit,
    passing_background,
    with_quoted_rejections,
)
from heplearn.evaluation.metrics import roc_curve, working_point
from heplearn.evaluation.predictions import Predictions

Factory = Callable[..., Predictions]


@pytest.mark.parametrize(("passing", "total"), [(0, 200), (1, 200), (3, 1000), (40, 500)])
def test_unit_weights_give_the_exact_clopper_pearson_bound(passing: int, total: int) -> None:
    limit = efficiency_upper_limit(passing, passing, total, total)
    # the one-sided 95 % bound is the upper edge of the two-sided 90 % exact interval
    expected = binomtest(passing, total).proportion_ci(0.90, method="exact").high
    assert limit == pytest.approx(expected, rel=1e-9)
    if passing == 0:
        assert limit == pytest.approx(1 - 0.05 ** (1 / total))  # ≈ 3/N


def test_the_limit_ignores_the_unit_of_the_weights_but_not_their_spread() -> None:
    unit = efficiency_upper_limit(3, 3, 1000, 1000)
    assert efficiency_upper_limit(3 * 7.5, 3 * 7.5**2, 7500, 1000 * 7.5**2) == pytest.approx(unit)
    # three passing events of weight 4 among unit-weight events: the same ε_B as 12 unit
    # events out of 1009, but only three effective events behind it, so a looser limit
    heavy = efficiency_upper_limit(12, 3 * 16, 1009, 3 * 16 + 997)
    light = efficiency_upper_limit(12, 12, 1009, 1009)
    assert heavy > light > 12 / 1009


@pytest.mark.parametrize(("efficiency", "shape"), [(0.004, 2.0), (0.004, 0.5), (0.02, 0.5)])
def test_weighted_limits_cover_the_true_efficiency(efficiency: float, shape: float) -> None:
    generator = np.random.default_rng(7)
    events, trials = 2000, 300
    covered = 0
    for _ in range(trials):
        # spread weights (mean 1), independent of the cut: ε_B is the passing probability
        weights = generator.gamma(shape, 1 / shape, events)
        passes = generator.random(events) < efficiency
        limit = efficiency_upper_limit(
            weights[passes].sum(), np.sum(weights[passes] ** 2), weights.sum(), np.sum(weights**2)
        )
        covered += limit >= efficiency
    assert covered / trials >= 0.94


def test_passing_background_counts_the_events_past_each_working_point(
    binary_predictions: Factory,
) -> None:
    predictions = binary_predictions(n=3000, seed=4, separation=2.0)
    signal = predictions.labels == 1
    roc = roc_curve(predictions.scores, signal, predictions.weights)
    results = passing_background(predictions.scores, signal, predictions.weights, roc, [0.3, 0.8])
    for target, result in zip([0.3, 0.8], results, strict=True):
        passes = ~signal & (predictions.scores >= working_point(roc, target).threshold)
        assert result.events == passes.sum()
        assert result.weight == pytest.approx(predictions.weights[passes].sum())
        assert result.weight / roc.background_weight == pytest.approx(
            working_point(roc, target).background_efficiency
        )
        assert 1 < result.rejection_limit < roc.background_weight / result.weight
    assert results[0].events < results[1].events


def _separated(n: int = 600) -> Predictions:
    """Background far below the signal: a handful of background events pass at ε_S = 0.3."""
    generator = np.random.default_rng(1)
    labels = np.repeat([0, 1], n // 2)
    scores = np.where(labels == 1, generator.normal(3, 1, n), generator.normal(-3, 1, n))
    return Predictions(scores=scores, labels=labels, weights=np.ones(n))


def test_evaluate_reports_counts_and_limits_and_tables_quote_few_events_as_limits(
    tmp_path: Path,
) -> None:
    predictions = _separated()
    metrics = evaluate_predictions(
        predictions, predictions, "binary", ["qcd", "top"], tmp_path, bootstrap_resamples=5
    ).metrics
    assert (
        set(metrics["background_passing"])
        == set(metrics["rejection_limit"])
        == {
            "0.3",
            "0.5",
            "0.8",
        }
    )
    for efficiency, passing in metrics["background_passing"].items():
        assert set(passing) == {"events", "weighted", "effective"}
        assert passing["events"] < MIN_BACKGROUND_EVENTS
        assert metrics["rejection_limit"][efficiency] <= metrics["rejection"][efficiency]
    assert metrics["background_passing"]["0.3"]["events"] == 0
    assert metrics["rejection"]["0.3"] == np.inf
    assert metrics["rejection_limit"]["0.3"] == pytest.approx(1 / (1 - 0.05 ** (1 / 300)))
    shown = with_quoted_rejections(metrics)
    assert shown["rejection"]["0.3"] == ("> 100 (95 % CL lower limit: 0 background events pass)")
    assert metrics["rejection"]["0.3"] == np.inf  # the metrics keep their numbers

    comparison = compare_runs([("separated", predictions)], tmp_path / "compare")
    row = comparison.rows[0]
    assert row["background_events_0.3"] == 0
    assert row["rejection_limit_0.3"] == metrics["rejection_limit"]["0.3"]
    markdown = comparison.markdown.read_text(encoding="utf-8")
    assert "| > 100 (95 % CL lower limit: 0 background events pass) |" in markdown
    assert "fewer than 10 background events pass the cut" in markdown
    assert "rejection_limit" not in markdown and "rejection_limit_0.3" in comparison.csv.read_text()
