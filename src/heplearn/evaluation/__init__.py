"""Evaluation of trained models: metrics, plots, the HTML report and run comparisons.

The modules, each with one job:

- :mod:`~heplearn.evaluation.predictions`: the input contract, :class:`Predictions`;
- :mod:`~heplearn.evaluation.metrics`: weighted ROC, AUC, rejection, bootstrap, KS,
  confusion matrix, regression metrics, binned efficiencies (numpy only);
- :mod:`~heplearn.evaluation.plots` and :mod:`~heplearn.evaluation.gallery`: figures;
- :mod:`~heplearn.evaluation.evaluate`: every metric and plot of a task in one call;
- :mod:`~heplearn.evaluation.report`: the self-contained HTML report;
- :mod:`~heplearn.evaluation.compare`: several runs on one rejection plot.

The names below are importable from this package; they load their module (and matplotlib)
on first use, so ``heplearn.evaluation.metrics`` stays cheap to import.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Predictions": "predictions",
    "data_summary": "predictions",
    "evaluate_predictions": "evaluate",
    "write_metrics": "evaluate",
    "Evaluation": "evaluate",
    "write_report": "report",
    "compare_runs": "compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load an exported name from its module on first access."""
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
