"""Honest background rejections: the background behind a working point, and a lower limit.

A rejection ``1/ε_B`` measured where only a handful of background events pass the cut is
a number from a handful of events (and ``inf`` where none pass). Next to every rejection
heplearn therefore reports how much background passes the cut, and a one-sided lower limit
on ``1/ε_B`` at 95 % confidence level; where fewer than :data:`MIN_BACKGROUND_EVENTS`
background events pass, tables quote ``> limit`` instead of the rejection.

Construction (weighted events)
------------------------------
At a working point (the first ROC point whose ε_S reaches the target, as in
:func:`heplearn.evaluation.metrics.working_point`) the passing background events have a raw
count ``n``, a weight sum ``W = Σw`` and ``Σw²``. One effective event carries the weight
``s = max(Σw²/Σw of the passing events, Σw²/Σw of all background events)``, so the passing
background amounts to ``k = W / s`` effective events and the whole background, of total
weight ``W_B``, to ``N = W_B / s``; ``k / N = W / W_B = ε_B`` exactly. The upper limit on
ε_B is the one-sided Clopper–Pearson bound for ``k`` passing out of ``N``,
``ε_up = B⁻¹(CL; k + 1, N − k)`` (the beta quantile, defined for non-integer ``k`` and
``N``), and the lower limit on the rejection is ``1 / ε_up``.

For unit (or equal) weights this is the exact Clopper–Pearson bound. The larger of the two
weight scales is taken because a few passing events that happen to carry small weights
would otherwise claim too tight a limit: with Gamma-distributed weights the passing scale
alone covers only 78–93 % instead of 95 %, the larger scale at least 95 %
(``tests/evaluation/test_limits.py``). Where no background passes (or the passing weight is
not positive, with negative weights) ``k = 0`` and ``s`` is the whole background's, so
``N`` is the background's effective size ``(Σw)²/Σw²`` and ``ε_up = 1 − (1 − CL)^(1/N)``,
about ``3/N``.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import beta

from heplearn.evaluation.metrics import RocCurve, working_point

CONFIDENCE_LEVEL = 0.95
"""Confidence level of the one-sided lower limits on 1/ε_B."""

MIN_BACKGROUND_EVENTS = 10
"""Fewer background events than this past a working point: the rejection is quoted as a limit."""

LIMIT_NOTE = (
    f"> N: fewer than {MIN_BACKGROUND_EVENTS} background events pass the cut at that ε_S, "
    f"so the rejection is quoted as its one-sided {CONFIDENCE_LEVEL * 100:.0f} % CL lower "
    "limit (Clopper–Pearson on the effective number of passing background events)."
)
"""The footnote of a table that quotes limits."""


@dataclass(frozen=True)
class PassingBackground:
    """The background events that pass the cut of one working point.

    Attributes
    ----------
    events : int
        Raw number of background events passing.
    weight : float
        Their summed weight.
    effective_events : float
        Their effective number ``(Σw)² / Σw²`` (0 when none pass).
    efficiency_limit : float
        One-sided upper limit on ε_B at :data:`CONFIDENCE_LEVEL` (module docstring).
    """

    events: int
    weight: float
    effective_events: float
    efficiency_limit: float

    @property
    def rejection_limit(self) -> float:
        """One-sided lower limit on ``1/ε_B`` at :data:`CONFIDENCE_LEVEL`."""
        return 1.0 / self.efficiency_limit

    @property
    def is_few(self) -> bool:
        """Whether fewer than :data:`MIN_BACKGROUND_EVENTS` background events pass."""
        return self.events < MIN_BACKGROUND_EVENTS

    def counts(self) -> dict[str, float]:
        """``{"events", "weighted", "effective"}``, as ``metrics.json`` holds them."""
        return {
            "events": self.events,
            "weighted": self.weight,
            "effective": self.effective_events,
        }


def efficiency_upper_limit(
    passing_weight: float,
    passing_squared_weight: float,
    total_weight: float,
    total_squared_weight: float,
    confidence: float = CONFIDENCE_LEVEL,
) -> float:
    """Upper limit on an efficiency ``W / W_total`` of weighted events (module docstring).

    Parameters
    ----------
    passing_weight, passing_squared_weight : float
        ``Σw`` and ``Σw²`` of the passing events.
    total_weight, total_squared_weight : float
        ``Σw`` and ``Σw²`` of all events; ``total_weight`` must be positive.
    confidence : float
        Confidence level of the one-sided limit.

    Returns
    -------
    float
        The limit, in (0, 1].
    """
    scale = total_squared_weight / total_weight
    passing = 0.0
    if passing_weight > 0 and passing_squared_weight > 0:
        scale = max(scale, passing_squared_weight / passing_weight)
        passing = passing_weight / scale
    total = total_weight / scale
    if passing >= total:
        return 1.0
    return float(beta.ppf(confidence, passing + 1.0, total - passing))


def passing_background(
    scores: ArrayLike,
    is_signal: ArrayLike,
    weights: ArrayLike | None,
    roc: RocCurve,
    signal_efficiencies: Sequence[float],
) -> list[PassingBackground]:
    """The background passing the working point at each signal efficiency, with limits.

    Parameters
    ----------
    scores, is_signal, weights : array_like
        The events of ``roc`` (see :func:`heplearn.evaluation.metrics.roc_curve`).
    roc : RocCurve
        Their ROC curve.
    signal_efficiencies : sequence of float
        Target ε_S values in (0, 1].

    Returns
    -------
    list of PassingBackground
        One per signal efficiency.
    """
    scores = np.asarray(scores, dtype=np.float64)
    background = ~np.asarray(is_signal, dtype=bool)
    weights = np.ones_like(scores) if weights is None else np.asarray(weights, dtype=np.float64)
    background_scores, background_weights = scores[background], weights[background]
    total_squared = float(np.sum(background_weights**2))
    results = []
    for efficiency in signal_efficiencies:
        passes = background_scores >= working_point(roc, efficiency).threshold
        passing_weights = background_weights[passes]
        weight, squared = float(passing_weights.sum()), float(np.sum(passing_weights**2))
        results.append(
            PassingBackground(
                events=int(passes.sum()),
                weight=weight,
                effective_events=weight**2 / squared if squared > 0 else 0.0,
                efficiency_limit=efficiency_upper_limit(
                    weight, squared, roc.background_weight, total_squared
                ),
            )
        )
    return results


def lower_limit_number(limit: float) -> str:
    """``1,234`` or ``3.14``: a lower limit rounded down, so that the text is one too."""
    return f"{math.floor(limit):,}" if limit >= 10 else f"{math.floor(limit * 100) / 100:.2f}"


def limit_text(limit: float, events: int) -> str:
    """``> 1,234 (95 % CL lower limit: 3 background events pass)``: a rejection as a limit."""
    number = lower_limit_number(limit)
    noun = "event passes" if events == 1 else "events pass"
    return f"> {number} ({CONFIDENCE_LEVEL * 100:.0f} % CL lower limit: {events} background {noun})"


def quoted_rejection(rejection: float, limit: float, events: int) -> float | str:
    """The rejection, or its limit text where fewer than ten background events pass."""
    return limit_text(limit, events) if events < MIN_BACKGROUND_EVENTS else rejection


def with_quoted_rejections(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``metrics`` for display: rejections on few background events as limits.

    Every mapping holding ``rejection``, ``rejection_limit`` and ``background_passing``
    (the binary metrics, each one-vs-rest entry, an anomaly detection) gets, at each signal
    efficiency where fewer than :data:`MIN_BACKGROUND_EVENTS` background events pass, the
    text of :func:`limit_text` in place of the number. ``metrics.json`` keeps the numbers.
    """
    shown = {
        key: with_quoted_rejections(value) if isinstance(value, Mapping) else value
        for key, value in metrics.items()
    }
    if {"rejection", "rejection_limit", "background_passing"} <= set(metrics):
        shown["rejection"] = {
            efficiency: quoted_rejection(
                value,
                metrics["rejection_limit"][efficiency],
                metrics["background_passing"][efficiency]["events"],
            )
            for efficiency, value in metrics["rejection"].items()
        }
    return shown
