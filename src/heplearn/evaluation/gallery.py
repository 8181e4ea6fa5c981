"""Jet-image galleries: which examples to show, and the figures that show them.

Images are ``(N, C, H, W)``; a gallery shows the sum over channels of each image, with η
down the rows and φ across, on a log colour scale (pixels without energy stay blank).
"""

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from heplearn.evaluation.plots import StyledFigure, show_image

# Image grids hold many small panels: the experiment styles' fonts (up to 26 pt) would
# swamp them.
_IMAGE_GRID_RC = {"font.size": 10}
ETA_LABEL = r"$\Delta\eta$"
PHI_LABEL = r"$\Delta\phi$"
"""Axis labels of jet images: η down the rows, φ across (as :func:`show_image` draws them)."""

# Class averages sum images in blocks of this many events, so that the float64 sums never
# copy the whole image array.
_AVERAGE_BLOCK = 4096


def select_examples(
    scores: np.ndarray, labels: np.ndarray, class_names: Sequence[str], count: int = 8
) -> dict[str, np.ndarray]:
    """Indices of the examples worth looking at, most extreme first.

    For binary scores ``(N,)`` (signal probability, label 1 is signal) the groups are the
    most signal-like and most background-like events (highest and lowest score), the most
    uncertain (score nearest 0.5) and the most confidently wrong (largest ``|score −
    label|`` among the misclassified, ``|score − label| > 0.5``). For multiclass scores
    ``(N, K)`` there is one "most <class>-like" group per class (highest probability of
    that class), the most uncertain (lowest top probability) and the most confidently wrong
    (highest top probability among events whose top class is not their label).

    Parameters
    ----------
    scores : numpy.ndarray
        ``(N,)`` signal probabilities or ``(N, K)`` class probabilities.
    labels : numpy.ndarray
        ``(N,)`` class indices.
    class_names : sequence of str
        Class names in label order.
    count : int
        Examples per group (fewer when fewer events qualify).

    Returns
    -------
    dict of str to numpy.ndarray
        Group title (``"most top-like"``, ``"most uncertain"``, ``"most confidently
        wrong"``...) to event indices.
    """
    labels = np.asarray(labels).astype(np.int64)
    class_probabilities = np.stack([1 - scores, scores], axis=1) if scores.ndim == 1 else scores
    predicted = np.argmax(class_probabilities, axis=1)
    confidence = class_probabilities[np.arange(len(labels)), predicted]
    wrong = np.flatnonzero(predicted != labels)
    groups = {
        f"most {name}-like": np.argsort(-class_probabilities[:, index], kind="stable")[:count]
        for index, name in enumerate(class_names)
    }
    if scores.ndim == 1:
        groups = dict(reversed(groups.items()))  # signal-like first
    groups["most uncertain"] = np.argsort(confidence, kind="stable")[:count]
    groups["most confidently wrong"] = wrong[np.argsort(-confidence[wrong], kind="stable")][:count]
    return groups


def gallery_figure(
    images: np.ndarray,
    groups: Mapping[str, np.ndarray],
    scores: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    style: str = "CMS",
) -> Figure:
    """A grid of example images: one row per group, titled with true class and score.

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, C, H, W)`` images.
    groups : mapping of str to numpy.ndarray
        Row title to event indices, as from :func:`select_examples`; empty groups are
        skipped.
    scores : numpy.ndarray
        ``(N,)`` or ``(N, K)`` model outputs, for the titles.
    labels : numpy.ndarray
        ``(N,)`` class indices, for the titles.
    class_names : sequence of str
        Class names in label order.
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        One axes per example.
    """
    rows = {title: indices for title, indices in groups.items() if len(indices)}
    n_rows = max(len(rows), 1)
    n_columns = max((len(indices) for indices in rows.values()), default=1)
    # A fixed grid, not a layout engine: with dozens of panels constrained layout would
    # take seconds per save.
    figure = StyledFigure(style, _IMAGE_GRID_RC, figsize=(1.8 * n_columns, 2.3 * n_rows))
    with figure.style_context():
        grid = figure.subplots(
            n_rows,
            n_columns,
            squeeze=False,
            gridspec_kw={
                "left": 0.01,
                "right": 0.99,
                "bottom": 0.01,
                "top": 0.93,
                "wspace": 0.08,
                "hspace": 0.55,
            },
        )
        for axes in grid.flat:
            axes.set_axis_off()
        last = list(rows)[-1] if rows else None
        for row, (title, indices) in zip(grid, rows.items(), strict=False):
            row[0].text(
                0.0,
                1.32,
                title,
                transform=row[0].transAxes,
                fontweight="bold",
                fontsize="large",
                va="bottom",
            )
            row[0].set_ylabel(ETA_LABEL, fontsize="small")
            for axes, index in zip(row, indices, strict=False):
                axes.set_axis_on()
                show_image(axes, images[index].sum(axis=0))
                if title == last:
                    axes.set_xlabel(PHI_LABEL, fontsize="small")
                if scores.ndim == 1:
                    output = f"score {scores[index]:.3f}"
                else:
                    best = int(np.argmax(scores[index]))
                    output = f"p({class_names[best]}) {scores[index, best]:.2f}"
                axes.set_title(f"{class_names[int(labels[index])]}, {output}", fontsize="small")
    return figure


def class_average_figure(
    images: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    class_names: Sequence[str],
    *,
    style: str = "CMS",
) -> Figure:
    """The weighted mean image of each class, side by side on one log colour scale.

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, C, H, W)`` images (summed over channels).
    labels : numpy.ndarray
        ``(N,)`` class indices.
    weights : numpy.ndarray
        ``(N,)`` event weights; each class's mean divides by its total weight, which must
        be positive.
    class_names : sequence of str
        Class names in label order.
    style : str
        mplhep style name.

    Returns
    -------
    Figure
        One axes per class and a shared colour bar.
    """
    one_hot = np.asarray(labels).astype(np.int64)[:, None] == np.arange(len(class_names))
    class_weights = np.where(one_hot, weights[:, None], 0.0)
    totals = np.zeros((len(class_names), *images.shape[2:]))
    for start in range(0, len(images), _AVERAGE_BLOCK):
        block = slice(start, start + _AVERAGE_BLOCK)
        summed = images[block].sum(axis=1, dtype=np.float64)
        totals += np.einsum("nk,nhw->khw", class_weights[block], summed)
    averages = totals / class_weights.sum(axis=0)[:, None, None]
    positive = averages[averages > 0]
    norm = LogNorm(positive.min(), positive.max()) if len(positive) else None
    figure = StyledFigure(
        style, _IMAGE_GRID_RC, figsize=(3.2 * len(class_names) + 1.0, 3.6), layout="constrained"
    )
    with figure.style_context():
        panels = figure.subplots(1, len(class_names), squeeze=False)[0]
        for axes, name, average in zip(panels, class_names, averages, strict=True):
            shown = show_image(axes, average, norm)
            axes.set_title(name)
            axes.set_xlabel(PHI_LABEL)
        panels[0].set_ylabel(ETA_LABEL)
        figure.colorbar(shown, ax=list(panels), label="Mean pixel value")
    return figure
