"""``forest``: a random forest (scikit-learn) on the tabular inputs, with event weights.

Breiman's random forest, one of the classic methods beside boosted trees: many deep
trees, each grown on a bootstrap sample of the events with a random subset of the
features considered at every split, and their predictions averaged. Averaging lowers the
variance of the single trees without boosting's sequential fit, so it needs little tuning.
Leaves hold at least ``min_leaf_fraction`` of the training events, which keeps a forest on
a few inputs from memorising the training sample. Event weights enter the splits and the
leaf values; negative weights are refused (a tree's impurity needs positive weights).
"""

from collections.abc import Iterator
from typing import Literal, Self

import numpy as np
from pydantic import Field, PositiveInt

from heplearn.errors import ConfigError, InputError
from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.estimators import (
    TabularEstimator,
    Validation,
    checked_fit_data,
    checked_weights,
)
from heplearn.models.schema import InputSchema


class ForestParams(ModelParams):
    """Parameters of ``forest``."""

    name: Literal["forest"] = "forest"
    n_estimators: PositiveInt = Field(200, description="trees in the forest")
    max_depth: PositiveInt | None = Field(None, description="depth limit; none: unlimited")
    min_leaf_fraction: float = Field(
        0.005,
        ge=0,
        lt=0.5,
        description="smallest leaf, as a fraction of the training events (at least 5 events)",
    )
    max_features: Literal["sqrt", "log2", "all"] = Field(
        "sqrt", description="features tried at each split: sqrt or log2 of them, or all"
    )


class RandomForest(TabularEstimator):
    """A random forest with the estimator interface of :mod:`heplearn.models.estimators`.

    Parameters
    ----------
    params : ForestParams, optional
        Forest settings (defaults if omitted).
    n_outputs : int
        Classes of a classification (1 or 2 for binary), 1 for a regression.
    random_state : int or None
        Seed of the bootstrap samples and feature choices.
    """

    family = "forest"

    def __init__(
        self, params: ForestParams | None = None, n_outputs: int = 1, random_state: int | None = 0
    ) -> None:
        self.params = params if params is not None else ForestParams()
        self.n_outputs = n_outputs
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        validation: Validation | None = None,
    ) -> Self:
        """Grow the trees on ``X`` ``(events, features)`` and labels or targets ``y``.

        Integer ``y`` is a classification into ``n_classes`` classes, floating-point ``y``
        a regression. ``validation`` is accepted for the common interface and not used:
        a forest does not stop early.

        Raises
        ------
        InputError
            On mismatched shapes, negative, non-finite or all-zero weights, or labels
            outside ``0 .. n_classes-1``.
        """
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        X, y = checked_fit_data(X, y)
        weight = None if sample_weight is None else _positive_weights(sample_weight, len(y))
        classification = y.dtype.kind in "biu"
        if classification and (y.min() < 0 or y.max() >= self.n_classes):
            raise InputError(f"labels must lie in 0..{self.n_classes - 1}; got {np.unique(y)}")
        if not classification and self.n_outputs != 1:
            raise ConfigError(f"a forest regresses one target, not n_outputs={self.n_outputs}")
        kind = RandomForestClassifier if classification else RandomForestRegressor
        params = self.params
        self.estimator_ = kind(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth,
            min_samples_leaf=max(5, round(params.min_leaf_fraction * len(y))),
            max_features=None if params.max_features == "all" else params.max_features,
            random_state=self.random_state,
        ).fit(X, y, sample_weight=weight)
        self.task_ = "classification" if classification else "regression"
        self.n_features_in_ = X.shape[1]
        return self

    def staged_predictions(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """The forest of the first 1, 2, ... trees: the running mean of the trees'
        probabilities (classification) or predictions (regression)."""
        self._check_fitted("staged_predictions")
        X = self._checked_features(X).astype(np.float32)  # (what the trees compare)
        classification = self.task_ == "classification"
        total: np.ndarray | None = None
        for count, tree in enumerate(self.estimator_.estimators_, start=1):
            stage = tree.predict_proba(X, check_input=False) if classification else tree.predict(X)
            total = stage.astype(np.float64) if total is None else total + stage
            mean = total / count
            yield self._all_classes(mean) if classification else mean


def _positive_weights(sample_weight: np.ndarray, events: int) -> np.ndarray:
    weight = checked_weights(sample_weight, events)
    negative = int((weight < 0).sum())
    if negative:
        raise InputError(
            f"{negative} events have negative weights, which a random forest cannot use; "
            "use model.name: bdt (boosting accepts them), or drop or absorb them in the spec"
        )
    return weight


def build(params: ForestParams, schema: InputSchema, n_outputs: int) -> RandomForest:
    """An unfitted forest for the tabular inputs of ``schema``."""
    return RandomForest(params, n_outputs)


FAMILY = ModelFamily(
    name="forest",
    params=ForestParams,
    build=build,
    main_kind=None,
    accepts=frozenset({"tabular"}),
    estimator=RandomForest.hooks(),
)
