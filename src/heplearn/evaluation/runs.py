"""Evaluating and comparing run directories: metrics, plots and reports of their predictions."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from heplearn.data.readers import check_option_names, expand_files, open_source
from heplearn.data.spec import DatasetSpec
from heplearn.data.weight_diagnostics import diagnostics_by_class, diagnostics_rows
from heplearn.errors import ConfigError
from heplearn.evaluation.anomaly import evaluate_anomaly
from heplearn.evaluation.compare import Comparison, compare_runs
from heplearn.evaluation.evaluate import Evaluation, evaluate_predictions, write_metrics
from heplearn.evaluation.generative import evaluate_generative
from heplearn.evaluation.kfold import fold_convergence_warnings, kfold_predictions
from heplearn.evaluation.limits import with_quoted_rejections
from heplearn.evaluation.predictions import Predictions, data_summary
from heplearn.evaluation.report import write_report
from heplearn.evaluation.robustness import robustness, variation_predictions
from heplearn.evaluation.run_data import load_run_data, run_predictions
from heplearn.evaluation.run_warnings import run_warnings
from heplearn.inference import ScoringOptions
from heplearn.run_directory import RunDirectory
from heplearn.training.config import EvaluationConfig
from heplearn.training.kfold import is_kfold

METRICS = "metrics.json"
REPORT = "report.html"


@dataclass(frozen=True)
class RunEvaluation:
    """Where :func:`evaluate_run` wrote its results, and the metrics."""

    evaluation: Evaluation
    metrics_path: Path
    report_path: Path


def _gallery_image(run: RunDirectory, settings: EvaluationConfig) -> str | None:
    if settings.images is not None:
        return settings.images
    return next((n for n, info in run.schema().items() if info.kind == "image"), None)


def _title(run_name: str, model: str) -> str:
    return f"heplearn run {run_name}" + ("" if run_name == model else f" ({model})")


def evaluate_run(
    run: RunDirectory,
    data: DatasetSpec | None = None,
    settings: EvaluationConfig | None = None,
    variations: Mapping[str, DatasetSpec] | None = None,
    scoring: ScoringOptions | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> RunEvaluation:
    """Write ``metrics.json``, ``plots/`` and ``report.html`` into the run directory.

    ``scoring`` chooses the engine, batch or memory budget, device and precision with
    which the run's model scores the data (:class:`heplearn.inference.ScoringOptions`).
    ``workers`` and ``scheduler`` score the files of a streamed run in parallel on dask
    (:func:`heplearn.evaluation.run_data.run_predictions`).

    A classifier's report and metrics also describe its event weights per split and class
    (``weights``: Kish effective size, negative and largest weights). ``variations``
    (binary runs) adds the robustness to each generator variation (``robustness``, see
    :mod:`heplearn.evaluation.robustness`).

    Metrics are quoted on the test split, with the training split for the overtraining
    checks; every metric and histogram uses the event weights. The warnings of
    :func:`~heplearn.evaluation.run_warnings.run_warnings` go into ``metrics.json``
    (``warnings``) and to the top of the report.
    """
    config = run.config()
    settings = settings or config.evaluation
    task = run.task()
    class_names = run.class_names() or []
    if task.kind == "regression" and config.data.target:
        class_names = [config.data.target]  # (names the axes of the parity plots)
    if task.kind in ("anomaly", "generative") and (workers != 1 or scheduler is not None):
        raise ConfigError(
            "--workers and --scheduler score the files of a classifier or regression run; "
            f"{run.path} is a run of task '{task.kind}', scored in one process (leave both out)"
        )
    if task.kind == "anomaly":
        dataset, scorer = load_run_data(run, data, observers=settings.observers, scoring=scoring)
        metrics, plots, predictions = evaluate_anomaly(run, dataset, scorer, settings)
        evaluation = Evaluation(metrics=metrics, plots=plots)
    elif task.kind == "generative":
        dataset, scorer = load_run_data(run, data, scoring=scoring)
        metrics, plots, predictions = evaluate_generative(run, dataset, scorer, settings)
        evaluation = Evaluation(metrics=metrics, plots=plots)
    else:
        image = _gallery_image(run, settings)
        if is_kfold(run):
            if workers != 1 or scheduler is not None:
                raise ConfigError("--workers and --scheduler do not apply to k-fold runs")
            predictions = kfold_predictions(
                run, data, observers=settings.observers, image=image, scoring=scoring
            )
        else:
            predictions = run_predictions(
                run,
                data,
                observers=settings.observers,
                image=image,
                scoring=scoring,
                workers=workers,
                scheduler=scheduler,
            )
        evaluation = evaluate_predictions(
            predictions["train"],
            predictions["test"],
            task.kind,
            class_names,
            run.path,
            working_point=settings.working_point,
            style=settings.style,
            observer_bins=settings.observer_bins,
            bootstrap_resamples=settings.bootstrap,
            seed=config.seed,
            labels=(data or config.data).variable_labels(),
        )
    tables = {}
    if task.kind in ("binary", "multiclass"):
        weights = {
            split: diagnostics_by_class(part.weights, part.labels, class_names)
            for split, part in predictions.items()
        }
        evaluation.metrics["weights"] = {
            split: {name: entry.as_dict() for name, entry in groups.items()}
            for split, groups in weights.items()
        }
        tables["Event weights (test split)"] = diagnostics_rows(weights["test"])
    if variations:
        if task.kind != "binary":
            raise ConfigError(f"--variation needs a binary run; {run.path} is {task.kind}")
        robust = robustness(
            predictions["test"],
            variation_predictions(run, variations, settings.observers, scoring),
            class_names,
            run.path / "plots",
            working_point=settings.working_point,
            resamples=settings.bootstrap,
            seed=config.seed,
            style=settings.style,
        )
        evaluation.metrics["robustness"] = robust.metrics
        evaluation.plots.extend(robust.plots)
        tables["Robustness to generator variations (variation − nominal)"] = robust.rows
    history = run.history()
    warnings = run_warnings(evaluation.metrics, history)
    if is_kfold(run):
        warnings += fold_convergence_warnings(run)
    evaluation.metrics["warnings"] = warnings
    metrics_path = write_metrics(evaluation.metrics, run.path / METRICS)
    report_path = write_report(
        run.path / REPORT,
        title=_title(run.path.name, config.model.name),
        config_yaml=config.to_yaml(),
        data_summary=data_summary(predictions, task.kind, class_names),
        history=history,
        metrics=with_quoted_rejections(
            {
                key: value
                for key, value in evaluation.metrics.items()
                if key not in ("warnings", "weights", "robustness")
            }
        ),
        extra_tables=tables,
        figures=evaluation.plots,
        style=settings.style,
        warnings=warnings,
    )
    return RunEvaluation(evaluation, metrics_path, report_path)


def _check_baseline_names(spec: DatasetSpec, baselines: Sequence[str]) -> None:
    """Refuse a ``--baseline`` that names no branch of the data (expressions pass here)."""
    names = [name for name in baselines if name.isidentifier() and name not in spec.variables]
    if names:
        source = spec.sources[0]
        path = expand_files(source.files)[0]
        check_option_names(open_source(path, source.format, source.tree), names, "--baseline")


def _require_same_test_events(runs: Sequence[RunDirectory]) -> None:
    """Runs compare fairly only on the same test events: same files, selection and seed."""

    def events_of(run: RunDirectory) -> tuple[object, ...]:
        config = run.config()
        data = config.data
        return (config.seed, data.sources, data.selection, data.variables, data.split)

    reference = events_of(runs[0])
    differing = [str(run.path) for run in runs[1:] if events_of(run) != reference]
    if differing:
        raise ConfigError(
            f"{', '.join(differing)} split other events than {runs[0].path} (a different seed, "
            "sources, selection or split); compare runs trained on the same data and seed"
        )


def compare_run_directories(
    runs: Sequence[RunDirectory],
    out_dir: Path,
    *,
    baselines: Sequence[str] = (),
    bootstrap: int | None = None,
) -> Comparison:
    """Overlaid rejection curves and a table of AUC and 1/ε_B for binary runs.

    Parameters
    ----------
    runs : sequence of RunDirectory
        Finished binary runs; the first is the reference of the ratio panel. Each is
        labelled by its directory name.
    out_dir : Path
        Where the plot and the tables go.
    baselines : sequence of str
        Expressions used directly as discriminants on the first run's test split (e.g.
        ``jet_mass``, or ``-abs(jet_sdmass - 172.5)`` for a mass window).
    bootstrap : int, optional
        Bootstrap replicas for the uncertainties in the table; default the first run's
        ``evaluation.bootstrap``. The bootstrap is the one of ``evaluate`` (seeded with the
        runs' common seed, replicas drawn over the same test events), so a run's
        uncertainties here equal those in its ``metrics.json``.
    """
    if not runs:
        raise ConfigError("compare needs at least one run directory")
    _require_same_test_events(runs)
    _check_baseline_names(runs[0].config().data, baselines)
    curves = []
    baseline_curves = []
    for run in runs:
        if run.task().kind != "binary":
            raise ConfigError(
                f"{run.path} is a {run.task().kind} run; compare draws binary rejection curves"
            )
        observers = baselines if run is runs[0] else ()
        predict = kfold_predictions if is_kfold(run) else run_predictions
        test = predict(run, observers=observers, splits=("test",))["test"]
        curves.append((run.path.name, test))
        baseline_curves += [
            (name, Predictions(test.observers[name], test.labels, test.weights))
            for name in observers
        ]
    curves += baseline_curves
    labels = [label for label, _ in curves]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"runs are labelled by their directory names, which repeat: {labels}")
    config = runs[0].config()
    resamples = config.evaluation.bootstrap if bootstrap is None else bootstrap
    return compare_runs(curves, out_dir, bootstrap_resamples=resamples, seed=config.seed)
