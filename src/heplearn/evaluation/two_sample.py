"""The classifier two-sample test: can a classifier tell two samples apart?

Used to judge generated events against real ones and reweighted events against their
target: a gradient-boosted classifier is trained on half of each sample and its weighted
AUC measured on the other half. An AUC of 0.5 means the classifier cannot tell the
samples apart; 1 means it separates them completely. (Lopez-Paz and Oquab,
arXiv:1610.06545; in particle physics e.g. Krause and Shih, arXiv:2106.05285.)
"""

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from heplearn.errors import InputError
from heplearn.evaluation.metrics import auc, bootstrap_roc, bootstrap_uncertainty, roc_curve

# enough bootstrap replicas for a stable uncertainty; each replays one sorted ROC
_RESAMPLES = 50
_MIN_EVENTS = 20


@dataclass(frozen=True)
class TwoSampleTest:
    """The result of :func:`two_sample_test`.

    Attributes
    ----------
    auc : float
        Weighted AUC of the classifier on the held-out halves (0.5: indistinguishable).
    auc_uncertainty : float
        Its Poisson-bootstrap standard deviation over the held-out events.
    events : int
        Held-out events the AUC is measured on (both samples together).
    """

    auc: float
    auc_uncertainty: float
    events: int

    def to_dict(self) -> dict[str, float | int]:
        """Plain values for ``metrics.json``."""
        return {"auc": self.auc, "auc_uncertainty": self.auc_uncertainty, "events": self.events}


def _per_event(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0 or len(array) < _MIN_EVENTS:
        raise InputError(
            f"the two-sample test needs at least {_MIN_EVENTS} events in the {name} sample, "
            f"got {0 if array.ndim == 0 else len(array)}"
        )
    return array.reshape(len(array), -1)


def _weights_of(weights: np.ndarray | None, count: int, name: str) -> np.ndarray:
    if weights is None:
        return np.ones(count)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (count,):
        raise InputError(f"the {name} weights have shape {weights.shape}; expected ({count},)")
    return weights


def _halves(count: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random split of ``count`` events into a training and a held-out half."""
    order = generator.permutation(count)
    return order[: count // 2], order[count // 2 :]


def _balanced(weights: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Weights scaled so that each sample sums to the same total (a prior of one half)."""
    scaled = weights.astype(np.float64).copy()
    for label in (0, 1):
        chosen = labels == label
        scaled[chosen] /= scaled[chosen].sum()
    return scaled * len(weights) / 2


def two_sample_test(
    first: np.ndarray,
    second: np.ndarray,
    *,
    first_weights: np.ndarray | None = None,
    second_weights: np.ndarray | None = None,
    seed: int = 0,
) -> TwoSampleTest:
    """Train a classifier to separate two samples and measure its held-out AUC.

    Parameters
    ----------
    first, second : numpy.ndarray
        ``(N, ...)`` events of each sample; each event is flattened to one row
        (features, or image pixels). Both must have the same per-event shape.
    first_weights, second_weights : numpy.ndarray, optional
        ``(N,)`` event weights (e.g. reweighting weights); each sample is normalised to
        the same total, so the sample sizes do not matter.
    seed : int
        Drives the split into halves and the classifier.

    Returns
    -------
    TwoSampleTest
        AUC, its bootstrap uncertainty and the held-out event count.

    Raises
    ------
    InputError
        Samples with fewer than 20 events, different per-event shapes, or weights that
        do not match their sample.
    """
    first_rows, second_rows = _per_event(first, "first"), _per_event(second, "second")
    if first_rows.shape[1] != second_rows.shape[1]:
        raise InputError(
            f"the samples have {first_rows.shape[1]} and {second_rows.shape[1]} values per "
            "event; compare events with the same features"
        )
    features = np.concatenate([first_rows, second_rows])
    labels = np.concatenate([np.zeros(len(first_rows)), np.ones(len(second_rows))])
    weights = np.concatenate(
        [
            _weights_of(first_weights, len(first_rows), "first"),
            _weights_of(second_weights, len(second_rows), "second"),
        ]
    )
    generator = np.random.default_rng(seed)
    train, held_out = _halves(len(labels), generator)
    classifier = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.1,
        early_stopping=True,
        validation_fraction=0.2,
        random_state=seed,
    )
    classifier.fit(
        features[train],
        labels[train],
        sample_weight=_balanced(weights[train], labels[train]),
    )
    scores = classifier.predict_proba(features[held_out])[:, 1]
    is_second = labels[held_out] == 1
    held_out_weights = _balanced(weights[held_out], labels[held_out])
    value = auc(roc_curve(scores, is_second, held_out_weights))
    replicas = bootstrap_roc(
        scores,
        is_second,
        held_out_weights,
        lambda roc: np.array([auc(roc)]),
        resamples=_RESAMPLES,
        seed=seed,
    )
    return TwoSampleTest(
        auc=float(value),
        auc_uncertainty=float(bootstrap_uncertainty(replicas)[0]),
        events=len(held_out),
    )
