"""Histograms of several samples per feature, with a ratio panel to the first.

The figure every generative and reweighting check draws: for each feature, the shapes of
a reference sample (points with errors) and of the others (lines), each normalised to
unit area, and below them the ratio of each other sample to the reference.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mplhep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from heplearn.data.labels import variable_label
from heplearn.errors import InputError
from heplearn.evaluation.metrics import bin_edges, weighted_histogram
from heplearn.evaluation.plots import StyledFigure

_PANEL_WIDTH, _PANEL_HEIGHT = 5.0, 5.5
_MAX_COLUMNS = 4
_RATIO_RANGE = (0.5, 1.5)


@dataclass(frozen=True)
class HistogramSample:
    """One sample to histogram.

    Attributes
    ----------
    label : str
        Legend entry.
    values : numpy.ndarray
        ``(N, F)``: one column per feature, in the order of the figure's ``columns``.
    weights : numpy.ndarray, optional
        ``(N,)`` event weights; ``None`` for unit weights.
    """

    label: str
    values: np.ndarray
    weights: np.ndarray | None = None

    def column(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The values of one feature and the event weights."""
        values = np.asarray(self.values, dtype=np.float64)[:, index]
        weights = np.ones(len(values)) if self.weights is None else np.asarray(self.weights)
        return values, weights.astype(np.float64)


def _shape(
    values: np.ndarray, weights: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram normalised to unit area over the events inside the edges, and its errors."""
    sum_weights, sum_squares = weighted_histogram(values, weights, edges)
    total = sum_weights.sum()
    scale = 1.0 / (total * np.diff(edges)) if total > 0 else np.zeros(len(edges) - 1)
    return sum_weights * scale, np.sqrt(sum_squares) * scale


def _check(samples: Sequence[HistogramSample], columns: Sequence[str]) -> None:
    if not samples:
        raise InputError("ratio histograms need at least one sample")
    for sample in samples:
        shape = np.shape(sample.values)
        if len(shape) != 2 or shape[1] != len(columns):
            raise InputError(
                f"sample {sample.label!r} has values of shape {shape}; expected "
                f"(events, {len(columns)}) for the columns {list(columns)}"
            )


def ratio_histograms_figure(
    samples: Sequence[HistogramSample],
    columns: Sequence[str],
    *,
    bins: int = 30,
    labels: Mapping[str, str] | None = None,
    style: str = "CMS",
) -> Figure:
    """One panel per feature: unit-area histograms, and their ratio to the first sample.

    Parameters
    ----------
    samples : sequence of HistogramSample
        The reference first (drawn as points, the denominator of the ratios), then the
        samples compared with it (drawn as lines).
    columns : sequence of str
        Feature names, one per column of every sample's values.
    bins : int
        Equal-width bins over the bulk (0.5–99.5 % quantiles) of all samples together,
        so that a sample far from the reference still shows.
    labels : mapping of str to str, optional
        x-axis labels by feature name; others get :func:`heplearn.data.labels.variable_label`
        (``jet_mass`` → "Jet mass [GeV]").
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        Two rows of axes per row of features: histograms above, ratios below.
    """
    _check(samples, columns)
    n_columns = min(len(columns), _MAX_COLUMNS)
    n_rows = -(-len(columns) // n_columns)
    figure = StyledFigure(
        style,
        overrides={"font.size": 12},
        figsize=(_PANEL_WIDTH * n_columns, _PANEL_HEIGHT * n_rows),
        layout="constrained",
    )
    with figure.style_context():
        grid = figure.add_gridspec(2 * n_rows, n_columns, height_ratios=[3, 1] * n_rows)
        for index, name in enumerate(columns):
            row, column = divmod(index, n_columns)
            top = figure.add_subplot(grid[2 * row, column])
            bottom = figure.add_subplot(grid[2 * row + 1, column], sharex=top)
            _draw_feature(top, bottom, samples, index, variable_label(name, labels), bins)
    return figure


def _draw_feature(
    top: Axes,
    bottom: Axes,
    samples: Sequence[HistogramSample],
    index: int,
    name: str,
    bins: int,
) -> None:
    reference_values, reference_weights = samples[0].column(index)
    edges = bin_edges(np.concatenate([sample.column(index)[0] for sample in samples]), bins)
    centres = (edges[1:] + edges[:-1]) / 2
    reference, reference_errors = _shape(reference_values, reference_weights, edges)
    mplhep.histplot(
        reference,
        edges,
        yerr=reference_errors,
        histtype="errorbar",
        color="black",
        label=samples[0].label,
        ax=top,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        bottom.fill_between(
            edges,
            np.append(1 - reference_errors / reference, 1),
            np.append(1 + reference_errors / reference, 1),
            step="post",
            color="grey",
            alpha=0.3,
        )
        for sample in samples[1:]:
            shape, errors = _shape(*sample.column(index), edges)
            artists = mplhep.histplot(shape, edges, histtype="step", label=sample.label, ax=top)
            colour = artists[0].stairs.get_edgecolor()
            bottom.errorbar(
                centres,
                shape / reference,
                yerr=errors / reference,
                fmt="o",
                markersize=3,
                color=colour,
            )
    bottom.axhline(1.0, color="black", linewidth=0.8)
    bottom.set_ylim(*_RATIO_RANGE)
    bottom.set_xlabel(name)
    bottom.set_ylabel(f"Ratio to\n{samples[0].label}", fontsize="x-small")
    top.set_ylabel("Density (unit area)")
    top.tick_params(labelbottom=False)
    top.legend(fontsize="x-small")
