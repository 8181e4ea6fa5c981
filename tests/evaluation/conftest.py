"""Synthetic predictions for the evaluation tests: seeded, a few thousand events each."""

from collections.abc import Callable

import numpy as np
import pytest

from heplearn.evaluation.predictions import Predictions


@pytest.fixture(scope="session")
def binary_predictions() -> Callable[..., Predictions]:
    """Return a maker of binary predictions: logistic scores of two shifted Gaussians.

    The signal (label 1) has a heavier ``jet_mass`` observer; weights are uniform in
    [0.5, 1.5]; ``images=True`` adds ``(N, 1, 8, 8)`` sparse images.
    """

    def make(
        n: int = 2000, *, seed: int = 0, separation: float = 1.5, images: bool = False
    ) -> Predictions:
        generator = np.random.default_rng(seed)
        labels = generator.integers(0, 2, n)
        scores = 1 / (1 + np.exp(-generator.normal(separation * (labels - 0.5), 1.0)))
        pixels = generator.exponential(1.0, (n, 1, 8, 8)) * (generator.random((n, 1, 8, 8)) < 0.3)
        return Predictions(
            scores=scores,
            labels=labels,
            weights=generator.uniform(0.5, 1.5, n),
            observers={"jet_mass": generator.normal(80 + 40 * labels, 25)},
            images=pixels if images else None,
        )

    return make


@pytest.fixture(scope="session")
def multiclass_predictions() -> Callable[..., Predictions]:
    """Return a maker of four-class predictions: softmax of noisy logits favouring the truth."""

    def make(n: int = 1500, *, seed: int = 0, n_classes: int = 4) -> Predictions:
        generator = np.random.default_rng(seed)
        labels = generator.integers(0, n_classes, n)
        logits = generator.normal(0.0, 1.0, (n, n_classes))
        logits[np.arange(n), labels] += 2.0
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Predictions(probabilities, labels, generator.uniform(0.5, 1.5, n))

    return make


@pytest.fixture(scope="session")
def regression_predictions() -> Callable[..., Predictions]:
    """Return a maker of regression predictions: target N(100, 20), error N(bias, 5)."""

    def make(n: int = 1500, *, seed: int = 0, bias: float = 0.0) -> Predictions:
        generator = np.random.default_rng(seed)
        target = generator.normal(100.0, 20.0, n)
        return Predictions(target + generator.normal(bias, 5.0, n), target, np.ones(n))

    return make
