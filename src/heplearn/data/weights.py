"""Event weights: histogram reweighting of one variable, per-class normalisation, balance.

Negative weights (NLO samples) are kept as they are: normalisation divides by the signed
sum (or mean), and a class whose total weight is not positive is an error, since no
normalisation can make sense of it.
"""

from collections.abc import Sequence

import numpy as np

from heplearn.data.spec import Reweighting, Weights
from heplearn.errors import InputError


def _class_name(label: int, class_names: Sequence[str] | None) -> str:
    return repr(class_names[label]) if class_names else str(label)


def reweighting_factors(
    variable: np.ndarray,
    label: np.ndarray,
    weight: np.ndarray,
    settings: Reweighting,
    class_names: Sequence[str] | None,
) -> dict[str, list[float]]:
    """Fit per-class histogram ratios that make ``variable`` flat or match a target class.

    Returns
    -------
    dict
        ``{"edges": [...], "<label>": [factor per bin], ...}``, JSON-friendly; apply with
        :func:`apply_reweighting`. Empty bins get factor 1.
    """
    low, high = settings.range or (float(np.min(variable)), float(np.max(variable)))
    edges = np.linspace(low, high, settings.bins + 1)
    histograms = {
        int(c): np.histogram(variable[label == c], edges, weights=weight[label == c])[0]
        for c in np.unique(label)
    }
    if settings.target == "flat":
        targets = {
            c: np.full(settings.bins, h.sum() / settings.bins) for c, h in histograms.items()
        }
    else:
        if not class_names or settings.target not in class_names:
            raise InputError(
                f"weights.reweight.target {settings.target!r} is not a class; "
                f"use 'flat' or one of {list(class_names or [])}"
            )
        target = class_names.index(settings.target)
        reference = histograms[target] / histograms[target].sum()
        targets = {c: reference * h.sum() for c, h in histograms.items()}
    factors: dict[str, list[float]] = {"edges": edges.tolist()}
    for c, histogram in histograms.items():
        ratio = np.divide(targets[c], histogram, out=np.ones_like(targets[c]), where=histogram > 0)
        factors[str(c)] = ratio.tolist()
    return factors


def apply_reweighting(
    variable: np.ndarray, label: np.ndarray, weight: np.ndarray, factors: dict[str, list[float]]
) -> np.ndarray:
    """Multiply each weight by its class's factor in the bin of ``variable`` (edges clipped)."""
    edges = np.asarray(factors["edges"])
    bins = np.clip(np.searchsorted(edges, variable, side="right") - 1, 0, len(edges) - 2)
    result = weight.copy()
    for key, values in factors.items():
        if key != "edges":
            selected = label == int(key)
            result[selected] *= np.asarray(values)[bins[selected]]
    return result


def class_scales(
    label: np.ndarray,
    weight: np.ndarray,
    settings: Weights,
    class_names: Sequence[str] | None,
    n_classes: int,
) -> dict[str, float]:
    """Per-class multipliers implementing ``normalise`` and ``balance_classes``.

    Raises
    ------
    InputError
        When a class has no events or a non-positive total weight.
    """
    totals, counts = {}, {}
    for c in range(n_classes):
        selected = label == c
        counts[c] = int(selected.sum())
        totals[c] = float(weight[selected].sum())
        if counts[c] == 0:
            raise InputError(
                f"class {_class_name(c, class_names)} has no events after the selection; "
                "check its sources and the selection"
            )
        if totals[c] <= 0:
            raise InputError(
                f"class {_class_name(c, class_names)} has a total weight of {totals[c]:g} "
                "(not positive): check the weight branches (negative weights must not "
                "dominate a class)"
            )
    scales = dict.fromkeys(range(n_classes), 1.0)
    normalise = settings.normalise
    if normalise is not None:
        if normalise.per_class:
            for c in scales:
                reference = totals[c] if normalise.to == "sum" else totals[c] / counts[c]
                scales[c] = normalise.value / reference
        else:
            total, count = sum(totals.values()), sum(counts.values())
            reference = total if normalise.to == "sum" else total / count
            scales = dict.fromkeys(scales, normalise.value / reference)
    if settings.balance_classes:
        scaled = {c: totals[c] * scales[c] for c in scales}
        mean_total = sum(scaled.values()) / n_classes
        scales = {c: scales[c] * mean_total / scaled[c] for c in scales}
    return {str(c): scale for c, scale in scales.items()}


def apply_class_scales(
    label: np.ndarray, weight: np.ndarray, scales: dict[str, float]
) -> np.ndarray:
    """Multiply each event's weight by its class's scale."""
    table = np.array([scales[str(c)] for c in range(len(scales))])
    return weight * table[label]
