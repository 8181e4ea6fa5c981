"""The warnings a physicist expects next to a run's numbers, computed in one place.

:func:`run_warnings` reads a run's metrics (as :func:`heplearn.evaluation.evaluate.
evaluate_predictions` returns them) and its training history, and says in plain words
what should make a reader distrust the numbers:

- **overtraining**: the train and test score distributions of a class differ (a weighted
  Kolmogorov–Smirnov p-value below :data:`KS_P_VALUE`), or the train AUC lies far above the
  test AUC (by more than :data:`AUC_GAP` and three test uncertainties);
- **a working point on few events**: fewer than
  :data:`heplearn.evaluation.limits.MIN_BACKGROUND_EVENTS` background events pass the cut
  of a quoted 1/ε_B, which is then quoted as a lower limit;
- **training stopped while validation still improved**: the lowest validation loss (or
  highest validation AUC) of a network is at its last epoch, so more epochs would help.

The CLI summary and the top of ``report.html`` only display these; ``metrics.json`` keeps
them under ``warnings``.
"""

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from heplearn.evaluation.limits import MIN_BACKGROUND_EVENTS, limit_text

KS_P_VALUE = 0.01
"""Below this train-versus-test KS p-value, a class's scores are flagged as overtrained."""

AUC_GAP = 0.01
"""A train AUC above the test AUC by more than this (and three test uncertainties) is flagged."""

MIN_EPOCHS = 2
"""Histories shorter than this (a bdt's single row) are not checked for convergence."""


def _entries(metrics: Mapping[str, Any], key: str, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(where, mapping)`` below ``metrics`` holding ``key``, ``where`` its path."""
    if key in metrics:
        yield path, metrics
    for name, value in metrics.items():
        if isinstance(value, Mapping):
            yield from _entries(value, key, f"{path} / {name}" if path else str(name))


def overtraining_warnings(metrics: Mapping[str, Any]) -> list[str]:
    """Classes whose train and test scores differ, and a train AUC far above the test AUC."""
    found = []
    for where, entry in _entries(metrics, "p_value"):
        p_value = entry["p_value"]
        if p_value is not None and p_value < KS_P_VALUE:
            found.append(
                f"overtraining: train and test scores differ for {where.removeprefix('ks / ')} "
                f"(Kolmogorov–Smirnov p = {p_value:.2g} < {KS_P_VALUE:g})"
            )
    test_auc, train_auc = metrics.get("auc"), (metrics.get("train") or {}).get("auc")
    if isinstance(test_auc, float) and isinstance(train_auc, float):
        uncertainty = metrics.get("auc_uncertainty")
        spread = (
            3 * uncertainty if isinstance(uncertainty, float) and math.isfinite(uncertainty) else 0
        )
        if train_auc - test_auc > max(AUC_GAP, spread):
            found.append(
                f"overtraining: train AUC {train_auc:.3f} lies far above test AUC "
                f"{test_auc:.3f}; regularise the model or stop it earlier"
            )
    return found


def few_events_warnings(metrics: Mapping[str, Any]) -> list[str]:
    """Working points whose rejection rests on fewer than ten background events."""
    found = []
    for where, entry in _entries(metrics, "background_passing"):
        for efficiency, passing in entry["background_passing"].items():
            events = passing["events"]
            if events >= MIN_BACKGROUND_EVENTS:
                continue
            subject = f"1/ε_B at ε_S = {efficiency}" + (f" ({where})" if where else "")
            limit = entry.get("rejection_limit", {}).get(efficiency)
            quoted = f"; quoted as {limit_text(limit, events)}" if limit is not None else ""
            found.append(
                f"few events: {subject} rests on {events} background event"
                f"{'' if events == 1 else 's'} (fewer than {MIN_BACKGROUND_EVENTS}){quoted}"
            )
    return found


def convergence_warnings(history: Sequence[Mapping[str, float]]) -> list[str]:
    """Whether the best validation loss or AUC is at the last epoch (or boosting iteration)."""
    if len(history) < MIN_EPOCHS:
        return []
    improving = []
    for key, best, trend in (
        ("val_loss", min, "loss still falling"),
        ("val_auc", max, "AUC still rising"),
    ):
        values = [row[key] for row in history if key in row and math.isfinite(row[key])]
        if len(values) >= MIN_EPOCHS and values[-1] == best(values) and values[-1] != values[0]:
            improving.append(trend)
    if not improving:
        return []
    if any("iteration" in row for row in history):  # (a BDT: one row per boosting iteration)
        return [
            f"not converged: boosting stopped at iteration {len(history)} with the validation "
            f"{' and '.join(improving)}; raise model.max_iter or set model.early_stopping"
        ]
    return [
        f"not converged: training stopped at epoch {len(history)} with the validation "
        f"{' and '.join(improving)}; train longer (training.epochs) or with early stopping"
    ]


def run_warnings(
    metrics: Mapping[str, Any], history: Sequence[Mapping[str, float]] = ()
) -> list[str]:
    """Every warning about a run's metrics and training, most serious first.

    Parameters
    ----------
    metrics : mapping
        The run's metrics (``metrics.json`` content, ``inf`` or ``None`` allowed).
    history : sequence of mapping
        The rows of ``history.csv``, one per epoch.

    Returns
    -------
    list of str
        One sentence per warning; empty when nothing calls for caution.
    """
    return [
        *overtraining_warnings(metrics),
        *few_events_warnings(metrics),
        *convergence_warnings(history),
    ]
