"""How trustworthy a set of event weights is: effective size, negative weights, dominant events.

Weights are a promise that a few events stand for many. The numbers here say how much of
that promise the statistics keep, per class:

Effective sample size (Kish)
    ``N_eff = (Σw)² / Σw²``: the number of unweighted events with the same relative
    statistical uncertainty on a sum. Equal weights give ``N_eff = N``; a few large weights
    drive it towards 1. It is independent of the weights' overall scale.
Negative weights
    The fraction of events with ``w < 0`` and their share ``Σ|w⁻| / Σ|w|`` of the absolute
    weight (NLO samples); cancellations inflate every uncertainty.
Largest weights
    The largest ``|w|`` and their share ``Σ|w_largest| / Σ|w|``: one event carrying a
    large share of a class makes every histogram of that class a histogram of that event.

Non-finite weights (NaN, inf) are refused, naming the entries that carry them.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from heplearn.errors import InputError

LARGEST = 5
"""How many of the largest weights are reported."""

_SHOWN_ENTRIES = 10


@dataclass(frozen=True)
class WeightDiagnostics:
    """Diagnostics of the weights of one group of events (a class, a sample).

    Attributes
    ----------
    events : int
        Number of events.
    sum_of_weights : float
        ``Σw``.
    effective_events : float
        Kish effective sample size ``(Σw)² / Σw²`` (0 without events or when ``Σw = 0``).
    effective_fraction : float
        ``effective_events / events``: 1 for equal weights.
    negative_fraction : float
        Fraction of the events with a negative weight.
    negative_sum : float
        ``Σw`` over the negative weights (zero or negative).
    negative_share : float
        ``Σ|w⁻| / Σ|w|``, the share of the absolute weight that is negative.
    largest_weights : list of float
        The :data:`LARGEST` largest ``|w|``, in decreasing order (signed values).
    largest_share : float
        ``Σ|w|`` of those over ``Σ|w|`` of all events.
    """

    events: int
    sum_of_weights: float
    effective_events: float
    effective_fraction: float
    negative_fraction: float
    negative_sum: float
    negative_share: float
    largest_weights: list[float]
    largest_share: float

    def as_dict(self) -> dict[str, Any]:
        """The diagnostics as a JSON-ready dictionary."""
        return asdict(self)


def refuse_nonfinite_weights(weights: np.ndarray, entries: np.ndarray, where: str) -> None:
    """Raise if any weight is NaN or inf, naming the first entries that carry one.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(N,)`` weights.
    entries : numpy.ndarray
        ``(N,)`` entry numbers of the events in their file (what the message names).
    where : str
        The file and the weight expression, for the message.

    Raises
    ------
    InputError
        Naming up to ten entries with a NaN or inf weight, and how many there are.
    """
    bad = ~np.isfinite(weights)
    if not bad.any():
        return
    listed = ", ".join(str(int(entry)) for entry in entries[bad][:_SHOWN_ENTRIES])
    more = f" and {int(bad.sum()) - _SHOWN_ENTRIES} more" if bad.sum() > _SHOWN_ENTRIES else ""
    raise InputError(
        f"{where}: the event weight is NaN or inf at entr{'y' if bad.sum() == 1 else 'ies'} "
        f"{listed}{more} ({int(bad.sum())} of {len(weights)} events); fix the weight "
        "branches, or drop those events with a selection or nonfinite: drop in the spec"
    )


def weight_diagnostics(weights: np.ndarray) -> WeightDiagnostics:
    """Effective size, negative weights and largest weights of one group of events.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(N,)`` finite weights, negative allowed.

    Returns
    -------
    WeightDiagnostics
        See the module docstring for the definitions.

    Raises
    ------
    InputError
        If a weight is NaN or inf.
    """
    weights = np.asarray(weights, dtype=np.float64)
    refuse_nonfinite_weights(weights, np.arange(len(weights)), "weights")
    total = float(weights.sum())
    squares = float(np.sum(weights**2))
    absolute = np.abs(weights)
    absolute_sum = float(absolute.sum())
    negative = weights < 0
    effective = total**2 / squares if squares > 0 else 0.0
    largest = np.argsort(absolute, kind="stable")[::-1][:LARGEST]
    return WeightDiagnostics(
        events=len(weights),
        sum_of_weights=total,
        effective_events=effective,
        effective_fraction=effective / len(weights) if len(weights) else 0.0,
        negative_fraction=float(negative.mean()) if len(weights) else 0.0,
        negative_sum=float(weights[negative].sum()),
        negative_share=float(absolute[negative].sum() / absolute_sum) if absolute_sum else 0.0,
        largest_weights=[float(value) for value in weights[largest]],
        largest_share=float(absolute[largest].sum() / absolute_sum) if absolute_sum else 0.0,
    )


def diagnostics_by_class(
    weights: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> dict[str, WeightDiagnostics]:
    """:func:`weight_diagnostics` of each class, keyed by class name (label order)."""
    labels = np.asarray(labels)
    return {
        name: weight_diagnostics(np.asarray(weights)[labels == index])
        for index, name in enumerate(class_names)
    }


def diagnostics_rows(
    groups: dict[str, WeightDiagnostics], heading: str = "class"
) -> list[dict[str, Any]]:
    """Table rows for a report: one per group, the columns a physicist reads."""
    return [
        {
            heading: name,
            "events": entry.events,
            "Σw": entry.sum_of_weights,
            "N_eff (Kish)": entry.effective_events,
            "N_eff / N": entry.effective_fraction,
            "w < 0: fraction of events": entry.negative_fraction,
            "w < 0: Σw": entry.negative_sum,
            f"{LARGEST} largest |w|: share of Σ|w|": entry.largest_share,
            "largest w": entry.largest_weights[0] if entry.largest_weights else None,
        }
        for name, entry in groups.items()
    ]
