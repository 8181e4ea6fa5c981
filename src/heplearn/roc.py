"""The weighted ROC curve and its AUC, numpy only.

The lowest layer holds them because training logs the validation AUC with the same code
that evaluation reports (:mod:`heplearn.evaluation.metrics`, whose docstring states the
conventions, builds rejections, bootstraps and working points on them).
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from heplearn.errors import InputError


@dataclass(frozen=True)
class RocCurve:
    """A weighted ROC curve; see the module docstring for the conventions.

    Attributes
    ----------
    thresholds : numpy.ndarray
        Decreasing score thresholds, the first ``+inf``; a point selects ``score >=
        threshold``.
    signal_efficiency : numpy.ndarray
        ε_S at each threshold.
    background_efficiency : numpy.ndarray
        ε_B at each threshold.
    signal_weight : float
        Total signal weight.
    background_weight : float
        Total background weight.
    """

    thresholds: np.ndarray
    signal_efficiency: np.ndarray
    background_efficiency: np.ndarray
    signal_weight: float
    background_weight: float


@dataclass(frozen=True)
class SortedEvents:
    """Signal flags and weights sorted by decreasing score, and where tied scores end."""

    is_signal: np.ndarray
    weights: np.ndarray
    group_ends: np.ndarray
    thresholds: np.ndarray
    order: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, is_signal: np.ndarray, weights: np.ndarray) -> "SortedEvents":
        order = np.argsort(scores)[::-1]
        sorted_scores = scores[order]
        group_ends = np.append(np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1)
        return cls(is_signal[order], weights[order], group_ends, sorted_scores[group_ends], order)

    def roc(self, factors: np.ndarray | None = None) -> RocCurve:
        """The ROC curve, with every event weight times ``factors`` (in event order) if given."""
        weights = self.weights if factors is None else self.weights * factors[self.order]
        signal_sum = np.cumsum(np.where(self.is_signal, weights, 0.0))[self.group_ends]
        background_sum = np.cumsum(np.where(self.is_signal, 0.0, weights))[self.group_ends]
        for name, total in (("signal", signal_sum[-1]), ("background", background_sum[-1])):
            if not total > 0:
                raise InputError(
                    f"the {name} events have a total weight of {total:g}; a ROC curve needs "
                    "a positive total weight for signal and for background"
                )
        return RocCurve(
            thresholds=np.concatenate([[np.inf], self.thresholds]),
            signal_efficiency=np.concatenate([[0.0], signal_sum / signal_sum[-1]]),
            background_efficiency=np.concatenate([[0.0], background_sum / background_sum[-1]]),
            signal_weight=float(signal_sum[-1]),
            background_weight=float(background_sum[-1]),
        )


def event_arrays(
    scores: ArrayLike, is_signal: ArrayLike, weights: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, signal flags and weights (ones if omitted) as 1-d arrays of equal length."""
    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    weights = np.ones_like(scores) if weights is None else np.asarray(weights, dtype=np.float64)
    if not (scores.ndim == 1 and scores.shape == is_signal.shape == weights.shape):
        raise InputError(
            f"scores, labels and weights must be 1-d of equal length; got shapes "
            f"{scores.shape}, {is_signal.shape} and {weights.shape}"
        )
    return scores, is_signal, weights


def roc_curve(
    scores: ArrayLike, is_signal: ArrayLike, weights: ArrayLike | None = None
) -> RocCurve:
    """Weighted ROC curve, built by sorting once and accumulating weights.

    Parameters
    ----------
    scores : array_like
        ``(N,)`` classifier output, larger meaning more signal-like.
    is_signal : array_like
        ``(N,)`` true for signal events.
    weights : array_like, optional
        ``(N,)`` event weights, negative allowed; all ones if omitted.

    Returns
    -------
    RocCurve
        One point per distinct score, plus the origin.

    Raises
    ------
    InputError
        If the signal or the background total weight is not positive.
    """
    return SortedEvents.of(*event_arrays(scores, is_signal, weights)).roc()


def auc(roc: RocCurve) -> float:
    """Area under the ROC curve (ε_S integrated over ε_B, trapezoidal rule)."""
    return float(np.trapezoid(roc.signal_efficiency, roc.background_efficiency))
