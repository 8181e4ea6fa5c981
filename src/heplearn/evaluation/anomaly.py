"""Evaluating an anomaly detector (autoencoder, VAE): scores, latent space, clusters.

The anomaly score of an event is its reconstruction error. The classes the model was
trained on (``training.classes``; the first class when it was trained on all) are the
background, every other class an anomaly: the detector is then judged as a binary
classifier on the test split (ROC, AUC, background rejection 1/ε_B at ε_S = 0.3, 0.5,
0.8), as :func:`heplearn.evaluation.evaluate.evaluate_predictions` does for taggers.
The latent space is drawn per class, clustered with k-means and compared with the true
classes; a VAE's prior samples are compared with the test events (histograms with ratio
panels and the classifier two-sample test).
"""

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from heplearn.data.dataset import Dataset
from heplearn.errors import ConfigError
from heplearn.evaluation.evaluate import Evaluation, evaluate_predictions
from heplearn.evaluation.latent import cluster_embeddings, embedding_figure
from heplearn.evaluation.plots import (
    SavedPlot,
    confusion_matrix_figure,
    save_figure,
    score_distribution_figure,
)
from heplearn.evaluation.predictions import Predictions
from heplearn.evaluation.ratio_plots import HistogramSample, ratio_histograms_figure
from heplearn.evaluation.run_data import split_predictions
from heplearn.evaluation.two_sample import two_sample_test
from heplearn.inference import Scorer
from heplearn.models.base import Samples
from heplearn.run_directory import RunDirectory
from heplearn.training.config import EvaluationConfig


def background_classes(run: RunDirectory) -> list[int]:
    """Labels of the classes the detector learned (``training.classes``, else the first)."""
    names = run.class_names()
    if not names:
        raise ConfigError(
            f"{run.path}: evaluating an anomaly detector needs class labels in the data "
            "(data.classes), to tell background from anomalies"
        )
    chosen = run.config().training.classes or names[:1]
    return [names.index(name) for name in chosen]


def _as_binary(predictions: Predictions, background: Sequence[int]) -> Predictions:
    """The same events labelled 0 (background) or 1 (anomaly)."""
    is_anomaly = (~np.isin(predictions.labels, background)).astype(int)
    return replace(predictions, labels=is_anomaly)


def _detection(
    train: Predictions,
    test: Predictions,
    names: Sequence[str],
    background: Sequence[int],
    run: RunDirectory,
    settings: EvaluationConfig,
) -> Evaluation | None:
    """The binary evaluation of background against anomalies, when the test has both."""
    binary_test = _as_binary(test, background)
    if binary_test.labels.min() == binary_test.labels.max():
        return None
    anomaly_names = [n for k, n in enumerate(names) if k not in background]
    background_name = " + ".join(names[k] for k in background)
    return evaluate_predictions(
        _as_binary(train, background),
        binary_test,
        "binary",
        [background_name, " + ".join(anomaly_names)],
        run.path,
        working_point=settings.working_point,
        style=settings.style,
        observer_bins=settings.observer_bins,
        bootstrap_resamples=settings.bootstrap,
        seed=run.config().seed,
    )


def _latent_plots(
    test: Predictions, names: Sequence[str], plots_dir: Path, style: str, seed: int
) -> tuple[dict[str, Any], list[SavedPlot]]:
    """Embedding per class, and the k-means contingency table against the classes."""
    assert test.embeddings is not None
    clustering = cluster_embeddings(
        test.embeddings, test.labels, test.weights, len(names), seed=seed
    )
    clusters = [f"cluster {c + 1}" for c in range(clustering.contingency.shape[1])]
    plots = [
        save_figure(
            embedding_figure(test.embeddings, test.labels, test.weights, names, style=style),
            plots_dir / "embedding",
            "Latent coordinates of the test events, one weighted 2D histogram per true class "
            "(principal components when the latent space has more than two dimensions).",
        ),
        save_figure(
            confusion_matrix_figure(
                clustering.fractions(),
                names,
                normalised=True,
                style=style,
                column_names=clusters,
                column_label="k-means cluster of the embedding",
            ),
            plots_dir / "clusters",
            "Fraction of each true class in each k-means cluster of the test embeddings "
            f"(adjusted Rand index {clustering.adjusted_rand_index:.3f}).",
        ),
    ]
    return {"clustering": clustering.to_dict(names)}, plots


def _prior_samples(
    scorer: Scorer, dataset: Dataset, plots_dir: Path, style: str, seed: int
) -> tuple[dict[str, Any], list[SavedPlot]]:
    """A VAE's decoded prior draws against the test events, per tabular input."""
    model = scorer.model
    tabular = [name for name, info in scorer.schema.items() if info.kind == "tabular"]
    if not isinstance(model, Samples) or not tabular:
        return {}, []
    real = dataset.arrays("test")
    torch.manual_seed(seed)
    with torch.no_grad():
        drawn = model.sample(len(real["label"]))
    results, plots = {}, []
    for name in tabular:
        columns = [f"{column} (standardised)" for column in scorer.schema[name].columns]
        generated = drawn[name].numpy()
        test_result = two_sample_test(real[name], generated, seed=seed)
        results[name] = test_result.to_dict()
        figure = ratio_histograms_figure(
            [
                HistogramSample("Test events", real[name]),
                HistogramSample("Prior samples", generated),
            ],
            columns,
            style=style,
        )
        plots.append(
            save_figure(
                figure,
                plots_dir / f"prior_samples_{name}",
                f"Input {name!r}: events decoded from draws of the prior N(0, 1) against the "
                f"test events; a classifier tells them apart with AUC {test_result.auc:.3f} "
                "(0.5: indistinguishable).",
            )
        )
    return {"prior_samples": results}, plots


def evaluate_anomaly(
    run: RunDirectory, dataset: Dataset, scorer: Scorer, settings: EvaluationConfig
) -> tuple[dict[str, Any], list[SavedPlot], dict[str, Predictions]]:
    """Metrics and plots of an anomaly detector on data loaded with its preprocessing.

    Returns
    -------
    tuple
        ``metrics.json`` content, the saved plots, and the predictions per split.
    """
    names = run.class_names() or []
    background = background_classes(run)
    predictions = {
        split: split_predictions(dataset, scorer, split, observers=settings.observers)
        for split in ("train", "test")
    }
    train, test = predictions["train"], predictions["test"]
    plots_dir = run.path / "plots"
    seed = run.config().seed
    metrics: dict[str, Any] = {
        "task": "anomaly",
        "class_names": names,
        "background_classes": [names[k] for k in background],
        "anomaly_classes": [n for k, n in enumerate(names) if k not in background],
        "events": {"train": len(train), "test": len(test)},
    }
    plots = [
        save_figure(
            score_distribution_figure(
                train,
                test,
                names,
                style=settings.style,
                score_label="Anomaly score (reconstruction error)",
            ),
            plots_dir / "anomaly_scores",
            "Anomaly score (reconstruction error) per true class, train (filled) and test "
            "(points), each normalised to unit area.",
        )
    ]
    detection = _detection(train, test, names, background, run, settings)
    if detection is not None:
        binary = {k: v for k, v in detection.metrics.items() if k not in metrics and k != "task"}
        metrics["detection"] = binary
        plots += detection.plots
    if test.embeddings is not None and len(np.unique(test.labels)) > 1:
        entries, latent_plots = _latent_plots(test, names, plots_dir, settings.style, seed)
        metrics |= entries
        plots += latent_plots
    entries, sample_plots = _prior_samples(scorer, dataset, plots_dir, settings.style, seed)
    return metrics | entries, plots + sample_plots, predictions
