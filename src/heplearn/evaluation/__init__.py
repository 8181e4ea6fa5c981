"""Evaluation of trained runs: metrics, plots, the HTML report and run comparisons.

The modules, each with one job, by what they serve:

- the input contract and numbers: :mod:`~heplearn.evaluation.predictions`
  (:class:`Predictions`), :mod:`~heplearn.evaluation.metrics` (weighted ROC, AUC,
  rejection, bootstrap, KS, confusion matrix, regression metrics; numpy only),
  :mod:`~heplearn.evaluation.limits` (the background behind a rejection and its lower
  limit), :mod:`~heplearn.evaluation.two_sample` (the classifier two-sample test),
  :mod:`~heplearn.evaluation.shape_chi2` (χ²/ndf of two weighted shapes),
  :mod:`~heplearn.evaluation.density_ratio` (reweighting weights from a classifier's scores);
- figures: :mod:`~heplearn.evaluation.plots`, :mod:`~heplearn.evaluation.gallery`,
  :mod:`~heplearn.evaluation.ratio_plots`, :mod:`~heplearn.evaluation.latent`;
- one call per task: :mod:`~heplearn.evaluation.evaluate` (supervised),
  :mod:`~heplearn.evaluation.anomaly`, :mod:`~heplearn.evaluation.generative`,
  :mod:`~heplearn.evaluation.closure` (reweighting),
  :mod:`~heplearn.evaluation.robustness` (the same run on generator variations);
- several trainings: :mod:`~heplearn.evaluation.kfold` (every event scored by the fold
  model that did not see it), :mod:`~heplearn.evaluation.seeds` (mean ± spread of AUC and
  1/ε_B over training seeds);
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
