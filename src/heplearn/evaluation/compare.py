"""Compare taggers: overlaid rejection curves with a ratio panel, and a table per run.

The standard plot of a tagging paper: background rejection ``1/ε_B`` against signal
efficiency ε_S for several runs (log y), and below it each rejection divided by that of
the first run. The table gives AUC and ``1/ε_B`` at ε_S = 0.3, 0.5, 0.8 per run, as
Markdown, CSV and a self-contained HTML report.
"""

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.errors import ConfigError
from heplearn.evaluation.limits import LIMIT_NOTE, passing_background, quoted_rejection
from heplearn.evaluation.metrics import (
    SIGNAL_EFFICIENCIES,
    RocCurve,
    background_rejection,
    bootstrap_roc,
    roc_curve,
    roc_summary,
    roc_summary_uncertainty,
)
from heplearn.evaluation.plots import SavedPlot, rejection_figure, rejection_grid, save_figure
from heplearn.evaluation.predictions import Predictions, check_predictions
from heplearn.evaluation.report import UNCERTAINTY_SUFFIX, table_cells, write_report
from heplearn.files import atomic_path

_SUMMARY_COLUMNS = ["auc", *(f"rejection_{e:g}" for e in SIGNAL_EFFICIENCIES)]


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_runs` wrote.

    Attributes
    ----------
    rows : list of dict
        Per run: ``run``, ``auc``, ``rejection_0.3``, ``rejection_0.5``, ``rejection_0.8``
        and, with bootstrap resampling, the same names with ``_uncertainty`` appended; for
        runs given as predictions also ``rejection_limit_<ε_S>`` (95 % CL lower limit on
        1/ε_B) and ``background_events_<ε_S>`` (background events passing the cut).
    plot : SavedPlot
        The rejection curves with the ratio panel.
    markdown : Path
        The table as Markdown.
    csv : Path
        The table as CSV (full precision, ``inf`` for infinite rejections). The Markdown
        and HTML tables quote a rejection on fewer than ten background events as its limit,
        ``> N`` (:mod:`heplearn.evaluation.limits`).
    html : Path
        The self-contained HTML report.
    """

    rows: list[dict[str, Any]]
    plot: SavedPlot
    markdown: Path
    csv: Path
    html: Path


def _summary_row(
    label: str, run: Predictions | RocCurve, resamples: int, seed: int
) -> tuple[dict[str, Any], RocCurve]:
    """The table row and ROC curve of one run; uncertainties only for predictions."""
    if isinstance(run, RocCurve):
        roc = run
    else:
        check_predictions(run, "binary", ("background", "signal"), f"run {label!r}")
        roc = roc_curve(run.scores, run.labels == 1, run.weights)
    row: dict[str, Any] = {"run": label}
    row |= dict(zip(_SUMMARY_COLUMNS, roc_summary(roc, SIGNAL_EFFICIENCIES).tolist(), strict=True))
    if not isinstance(run, RocCurve):
        passing = passing_background(
            run.scores, run.labels == 1, run.weights, roc, SIGNAL_EFFICIENCIES
        )
        for efficiency, background in zip(SIGNAL_EFFICIENCIES, passing, strict=True):
            row[f"rejection_limit_{efficiency:g}"] = background.rejection_limit
            row[f"background_events_{efficiency:g}"] = background.events
    if resamples:
        uncertainty = (
            np.full(len(_SUMMARY_COLUMNS), np.nan)
            if isinstance(run, RocCurve)
            else roc_summary_uncertainty(
                run.scores, run.labels == 1, run.weights, resamples=resamples, seed=seed
            )
        )
        row |= {
            f"{column}{UNCERTAINTY_SUFFIX}": float(value)
            for column, value in zip(_SUMMARY_COLUMNS, uncertainty, strict=True)
        }
    return row, roc


def _shown_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for the Markdown and HTML tables: rejections on few background events as limits.

    The limit and count columns stay in the CSV only.
    """
    shown = dict(row)
    for efficiency in SIGNAL_EFFICIENCIES:
        limit = shown.pop(f"rejection_limit_{efficiency:g}", None)
        events = shown.pop(f"background_events_{efficiency:g}", None)
        if limit is not None and events is not None:
            column = f"rejection_{efficiency:g}"
            shown[column] = quoted_rejection(shown[column], limit, events)
    return shown


def _rejection_bands(
    runs: Sequence[tuple[str, Predictions | RocCurve]], resamples: int, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The 68 % range (16th to 84th percentile) of bootstrap replicas of each run's
    rejection curve on the plot's grid; none for runs given as ROC curves."""
    if resamples < 2:
        return {}
    grid = rejection_grid()
    bands = {}
    for label, run in runs:
        if isinstance(run, RocCurve):
            continue
        replicas = bootstrap_roc(
            run.scores,
            run.labels == 1,
            run.weights,
            partial(background_rejection, signal_efficiency=grid),
            resamples=resamples,
            seed=seed,
        )
        with np.errstate(invalid="ignore"):  # (inf in replicas without background left)
            low, high = np.percentile(replicas, [16, 84], axis=0)
        bands[label] = (low, high)
    return bands


def _write_markdown(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    header, cells = table_cells(rows)
    lines = [
        f"| {' | '.join(header)} |",
        f"|{'|'.join(['---'] + ['---:'] * (len(header) - 1))}|",
        *(f"| {' | '.join(row)} |" for row in cells),
    ]
    if any(text.startswith("> ") for row in cells for text in row):
        lines += ["", LIMIT_NOTE]
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    with atomic_path(path) as temporary, temporary.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def compare_runs(
    runs: Sequence[tuple[str, Predictions | RocCurve]],
    out_dir: Path,
    *,
    title: str = "Comparison of runs",
    bootstrap_resamples: int = 0,
    seed: int = 0,
    style: str = "CMS",
) -> Comparison:
    """Overlay the rejection curves of several binary classifiers and tabulate them.

    Parameters
    ----------
    runs : sequence of (str, Predictions or RocCurve)
        Label and test predictions (binary: label 1 is signal) or ROC curve of each run;
        the first is the reference of the ratio panel.
    out_dir : Path
        Receives ``rejection_comparison.png/.pdf``, ``comparison.md``, ``comparison.csv``
        and ``comparison.html``; created if missing.
    title : str
        Heading of the HTML report.
    bootstrap_resamples : int
        Poisson bootstrap replicas for uncertainties (0: none). Runs given as ROC curves
        have no events to resample; their uncertainties are NaN.
    seed : int
        Seed of the bootstrap.
    style : {"CMS", "ATLAS", "LHCb"}
        mplhep style of the plot.

    Returns
    -------
    Comparison
        The table rows and the written paths.

    Raises
    ------
    ConfigError
        If there are no runs or two share a label.
    InputError
        If predictions are not binary or lack a class.
    """
    labels = [label for label, _ in runs]
    if not runs:
        raise ConfigError("compare_runs needs at least one run")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"run labels must differ, got {labels}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = [_summary_row(label, run, bootstrap_resamples, seed) for label, run in runs]
    rows = [row for row, _ in summaries]
    curves = [(label, roc) for label, (_, roc) in zip(labels, summaries, strict=True)]
    bands = _rejection_bands(runs, bootstrap_resamples, seed)
    band_text = (
        f" Bands: the 68 % range of {bootstrap_resamples} bootstrap replicas of the test events."
        if bands
        else ""
    )
    plot = save_figure(
        rejection_figure(curves, ratio_to_first=len(curves) > 1, bands=bands, style=style),
        out_dir / "rejection_comparison",
        f"Background rejection 1/ε_B against signal efficiency ε_S; the lower panel divides "
        f"each run's rejection by that of {labels[0]}.{band_text}",
    )
    paths = {suffix: out_dir / f"comparison.{suffix}" for suffix in ("md", "csv", "html")}
    shown = [_shown_row(row) for row in rows]
    _write_markdown(shown, paths["md"])
    _write_csv(rows, paths["csv"])
    limited = any(str(value).startswith("> ") for row in shown for value in row.values())
    write_report(
        paths["html"],
        title=title,
        extra_tables={"Runs": shown},
        table_notes={"Runs": LIMIT_NOTE} if limited else None,
        figures=[plot],
        style=style,
    )
    return Comparison(rows, plot, paths["md"], paths["csv"], paths["html"])
