"""What an estimator family provides: a scikit-learn style model trained without Lightning.

A family whose ``ModelFamily.estimator`` is an :class:`EstimatorHooks` builds a model that
follows :class:`Estimator`. Training (:mod:`heplearn.training.estimator`), the run
directory and scoring reach the model through these hooks and that protocol only, so a
new estimator family is one new file in ``models/`` (see ``bdt`` and ``forest``).
"""

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, TypeVar

import numpy as np

from heplearn.errors import ConfigError, InputError
from heplearn.models.schema import InputSchema

Validation = tuple[np.ndarray, np.ndarray, np.ndarray | None]
"""Events a fit may watch (features, labels or targets, weights): the validation split."""


class Estimator(Protocol):
    """The model of an estimator family: fitted on features ``(events, features)``."""

    random_state: int | None

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        validation: Validation | None = None,
    ) -> Self:
        """Train on integer labels (classification) or float targets (regression)."""
        ...

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (classification) or values (regression), ``(events,)``."""
        ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities of every class, ``(events, classes)``."""
        ...

    def staged_predictions(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """The model as it grew (per tree, per boosting iteration): ``predict_proba`` or
        ``predict`` of each stage, the last being the fitted model."""
        ...


@dataclass(frozen=True)
class EstimatorHooks:
    """What training, the run directory and scoring need of an estimator family.

    Attributes
    ----------
    features : callable
        ``features(arrays, schema) -> (events, features)``: the matrix the model reads
        from a batch dictionary (``Dataset.arrays(split)``).
    save : callable
        ``save(model, path)``: write a fitted model, atomically.
    load : callable
        ``load(path) -> model``: read what ``save`` wrote.
    """

    features: Callable[[Mapping[str, np.ndarray], InputSchema], np.ndarray]
    save: Callable[[Any, Path], None]
    load: Callable[[Path], Any]


def tabular_matrix(inputs: Mapping[str, np.ndarray], schema: InputSchema) -> np.ndarray:
    """The feature matrix of an estimator: every tabular input of ``schema``, side by side.

    Parameters
    ----------
    inputs : dict of str to ndarray
        A batch dictionary (for instance ``Dataset.arrays(split)``); each tabular input
        is ``(events, features)``.
    schema : InputSchema
        The inputs the model reads (``select_inputs``); their order is the column order.

    Returns
    -------
    ndarray
        ``float64`` ``(events, sum of features)``.

    Raises
    ------
    ConfigError
        When the schema holds a non-tabular input or none at all.
    InputError
        When an input is missing from ``inputs`` or has the wrong shape.
    """
    wrong = [f"{name} ({info.kind})" for name, info in schema.items() if info.kind != "tabular"]
    if wrong or not schema:
        raise ConfigError(
            f"an estimator reads tabular inputs only, not {', '.join(wrong) or 'nothing'}"
        )
    columns = []
    for name, info in schema.items():
        if name not in inputs:
            raise InputError(f"input {name!r} is missing; the arrays hold {', '.join(inputs)}")
        values = np.asarray(inputs[name], dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != info.features:
            raise InputError(
                f"input {name!r} has shape {values.shape}; expected (events, {info.features})"
            )
        columns.append(values)
    return np.concatenate(columns, axis=1)


def checked_fit_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as ``float64`` ``(events, features)`` and ``y`` flat, one per event.

    Raises
    ------
    InputError
        When ``X`` is not two-dimensional or ``y`` has another number of events.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or len(X) != len(y):
        raise InputError(
            f"X must be (events, features) with one y per event; got {X.shape}, {y.shape}"
        )
    return X, y


def checked_weights(sample_weight: np.ndarray, events: int) -> np.ndarray:
    """Event weights as ``float64``: one per event, finite, with a positive total.

    Negative weights are left to the family (boosting can use them, a forest cannot).

    Raises
    ------
    InputError
        On a wrong length, NaN or inf, or a total that is not positive.
    """
    weight = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if len(weight) != events:
        raise InputError(f"sample_weight has {len(weight)} entries for {events} events")
    if not np.all(np.isfinite(weight)):
        raise InputError(f"sample_weight has {int((~np.isfinite(weight)).sum())} NaN or inf")
    if weight.sum() <= 0:
        raise InputError(f"the total event weight is {weight.sum():g}; it must be positive")
    return weight


def save_pickle(model: object, path: Path | str) -> None:
    """Write ``model`` with ``joblib`` (a pickle) under a temporary name, then rename it.

    The file is a pickle: load it only from runs you trust, as loading a pickle can run
    arbitrary code.
    """
    import joblib

    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        joblib.dump(model, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


Model = TypeVar("Model")


def load_pickle(path: Path | str, kind: type[Model], name: str) -> Model:
    """Read a ``kind`` written by :func:`save_pickle`; only from trusted runs (a pickle).

    Raises
    ------
    InputError
        When the file is missing or holds something else than a ``kind``.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no saved {name} there")
    model = joblib.load(path)
    if not isinstance(model, kind):
        raise InputError(f"{path} holds a {type(model).__name__}, not a {name}")
    return model


class TabularEstimator:
    """What the estimator families share once fitted: the class columns, the checks on
    ``X``, ``predict_proba``/``predict`` and pickling.

    A subclass names itself in ``family`` (for messages) and its ``fit`` sets
    ``estimator_`` (the scikit-learn style model), ``task_`` (``"classification"`` or
    ``"regression"``) and ``n_features_in_``; ``n_outputs`` is 1 for a binary
    classification or a regression, K for K classes.
    """

    family: ClassVar[str]
    n_outputs: int
    estimator_: Any
    task_: str
    n_features_in_: int

    @classmethod
    def hooks(cls) -> EstimatorHooks:
        """The family's :class:`EstimatorHooks`: the tabular inputs side by side
        (:func:`tabular_matrix`), :meth:`save` and this class's :meth:`load`."""
        return EstimatorHooks(features=tabular_matrix, save=cls.save, load=cls.load)

    @property
    def n_classes(self) -> int:
        """Classes of a classification: ``max(2, n_outputs)``."""
        return max(2, self.n_outputs)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(events, n_classes)``, columns in label order."""
        self._check_fitted("predict_proba")
        if self.task_ != "classification":
            raise ConfigError(f"predict_proba needs a classification {self.family}; use predict")
        return self._all_classes(self.estimator_.predict_proba(self._checked_features(X)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class (classification) or the predicted target (regression)."""
        self._check_fitted("predict")
        if self.task_ == "classification":
            return np.argmax(self.predict_proba(X), axis=1)
        return np.asarray(self.estimator_.predict(self._checked_features(X)), dtype=np.float64)

    def save(self, path: Path | str) -> None:
        """Write the fitted model with ``joblib`` (a pickle), atomically.

        The file is a pickle: load it only from runs you trust, as loading a pickle can
        run arbitrary code.
        """
        self._check_fitted("save")
        save_pickle(self, path)

    @classmethod
    def load(cls, path: Path | str) -> Self:
        """Read a model written by :meth:`save`; only for files from trusted runs (a pickle).

        Raises
        ------
        InputError
            When the file is missing or does not hold a model of this family.
        """
        return load_pickle(path, cls, cls.family)

    def _all_classes(self, probabilities: np.ndarray) -> np.ndarray:
        """Probabilities with a column for every class, also those absent from the fit."""
        full = np.zeros((len(probabilities), self.n_classes))
        full[:, np.asarray(self.estimator_.classes_, dtype=int)] = probabilities
        return full

    def _checked_features(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has shape {X.shape}; the {self.family} was fitted on "
                f"{self.n_features_in_} features"
            )
        return X

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "estimator_"):
            raise ConfigError(f"call fit before {method}: this {self.family} is not trained")
