"""Evaluation of trained runs: metrics, plots, the HTML report and run comparisons.

The modules, each with one job, by what they serve:

- the input contract and numbers: :mod:`~heplearn.evaluation.predictions`
  (:class:`Predictions`), :mod:`~heplearn.evaluation.metrics` (weighted ROC, AUC,
  rejection, bootstrap, KS, confusion matrix, regression metrics; numpy only),
  :mod:`~heplearn.evaluation.limits`, :mod:`~heplearn.evaluation.two_sample`;
- figures: :mod:`~heplearn.evaluation.plots`, :mod:`~heplearn.evaluation.gallery`,
  :mod:`~heplearn.evaluation.ratio_plots`, :mod:`~heplearn.evaluation.latent`;
- one call per task: :mod:`~heplearn.evaluation.evaluate` (supervised),
  :mod:`~heplearn.evaluation.anomaly`, :mod:`~heplearn.evaluation.generative`,
  :mod:`~heplearn.evaluation.closure` (reweighting);
- a run directory in, files out: :mod:`~heplearn.evaluation.run_data`,
  :mod:`~heplearn.evaluation.runs`, :mod:`~heplearn.evaluation.run_warnings`,
  :mod:`~heplearn.evaluation.report` (the self-contained HTML report),
  :mod:`~heplearn.evaluation.compare` (several runs on one rejection plot),
  :mod:`~heplearn.evaluation.metric_names` (the names tables show).

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
