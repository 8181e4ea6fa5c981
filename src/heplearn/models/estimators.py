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
from typing import Any, Protocol, Self, TypeVar

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
