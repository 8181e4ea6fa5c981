"""Evaluate a model's predictions: every metric and plot of its task, in one call.

:func:`evaluate_predictions` takes the predictions on the training and the test split,
computes the metrics of the task on the test split (with the training split for the
overtraining checks), draws every plot into ``out_dir/plots/`` (PNG and PDF) and returns
the metrics with the saved plots. :func:`write_metrics` writes the metrics as JSON.

Every key of ``metrics.json`` is documented in ``docs/metrics.md``.
"""

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from heplearn.data.labels import plain_text, variable_label
from heplearn.evaluation import limits, metrics
from heplearn.evaluation.gallery import class_average_figure, gallery_figure, select_examples
from heplearn.evaluation.plots import (
    SavedPlot,
    check_style,
    confusion_matrix_figure,
    efficiency_figure,
    parity_figure,
    rejection_figure,
    residuals_figure,
    roc_figure,
    save_figure,
    score_distribution_figure,
    sculpting_figure,
)
from heplearn.evaluation.predictions import Predictions, check_predictions
from heplearn.files import atomic_path

DEFAULT_OBSERVER_BINS = 20


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_predictions` computed and drew.

    Attributes
    ----------
    metrics : dict
        The metrics (see the module docstring), JSON-ready except for ``inf`` and NaN.
    plots : list of SavedPlot
        Every figure, with its PNG and PDF paths and a caption, in report order.
    """

    metrics: dict[str, Any]
    plots: list[SavedPlot]


@dataclass(frozen=True)
class _Setup:
    """The inputs and options every task's evaluation reads."""

    train: Predictions
    test: Predictions
    class_names: Sequence[str]
    plots_dir: Path
    working_point: float
    style: str
    observer_bins: Mapping[str, int | Sequence[float]]
    resamples: int
    seed: int
    gallery_size: int
    labels: Mapping[str, str]

    def save(self, figure: Figure, name: str, caption: str) -> SavedPlot:
        """Save into the plots directory under ``name`` made safe for a file name."""
        return save_figure(figure, self.plots_dir / re.sub(r"[^\w.-]", "_", name), caption)


def evaluate_predictions(
    train: Predictions,
    test: Predictions,
    task: str,
    class_names: Sequence[str],
    out_dir: Path,
    *,
    working_point: float = 0.5,
    style: str = "CMS",
    observer_bins: Mapping[str, int | Sequence[float]] | None = None,
    bootstrap_resamples: int = 100,
    seed: int = 0,
    gallery_size: int = 8,
    labels: Mapping[str, str] | None = None,
) -> Evaluation:
    """Compute every metric of the task and draw every plot into ``out_dir/plots/``.

    Parameters
    ----------
    train, test : Predictions
        Outputs on the training and the test split; metrics are quoted on ``test``,
        ``train`` serves the overtraining checks.
    task : {"binary", "multiclass", "regression"}
        What the model does.
    class_names : sequence of str
        Class names in label order (binary: background, signal); for a regression empty or
        the target's name.
    out_dir : Path
        Plots go to ``out_dir/plots/``.
    working_point : float
        Signal efficiency ε_S of the cut used for the efficiency-versus-observer and
        sculpting plots (binary).
    style : {"CMS", "ATLAS", "LHCb"}
        mplhep style of the plots.
    observer_bins : mapping of str to int or sequence of float, optional
        Bins per observer (a number of equal-width bins over its bulk, or edges); observers
        not listed get 20 bins.
    bootstrap_resamples : int
        Poisson bootstrap replicas for the uncertainties; 0 skips the bootstrap (the
        uncertainties are then NaN, ``null`` in JSON).
    seed : int
        Seed of the bootstrap.
    gallery_size : int
        Examples per gallery row, when the predictions carry images.
    labels : mapping of str to str, optional
        Axis labels of observers and of a regression target, by variable name (see
        :mod:`heplearn.data.labels`; names not given get heplearn's known labels).

    Returns
    -------
    Evaluation
        The metrics and the saved plots.

    Raises
    ------
    ConfigError
        Unknown task or style, class names that do not fit the task, a working point
        outside (0, 1].
    InputError
        Predictions that do not fit the task, or a class without events or positive weight.
    """
    check_predictions(train, task, class_names, "train")
    check_predictions(test, task, class_names, "test")
    check_style(style)
    setup = _Setup(
        train=train,
        test=test,
        class_names=list(class_names),
        plots_dir=Path(out_dir) / "plots",
        working_point=working_point,
        style=style,
        observer_bins=observer_bins or {},
        resamples=bootstrap_resamples,
        seed=seed,
        gallery_size=gallery_size,
        labels=labels or {},
    )
    evaluate_task: Callable[[_Setup], tuple[dict[str, Any], list[SavedPlot]]] = {
        "binary": _evaluate_binary,
        "multiclass": _evaluate_multiclass,
        "regression": _evaluate_regression,
    }[task]
    results, plots = evaluate_task(setup)
    if task != "regression":
        results["bootstrap"] = {"resamples": bootstrap_resamples, "seed": seed}
    header = {
        "task": task,
        "class_names": list(class_names),
        "events": {"train": len(train), "test": len(test)},
    }
    return Evaluation(metrics=header | results, plots=plots)


def _by_efficiency(values: np.ndarray) -> dict[str, float]:
    return {f"{e:g}": float(v) for e, v in zip(metrics.SIGNAL_EFFICIENCIES, values, strict=True)}


def _roc_metrics(
    roc: metrics.RocCurve, scores: np.ndarray, is_signal: np.ndarray, setup: _Setup
) -> dict[str, Any]:
    """AUC and rejections of a test ROC curve, with bootstrap uncertainties and limits."""
    summary = metrics.roc_summary(roc, metrics.SIGNAL_EFFICIENCIES)
    uncertainty = metrics.roc_summary_uncertainty(
        scores, is_signal, setup.test.weights, resamples=setup.resamples, seed=setup.seed
    )
    passing = limits.passing_background(
        scores, is_signal, setup.test.weights, roc, metrics.SIGNAL_EFFICIENCIES
    )
    efficiencies = [f"{e:g}" for e in metrics.SIGNAL_EFFICIENCIES]
    return {
        "auc": float(summary[0]),
        "auc_uncertainty": float(uncertainty[0]),
        "rejection": _by_efficiency(summary[1:]),
        "rejection_uncertainty": _by_efficiency(uncertainty[1:]),
        "rejection_limit": _by_efficiency(np.array([p.rejection_limit for p in passing])),
        "background_passing": dict(zip(efficiencies, [p.counts() for p in passing], strict=True)),
    }


def _ks_by_class(
    train_scores: np.ndarray, test_scores: np.ndarray, setup: _Setup
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """KS entries per true class, and the p-values for the score-distribution legend."""
    entries = {}
    for index, name in enumerate(setup.class_names):
        in_train, in_test = setup.train.labels == index, setup.test.labels == index
        entries[name] = _ks_entry(
            metrics.ks_test(
                train_scores[in_train],
                setup.train.weights[in_train],
                test_scores[in_test],
                setup.test.weights[in_test],
            )
        )
    return entries, {name: entry["p_value"] for name, entry in entries.items()}


def _ks_entry(result: metrics.KolmogorovSmirnov) -> dict[str, float]:
    return {
        "statistic": result.statistic,
        "p_value": result.p_value,
        "effective_events_train": result.effective_sizes[0],
        "effective_events_test": result.effective_sizes[1],
    }


def _evaluate_binary(setup: _Setup) -> tuple[dict[str, Any], list[SavedPlot]]:
    """Metrics and plots of a binary classifier (label 1 is signal)."""
    train, test, names = setup.train, setup.test, setup.class_names
    test_signal = test.labels == 1
    test_roc = metrics.roc_curve(test.scores, test_signal, test.weights)
    train_roc = metrics.roc_curve(train.scores, train.labels == 1, train.weights)
    cut = metrics.working_point(test_roc, setup.working_point)
    results = _roc_metrics(test_roc, test.scores, test_signal, setup)
    results["working_point"] = {
        "target_signal_efficiency": cut.target_signal_efficiency,
        "threshold": cut.threshold,
        "signal_efficiency": cut.signal_efficiency,
        "background_efficiency": cut.background_efficiency,
        "background_rejection": cut.background_rejection,
        "precision": cut.precision,
        "recall": cut.recall,
    }
    results["ks"], p_values = _ks_by_class(train.scores, test.scores, setup)
    train_summary = metrics.roc_summary(train_roc, metrics.SIGNAL_EFFICIENCIES)
    results["train"] = {
        "auc": float(train_summary[0]),
        "rejection": _by_efficiency(train_summary[1:]),
    }
    train_auc = results["train"]["auc"]
    plots = [
        setup.save(
            rejection_figure([("Test", test_roc), ("Train", train_roc)], style=setup.style),
            "rejection",
            "Background rejection 1/ε_B against signal efficiency ε_S on the test split; the "
            "train curve lying well above it would signal overtraining.",
        ),
        setup.save(
            roc_figure(
                [
                    (f"Test (AUC = {results['auc']:.3f})", test_roc),
                    (f"Train (AUC = {train_auc:.3f})", train_roc),
                ],
                style=setup.style,
            ),
            "roc",
            "ROC curve: signal efficiency against background efficiency.",
        ),
        setup.save(
            score_distribution_figure(train, test, names, ks_p_values=p_values, style=setup.style),
            "scores",
            "Score distribution per true class, train (filled) and test (points), each "
            "normalised to unit area; the legend gives the Kolmogorov–Smirnov p-value of "
            "train against test.",
        ),
    ]
    results["efficiency_vs"] = {}
    for observer, values in test.observers.items():
        entry, observer_plots = _observer_checks(setup, observer, values, cut)
        results["efficiency_vs"][observer] = entry
        plots += observer_plots
    return results, plots + _image_plots(setup)


def _observer_checks(
    setup: _Setup, observer: str, values: np.ndarray, cut: metrics.WorkingPoint
) -> tuple[dict[str, list[float]], list[SavedPlot]]:
    """Efficiencies in bins of one observer at the cut, and the background sculpting plot."""
    test = setup.test
    edges = metrics.bin_edges(values, setup.observer_bins.get(observer, DEFAULT_OBSERVER_BINS))
    passed = test.scores >= cut.threshold
    signal, background = test.labels == 1, test.labels == 0
    signal_efficiency = metrics.binned_efficiency(
        values[signal], passed[signal], test.weights[signal], edges
    )
    background_efficiency = metrics.binned_efficiency(
        values[background], passed[background], test.weights[background], edges
    )
    rejection, rejection_uncertainty = background_efficiency.inverse()
    entry = {
        "bin_edges": edges.tolist(),
        "signal_efficiency": signal_efficiency.efficiency.tolist(),
        "signal_efficiency_uncertainty": signal_efficiency.uncertainty.tolist(),
        "background_efficiency": background_efficiency.efficiency.tolist(),
        "background_efficiency_uncertainty": background_efficiency.uncertainty.tolist(),
        "background_rejection": rejection.tolist(),
        "background_rejection_uncertainty": rejection_uncertainty.tolist(),
    }
    cut_text = f"score ≥ {cut.threshold:.3g} (ε_S = {cut.signal_efficiency:.2f})"
    background_name = setup.class_names[0]
    label = variable_label(observer, setup.labels)
    plots = [
        setup.save(
            efficiency_figure(
                signal_efficiency,
                background_efficiency,
                observer=label,
                cut=cut,
                style=setup.style,
            ),
            f"efficiency_{observer}",
            f"Signal efficiency and background rejection in bins of {plain_text(label)} at the "
            f"working point {cut_text}.",
        ),
        setup.save(
            sculpting_figure(
                values[background],
                test.scores[background],
                test.weights[background],
                edges,
                observer=label,
                cut=cut,
                sample=background_name,
                style=setup.style,
            ),
            f"sculpting_{observer}",
            f"{plain_text(label)} of {background_name} events before and after the "
            f"working-point cut {cut_text}, each normalised to unit area: a cut that "
            "reshapes the distribution sculpts it.",
        ),
    ]
    return entry, plots


def _image_plots(setup: _Setup) -> list[SavedPlot]:
    """Galleries of test examples and class-averaged images, when there are images."""
    test = setup.test
    if test.images is None:
        return []
    groups = select_examples(test.scores, test.labels, setup.class_names, setup.gallery_size)
    return [
        setup.save(
            gallery_figure(
                test.images, groups, test.scores, test.labels, setup.class_names, style=setup.style
            ),
            "gallery",
            "Test examples (summed over channels, log colour scale): the most class-like, the "
            "most uncertain and the most confidently wrong; each titled with its true class "
            "and score.",
        ),
        setup.save(
            class_average_figure(
                test.images, test.labels, test.weights, setup.class_names, style=setup.style
            ),
            "class_averages",
            "Weighted average test image of each class (log colour scale).",
        ),
    ]


def _confusion_matrix(predictions: Predictions, n_classes: int) -> np.ndarray:
    """Weighted confusion matrix of the most probable class against the true class."""
    predicted = np.argmax(predictions.scores, axis=1)
    return metrics.confusion_matrix(predictions.labels, predicted, predictions.weights, n_classes)


def _one_vs_rest_rocs(predictions: Predictions, n_classes: int) -> list[metrics.RocCurve]:
    """Each class's probability as a discriminant of that class against all others."""
    return [
        metrics.roc_curve(predictions.scores[:, k], predictions.labels == k, predictions.weights)
        for k in range(n_classes)
    ]


def _evaluate_multiclass(setup: _Setup) -> tuple[dict[str, Any], list[SavedPlot]]:
    """Metrics and plots of a multiclass classifier (scores are class probabilities)."""
    train, test, names = setup.train, setup.test, setup.class_names
    counts, train_counts = _confusion_matrix(test, len(names)), _confusion_matrix(train, len(names))
    test_rocs = _one_vs_rest_rocs(test, len(names))
    one_vs_rest = {
        name: _roc_metrics(roc, test.scores[:, k], test.labels == k, setup)
        for k, (name, roc) in enumerate(zip(names, test_rocs, strict=True))
    }
    normalised = metrics.normalise_rows(counts)
    results: dict[str, Any] = {
        "accuracy": float(np.trace(counts) / counts.sum()),
        "confusion_matrix": counts.tolist(),
        "confusion_matrix_normalised": normalised.tolist(),
        "one_vs_rest": one_vs_rest,
        "auc_macro": float(np.mean([entry["auc"] for entry in one_vs_rest.values()])),
        "ks": {},
        "train": {
            "accuracy": float(np.trace(train_counts) / train_counts.sum()),
            "auc_macro": float(
                np.mean([metrics.auc(roc) for roc in _one_vs_rest_rocs(train, len(names))])
            ),
        },
    }
    plots = [
        setup.save(
            roc_figure(
                [
                    (f"{name} vs rest (AUC = {one_vs_rest[name]['auc']:.3f})", roc)
                    for name, roc in zip(names, test_rocs, strict=True)
                ],
                style=setup.style,
            ),
            "roc_one_vs_rest",
            "One-vs-rest ROC curves on the test split: each class's probability separating "
            "that class from all others.",
        ),
        setup.save(
            rejection_figure(
                [(f"{name} vs rest", roc) for name, roc in zip(names, test_rocs, strict=True)],
                style=setup.style,
            ),
            "rejection_one_vs_rest",
            "One-vs-rest background rejection 1/ε_B against signal efficiency ε_S.",
        ),
        setup.save(
            confusion_matrix_figure(counts, names, normalised=False, style=setup.style),
            "confusion_matrix",
            "Confusion matrix of the test split in weighted events (row: true class, column: "
            "most probable class).",
        ),
        setup.save(
            confusion_matrix_figure(normalised, names, normalised=True, style=setup.style),
            "confusion_matrix_normalised",
            "Confusion matrix with each row normalised to one: the fraction of each true class "
            "assigned to each class.",
        ),
    ]
    for output, name in enumerate(names):
        results["ks"][name], p_values = _ks_by_class(
            train.scores[:, output], test.scores[:, output], setup
        )
        plots.append(
            setup.save(
                score_distribution_figure(
                    train, test, names, output=output, ks_p_values=p_values, style=setup.style
                ),
                f"scores_{name}",
                f"Probability of class {name} per true class, train (filled) and test "
                "(points), each normalised to unit area, with KS p-values of train against "
                "test.",
            )
        )
    return results, plots + _image_plots(setup)


def _evaluate_regression(setup: _Setup) -> tuple[dict[str, Any], list[SavedPlot]]:
    """Metrics and plots of a regression (scores are predictions, labels the truth)."""
    train, test = setup.train, setup.test
    target_name = setup.class_names[0] if setup.class_names else "target"
    target_label = variable_label(target_name, setup.labels)
    test_metrics = metrics.regression_metrics(test.scores, test.labels, test.weights)
    train_metrics = metrics.regression_metrics(train.scores, train.labels, train.weights)
    results: dict[str, Any] = asdict(test_metrics) | {
        "ks": _ks_entry(metrics.ks_test(train.scores, train.weights, test.scores, test.weights)),
        "train": asdict(train_metrics),
    }
    plots = [
        setup.save(
            parity_figure(
                test.scores, test.labels, test.weights, target_name=target_label, style=setup.style
            ),
            "parity",
            f"Predicted against true {target_name} on the test split (weighted events, log "
            "colour scale); a perfect model lies on the dashed diagonal.",
        ),
        setup.save(
            residuals_figure(
                test.scores, test.labels, test.weights, target_name=target_label, style=setup.style
            ),
            "residuals",
            f"Residual (predicted − true) in bins of the true {target_name}: points at the "
            "weighted mean (bias), bars of one standard deviation (resolution).",
        ),
    ]
    return results, plots


def _json_ready(value: Any) -> Any:
    """Plain JSON types: numpy values unwrapped, ``inf`` and NaN as ``None``."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, np.ndarray | list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_metrics(metrics_dict: Mapping[str, Any], path: Path) -> Path:
    """Write metrics as indented JSON, atomically; ``inf`` and NaN become ``null``.

    Parameters
    ----------
    metrics_dict : mapping
        The metrics, e.g. :attr:`Evaluation.metrics`.
    path : Path
        The JSON file; its directory must exist.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    text = json.dumps(_json_ready(metrics_dict), indent=2, allow_nan=False)
    with atomic_path(path) as temporary:
        temporary.write_text(text + "\n")
    return path
