"""The evaluation's figures, drawn in an mplhep experiment style and saved atomically.

Each ``*_figure`` function draws one :class:`matplotlib.figure.Figure` (created directly,
without pyplot, so it renders with the non-interactive Agg and PDF canvases and leaves no
global state behind) inside the chosen style, and returns it: tests and notebooks can
inspect its axes. :func:`save_figure` writes a figure as PNG and PDF, each through a
temporary file renamed into place. Weighted histograms are drawn with
:func:`mplhep.histplot`; their error bars are ``√Σw²``.
"""

import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.style
import mplhep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.metrics import (
    BinnedEfficiency,
    RocCurve,
    WorkingPoint,
    background_rejection,
    bin_edges,
    binned_mean_and_spread,
    weighted_histogram,
)
from heplearn.evaluation.predictions import Predictions
from heplearn.files import atomic_path

STYLES: dict[str, dict[str, Any]] = {
    "CMS": mplhep.style.CMS,
    "ATLAS": mplhep.style.ATLAS,
    "LHCb": mplhep.style.LHCb2,
}
"""The selectable mplhep styles, by the name a user passes as ``style``."""

SIGNAL_EFFICIENCY_LABEL = r"Signal efficiency $\varepsilon_S$"
BACKGROUND_EFFICIENCY_LABEL = r"Background efficiency $\varepsilon_B$"
REJECTION_LABEL = r"Background rejection $1/\varepsilon_B$"

# PNGs at 100 dpi keep a report with twenty figures at a few MB; PDFs carry no creation
# date, so the same inputs give the same file.
_SAVE_OPTIONS: dict[str, Any] = {"dpi": 100, "bbox_inches": "tight"}
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}
_MAX_CURVE_POINTS = 2000
MIN_BIN_EVENTS = 5.0
"""Effective events a bin needs to be drawn in an efficiency plot (fewer make spikes)."""
MIN_SHAPE_EVENTS = 20.0
"""Effective events a sculpting plot needs to draw a selected distribution."""
_LONGEST_BAR = 10.0  # (an upper error bar of a rejection is cut at 10x the value)
_MOST_MARKERS = 30  # (longer training curves are drawn as lines only)
AXIS_LABELS_KEY = "Axis labels"
"""The PNG text chunk in which :func:`save_figure` records the axis labels."""


def check_style(style: str) -> None:
    """Raise :class:`ConfigError` unless ``style`` names one of :data:`STYLES`."""
    if style not in STYLES:
        raise ConfigError(f"plot style {style!r} is not known; use one of {list(STYLES)}")


@contextmanager
def plot_style(style: str, overrides: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Draw inside an mplhep experiment style (``"CMS"``, ``"ATLAS"`` or ``"LHCb"``).

    The style starts from matplotlib's defaults, so neither the user's rcParams nor an
    enclosing style leak into the figure.

    Parameters
    ----------
    style : str
        Name of the style.
    overrides : mapping, optional
        rcParams to change on top of the style (e.g. a smaller font for image grids).

    Raises
    ------
    ConfigError
        For a style that is not in :data:`STYLES`.
    """
    check_style(style)
    with matplotlib.style.context(["default", STYLES[style], dict(overrides or {})]):
        yield


class StyledFigure(Figure):
    """A figure that remembers its mplhep style and always renders in it.

    Fonts are resolved when a figure is drawn, not when its text is created, so a figure
    saved outside its style would lose the style's fonts; :meth:`savefig` restores it.

    Parameters
    ----------
    style : str
        Name of the style (see :data:`STYLES`).
    overrides : mapping, optional
        rcParams changed on top of the style.
    **kwargs
        Passed to :class:`matplotlib.figure.Figure` (``figsize``, ``layout``...).
    """

    def __init__(
        self, style: str, overrides: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        check_style(style)
        self.mplhep_style = style
        self.rc_overrides = dict(overrides or {})
        with self.style_context():
            super().__init__(**kwargs)

    @contextmanager
    def style_context(self) -> Iterator[None]:
        """Draw on the figure inside this context, so artists take the style's settings."""
        with plot_style(self.mplhep_style, self.rc_overrides):
            yield

    def savefig(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`matplotlib.figure.Figure.savefig`, rendered in the figure's style."""
        with self.style_context():
            super().savefig(*args, **kwargs)


@dataclass(frozen=True)
class SavedPlot:
    """A figure written to disk.

    Attributes
    ----------
    png : Path
        The PNG file (embedded in reports).
    pdf : Path
        The PDF file (for papers).
    caption : str
        What the figure shows, one or two sentences.
    """

    png: Path
    pdf: Path
    caption: str = ""


def save_figure(figure: Figure, stem: Path, caption: str = "") -> SavedPlot:
    """Write a figure as ``<stem>.png`` and ``<stem>.pdf``, each atomically.

    The PNG carries the axis labels of every axes as JSON in its ``Axis labels`` text
    chunk (see :func:`axis_labels`), so the labels of a written figure can be checked.

    Parameters
    ----------
    figure : Figure
        The figure.
    stem : Path
        Output path without suffix; missing parent directories are created.
    caption : str
        Caption carried along for the report.

    Returns
    -------
    SavedPlot
        The two paths and the caption.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {fmt: stem.parent / f"{stem.name}.{fmt}" for fmt in ("png", "pdf")}
    metadata = {**_METADATA, "png": {**_METADATA["png"], AXIS_LABELS_KEY: axis_labels(figure)}}
    for fmt, path in paths.items():
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=fmt, metadata=metadata[fmt], **_SAVE_OPTIONS)
    return SavedPlot(png=paths["png"], pdf=paths["pdf"], caption=caption)


def axis_labels(figure: Figure) -> str:
    """The x, y (and colour bar) labels of every axes of a figure, as JSON.

    Parameters
    ----------
    figure : Figure
        The figure.

    Returns
    -------
    str
        A JSON list with one ``{"x": ..., "y": ...}`` per axes, in drawing order;
        empty labels are left out.
    """
    labels = [
        {key: text for key, text in (("x", a.get_xlabel()), ("y", a.get_ylabel())) if text}
        for a in figure.axes
    ]
    return json.dumps(labels, ensure_ascii=False)


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes, rendered as :func:`save_figure` renders it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata=_METADATA["png"], **_SAVE_OPTIONS)
    return buffer.getvalue()


def _colours() -> list[str]:
    return list(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"])


def _finite_or_nan(values: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values), values, np.nan)


def _centres_and_half_widths(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (edges[1:] + edges[:-1]) / 2, np.diff(edges) / 2


def rejection_grid(efficiency_range: tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    """The signal efficiencies at which :func:`rejection_figure` draws its curves."""
    return np.linspace(*efficiency_range, 200)


def rejection_figure(
    curves: Sequence[tuple[str, RocCurve]],
    *,
    ratio_to_first: bool = False,
    efficiency_range: tuple[float, float] = (0.1, 1.0),
    bands: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    style: str = "CMS",
) -> Figure:
    """Background rejection ``1/ε_B`` against signal efficiency ε_S, log y.

    Parameters
    ----------
    curves : sequence of (str, RocCurve)
        Legend label and curve of each entry.
    ratio_to_first : bool
        Add a lower panel with each rejection divided by that of the first curve.
    efficiency_range : tuple of float
        ε_S range drawn; rejections are interpolated on 200 points in it
        (:func:`rejection_grid`).
    bands : mapping of str to (numpy.ndarray, numpy.ndarray), optional
        By curve label, the lower and upper edge of an uncertainty band of the rejection
        on :func:`rejection_grid` (e.g. the 68 % range of bootstrap replicas), drawn
        shaded in the curve's colour (and, divided by the first curve, in the ratio).
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        One axes (log y), or two with the ratio panel below.
    """
    grid = rejection_grid(efficiency_range)
    rejections = [_finite_or_nan(background_rejection(roc, grid)) for _, roc in curves]
    bands = bands or {}
    figure = StyledFigure(style)
    with figure.style_context():
        if ratio_to_first:
            main, lower = figure.subplots(
                2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
            )
        else:
            main = figure.subplots()
        colours = {}
        for (label, _), rejection in zip(curves, rejections, strict=True):
            (line,) = main.plot(grid, rejection, label=label)
            colours[label] = line.get_color()
            if label in bands:
                low, high = (_finite_or_nan(edge) for edge in bands[label])
                main.fill_between(grid, low, high, color=colours[label], alpha=0.25, lw=0)
        main.set_yscale("log")
        main.set_ylabel(REJECTION_LABEL)
        main.legend()
        if ratio_to_first:
            reference = rejections[0]
            for (label, _), rejection in zip(curves, rejections, strict=True):
                lower.plot(grid, rejection / reference, color=colours[label])
                if label in bands:
                    low, high = (_finite_or_nan(edge) / reference for edge in bands[label])
                    lower.fill_between(grid, low, high, color=colours[label], alpha=0.25, lw=0)
            lower.axhline(1.0, color="grey", linestyle=":")
            lower.set_ylabel(f"Ratio to\n{curves[0][0]}", fontsize="small")
            main.tick_params(labelbottom=False)
            lower.set_xlabel(SIGNAL_EFFICIENCY_LABEL)
        else:
            main.set_xlabel(SIGNAL_EFFICIENCY_LABEL)
    return figure


def roc_figure(curves: Sequence[tuple[str, RocCurve]], *, style: str = "CMS") -> Figure:
    """The classic ROC curve: ε_S against ε_B, with the diagonal of a random guess.

    Curves with many points are thinned to about 2000 for drawing.

    Parameters
    ----------
    curves : sequence of (str, RocCurve)
        Legend label (e.g. with the AUC) and curve of each entry.
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        One axes, linear scales from 0 to 1.
    """
    figure = StyledFigure(style)
    with figure.style_context():
        axes = figure.subplots()
        for label, roc in curves:
            points = np.unique(
                np.linspace(0, len(roc.thresholds) - 1, _MAX_CURVE_POINTS).astype(int)
            )
            axes.plot(roc.background_efficiency[points], roc.signal_efficiency[points], label=label)
        axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="Random")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel(BACKGROUND_EFFICIENCY_LABEL)
        axes.set_ylabel(SIGNAL_EFFICIENCY_LABEL)
        axes.legend(loc="lower right")
    return figure


def _score_edges(scores: np.ndarray, bins: int) -> np.ndarray:
    """Bins over [0, 1] for probabilities, else over the bulk of the scores."""
    if scores.min() >= 0 and scores.max() <= 1:
        return np.linspace(0.0, 1.0, bins + 1)
    return bin_edges(scores, bins)


def _density(
    values: np.ndarray, weights: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A weighted histogram normalised to unit area over all events, and its errors."""
    sum_weights, sum_squares = weighted_histogram(values, weights, edges)
    scale = 1.0 / (weights.sum() * np.diff(edges))
    return sum_weights * scale, np.sqrt(sum_squares) * scale


def score_distribution_figure(
    train: Predictions,
    test: Predictions,
    class_names: Sequence[str],
    *,
    output: int | None = None,
    ks_p_values: Mapping[str, float] | None = None,
    bins: int = 40,
    style: str = "CMS",
    score_label: str = "Score",
) -> Figure:
    """Score distributions per true class, train filled and test as points (overtraining check).

    Each distribution is normalised to unit area.

    Parameters
    ----------
    train, test : Predictions
        Outputs on the two splits.
    class_names : sequence of str
        Class names in label order.
    output : int, optional
        Column of ``scores`` to draw (multiclass); ``None`` for 1-d scores.
    ks_p_values : mapping of str to float, optional
        KS p-value per class name, shown in the legend.
    bins : int
        Number of bins (over [0, 1] when all scores lie there).
    style : str
        mplhep style name.
    score_label : str
        Name of the score on the x axis.

    Returns
    -------
    Figure
        One axes.
    """
    train_scores = train.scores if output is None else train.scores[:, output]
    test_scores = test.scores if output is None else test.scores[:, output]
    edges = _score_edges(np.concatenate([train_scores, test_scores]), bins)
    p_values = ks_p_values or {}
    figure = StyledFigure(style)
    with figure.style_context():
        axes = figure.subplots()
        for index, (name, colour) in enumerate(zip(class_names, _colours(), strict=False)):
            train_selected = train.labels == index
            values, _ = _density(train_scores[train_selected], train.weights[train_selected], edges)
            mplhep.histplot(
                values,
                edges,
                histtype="fill",
                alpha=0.35,
                color=colour,
                label=f"{name} train",
                ax=axes,
            )
            test_selected = test.labels == index
            values, errors = _density(
                test_scores[test_selected], test.weights[test_selected], edges
            )
            ks = f" (KS p = {p_values[name]:.3g})" if name in p_values else ""
            mplhep.histplot(
                values,
                edges,
                yerr=errors,
                histtype="errorbar",
                color=colour,
                label=f"{name} test{ks}",
                ax=axes,
            )
        axes.set_xlabel(
            score_label if output is None else f"{score_label} of class {class_names[output]}"
        )
        axes.set_ylabel("Density (unit area)")
        axes.legend(fontsize="x-small")
    return figure


def confusion_matrix_figure(
    matrix: np.ndarray,
    class_names: Sequence[str],
    *,
    normalised: bool,
    style: str = "CMS",
    column_names: Sequence[str] | None = None,
    column_label: str = "Predicted class",
) -> Figure:
    """A confusion matrix, true class down the rows, predicted class along the columns.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(K, M)`` weighted counts or row-normalised fractions.
    class_names : sequence of str
        Class names in label order (the rows).
    normalised : bool
        Whether the rows are fractions (shown with two decimals on a 0–1 colour scale).
    style : str
        mplhep style name.
    column_names : sequence of str, optional
        Names of the columns, when they are not the classes (e.g. clusters).
    column_label : str
        Title of the column axis.

    Returns
    -------
    Figure
        One axes with the matrix and a colour bar.
    """
    n_classes = len(class_names)
    figure = StyledFigure(style)
    with figure.style_context():
        axes = figure.subplots()
        norm = Normalize(0.0, 1.0) if normalised else None
        image = axes.imshow(matrix, cmap="Blues", norm=norm)
        figure.colorbar(image, ax=axes, label="Fraction of true class" if normalised else "Events")
        threshold = np.nanmax(matrix) / 2
        for (row, column), value in np.ndenumerate(matrix):
            axes.text(
                column,
                row,
                f"{value:.2f}" if normalised else f"{value:.3g}",
                ha="center",
                va="center",
                fontsize="small",
                color="white" if value > threshold else "black",
            )
        columns = class_names if column_names is None else column_names
        axes.set_xticks(range(len(columns)), columns)
        axes.set_yticks(range(n_classes), class_names)
        axes.minorticks_off()
        axes.set_xlabel(column_label)
        axes.set_ylabel("True class")
    return figure


def parity_figure(
    predicted: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    *,
    target_name: str = "target",
    bins: int = 50,
    style: str = "CMS",
) -> Figure:
    """Predicted against true value as a weighted 2-d histogram (log colour), with ``y = x``.

    Parameters
    ----------
    predicted, target, weights : numpy.ndarray
        ``(N,)`` predictions, true values and event weights.
    target_name : str
        Name of the target, for the axis labels.
    bins : int
        Bins per axis, spanning the bulk of both distributions.
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        One axes with a colour bar.
    """
    edges = bin_edges(np.concatenate([predicted, target]), bins)
    counts = np.histogram2d(target, predicted, bins=[edges, edges], weights=weights)[0]
    figure = StyledFigure(style)
    with figure.style_context():
        axes = figure.subplots()
        mesh = axes.pcolormesh(edges, edges, counts.T, norm=_log_norm(counts), cmap="viridis")
        figure.colorbar(mesh, ax=axes, label="Events")
        axes.plot(edges[[0, -1]], edges[[0, -1]], color="red", linestyle="--", label="y = x")
        axes.set_xlabel(f"True {target_name}")
        axes.set_ylabel(f"Predicted {target_name}")
        axes.legend(loc="upper left")
    return figure


def residuals_figure(
    predicted: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    *,
    target_name: str = "target",
    bins: int = 20,
    style: str = "CMS",
) -> Figure:
    """Mean residual (bias) and its spread (resolution) in bins of the true value.

    Parameters
    ----------
    predicted, target, weights : numpy.ndarray
        ``(N,)`` predictions, true values and event weights.
    target_name : str
        Name of the target, for the axis labels.
    bins : int
        Number of target bins.
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        One axes: points at the weighted mean of ``predicted − true``, error bars of one
        weighted standard deviation.
    """
    edges = bin_edges(target, bins)
    mean, spread = binned_mean_and_spread(target, predicted - target, weights, edges)
    centres, half_widths = _centres_and_half_widths(edges)
    figure = StyledFigure(style)
    with figure.style_context():
        axes = figure.subplots()
        axes.errorbar(
            centres, mean, xerr=half_widths, yerr=spread, fmt="o", label="Mean ± standard deviation"
        )
        axes.axhline(0.0, color="grey", linestyle=":")
        axes.set_xlabel(f"True {target_name}")
        axes.set_ylabel(f"Predicted − true {target_name}")
        axes.legend()
    return figure


def _cut_label(cut: WorkingPoint) -> str:
    return rf"score $\geq$ {cut.threshold:.3g} ($\varepsilon_S$ = {cut.signal_efficiency:.2f})"


def efficiency_figure(
    signal: BinnedEfficiency,
    background: BinnedEfficiency,
    *,
    observer: str,
    cut: WorkingPoint,
    style: str = "CMS",
) -> Figure:
    """Signal efficiency (top) and background rejection (bottom, log y) in bins of a variable.

    Error bars are 68 % Clopper–Pearson intervals on the effective counts, so a bin where
    every (or no) event passes gets a bar too; a bin where no background passes shows the
    lower end of the rejection's interval as an arrow. Bins with fewer than
    :data:`MIN_BIN_EVENTS` effective events are not drawn, and the legend says how many.

    Parameters
    ----------
    signal, background : BinnedEfficiency
        Efficiencies of the working-point cut for signal and background events.
    observer : str
        Name of the variable, for the x axis.
    cut : WorkingPoint
        The cut, described in the legend.
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        Two axes sharing the x axis.
    """
    centres, half_widths = _centres_and_half_widths(signal.bin_edges)
    signal_shown = signal.effective_events >= MIN_BIN_EVENTS
    background_shown = background.effective_events >= MIN_BIN_EVENTS
    low, high = signal.interval()
    background_low, background_high = background.interval()
    with np.errstate(divide="ignore"):
        rejection = np.where(background.efficiency > 0, 1 / background.efficiency, np.nan)
        rejection_low, rejection_high = 1 / background_high, 1 / background_low
    limit = background_shown & (background.efficiency == 0)  # (no background passes)
    figure = StyledFigure(style)
    with figure.style_context():
        top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"hspace": 0.08})
        top.errorbar(
            centres[signal_shown],
            signal.efficiency[signal_shown],
            xerr=half_widths[signal_shown],
            yerr=[
                (signal.efficiency - low)[signal_shown],
                (high - signal.efficiency)[signal_shown],
            ],
            fmt="o",
            label=_cut_label(cut),
        )
        top.set_ylabel(r"$\varepsilon_S$")
        top.set_ylim(0, 1.05)
        top.legend(fontsize="small", loc="lower left")
        _say_few_events(top, signal, "signal")
        top.tick_params(labelbottom=False)
        colour = _colours()[1]
        measured = background_shown & ~limit
        bottom.errorbar(
            centres[measured],
            rejection[measured],
            xerr=half_widths[measured],
            yerr=[
                (rejection - rejection_low)[measured],
                np.minimum(rejection_high - rejection, _LONGEST_BAR * rejection)[measured],
            ],
            fmt="s",
            color=colour,
        )
        _say_few_events(bottom, background, "background")
        if np.any(limit):
            bottom.errorbar(
                centres[limit],
                rejection_low[limit],
                xerr=half_widths[limit],
                yerr=rejection_low[limit] * 0.5,
                lolims=True,
                fmt="none",
                ecolor=colour,
                label="no background passes: lower end of the 68 % interval",
            )
        bottom.set_yscale("log")
        bottom.set_ylabel(r"$1/\varepsilon_B$")
        bottom.set_xlabel(observer)
        if bottom.get_legend_handles_labels()[1]:
            bottom.legend(fontsize="x-small", loc="lower left")
    return figure


def _say_few_events(axes: Axes, efficiency: BinnedEfficiency, sample: str) -> None:
    """Write in the panel how many filled bins hold too few events to be drawn."""
    counts = efficiency.effective_events
    sparse = int(np.sum((counts > 0) & (counts < MIN_BIN_EVENTS)))
    if not sparse:
        return
    bins = "bin" if sparse == 1 else "bins"
    text = f"{sparse} {bins} with < {MIN_BIN_EVENTS:g} {sample} events not drawn"
    if not np.any(counts >= MIN_BIN_EVENTS):
        text = f"too few {sample} events per bin to draw: {text}"
    axes.text(0.02, 0.96, text, transform=axes.transAxes, fontsize="x-small", va="top")


def sculpting_figure(
    values: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    edges: np.ndarray,
    *,
    observer: str,
    cut: WorkingPoint,
    sample: str = "background",
    style: str = "CMS",
) -> Figure:
    """A distribution before and after a cut, each normalised to unit area (sculpting check).

    A classifier that learnt the variable (e.g. the jet mass) reshapes the background
    towards the signal after the cut. A selection of fewer than :data:`MIN_SHAPE_EVENTS`
    effective events is not drawn; the legend says how many pass.

    Parameters
    ----------
    values, scores, weights : numpy.ndarray
        ``(N,)`` the variable, the classifier scores and the event weights of the sample
        (usually background).
    edges : numpy.ndarray
        Bin edges.
    observer : str
        Name of the variable, for the x axis.
    cut : WorkingPoint
        The cut: events with ``score >= cut.threshold`` pass.
    sample : str
        Name of the sample, for the legend.
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        One axes.
    """
    figure = StyledFigure(style)
    with figure.style_context():
        axes = figure.subplots()
        for selected, label in (
            (np.ones(len(values), dtype=bool), f"{sample}, all"),
            (scores >= cut.threshold, f"{sample}, {_cut_label(cut)}"),
        ):
            chosen = weights[selected]
            events = chosen.sum() ** 2 / np.sum(chosen**2) if chosen.sum() > 0 else 0.0
            if events < MIN_SHAPE_EVENTS:  # (a shape of a few events is spikes)
                passing = "no event passes" if events == 0 else f"{events:.0f} events pass"
                axes.plot([], [], " ", label=f"{label}: {passing}, too few for a shape")
                continue
            density, errors = _density(values[selected], weights[selected], edges)
            mplhep.histplot(density, edges, yerr=errors, histtype="step", label=label, ax=axes)
        axes.set_xlabel(observer)
        axes.set_ylabel("Density (unit area)")
        axes.legend(fontsize="small")
    return figure


def training_curves_figure(history: Sequence[Mapping[str, float]], *, style: str = "CMS") -> Figure:
    """Training and validation loss per epoch (or boosting iteration), and the validation AUC.

    Epochs are drawn counted from 1, as the progress bar counts them (``history.csv``
    counts from 0, as Lightning does); a BDT's records count boosting iterations.

    Parameters
    ----------
    history : sequence of mapping
        One record per epoch with ``train_loss`` and/or ``val_loss``, optionally ``epoch``
        (else the record's position) or ``iteration`` (a BDT's boosting iterations, from
        1), and ``val_auc`` (:meth:`heplearn.run_directory.RunDirectory.history` reads
        a run's ``history.csv``).
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        The loss axes, plus an AUC axes below when any ``val_auc`` is recorded.

    Raises
    ------
    InputError
        If the history is empty or records no loss.
    """

    def column(key: str) -> np.ndarray:
        return np.array([float(record.get(key, math.nan)) for record in history])

    losses = {
        label: column(key)
        for key, label in (("train_loss", "Training"), ("val_loss", "Validation"))
    }
    losses = {label: values for label, values in losses.items() if np.any(np.isfinite(values))}
    if not losses:
        raise InputError("the training history records neither 'train_loss' nor 'val_loss'")
    if any("iteration" in record for record in history):
        steps, step_label = column("iteration"), "Boosting iteration"
    elif any("epoch" in record for record in history):
        steps, step_label = column("epoch") + 1, "Epoch"
    else:
        steps, step_label = np.arange(1, len(history) + 1), "Epoch"
    marker = "o" if len(history) <= _MOST_MARKERS else None
    auc = column("val_auc")
    figure = StyledFigure(style)
    with figure.style_context():
        if np.sum(np.isfinite(auc)) > 1:
            loss_axes, auc_axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"hspace": 0.08})
            auc_axes.plot(steps, auc, marker=marker, color=_colours()[2])
            auc_axes.set_ylabel("Validation AUC")
            auc_axes.set_xlabel(step_label)
            loss_axes.tick_params(labelbottom=False)
        else:
            loss_axes = figure.subplots()
            loss_axes.set_xlabel(step_label)
        loss_axes.xaxis.get_major_locator().set_params(integer=True)
        for label, values in losses.items():
            loss_axes.plot(steps, values, marker=marker, label=label)
        loss_axes.set_ylabel("Loss")
        loss_axes.legend()
    return figure


def _log_norm(values: np.ndarray) -> Normalize:
    """A log colour scale over the positive values, or a linear one if there are none."""
    positive = values[values > 0]
    if len(positive) == 0:
        return Normalize()
    return LogNorm(vmin=positive.min(), vmax=positive.max())


def show_image(axes: Axes, image: np.ndarray, norm: Normalize | None = None) -> AxesImage:
    """Show a 2-d image (η down, φ across) with a log colour scale; empty pixels stay blank.

    Parameters
    ----------
    axes : Axes
        Where to draw; its ticks are removed.
    image : numpy.ndarray
        ``(H, W)`` pixel values.
    norm : Normalize, optional
        Colour scale; by default log over the image's positive pixels.

    Returns
    -------
    AxesImage
        The drawn image, for a colour bar.
    """
    shown = axes.imshow(
        np.ma.masked_less_equal(image, 0), norm=norm or _log_norm(image), cmap="viridis"
    )
    axes.set_xticks([])
    axes.set_yticks([])
    axes.minorticks_off()
    return shown
