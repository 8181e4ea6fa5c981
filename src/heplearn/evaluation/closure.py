"""Closure of a classifier-based reweighting: does the reweighted source look like the target?

A reweighting run (:mod:`heplearn.deploy.reweight`) is checked on its held-out test split,
which it never trained on:

- the weights ``w = p / (1 - p)`` of the source events (class 0);
- feature histograms of the target, the source and the reweighted source, normalised to
  unit area, with ratio panels to the target;
- a *fresh* classifier two-sample test (:func:`heplearn.evaluation.two_sample.two_sample_test`,
  not the run's own model) of source against target, before and after the weights: a
  good reweighting brings its AUC from above 0.5 down to about 0.5;
- per feature, the χ²/ndf of the shapes of source and target, before and after the weights
  (:mod:`heplearn.evaluation.shape_chi2`), and the weight diagnostics
  (:mod:`heplearn.data.weight_diagnostics`) of the source, the reweighted source and the
  target.

The histograms and the test use the raw, unstandardised feature values (evaluated as
observers of the run's data) and the events' own weights, multiplied by ``w`` for the
reweighted source.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from heplearn.data.weight_diagnostics import diagnostics_rows, weight_diagnostics
from heplearn.errors import ConfigError
from heplearn.evaluation.density_ratio import DEFAULT_CLIP, require_binary, weights_from_scores
from heplearn.evaluation.plots import SavedPlot, StyledFigure, save_figure
from heplearn.evaluation.predictions import Predictions
from heplearn.evaluation.ratio_plots import HistogramSample, ratio_histograms_figure
from heplearn.evaluation.report import write_report
from heplearn.evaluation.run_data import run_predictions
from heplearn.evaluation.shape_chi2 import shape_chi2
from heplearn.evaluation.two_sample import TwoSampleTest, two_sample_test
from heplearn.files import write_text_atomic
from heplearn.run_directory import RunDirectory

CLOSURE_JSON = "closure.json"
CLOSURE_REPORT = "closure.html"
FEATURES_PLOT = "plots/closure_features"
WEIGHTS_PLOT = "plots/closure_weights"


@dataclass(frozen=True)
class Closure:
    """The closure test of a reweighting run and where it was written.

    Attributes
    ----------
    before, after : TwoSampleTest
        Two-sample test of source against target without and with the weights.
    features : list of str
        The features histogrammed and given to the two-sample classifier.
    source_events, target_events : int
        Test events of each sample.
    effective_source_events : float
        Kish effective size ``(Σw)² / Σw²`` of the reweighted source: the statistical
        price of the weights.
    weights : numpy.ndarray
        ``w`` of every source test event (before the events' own weights).
    metrics : dict
        What ``closure.json`` holds.
    json_path, report_path : Path
        ``closure.json`` and ``closure.html``.
    plots : list of SavedPlot
        The feature histograms and the weight distribution.
    """

    before: TwoSampleTest
    after: TwoSampleTest
    features: list[str]
    source_events: int
    target_events: int
    effective_source_events: float
    weights: np.ndarray
    metrics: dict[str, Any]
    json_path: Path
    report_path: Path
    plots: list[SavedPlot]


def closure_features(run: RunDirectory) -> list[str]:
    """The features a closure shows by default: the columns of the run's tabular inputs.

    A run without tabular inputs (a particle or image model) falls back to its
    ``evaluation.observers``.

    Raises
    ------
    ConfigError
        When the run has neither.
    """
    columns = [
        column
        for info in run.schema().values()
        if info.kind == "tabular"
        for column in info.columns
    ]
    columns = list(dict.fromkeys(columns)) or list(run.config().evaluation.observers)
    if not columns:
        raise ConfigError(
            f"{run.path} has no tabular inputs and no evaluation.observers to histogram; "
            "name the features of the closure (e.g. jet_mass, jet_nparticles)"
        )
    return columns


def reweighting_closure(
    run: RunDirectory | Path,
    out_dir: Path | None = None,
    *,
    features: Sequence[str] | None = None,
    clip: float = DEFAULT_CLIP,
    bins: int = 30,
    style: str | None = None,
) -> Closure:
    """Check a reweighting run on its test split and write plots, JSON and an HTML report.

    Parameters
    ----------
    run : RunDirectory or Path
        A finished binary run: source (class 0) against target (class 1).
    out_dir : Path, optional
        Where ``closure.json``, ``closure.html`` and ``plots/closure_*`` go; default the
        run directory.
    features : sequence of str, optional
        Expressions to histogram and to give the two-sample classifier; default
        :func:`closure_features`.
    clip : float
        Score clip of the weights (see
        :func:`heplearn.evaluation.density_ratio.weights_from_scores`).
    bins : int
        Bins per feature histogram.
    style : str, optional
        mplhep style; default the run's ``evaluation.style``.

    Returns
    -------
    Closure
        The two-sample tests before and after, the weights and the written paths.
    """
    run = run if isinstance(run, RunDirectory) else RunDirectory(Path(run))
    source_name, target_name = require_binary(run)
    config = run.config()
    style = style or config.evaluation.style
    columns = list(features) if features is not None else closure_features(run)
    out_dir = Path(out_dir) if out_dir is not None else run.path
    test = run_predictions(run, observers=columns, splits=("test",))["test"]
    source, target = _split_samples(test, columns, source_name, target_name)
    weights = weights_from_scores(source.scores, clip)
    reweighted = source.weights * weights
    before = two_sample_test(
        source.values,
        target.values,
        first_weights=source.weights,
        second_weights=target.weights,
        seed=config.seed,
    )
    after = two_sample_test(
        source.values,
        target.values,
        first_weights=reweighted,
        second_weights=target.weights,
        seed=config.seed,
    )
    effective = float(reweighted.sum() ** 2 / np.sum(reweighted**2))
    chi2 = {
        column: {
            when: shape_chi2(
                source.values[:, index], source_weights, target.values[:, index], target.weights
            )
            for when, source_weights in (("before", source.weights), ("after", reweighted))
        }
        for index, column in enumerate(columns)
    }
    chi2_per_ndf = {
        column: {
            "before": tests["before"].per_ndf,
            "after": tests["after"].per_ndf,
            "ndf": tests["after"].ndf,
        }
        for column, tests in chi2.items()
    }
    weight_groups = {
        source_name: weight_diagnostics(source.weights),
        f"{source_name} reweighted": weight_diagnostics(reweighted),
        target_name: weight_diagnostics(target.weights),
    }
    samples = [
        target.histogram(target_name),
        source.histogram(source_name),
        source.histogram(f"{source_name} reweighted", reweighted),
    ]
    plots = [
        save_figure(
            ratio_histograms_figure(samples, columns, bins=bins, style=style),
            out_dir / FEATURES_PLOT,
            f"Test-split features of {target_name} (points), {source_name} and {source_name} "
            f"reweighted with w = p/(1-p), unit area; ratios to {target_name}.",
        ),
        save_figure(
            weights_figure(weights, source_name, target_name, style=style),
            out_dir / WEIGHTS_PLOT,
            f"Distribution of the weights w = p/(1-p) of the {source_name} test events "
            f"(p clipped to [{clip:g}, {1 - clip:g}]).",
        ),
    ]
    metrics = {
        "auc_before": before.auc,
        "auc_before_uncertainty": before.auc_uncertainty,
        "auc_after": after.auc,
        "auc_after_uncertainty": after.auc_uncertainty,
        "events": after.events,
        "source": source_name,
        "target": target_name,
        "source_events": len(source.values),
        "target_events": len(target.values),
        "effective_source_events": effective,
        "weight_mean": float(weights.mean()),
        "weight_min": float(weights.min()),
        "weight_max": float(weights.max()),
        "clip": clip,
        "features": columns,
        "chi2_per_ndf": chi2_per_ndf,
        "weights": {name: entry.as_dict() for name, entry in weight_groups.items()},
    }
    json_path = out_dir / CLOSURE_JSON
    write_text_atomic(json_path, json.dumps(metrics, indent=2) + "\n")
    report_path = write_report(
        out_dir / CLOSURE_REPORT,
        title=f"Reweighting closure of {run.path.name}: {source_name} → {target_name}",
        config_yaml=config.to_yaml(),
        metrics={k: v for k, v in metrics.items() if k not in ("chi2_per_ndf", "weights")},
        extra_tables={
            "Shape χ²/ndf per variable, held-out events": [
                {
                    "variable": column,
                    "χ²/ndf before": entry["before"],
                    "χ²/ndf after": entry["after"],
                    "ndf": entry["ndf"],
                }
                for column, entry in chi2_per_ndf.items()
            ],
            "Event weights, held-out events": diagnostics_rows(weight_groups, "sample"),
        },
        figures=plots,
        style=style,
    )
    return Closure(
        before=before,
        after=after,
        features=columns,
        source_events=len(source.values),
        target_events=len(target.values),
        effective_source_events=effective,
        weights=weights,
        metrics=metrics,
        json_path=json_path,
        report_path=report_path,
        plots=plots,
    )


@dataclass(frozen=True)
class _Sample:
    """Raw feature values ``(N, F)``, event weights and scores of one class of the test split."""

    values: np.ndarray
    weights: np.ndarray
    scores: np.ndarray

    def histogram(self, label: str, weights: np.ndarray | None = None) -> HistogramSample:
        """The sample for :func:`ratio_histograms_figure`, optionally with other weights."""
        return HistogramSample(label, self.values, self.weights if weights is None else weights)


def _split_samples(
    test: Predictions, columns: Sequence[str], source_name: str, target_name: str
) -> tuple[_Sample, _Sample]:
    """Source (label 0) and target (label 1) events of the test split, finite values only."""
    values = np.column_stack([test.observers[column] for column in columns])
    finite = np.isfinite(values).all(axis=1)
    samples = []
    for label, name in ((0, source_name), (1, target_name)):
        chosen = (test.labels == label) & finite
        if not chosen.any():
            raise ConfigError(
                f"the test split has no {name} events with finite {', '.join(columns)}; "
                "enlarge the samples or the test fraction"
            )
        samples.append(_Sample(values[chosen], test.weights[chosen], test.scores[chosen]))
    return samples[0], samples[1]


def weights_figure(
    weights: np.ndarray, source_name: str, target_name: str, *, bins: int = 50, style: str = "CMS"
) -> Figure:
    """Histogram of log10 of the reweighting weights (log y), with their mean.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(N,)`` positive weights.
    source_name, target_name : str
        The samples, for the axis label.
    bins : int
        Bins in log10(w).
    style : str
        mplhep style name.
    """
    logs = np.log10(weights)
    low, high = float(logs.min()), float(logs.max())
    edges = np.linspace(low - 0.05, high + 0.05, bins + 1)
    figure = StyledFigure(style)
    with figure.style_context():
        axes = figure.subplots()
        counts, _ = np.histogram(logs, bins=edges)
        axes.stairs(counts, edges, linewidth=1.5, label=source_name)
        axes.axvline(np.log10(weights.mean()), color="grey", linestyle=":", label="mean weight")
        axes.set_yscale("log")
        axes.set_xlabel(rf"$\log_{{10}} w$,  w = p({target_name}) / p({source_name})")
        axes.set_ylabel("Events")
        axes.legend()
    return figure
