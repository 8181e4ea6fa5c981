"""Evaluating a generative run: generated events against the held-out test split.

The model draws as many events as the test split holds (a conditional model with the
test events' own conditions, so that both samples share one distribution of the
conditions). Both samples are compared in physical units:

- per feature (tabular inputs): histograms of real and generated events, each normalised
  to unit area, with a ratio panel generated / real, and the weighted means, standard
  deviations and Kolmogorov–Smirnov distance;
- images: the average real and generated image, and histograms of two summaries per
  image (total intensity, number of non-empty pixels);
- everything at once: a classifier two-sample test, the held-out AUC of a classifier
  trained to separate generated from real events (0.5: indistinguishable), on every
  value of an event (the conditions included, so that it checks ``p(x | c)``).

A flow's negative log-likelihood per event on the test and training splits is reported
too. ``docs/metrics.md`` documents the keys of ``metrics.json``.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from heplearn.data.batch import mask_key
from heplearn.data.dataset import Dataset
from heplearn.evaluation import metrics as weighted
from heplearn.evaluation.gallery import class_average_figure
from heplearn.evaluation.plots import SavedPlot, check_style, save_figure
from heplearn.evaluation.predictions import Predictions
from heplearn.evaluation.ratio_plots import HistogramSample, ratio_histograms_figure
from heplearn.evaluation.run_data import split_predictions
from heplearn.evaluation.two_sample import two_sample_test
from heplearn.inference import Scorer
from heplearn.models.registry import model_family
from heplearn.models.schema import InputInfo
from heplearn.run_directory import RunDirectory
from heplearn.sampling import Sampler, safe_branch_name
from heplearn.training.config import EvaluationConfig

REAL = "real (test)"
GENERATED = "generated"
IMAGE_SUMMARIES = ("total intensity", "maximum pixel", "non-empty pixels")


@dataclass
class _Comparison:
    """Real and generated events in physical units, and what is drawn from them."""

    real_weights: np.ndarray
    generated_weights: np.ndarray | None
    style: str
    plots_dir: Any
    real_rows: list[np.ndarray] = field(default_factory=list)
    generated_rows: list[np.ndarray] = field(default_factory=list)
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    plots: list[SavedPlot] = field(default_factory=list)

    def add_rows(self, real: np.ndarray, generated: np.ndarray) -> None:
        """Per-event values for the two-sample test (flattened)."""
        self.real_rows.append(real.reshape(len(real), -1))
        self.generated_rows.append(generated.reshape(len(generated), -1))

    def add_histograms(
        self, real: np.ndarray, generated: np.ndarray, columns: list[str], stem: str, caption: str
    ) -> None:
        """Ratio histograms of ``(N, F)`` real and generated values, and per-column summaries.

        Columns whose real values are all the same (the total intensity of images
        normalised to unit sum) are summarised but not drawn: they have no shape.
        """
        shown = [index for index in range(len(columns)) if _varies(real[:, index])]
        if shown:
            figure = ratio_histograms_figure(
                [
                    HistogramSample(REAL, real[:, shown], self.real_weights),
                    HistogramSample(GENERATED, generated[:, shown], self.generated_weights),
                ],
                [columns[index] for index in shown],
                style=self.style,
            )
            self.plots.append(save_figure(figure, self.plots_dir / stem, caption))
        for index, column in enumerate(columns):
            self.features[column] = self._summary(real[:, index], generated[:, index])

    def _summary(self, real: np.ndarray, generated: np.ndarray) -> dict[str, float]:
        generated_weights = (
            np.ones(len(generated)) if self.generated_weights is None else self.generated_weights
        )
        real_mean, real_std = _mean_and_std(real, self.real_weights)
        generated_mean, generated_std = _mean_and_std(generated, generated_weights)
        ks = weighted.ks_test(real, self.real_weights, generated, generated_weights)
        return {
            "real_mean": real_mean,
            "generated_mean": generated_mean,
            "real_std": real_std,
            "generated_std": generated_std,
            "ks_statistic": ks.statistic,
        }


def _varies(values: np.ndarray) -> bool:
    """Whether the values spread beyond rounding (not one value for every event)."""
    values = np.asarray(values, np.float64)
    spread = float(np.ptp(values)) if len(values) else 0.0
    return spread > 1e-6 * max(float(np.abs(values).max(initial=0.0)), 1e-30)


def _mean_and_std(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted mean and standard deviation."""
    values = np.asarray(values, np.float64)
    total = float(np.sum(weights))
    mean = float(np.sum(weights * values) / total)
    variance = float(np.sum(weights * (values - mean) ** 2) / total)
    return mean, float(np.sqrt(max(variance, 0.0)))


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    return float(np.sum(weights * values) / np.sum(weights))


def _compare_tabular(
    comparison: _Comparison, info: InputInfo, real: np.ndarray, generated: np.ndarray
) -> None:
    comparison.add_histograms(
        real,
        generated,
        list(info.columns),
        f"generated_{safe_branch_name(info.name)}",
        f"Input {info.name}: generated events (lines) against the test split (points), each "
        "normalised to unit area; below, the ratio generated / real (grey band: the test "
        "split's statistical uncertainty).",
    )


def _compare_images(
    comparison: _Comparison, info: InputInfo, real: np.ndarray, generated: np.ndarray
) -> None:
    images = np.concatenate([real, generated])
    labels = np.repeat([0, 1], [len(real), len(generated)])
    generated_weights = (
        np.ones(len(generated))
        if comparison.generated_weights is None
        else comparison.generated_weights
    )
    weights = np.concatenate([comparison.real_weights, generated_weights])
    stem = safe_branch_name(info.name)
    comparison.plots.append(
        save_figure(
            class_average_figure(
                images, labels, weights, [REAL, GENERATED], style=comparison.style
            ),
            comparison.plots_dir / f"generated_{stem}_average",
            f"Input {info.name}: the weighted average image of the test split and of the "
            "generated events (summed over channels, log colour scale).",
        )
    )
    comparison.add_histograms(
        _image_summaries(real),
        _image_summaries(generated),
        [f"{info.name} {summary}" for summary in IMAGE_SUMMARIES],
        f"generated_{stem}_summaries",
        f"Input {info.name}: per image, the total intensity (sum of all pixels and channels; "
        "not drawn when every real image has the same, e.g. unit-sum images), the largest "
        "pixel and the number of non-empty pixels (> 0, over all channels), generated against "
        "the test split, each normalised to unit area, with the ratio generated / real.",
    )


def _image_summaries(images: np.ndarray) -> np.ndarray:
    """``(N, 3)``: each image's total intensity, largest pixel and non-empty pixels."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    return np.stack([flat.sum(axis=1), flat.max(axis=1), (flat > 0).sum(axis=1)], axis=1)


def _loss_metrics(run: RunDirectory, predictions: dict[str, Predictions]) -> dict[str, Any]:
    """The weighted mean per-event loss on each split: a flow's negative log-likelihood."""
    key = model_family(run.config().model.name).event_loss_name
    return {
        key: {
            split: _weighted_mean(values.scores, values.weights)
            for split, values in predictions.items()
        }
    }


def evaluate_generative(
    run: RunDirectory, dataset: Dataset, scorer: Scorer, settings: EvaluationConfig
) -> tuple[dict[str, Any], list[SavedPlot], dict[str, Predictions]]:
    """Metrics and plots of a generative run on data loaded with its preprocessing.

    Parameters
    ----------
    run : RunDirectory
        A finished generative run.
    dataset : Dataset
        Its data (or other data with the same inputs), preprocessed as in training.
    scorer : Scorer
        Gives the model's per-event loss (a flow's negative log-likelihood).
    settings : EvaluationConfig
        The plot style.

    Returns
    -------
    tuple
        ``metrics.json`` content, the saved plots, and the per-event losses per split.
    """
    check_style(settings.style)
    seed = run.config().seed
    predictions = {split: split_predictions(dataset, scorer, split) for split in ("train", "test")}
    test = dataset.arrays("test")
    sampler = Sampler(run)
    conditions = {name: test[name] for name in sampler.conditions}
    drawn = sampler.draw(len(test["weight"]), conditions, seed=seed)
    comparison = _Comparison(
        real_weights=test["weight"].astype(np.float64),
        generated_weights=test["weight"].astype(np.float64) if conditions else None,
        style=settings.style,
        plots_dir=run.path / "plots",
    )
    for name, info in sampler.schema.items():
        real = sampler.physical(name, test[name])
        if name in sampler.conditions:
            comparison.add_rows(real, real)
            continue
        generated = sampler.physical(name, drawn[name])
        if info.kind == "particles":
            real = real * test[mask_key(name)][..., np.newaxis]
            generated = generated * drawn[mask_key(name)][..., np.newaxis]
        comparison.add_rows(real, generated)
        if info.kind == "tabular":
            _compare_tabular(comparison, info, real, generated)
        elif info.kind == "image":
            _compare_images(comparison, info, real, generated)
    result = two_sample_test(
        np.concatenate(comparison.real_rows, axis=1),
        np.concatenate(comparison.generated_rows, axis=1),
        first_weights=comparison.real_weights,
        second_weights=comparison.generated_weights,
        seed=seed,
    )
    metrics: dict[str, Any] = {
        "task": "generative",
        "model": run.config().model.name,
        "conditions": sampler.conditions,
        "events": {
            "train": len(predictions["train"]),
            "test": len(predictions["test"]),
            "generated": len(test["weight"]),
        },
        "two_sample": result.to_dict(),
        **_loss_metrics(run, predictions),
        "features": comparison.features,
    }
    return metrics, comparison.plots, predictions
