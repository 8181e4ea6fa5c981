"""Robustness of a binary tagger to the simulation: the same run on generator variations.

A *variation* is an independent sample made like the nominal one except for one generator
choice (``heplearn generate ... --pythia "TimeShower:alphaSvalue = 0.15"``, another tune,
another seed). The run scores every event of it; the nominal numbers are those of the
run's test split. Per variation:

ΔAUC, Δ(1/ε_B) at each ε_S of :data:`~heplearn.evaluation.metrics.SIGNAL_EFFICIENCIES`
    Variation minus nominal, the rejection at the same ε_S (each sample its own threshold).
The nominal threshold
    ε_S and ε_B of the variation at the score threshold of the nominal working point: what
    an analysis that fixed its cut on the nominal simulation gets if nature looks like the
    variation.
Background shift after the cut
    For each observer (``--observer jet_mass``): the weighted mean of the background after
    the nominal cut, in the variation minus in the nominal sample.

Every uncertainty is a Poisson bootstrap (:mod:`heplearn.evaluation.metrics`) of each
sample; the nominal and the variation are independent, so the uncertainty of a difference
is the quadrature sum of the two.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.dataset import spec_files
from heplearn.data.labels import plain_text, variable_label
from heplearn.data.readers import available_columns, expand_files
from heplearn.data.spec import DatasetSpec, load_dataset_spec
from heplearn.errors import ConfigError, InputError
from heplearn.evaluation import metrics
from heplearn.evaluation.plots import SavedPlot, rejection_figure, save_figure
from heplearn.evaluation.predictions import Predictions, check_predictions
from heplearn.evaluation.ratio_plots import HistogramSample, ratio_histograms_figure
from heplearn.evaluation.run_data import SPLITS, evaluation_columns, run_predictions
from heplearn.inference import ScoringOptions
from heplearn.run_directory import RunDirectory

MINIMUM_RESAMPLES = 2


@dataclass(frozen=True)
class Robustness:
    """The robustness metrics of every variation, their report table and figures.

    Attributes
    ----------
    metrics : dict
        ``{variation: {...}}`` as written under ``robustness`` in ``metrics.json`` (see
        ``docs/metrics.md``).
    rows : list of dict
        One report-table row per variation.
    plots : list of SavedPlot
        Rejection curves of the nominal sample and every variation, and the background
        observers after the nominal cut.
    """

    metrics: dict[str, Any]
    rows: list[dict[str, Any]]
    plots: list[SavedPlot]


def parse_variations(texts: Sequence[str], reference: DatasetSpec) -> dict[str, DatasetSpec]:
    """``NAME=SPEC`` options into named dataset specs.

    ``SPEC`` is a dataset-spec YAML file, or a folder of files made like the reference's
    (``heplearn generate ... --pythia``): then the reference spec reads the same file
    names (the last part of each pattern) from that folder.

    Raises
    ------
    ConfigError
        For text without ``=``, a repeated name, or a SPEC that is neither a YAML file nor
        a folder.
    """
    variations: dict[str, DatasetSpec] = {}
    for text in texts:
        name, separator, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if not separator or not name or not value:
            raise ConfigError(
                f"--variation {text!r}: write NAME=SPEC, e.g. alphas-up=data/top-alphas-up "
                "(a folder of generated files) or alphas-up=variation.yaml (a dataset spec)"
            )
        if name in variations:
            raise ConfigError(f"--variation {name!r} is given twice; name each variation once")
        path = Path(value)
        if path.is_dir():
            variations[name] = rebased_spec(reference, path)
        elif path.suffix in {".yaml", ".yml"} and path.is_file():
            variations[name] = load_dataset_spec(path)
        else:
            raise ConfigError(
                f"--variation {name}={value}: no such folder or dataset-spec YAML file; give "
                "the folder of the variation's files or a spec"
            )
    return variations


def rebased_spec(spec: DatasetSpec, folder: Path) -> DatasetSpec:
    """``spec`` reading the same file names (each pattern's last part) from ``folder``."""
    sources = [
        source.model_copy(
            update={"files": [str(folder / Path(pattern).name) for pattern in source.files]}
        )
        for source in spec.sources
    ]
    return spec.model_copy(update={"sources": sources})


def check_variation_files(
    name: str, spec: DatasetSpec, columns: set[str], training: DatasetSpec | None = None
) -> None:
    """Check that a variation's files hold ``columns`` and are not the training files.

    Parameters
    ----------
    name : str
        The variation, for the messages.
    spec : DatasetSpec
        The variation's data.
    columns : set of str
        The branches that evaluating the run on it reads.
    training : DatasetSpec, optional
        The run's own data: a variation reading its files would score training events.

    Raises
    ------
    InputError
        One line naming the first file that lacks branches, and those branches; or a file
        the run was trained on.
    """
    own = (
        {path.resolve() for source in training.sources for path in expand_files(source.files)}
        if training is not None
        else set()
    )
    for _, source in spec_files(spec):
        if source.path.resolve() in own:
            raise InputError(
                f"variation {name!r} reads {source.path}, a file the run was trained on; a "
                "variation must be an independent sample (generate it with another --seed)"
            )
        missing = sorted(columns - set(available_columns(source)))
        if missing:
            raise InputError(
                f"variation {name!r}: {source.path} lacks the branches the run reads: "
                f"{', '.join(missing)}"
            )


def variation_predictions(
    run: RunDirectory,
    variations: Mapping[str, DatasetSpec],
    observers: Sequence[str] = (),
    scoring: ScoringOptions | None = None,
) -> dict[str, Predictions]:
    """The run's predictions on every event of each variation (all its splits together).

    ``scoring`` (engine, batch or memory budget, device, precision) is that of the nominal
    evaluation, so that nominal and variations are scored alike.

    Raises
    ------
    InputError
        When a variation's files lack a branch the run reads, or are the run's own files
        (see :func:`check_variation_files`).
    """
    training = run.config().data
    predictions = {}
    for name, spec in variations.items():
        check_variation_files(name, spec, evaluation_columns(run, spec, observers), training)
        splits = run_predictions(run, spec, observers=observers, splits=SPLITS, scoring=scoring)
        parts = [splits[split] for split in SPLITS if len(splits[split])]
        predictions[name] = Predictions(
            scores=np.concatenate([part.scores for part in parts]),
            labels=np.concatenate([part.labels for part in parts]),
            weights=np.concatenate([part.weights for part in parts]),
            observers={
                observer: np.concatenate([part.observers[observer] for part in parts])
                for observer in observers
            },
        )
    return predictions


def _efficiencies_at(roc: metrics.RocCurve, threshold: float) -> np.ndarray:
    """ε_S and ε_B of ``score >= threshold`` (the loosest curve point at or above it)."""
    index = int(np.searchsorted(-roc.thresholds, -threshold, side="right")) - 1
    return np.array([roc.signal_efficiency[index], roc.background_efficiency[index]])


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float(np.sum(values * weights) / total) if total > 0 else np.nan


def _mean_and_uncertainty(
    values: np.ndarray, weights: np.ndarray, resamples: int, seed: int
) -> tuple[float, float]:
    """Weighted mean and its Poisson-bootstrap standard deviation."""
    mean = _weighted_mean(values, weights)
    if resamples < MINIMUM_RESAMPLES:
        return mean, np.nan
    generator = np.random.default_rng(seed)
    replicas = [
        _weighted_mean(values, weights * generator.poisson(1.0, len(weights)))
        for _ in range(resamples)
    ]
    return mean, float(metrics.bootstrap_uncertainty(np.array(replicas)[:, None])[0])


@dataclass(frozen=True)
class _Sample:
    """One sample's ROC summary, efficiencies at the nominal threshold, and uncertainties."""

    summary: np.ndarray
    summary_uncertainty: np.ndarray
    at_threshold: np.ndarray
    at_threshold_uncertainty: np.ndarray
    roc: metrics.RocCurve


def _sample(predictions: Predictions, threshold: float, resamples: int, seed: int) -> _Sample:
    is_signal = predictions.labels == 1
    roc = metrics.roc_curve(predictions.scores, is_signal, predictions.weights)
    if resamples >= MINIMUM_RESAMPLES:
        statistic = partial(_summary_and_efficiencies, threshold=threshold)
        replicas = metrics.bootstrap_roc(
            predictions.scores,
            is_signal,
            predictions.weights,
            statistic,
            resamples=resamples,
            seed=seed,
        )
        uncertainty = metrics.bootstrap_uncertainty(replicas)
    else:
        uncertainty = np.full(3 + len(metrics.SIGNAL_EFFICIENCIES), np.nan)
    values = _summary_and_efficiencies(roc, threshold)
    return _Sample(values[:-2], uncertainty[:-2], values[-2:], uncertainty[-2:], roc)


def _summary_and_efficiencies(roc: metrics.RocCurve, threshold: float) -> np.ndarray:
    """AUC, 1/ε_B at each ε_S, then ε_S and ε_B at ``threshold``: one bootstrap statistic."""
    return np.concatenate(
        [metrics.roc_summary(roc, metrics.SIGNAL_EFFICIENCIES), _efficiencies_at(roc, threshold)]
    )


def _difference(
    value: float, nominal: float, uncertainty: float, nominal_uncertainty: float
) -> tuple[float, float]:
    """Difference of independent estimates, errors in quadrature; NaN if one is infinite.

    An infinite rejection (no background event passes) has no finite difference to any
    other; it shows as NaN (``null`` in JSON, ``—`` in the report).
    """
    if not (np.isfinite(value) and np.isfinite(nominal)):
        return np.nan, np.nan
    return float(value - nominal), float(np.hypot(uncertainty, nominal_uncertainty))


def robustness(
    nominal: Predictions,
    variations: Mapping[str, Predictions],
    class_names: Sequence[str],
    plots_dir: Path,
    *,
    working_point: float = 0.5,
    resamples: int = 100,
    seed: int = 0,
    style: str = "CMS",
    observer_bins: int = 30,
) -> Robustness:
    """Compare a binary tagger on variations with the nominal test split.

    Parameters
    ----------
    nominal : Predictions
        The run's test-split predictions (observers included).
    variations : mapping of str to Predictions
        Predictions on each variation's events, with the same observers.
    class_names : sequence of str
        Background, signal.
    plots_dir : Path
        Where the figures go.
    working_point : float
        ε_S of the nominal cut whose threshold is applied to the variations.
    resamples : int
        Poisson-bootstrap replicas per sample (0: no uncertainties).
    seed : int
        Seed of the bootstrap.
    style : str
        mplhep style.
    observer_bins : int
        Bins of the observer histograms.

    Returns
    -------
    Robustness
        The metrics, the report rows and the figures.
    """
    for name, predictions in variations.items():
        check_predictions(predictions, "binary", class_names, f"variation {name!r}")
    background_name = class_names[0]
    cut = metrics.working_point(
        metrics.roc_curve(nominal.scores, nominal.labels == 1, nominal.weights), working_point
    )
    reference = _sample(nominal, cut.threshold, resamples, seed)
    efficiencies = [f"{e:g}" for e in metrics.SIGNAL_EFFICIENCIES]
    observers = list(nominal.observers)
    nominal_background = _after_cut_background(nominal, cut.threshold)
    nominal_means = {
        observer: _mean_and_uncertainty(
            nominal_background.observers[observer], nominal_background.weights, resamples, seed
        )
        for observer in observers
    }
    results: dict[str, Any] = {}
    rows = []
    rocs = [reference.roc]
    for name, predictions in variations.items():
        sample = _sample(predictions, cut.threshold, resamples, seed)
        rocs.append(sample.roc)
        delta = [
            _difference(v, n, u, nu)
            for v, n, u, nu in zip(
                sample.summary,
                reference.summary,
                sample.summary_uncertainty,
                reference.summary_uncertainty,
                strict=True,
            )
        ]
        shifts = {}
        background = _after_cut_background(predictions, cut.threshold)
        for observer in observers:
            mean, mean_uncertainty = _mean_and_uncertainty(
                background.observers[observer], background.weights, resamples, seed
            )
            nominal_mean, nominal_uncertainty = nominal_means[observer]
            shift, shift_uncertainty = _difference(
                mean, nominal_mean, mean_uncertainty, nominal_uncertainty
            )
            shifts[observer] = {
                "nominal_mean": nominal_mean,
                "variation_mean": mean,
                "shift": shift,
                "shift_uncertainty": shift_uncertainty,
                "relative_shift": shift / nominal_mean if nominal_mean else np.nan,
            }
        results[name] = {
            "events": {
                class_name: int(np.sum(predictions.labels == label))
                for label, class_name in enumerate(class_names)
            },
            "auc": float(sample.summary[0]),
            "auc_uncertainty": float(sample.summary_uncertainty[0]),
            "delta_auc": delta[0][0],
            "delta_auc_uncertainty": delta[0][1],
            "rejection": dict(zip(efficiencies, sample.summary[1:].tolist(), strict=True)),
            "rejection_uncertainty": dict(
                zip(efficiencies, sample.summary_uncertainty[1:].tolist(), strict=True)
            ),
            "delta_rejection": dict(zip(efficiencies, [d[0] for d in delta[1:]], strict=True)),
            "delta_rejection_uncertainty": dict(
                zip(efficiencies, [d[1] for d in delta[1:]], strict=True)
            ),
            "nominal_threshold": {
                "threshold": cut.threshold,
                "nominal_signal_efficiency": float(reference.at_threshold[0]),
                "signal_efficiency": float(sample.at_threshold[0]),
                "signal_efficiency_uncertainty": float(sample.at_threshold_uncertainty[0]),
                "nominal_background_efficiency": float(reference.at_threshold[1]),
                "background_efficiency": float(sample.at_threshold[1]),
                "background_efficiency_uncertainty": float(sample.at_threshold_uncertainty[1]),
            },
            "background_after_cut": shifts,
        }
        rows.append(_row(name, results[name], efficiencies, observers))
    results_with_nominal = {
        "nominal": {
            "auc": float(reference.summary[0]),
            "auc_uncertainty": float(reference.summary_uncertainty[0]),
            "rejection": dict(zip(efficiencies, reference.summary[1:].tolist(), strict=True)),
            "working_point": working_point,
            "threshold": cut.threshold,
            "events": len(nominal),
        },
        "variations": results,
        "bootstrap": {"resamples": resamples, "seed": seed},
    }
    plots = _plots(
        nominal,
        variations,
        rocs,
        cut.threshold,
        background_name,
        plots_dir,
        style,
        observer_bins,
    )
    return Robustness(results_with_nominal, rows, plots)


def _after_cut_background(predictions: Predictions, threshold: float) -> Predictions:
    selected = (predictions.labels == 0) & (predictions.scores >= threshold)
    return Predictions(
        scores=predictions.scores[selected],
        labels=predictions.labels[selected],
        weights=predictions.weights[selected],
        observers={name: values[selected] for name, values in predictions.observers.items()},
    )


def _row(
    name: str, entry: dict[str, Any], efficiencies: list[str], observers: list[str]
) -> dict[str, Any]:
    """The report row of one variation: differences to the nominal, ± bootstrap."""
    at_threshold = entry["nominal_threshold"]
    row: dict[str, Any] = {
        "variation": name,
        "ΔAUC": entry["delta_auc"],
        "ΔAUC_uncertainty": entry["delta_auc_uncertainty"],
    }
    for efficiency in efficiencies:
        label = f"Δ(1/ε_B) at ε_S = {efficiency}"
        row[label] = entry["delta_rejection"][efficiency]
        row[f"{label}_uncertainty"] = entry["delta_rejection_uncertainty"][efficiency]
    row["ε_S at the nominal cut"] = at_threshold["signal_efficiency"]
    row["ε_S at the nominal cut_uncertainty"] = at_threshold["signal_efficiency_uncertainty"]
    for observer in observers:
        name = plain_text(variable_label(observer))
        label = f"shift of the background mean {name} after the cut"
        row[label] = entry["background_after_cut"][observer]["shift"]
        row[f"{label}_uncertainty"] = entry["background_after_cut"][observer]["shift_uncertainty"]
    return row


def _plots(
    nominal: Predictions,
    variations: Mapping[str, Predictions],
    rocs: list[metrics.RocCurve],
    threshold: float,
    background_name: str,
    plots_dir: Path,
    style: str,
    bins: int,
) -> list[SavedPlot]:
    names = ["nominal", *variations]
    plots = [
        save_figure(
            rejection_figure(list(zip(names, rocs, strict=True)), ratio_to_first=True, style=style),
            plots_dir / "robustness_rejection",
            "Background rejection 1/ε_B against ε_S on the nominal test split and on each "
            "generator variation, with the ratio to the nominal.",
        )
    ]
    observers = list(nominal.observers)
    samples = [_after_cut_background(nominal, threshold)] + [
        _after_cut_background(predictions, threshold) for predictions in variations.values()
    ]
    if observers and all(len(sample) for sample in samples):
        histograms = [
            HistogramSample(
                name,
                np.column_stack([sample.observers[o] for o in observers]),
                sample.weights,
            )
            for name, sample in zip(names, samples, strict=True)
        ]
        plots.append(
            save_figure(
                ratio_histograms_figure(histograms, observers, bins=bins, style=style),
                plots_dir / "robustness_background",
                f"{background_name} events passing the nominal cut (score ≥ {threshold:.3g}), "
                "nominal (points) and each variation, unit area; ratios to the nominal.",
            )
        )
    return plots
