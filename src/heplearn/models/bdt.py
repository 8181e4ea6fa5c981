"""Boosted decision trees: a scikit-learn style wrapper around histogram gradient boosting.

The ``bdt`` family is an estimator (its ``ModelFamily.estimator`` hooks): it is trained
with ``fit`` rather than by the Lightning loop. It reads the tabular inputs concatenated in
schema order (:func:`~heplearn.models.estimators.tabular_matrix`). By default it wraps
scikit-learn's ``HistGradientBoostingClassifier`` / ``HistGradientBoostingRegressor``; with
``backend: xgboost`` it wraps xgboost's ``XGBClassifier`` / ``XGBRegressor`` when
xgboost is installed.

Event weights go to the trees as ``sample_weight``. Negative weights (NLO samples) are
accepted by the scikit-learn backend, which uses them as they are in the gradients and
hessians; their total must be positive. xgboost refuses negative weights: with that
backend they are an error.
"""

from collections.abc import Iterator
from typing import Any, Literal, Self

import numpy as np
from pydantic import Field, PositiveInt

from heplearn.errors import ConfigError, InputError
from heplearn.extras import require
from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.estimators import (
    TabularEstimator,
    checked_fit_data,
    checked_weights,
)
from heplearn.models.schema import InputSchema

Task = Literal["auto", "classification", "regression"]

_N_ITER_NO_CHANGE = 10
_AUTO_EARLY_STOPPING_EVENTS = 10_000


class BDTParams(ModelParams):
    """Parameters of ``bdt``.

    The defaults keep a BDT on few inputs from learning the training sample's
    fluctuations, close to TMVA's gradient-boosted BDTG: small trees (4 leaves, as
    TMVA's depth 2), leaves of at least 2.5 % of the training events, an L2 penalty on
    leaf values, and boosting that stops once the loss on the run's validation split has
    not improved for ``n_iter_no_change`` iterations (``max_iter`` is only a ceiling). On
    the top-vs-qcd soft-drop mass + τ32 config with 360 training jets they give train and
    test AUCs 0.963 and 0.950, where scikit-learn's defaults (31 leaves, no early
    stopping, 200 trees) give 1.000 and 0.93 (``tests/models/test_bdt_overtraining.py``).
    """

    name: Literal["bdt"] = "bdt"
    backend: Literal["sklearn", "xgboost"] = "sklearn"
    max_iter: PositiveInt = Field(
        1000, description="boosting iterations at most (trees per output); early stopping ends"
    )
    learning_rate: float = Field(0.1, gt=0, description="shrinkage of every tree")
    max_depth: PositiveInt | None = Field(None, description="depth limit; none: unlimited")
    max_leaf_nodes: int | None = Field(4, ge=2, description="leaves per tree; none: unlimited")
    min_leaf_fraction: float = Field(
        0.025,
        ge=0,
        lt=0.5,
        description="smallest leaf, as a fraction of the training events (at least 20 events; "
        "sklearn backend)",
    )
    l2_regularization: float = Field(1.0, ge=0, description="L2 penalty on leaf values")
    early_stopping: Literal["auto"] | bool = Field(
        True,
        description="stop when the validation loss stalls (on the run's validation split); "
        "auto: only above 10000 events",
    )
    n_iter_no_change: PositiveInt = Field(
        _N_ITER_NO_CHANGE, description="early stopping: iterations without improvement"
    )
    validation_fraction: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="training events held out for early stopping when no validation "
        "events are given (the Python API without a run)",
    )


def _xgboost() -> Any:
    """The xgboost module, or an error naming the extra that installs it."""
    return require("xgboost", "xgboost", "model.backend: xgboost (or use backend: sklearn)")


def _sklearn_ensemble() -> Any:
    """scikit-learn's ensemble module, or a ConfigError saying how to get it."""
    try:
        from sklearn import ensemble
    except ImportError:
        raise ConfigError("model 'bdt' needs scikit-learn; `pip install scikit-learn`") from None
    return ensemble


class BoostedDecisionTrees(TabularEstimator):
    """Gradient-boosted trees with the scikit-learn estimator interface.

    ``__init__`` stores its arguments only; ``fit`` builds and trains the backend
    estimator. Fitted attributes end with ``_``.

    Parameters
    ----------
    params : BDTParams, optional
        Hyper-parameters and backend; default ``BDTParams()``.
    n_outputs : int
        The model's outputs as for the neural networks: 1 for binary classification or
        regression, K for K classes. Sets the number of classes of ``predict_proba``.
    task : {"auto", "classification", "regression"}
        ``auto`` decides at ``fit`` from the labels: an integer or boolean ``y`` is
        classification (labels ``0 .. classes-1``), a floating-point ``y`` regression.
    random_state : int or None
        Seed of the early-stopping split (and of xgboost).

    Attributes
    ----------
    estimator_ : object
        The fitted backend estimator.
    task_ : {"classification", "regression"}
        The task it was fitted for.
    classes_ : ndarray
        ``0 .. n_classes-1`` (classification only).
    n_features_in_ : int
        Columns of ``X`` seen in ``fit``.
    """

    family = "bdt"

    def __init__(
        self,
        params: BDTParams | None = None,
        n_outputs: int = 1,
        task: Task = "auto",
        random_state: int | None = 0,
    ) -> None:
        self.params = params
        self.n_outputs = n_outputs
        self.task = task
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    ) -> Self:
        """Train on ``X`` ``(events, features)`` and labels or targets ``y`` ``(events,)``.

        Parameters
        ----------
        X : ndarray
            Features, for instance from :func:`~heplearn.models.estimators.tabular_matrix`.
        y : ndarray
            Integer class labels, or floating-point regression targets.
        sample_weight : ndarray, optional
            Event weights; negative ones are allowed with the sklearn backend.
        validation : tuple of (X, y, sample_weight), optional
            Events that early stopping watches (a run passes its validation split); without
            them, early stopping holds out ``validation_fraction`` of the training events.

        Returns
        -------
        BoostedDecisionTrees
            ``self``, fitted.

        Raises
        ------
        InputError
            On mismatched shapes, non-finite weights, a total weight that is not
            positive, labels outside ``0 .. n_classes-1``, or negative weights with xgboost.
        ConfigError
            When the backend is not installed or the task does not fit ``n_outputs``.
        """
        params = self.params if self.params is not None else BDTParams()
        X, y = checked_fit_data(X, y)
        weight = (
            None if sample_weight is None else self._checked_weight(sample_weight, len(y), params)
        )
        task = self._task_of(y)
        if task == "classification":
            y = self._checked_labels(y)
        elif self.n_outputs != 1:
            raise ConfigError(f"a bdt regresses one target, not n_outputs={self.n_outputs}")
        else:
            y = y.astype(np.float64)
        held_out = self._checked_validation(validation, task, params) if validation else None
        if params.backend == "xgboost":
            estimator = self._fit_xgboost(params, task, X, y, weight, held_out)
        else:
            estimator = self._sklearn_estimator(params, task, len(y))
            if held_out is not None and estimator.early_stopping is True:
                X_val, y_val, w_val = held_out
                estimator.fit(
                    X, y, sample_weight=weight, X_val=X_val, y_val=y_val, sample_weight_val=w_val
                )
            else:
                estimator.fit(X, y, sample_weight=weight)
        self.estimator_ = estimator
        self.task_ = task
        self.n_features_in_ = X.shape[1]
        if task == "classification":
            self.classes_ = np.arange(self.n_classes)
        return self

    def staged_predictions(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """The model after each boosting iteration: what ``predict_proba`` (classification)
        or ``predict`` (regression) gives with the first 1, 2, ... trees.

        Parameters
        ----------
        X : ndarray
            Features ``(events, features)``.

        Yields
        ------
        ndarray
            ``(events, n_classes)`` probabilities, or ``(events,)`` predictions.
        """
        self._check_fitted("staged_predictions")
        X = self._checked_features(X)
        classification = self.task_ == "classification"
        if hasattr(self.estimator_, "staged_predict"):  # scikit-learn
            stages = (
                self.estimator_.staged_predict_proba(X)
                if classification
                else self.estimator_.staged_predict(X)
            )
        else:  # xgboost: the first i trees
            method = self.estimator_.predict_proba if classification else self.estimator_.predict
            trees = self.estimator_.get_booster().num_boosted_rounds()
            stages = (method(X, iteration_range=(0, i)) for i in range(1, trees + 1))
        for stage in stages:
            yield self._all_classes(stage) if classification else np.asarray(stage, np.float64)

    def _task_of(self, y: np.ndarray) -> Literal["classification", "regression"]:
        if self.task != "auto":
            return self.task
        if y.dtype.kind in "biu":
            return "classification"
        if y.dtype.kind == "f":
            return "regression"
        raise InputError(f"y must hold integer labels or float targets, not {y.dtype}")

    def _checked_labels(self, y: np.ndarray) -> np.ndarray:
        labels = y.astype(np.int64)
        if not np.array_equal(labels, y) or labels.min() < 0 or labels.max() >= self.n_classes:
            raise InputError(
                f"labels must be integers 0..{self.n_classes - 1} for n_outputs="
                f"{self.n_outputs}; found values from {y.min()} to {y.max()}"
            )
        return labels

    @staticmethod
    def _checked_weight(weight: np.ndarray, events: int, params: BDTParams) -> np.ndarray:
        weight = checked_weights(weight, events)
        negative = int((weight < 0).sum())
        if negative and params.backend == "xgboost":
            raise InputError(
                f"{negative} events have negative weights, which xgboost refuses; "
                "use backend: sklearn, or set those weights to zero"
            )
        return weight

    def _checked_validation(
        self,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        task: str,
        params: BDTParams,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        X_val, y_val, w_val = validation
        X_val = np.asarray(X_val, dtype=np.float64)
        y_val = np.asarray(y_val).reshape(-1)
        if X_val.ndim != 2 or len(X_val) != len(y_val) or len(y_val) == 0:
            raise InputError(
                f"validation X must be (events, features) with one y per event; got "
                f"{X_val.shape}, {y_val.shape}"
            )
        y_val = self._checked_labels(y_val) if task == "classification" else y_val.astype(float)
        if w_val is not None:
            w_val = self._checked_weight(w_val, len(y_val), params)
        return X_val, y_val, w_val

    def _sklearn_estimator(self, params: BDTParams, task: str, events: int) -> Any:
        ensemble = _sklearn_ensemble()
        kind = (
            ensemble.HistGradientBoostingClassifier
            if task == "classification"
            else ensemble.HistGradientBoostingRegressor
        )
        early_stopping = params.early_stopping
        if early_stopping == "auto":
            early_stopping = events > _AUTO_EARLY_STOPPING_EVENTS
        return kind(
            max_iter=params.max_iter,
            learning_rate=params.learning_rate,
            max_depth=params.max_depth,
            max_leaf_nodes=params.max_leaf_nodes,
            min_samples_leaf=min_leaf_events(params, events),
            l2_regularization=params.l2_regularization,
            early_stopping=early_stopping,
            validation_fraction=params.validation_fraction,
            n_iter_no_change=params.n_iter_no_change,
            random_state=self.random_state,
        )

    def _fit_xgboost(
        self,
        params: BDTParams,
        task: str,
        X: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray | None,
        given: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    ) -> Any:
        xgboost = _xgboost()
        stop = params.early_stopping
        if stop == "auto":
            stop = len(y) > _AUTO_EARLY_STOPPING_EVENTS
        kind = xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor
        estimator = kind(
            n_estimators=params.max_iter,
            learning_rate=params.learning_rate,
            max_depth=params.max_depth or 0,
            max_leaves=params.max_leaf_nodes or 0,
            grow_policy="lossguide",
            reg_lambda=params.l2_regularization,
            tree_method="hist",
            random_state=self.random_state,
            early_stopping_rounds=params.n_iter_no_change if stop else None,
        )
        if not stop:
            return estimator.fit(X, y, sample_weight=weight, verbose=False)
        if given is not None:  # the run's validation split
            X_val, y_val, w_val = given
            return estimator.fit(
                X,
                y,
                sample_weight=weight,
                eval_set=[(X_val, y_val)],
                sample_weight_eval_set=None if w_val is None else [w_val],
                verbose=False,
            )
        order = np.random.default_rng(self.random_state).permutation(len(y))
        held_out = max(1, round(params.validation_fraction * len(y)))
        validation, train = order[:held_out], order[held_out:]
        return estimator.fit(
            X[train],
            y[train],
            sample_weight=None if weight is None else weight[train],
            eval_set=[(X[validation], y[validation])],
            sample_weight_eval_set=None if weight is None else [weight[validation]],
            verbose=False,
        )


def min_leaf_events(params: BDTParams, events: int) -> int:
    """The smallest leaf: ``min_leaf_fraction`` of the training events, at least 20."""
    return max(20, round(params.min_leaf_fraction * events))


def build(params: BDTParams, schema: InputSchema, n_outputs: int) -> BoostedDecisionTrees:
    """An unfitted bdt for the tabular inputs of ``schema``
    (:func:`~heplearn.models.estimators.tabular_matrix`).

    Raises
    ------
    ConfigError
        When xgboost is asked for but not installed.
    """
    if params.backend == "xgboost":
        _xgboost()
    return BoostedDecisionTrees(params, n_outputs)


FAMILY = ModelFamily(
    name="bdt",
    params=BDTParams,
    build=build,
    main_kind=None,
    accepts=frozenset({"tabular"}),
    estimator=BoostedDecisionTrees.hooks(),
)
