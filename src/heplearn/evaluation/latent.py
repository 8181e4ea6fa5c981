"""The latent space of an autoencoder: its picture per class, and clusters in it.

The embedding plot shows, for every true class, the 2D histogram of the test events'
latent coordinates (the first two principal components when the latent space has more
than two dimensions). k-means on the embeddings, with as many clusters as classes, and
the contingency table of clusters against true classes tell whether the classes separate
without labels.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from heplearn.evaluation.plots import StyledFigure

_BINS = 25
_PANEL = 4.5


def plane(embeddings: np.ndarray, seed: int = 0) -> tuple[np.ndarray, tuple[str, str]]:
    """Two coordinates per event to draw: the latent ones, or their two principal components."""
    if embeddings.shape[1] == 1:
        return np.column_stack([embeddings[:, 0], np.zeros(len(embeddings))]), ("$z_1$", "")
    if embeddings.shape[1] == 2:
        return embeddings, ("$z_1$", "$z_2$")
    projected = PCA(n_components=2, random_state=seed).fit_transform(embeddings)
    return projected, ("latent PC 1", "latent PC 2")


def embedding_figure(
    embeddings: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    class_names: Sequence[str],
    *,
    style: str = "CMS",
) -> Figure:
    """The weighted 2D histogram of the latent coordinates, one panel per true class.

    Parameters
    ----------
    embeddings : numpy.ndarray
        ``(N, D)`` latent coordinates.
    labels : numpy.ndarray
        ``(N,)`` class index of each event.
    weights : numpy.ndarray
        ``(N,)`` event weights.
    class_names : sequence of str
        Class names in label order; classes without events are left out.
    style : str
        mplhep style name.
    """
    points, (x_label, y_label) = plane(embeddings)
    low, high = np.quantile(points, [0.005, 0.995], axis=0)
    edges = [np.linspace(low[i], high[i] + 1e-9, _BINS + 1) for i in range(2)]
    present = [k for k in range(len(class_names)) if np.any(labels == k)]
    figure = StyledFigure(
        style, overrides={"font.size": 12}, figsize=(_PANEL * len(present), _PANEL + 0.5)
    )
    with figure.style_context():
        axes_row = np.atleast_1d(figure.subplots(1, len(present), sharey=True, squeeze=False)[0])
        for axes, label in zip(axes_row, present, strict=True):
            chosen = labels == label
            counts = np.histogram2d(
                points[chosen, 0], points[chosen, 1], bins=edges, weights=weights[chosen]
            )[0]
            positive = counts[counts > 0]
            norm = LogNorm(positive.min(), positive.max()) if len(positive) else None
            axes.pcolormesh(edges[0], edges[1], counts.T, norm=norm, cmap="viridis")
            axes.set_title(class_names[label], fontsize="medium")
            axes.set_xlabel(x_label)
        axes_row[0].set_ylabel(y_label)
    figure.set_layout_engine("constrained")
    return figure


@dataclass(frozen=True)
class Clustering:
    """k-means clusters of the embeddings against the true classes.

    Attributes
    ----------
    contingency : numpy.ndarray
        ``(K, C)`` sum of weights of true class k in cluster c.
    adjusted_rand_index : float
        Agreement of clusters and classes (1: identical partitions, 0: chance).
    purity : float
        Weighted fraction of events in the majority class of their cluster.
    """

    contingency: np.ndarray
    adjusted_rand_index: float
    purity: float

    def fractions(self) -> np.ndarray:
        """The contingency table normalised per true class (rows sum to 1)."""
        totals = self.contingency.sum(axis=1, keepdims=True)
        return np.divide(
            self.contingency, totals, out=np.zeros_like(self.contingency), where=totals > 0
        )

    def to_dict(self, class_names: Sequence[str]) -> dict[str, object]:
        """Plain values for ``metrics.json``."""
        return {
            "clusters": int(self.contingency.shape[1]),
            "adjusted_rand_index": self.adjusted_rand_index,
            "purity": self.purity,
            "contingency": {
                name: row.tolist() for name, row in zip(class_names, self.contingency, strict=True)
            },
        }


def cluster_embeddings(
    embeddings: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    n_classes: int,
    *,
    clusters: int | None = None,
    seed: int = 0,
) -> Clustering:
    """k-means on the embeddings and the contingency table of clusters against classes.

    Parameters
    ----------
    embeddings, labels, weights : numpy.ndarray
        Latent coordinates ``(N, D)``, class indices and event weights ``(N,)``.
    n_classes : int
        Number of classes (rows of the table).
    clusters : int, optional
        Number of clusters; default the number of classes present.
    seed : int
        Seed of k-means.
    """
    count = clusters or len(np.unique(labels))
    assignment = KMeans(n_clusters=count, n_init=10, random_state=seed).fit_predict(
        embeddings, sample_weight=np.clip(weights, 0, None)
    )
    contingency = np.zeros((n_classes, count))
    np.add.at(contingency, (labels.astype(int), assignment), weights)
    total = contingency.sum()
    purity = float(contingency.max(axis=0).sum() / total) if total > 0 else float("nan")
    return Clustering(
        contingency=contingency,
        adjusted_rand_index=float(adjusted_rand_score(labels, assignment)),
        purity=purity,
    )
