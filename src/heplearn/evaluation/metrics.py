"""Weighted performance metrics, vectorised with numpy; negative weights are allowed.

Conventions
-----------
ROC curve
    Events are selected when ``score >= threshold``. For every distinct score, from the
    highest down, the curve holds the signal efficiency ε_S and the background efficiency
    ε_B: the weighted sums of selected signal (background) events over the total signal
    (background) weight. Tied scores enter together, so the curve does not depend on the
    order of tied events; the first point, at threshold ``+inf``, is (0, 0) and the last is
    (1, 1). With negative weights an efficiency may decrease along the curve or leave
    [0, 1]; nothing is clipped.
AUC
    The trapezoidal area under ε_S as a function of ε_B; ties count one half, as in
    :func:`sklearn.metrics.roc_auc_score`.
Background rejection at ε_S
    ``1 / ε_B``, with ε_B linearly interpolated along the curve between the last point
    below the target ε_S and the first point that reaches it (the loosest point that
    reaches ε_S exactly, so the lowest ε_B among points of equal ε_S). It is ``inf`` when
    that ε_B is zero or negative (no background passes).
Working point
    The threshold of the first curve point whose ε_S reaches the target; its ε_S is the
    target or slightly above (scores are discrete) and is the recall. Precision is the
    selected signal weight over all selected weight, so it depends on how the classes are
    normalised relative to each other.
Bootstrap
    Each replica multiplies every event weight by an independent Poisson(1) count (the
    "Poisson bootstrap", equivalent to resampling events with replacement for large
    samples); the uncertainty is the standard deviation over the replicas. The counts are
    drawn in the order the events are given, so the same seed gives every classifier
    evaluated on the same events the same replicas (``evaluate`` and ``compare`` quote the
    same uncertainty, and the replicas of two taggers are correlated as their events are).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import kolmogorov
from scipy.stats import beta

from heplearn.errors import ConfigError, InputError
from heplearn.roc import RocCurve, SortedEvents, auc, event_arrays, roc_curve  # noqa: F401 (also from here)

SIGNAL_EFFICIENCIES: tuple[float, ...] = (0.3, 0.5, 0.8)
"""The signal efficiencies at which background rejections are reported."""

ONE_SIGMA = 0.6827
"""Coverage of a one-standard-deviation interval (error bars of efficiencies)."""


def _check_efficiencies(signal_efficiency: ArrayLike) -> np.ndarray:
    targets = np.asarray(signal_efficiency, dtype=np.float64)
    if np.any(~((targets > 0) & (targets <= 1))):
        raise ConfigError(f"signal efficiencies must lie in (0, 1], got {targets.tolist()}")
    return targets


def _first_reaching(roc: RocCurve, targets: np.ndarray) -> np.ndarray:
    """Index of the first curve point whose ε_S reaches each target in (0, 1].

    The index is at least 1 (the origin has ε_S = 0) and exists (the last point has ε_S = 1).
    """
    running_maximum = np.maximum.accumulate(roc.signal_efficiency)
    return np.searchsorted(running_maximum, targets, side="left")


def background_efficiency_at(roc: RocCurve, signal_efficiency: ArrayLike) -> np.ndarray:
    """ε_B at the given ε_S, linearly interpolated along the curve.

    Parameters
    ----------
    roc : RocCurve
        The curve.
    signal_efficiency : array_like
        Target ε_S values in (0, 1].

    Returns
    -------
    numpy.ndarray
        ε_B at each target, same shape as ``signal_efficiency``.
    """
    targets = _check_efficiencies(signal_efficiency)
    after = _first_reaching(roc, targets)
    before = after - 1
    s0, s1 = roc.signal_efficiency[before], roc.signal_efficiency[after]
    b0, b1 = roc.background_efficiency[before], roc.background_efficiency[after]
    fraction = (targets - s0) / (s1 - s0)
    return np.asarray(b0 + fraction * (b1 - b0))


def background_rejection(roc: RocCurve, signal_efficiency: ArrayLike) -> np.ndarray:
    """Background rejection ``1/ε_B`` at the given ε_S; ``inf`` where ε_B ≤ 0.

    The arguments and the shape of the result are those of :func:`background_efficiency_at`.
    """
    efficiency = background_efficiency_at(roc, signal_efficiency)
    positive = efficiency > 0
    return np.divide(1.0, efficiency, out=np.full_like(efficiency, np.inf), where=positive)


def roc_summary(roc: RocCurve, signal_efficiencies: Sequence[float]) -> np.ndarray:
    """AUC followed by the background rejection at each signal efficiency, as one vector.

    This is the statistic :func:`bootstrap_roc` resamples by default.
    """
    return np.concatenate([[auc(roc)], background_rejection(roc, signal_efficiencies)])


def bootstrap_roc(
    scores: ArrayLike,
    is_signal: ArrayLike,
    weights: ArrayLike | None,
    statistic: Callable[[RocCurve], np.ndarray],
    *,
    resamples: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """Replicas of a ROC statistic under Poisson(1) resampling of the event weights.

    The events are sorted once; each replica only re-accumulates the resampled weights. The
    Poisson counts are drawn in the given event order, so classifiers scored on the same
    events get the same replicas from the same seed.

    Parameters
    ----------
    scores, is_signal, weights : array_like
        As for :func:`roc_curve`.
    statistic : callable
        Maps a :class:`RocCurve` to a 1-d array, e.g.
        ``lambda roc: roc_summary(roc, SIGNAL_EFFICIENCIES)``.
    resamples : int
        Number of replicas.
    seed : int
        Seed of the random generator; the same seed gives the same replicas.

    Returns
    -------
    numpy.ndarray
        ``(resamples, len(statistic(roc)))`` replica values.
    """
    if resamples < 2:
        raise ConfigError(f"bootstrap resamples must be at least 2, got {resamples}")
    events = SortedEvents.of(*event_arrays(scores, is_signal, weights))
    generator = np.random.default_rng(seed)
    return np.stack(
        [
            statistic(events.roc(generator.poisson(1.0, len(events.weights))))
            for _ in range(resamples)
        ]
    )


def bootstrap_uncertainty(replicas: np.ndarray) -> np.ndarray:
    """Standard deviation over bootstrap replicas (axis 0); ``inf`` where a replica is not finite.

    A rejection that is infinite in some replicas (no background left) has no meaningful
    spread, hence ``inf``.
    """
    replicas = np.asarray(replicas, dtype=np.float64)
    finite = np.all(np.isfinite(replicas), axis=0)
    spread = np.std(np.where(finite, replicas, 0.0), axis=0, ddof=1)
    return np.where(finite, spread, np.inf)


def roc_summary_uncertainty(
    scores: ArrayLike,
    is_signal: ArrayLike,
    weights: ArrayLike | None,
    *,
    resamples: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap uncertainty of :func:`roc_summary` at :data:`SIGNAL_EFFICIENCIES`.

    Parameters
    ----------
    scores, is_signal, weights : array_like
        As for :func:`roc_curve`.
    resamples : int
        Number of replicas; 0 skips the bootstrap and gives NaN (unknown) everywhere.
    seed : int
        Seed of the random generator.

    Returns
    -------
    numpy.ndarray
        Uncertainty of the AUC, then of the rejection at each signal efficiency.
    """
    if resamples == 0:
        return np.full(1 + len(SIGNAL_EFFICIENCIES), np.nan)
    replicas = bootstrap_roc(
        scores,
        is_signal,
        weights,
        partial(roc_summary, signal_efficiencies=SIGNAL_EFFICIENCIES),
        resamples=resamples,
        seed=seed,
    )
    return bootstrap_uncertainty(replicas)


@dataclass(frozen=True)
class WorkingPoint:
    """A cut on the score chosen for a target signal efficiency.

    Attributes
    ----------
    target_signal_efficiency : float
        The ε_S asked for.
    threshold : float
        Events with ``score >= threshold`` are selected.
    signal_efficiency : float
        ε_S of the cut (the recall), at or just above the target.
    background_efficiency : float
        ε_B of the cut.
    precision : float
        Selected signal weight over all selected weight.
    """

    target_signal_efficiency: float
    threshold: float
    signal_efficiency: float
    background_efficiency: float
    precision: float

    @property
    def recall(self) -> float:
        """The signal efficiency of the cut."""
        return self.signal_efficiency

    @property
    def background_rejection(self) -> float:
        """``1/ε_B`` of the cut, ``inf`` when no background passes."""
        return 1.0 / self.background_efficiency if self.background_efficiency > 0 else np.inf


def working_point(roc: RocCurve, signal_efficiency: float = 0.5) -> WorkingPoint:
    """The score cut whose signal efficiency first reaches ``signal_efficiency``.

    Parameters
    ----------
    roc : RocCurve
        The curve, usually on the test split.
    signal_efficiency : float
        Target ε_S in (0, 1].

    Returns
    -------
    WorkingPoint
        Threshold, efficiencies and precision of the cut.
    """
    target = _check_efficiencies(signal_efficiency)
    index = int(_first_reaching(roc, target))
    selected_signal = roc.signal_efficiency[index] * roc.signal_weight
    selected_background = roc.background_efficiency[index] * roc.background_weight
    return WorkingPoint(
        target_signal_efficiency=float(target),
        threshold=float(roc.thresholds[index]),
        signal_efficiency=float(roc.signal_efficiency[index]),
        background_efficiency=float(roc.background_efficiency[index]),
        precision=float(selected_signal / (selected_signal + selected_background)),
    )


@dataclass(frozen=True)
class KolmogorovSmirnov:
    """A weighted two-sample Kolmogorov–Smirnov test.

    Attributes
    ----------
    statistic : float
        Largest distance between the two weighted empirical distribution functions.
    p_value : float
        Asymptotic probability of a distance at least as large if both samples share one
        distribution, from the effective sample sizes.
    effective_sizes : tuple of float
        ``(Σw)² / Σw²`` of each sample.
    """

    statistic: float
    p_value: float
    effective_sizes: tuple[float, float]


def _effective_size(weights: np.ndarray, name: str) -> float:
    total = weights.sum()
    if not total > 0:
        raise InputError(f"the {name} sample has a total weight of {total:g}; KS needs it positive")
    return float(total**2 / np.sum(weights**2))


def ks_test(
    sample: ArrayLike, weights: ArrayLike, other: ArrayLike, other_weights: ArrayLike
) -> KolmogorovSmirnov:
    """Weighted two-sample Kolmogorov–Smirnov test (e.g. train versus test scores).

    The statistic is ``D = max |F₁(x) − F₂(x)|`` over all values, with ``Fᵢ`` the weighted
    empirical distribution functions (tied values enter together). The p-value is the
    asymptotic Kolmogorov distribution ``Q(λ)`` at ``λ = (√n + 0.12 + 0.11/√n) D``, where
    ``n = n₁n₂/(n₁+n₂)`` uses the effective sizes ``nᵢ = (Σw)²/Σw²``: for unit weights this
    is the textbook test, and weights that spread the information over fewer events lower
    the effective size (and raise the p-value) accordingly. With negative weights the
    distribution functions need not be monotonic; the statistic is still the largest
    distance, and the p-value is approximate.

    Parameters
    ----------
    sample, other : array_like
        The two 1-d samples.
    weights, other_weights : array_like
        Their event weights; each sample's total must be positive.

    Returns
    -------
    KolmogorovSmirnov
        Statistic, p-value and effective sizes.
    """
    first = np.asarray(sample, dtype=np.float64)
    second = np.asarray(other, dtype=np.float64)
    first_weights = np.asarray(weights, dtype=np.float64)
    second_weights = np.asarray(other_weights, dtype=np.float64)
    sizes = (_effective_size(first_weights, "first"), _effective_size(second_weights, "second"))
    values = np.concatenate([first, second])
    order = np.argsort(values)
    step_first = np.concatenate([first_weights / first_weights.sum(), np.zeros(len(second))])
    step_second = np.concatenate([np.zeros(len(first)), second_weights / second_weights.sum()])
    group_ends = np.append(np.flatnonzero(np.diff(values[order])), len(values) - 1)
    distance = np.cumsum(step_first[order] - step_second[order])[group_ends]
    statistic = float(np.max(np.abs(distance)))
    n = sizes[0] * sizes[1] / (sizes[0] + sizes[1])
    root = np.sqrt(n)
    p_value = float(kolmogorov((root + 0.12 + 0.11 / root) * statistic))
    return KolmogorovSmirnov(statistic, p_value, sizes)


def confusion_matrix(
    labels: ArrayLike, predicted: ArrayLike, weights: ArrayLike, n_classes: int
) -> np.ndarray:
    """Weighted confusion matrix: entry ``[true, predicted]`` sums the event weights.

    Parameters
    ----------
    labels, predicted : array_like
        ``(N,)`` true and predicted class indices in ``0 .. n_classes-1``.
    weights : array_like
        ``(N,)`` event weights.
    n_classes : int
        Number of classes K.

    Returns
    -------
    numpy.ndarray
        ``(K, K)`` weighted counts.
    """
    flat = np.asarray(labels, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    counts = np.bincount(flat, weights=np.asarray(weights, np.float64), minlength=n_classes**2)
    return counts.reshape(n_classes, n_classes)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (a row of a confusion matrix then holds efficiencies).

    Rows whose sum is not positive become NaN.
    """
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.full(matrix.shape, np.nan), where=totals > 0)


@dataclass(frozen=True)
class RegressionMetrics:
    """Weighted regression metrics of ``predicted − target``.

    Attributes
    ----------
    mae : float
        Mean absolute error ``Σw|ŷ−y| / Σw``.
    rmse : float
        Root mean squared error ``√(Σw(ŷ−y)² / Σw)``.
    r2 : float
        Coefficient of determination ``1 − Σw(ŷ−y)² / Σw(y−ȳ)²`` with ``ȳ`` the weighted
        mean target.
    bias : float
        Mean residual ``Σw(ŷ−y) / Σw``.
    """

    mae: float
    rmse: float
    r2: float
    bias: float


def regression_metrics(
    predicted: ArrayLike, target: ArrayLike, weights: ArrayLike | None = None
) -> RegressionMetrics:
    """Weighted MAE, RMSE, R² and bias; the total weight must be positive.

    Parameters
    ----------
    predicted, target : array_like
        ``(N,)`` predicted and true values.
    weights : array_like, optional
        ``(N,)`` event weights; all ones if omitted.

    Returns
    -------
    RegressionMetrics
        The four metrics.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    weights = np.ones_like(target) if weights is None else np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    if not total > 0:
        raise InputError(f"regression metrics need a positive total weight, got {total:g}")
    residual = predicted - target
    squared = float(np.sum(weights * residual**2))
    spread = float(np.sum(weights * (target - np.sum(weights * target) / total) ** 2))
    return RegressionMetrics(
        mae=float(np.sum(weights * np.abs(residual)) / total),
        rmse=float(np.sqrt(squared / total)),
        r2=1.0 - squared / spread if spread > 0 else np.nan,
        bias=float(np.sum(weights * residual) / total),
    )


def bin_edges(values: ArrayLike, bins: int | Sequence[float]) -> np.ndarray:
    """Bin edges for an observer: given edges, or equal-width bins over its bulk.

    Parameters
    ----------
    values : array_like
        The observer's values (non-finite ones are ignored).
    bins : int or sequence of float
        Increasing edges, or a number of equal-width bins spanning the 0.5 % to 99.5 %
        quantiles of the finite values (so far outliers do not squeeze the bulk).

    Returns
    -------
    numpy.ndarray
        Increasing edges.
    """
    if not isinstance(bins, int):
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ConfigError(f"bin edges must increase, got {edges.tolist()}")
        return edges
    if bins < 1:
        raise ConfigError(f"the number of bins must be positive, got {bins}")
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        raise InputError("cannot choose bins for a variable without finite values")
    low, high = np.quantile(finite, [0.005, 0.995])
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def weighted_histogram(
    values: ArrayLike, weights: ArrayLike, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sums of weights and of squared weights per bin; values outside or NaN are dropped.

    Returns
    -------
    tuple of numpy.ndarray
        ``(sum_weights, sum_squared_weights)`` per bin; ``√sum_squared_weights`` is the
        statistical uncertainty of ``sum_weights``.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    kept_weights = np.asarray(weights, dtype=np.float64)[finite]
    sum_weights = np.histogram(values[finite], edges, weights=kept_weights)[0]
    sum_squares = np.histogram(values[finite], edges, weights=kept_weights**2)[0]
    return sum_weights, sum_squares


@dataclass(frozen=True)
class BinnedEfficiency:
    """The fraction of weight passing a cut in bins of a variable.

    Attributes
    ----------
    bin_edges : numpy.ndarray
        ``(B+1,)`` edges.
    efficiency : numpy.ndarray
        ``(B,)`` passing weight over total weight; NaN in bins without positive weight.
    uncertainty : numpy.ndarray
        ``(B,)`` standard error for weighted events,
        ``√(Σ_pass w² (1−ε)² + Σ_fail w² ε²) / Σw``.
    effective_events : numpy.ndarray
        ``(B,)`` Kish effective number of events ``(Σw)² / Σw²``; 0 in empty bins.
    """

    bin_edges: np.ndarray
    efficiency: np.ndarray
    uncertainty: np.ndarray
    effective_events: np.ndarray

    def interval(self, confidence: float = ONE_SIGMA) -> tuple[np.ndarray, np.ndarray]:
        """Clopper–Pearson central interval of the efficiency in each bin.

        Computed on the effective counts (``k = ε n_eff`` of ``n_eff``), so it is exact
        for unweighted events and stays inside [0, 1], with a finite width at ε = 0 and
        ε = 1 where the standard error vanishes.

        Parameters
        ----------
        confidence : float
            Coverage of the interval; by default 68.3 % (one standard deviation).

        Returns
        -------
        tuple of numpy.ndarray
            ``(low, high)`` per bin; NaN in empty bins.
        """
        total = self.effective_events
        passing = np.nan_to_num(self.efficiency) * total
        tail = (1 - confidence) / 2
        filled = total > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            low = np.where(passing > 0, beta.ppf(tail, passing, total - passing + 1), 0.0)
            high = np.where(passing < total, beta.ppf(1 - tail, passing + 1, total - passing), 1.0)
        return np.where(filled, low, np.nan), np.where(filled, high, np.nan)

    def inverse(self) -> tuple[np.ndarray, np.ndarray]:
        """``1/ε`` and its uncertainty ``σ/ε²``: ``inf`` where ε ≤ 0, NaN in empty bins."""
        positive = self.efficiency > 0
        inverse = np.divide(
            1.0, self.efficiency, out=np.full_like(self.efficiency, np.inf), where=positive
        )
        error = np.divide(
            self.uncertainty,
            self.efficiency**2,
            out=np.full_like(self.efficiency, np.inf),
            where=positive,
        )
        empty = np.isnan(self.efficiency)
        inverse[empty] = error[empty] = np.nan
        return inverse, error


def binned_efficiency(
    values: ArrayLike, passed: ArrayLike, weights: ArrayLike, edges: np.ndarray
) -> BinnedEfficiency:
    """Weighted efficiency of a cut in bins of a variable.

    Parameters
    ----------
    values : array_like
        ``(N,)`` the variable (events outside the edges or NaN are left out).
    passed : array_like
        ``(N,)`` true for events that pass the cut.
    weights : array_like
        ``(N,)`` event weights.
    edges : numpy.ndarray
        Bin edges.

    Returns
    -------
    BinnedEfficiency
        Efficiency and uncertainty per bin.
    """
    passed = np.asarray(passed, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    total, _ = weighted_histogram(values, weights, edges)
    passing, passing_squares = weighted_histogram(values, np.where(passed, weights, 0.0), edges)
    _, failing_squares = weighted_histogram(values, np.where(passed, 0.0, weights), edges)
    filled = total > 0
    efficiency = np.divide(passing, total, out=np.full_like(total, np.nan), where=filled)
    variance = passing_squares * (1 - efficiency) ** 2 + failing_squares * efficiency**2
    uncertainty = np.divide(
        np.sqrt(np.where(filled, variance, 0.0)),
        total,
        out=np.full_like(total, np.nan),
        where=filled,
    )
    squares = passing_squares + failing_squares
    effective = np.divide(total**2, squares, out=np.zeros_like(total), where=filled & (squares > 0))
    return BinnedEfficiency(edges, efficiency, uncertainty, effective)


def binned_mean_and_spread(
    x: ArrayLike, y: ArrayLike, weights: ArrayLike, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of ``y`` in bins of ``x`` (a profile).

    Used for residuals versus target: the mean is the bias and the spread the resolution
    in each bin. Bins without positive weight give NaN.

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean, spread)`` per bin.
    """
    y = np.asarray(y, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    total, _ = weighted_histogram(x, weights, edges)
    first, _ = weighted_histogram(x, weights * y, edges)
    second, _ = weighted_histogram(x, weights * y**2, edges)
    filled = total > 0
    mean = np.divide(first, total, out=np.full_like(total, np.nan), where=filled)
    mean_square = np.divide(second, total, out=np.full_like(total, np.nan), where=filled)
    return mean, np.sqrt(np.maximum(mean_square - mean**2, 0.0))
