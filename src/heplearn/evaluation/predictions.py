"""What the evaluation receives: a model's outputs on one split, and the task they solve.

:class:`Predictions` is the whole contract between a trained model and
:mod:`heplearn.evaluation`: arrays only, no run directory, no model. The shapes per task are

============  ==========================  ======================================
task          ``scores``                  ``labels``
============  ==========================  ======================================
binary        ``(N,)`` signal probability  class index, 1 is signal, 0 background
multiclass    ``(N, K)`` probabilities     class index in ``0 .. K-1``
regression    ``(N,)`` predicted value     true value (float)
============  ==========================  ======================================

``class_names`` names the classes in label order (two for ``binary``: background first,
then signal). For ``regression`` it may hold one name, that of the target, used on axes.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from heplearn.errors import ConfigError, InputError

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = get_args(Task)


@dataclass
class Predictions:
    """A model's outputs on one split, with the truth and the event weights.

    Arrays are converted with :func:`numpy.asarray` and checked on construction: every
    per-event array must have ``N`` entries, ``scores``, ``labels`` and ``weights`` must be
    finite. Weights may be negative (NLO samples).

    Attributes
    ----------
    scores : numpy.ndarray
        ``(N,)`` signal probability (binary) or predicted value (regression), or ``(N, K)``
        class probabilities (multiclass).
    labels : numpy.ndarray
        ``(N,)`` class index or regression target.
    weights : numpy.ndarray
        ``(N,)`` event weights.
    observers : dict of str to numpy.ndarray
        Extra per-event variables (``jet_pt``, ``jet_mass``...) for efficiency-versus-
        variable and sculpting plots; ``(N,)`` each, NaN allowed (such events are left out of
        those plots).
    images : numpy.ndarray or None
        ``(N, C, H, W)`` jet images for galleries, when the model had an image input.
    embeddings : numpy.ndarray or None
        ``(N, D)`` latent coordinates, when the model has a latent space (autoencoders).
    """

    scores: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    observers: dict[str, np.ndarray] = field(default_factory=dict)
    images: np.ndarray | None = None
    embeddings: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float64)
        self.labels = np.asarray(self.labels)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.observers = {
            name: np.asarray(values, dtype=np.float64) for name, values in self.observers.items()
        }
        if self.images is not None:
            self.images = np.asarray(self.images)
        if self.scores.ndim not in (1, 2):
            raise InputError(
                f"predictions: 'scores' must have shape (N,) or (N, K), got {self.scores.shape}"
            )
        n_events = len(self.scores)
        per_event: dict[str, np.ndarray] = {"labels": self.labels, "weights": self.weights}
        per_event |= {f"observers[{name!r}]": values for name, values in self.observers.items()}
        for name, values in per_event.items():
            if values.shape != (n_events,):
                raise InputError(
                    f"predictions: {name} has shape {values.shape}, expected ({n_events},) "
                    "like 'scores'"
                )
        if self.images is not None and (self.images.ndim != 4 or len(self.images) != n_events):
            raise InputError(
                f"predictions: 'images' has shape {self.images.shape}, expected "
                f"({n_events}, channels, height, width)"
            )
        if self.embeddings is not None:
            self.embeddings = np.asarray(self.embeddings, dtype=np.float64)
            if self.embeddings.ndim != 2 or len(self.embeddings) != n_events:
                raise InputError(
                    f"predictions: 'embeddings' has shape {self.embeddings.shape}, expected "
                    f"({n_events}, latent dimensions)"
                )
        if not np.issubdtype(self.labels.dtype, np.number):
            raise InputError(f"predictions: 'labels' must be numeric, got {self.labels.dtype}")
        for name in ("scores", "labels", "weights"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise InputError(f"predictions: {name!r} contains NaN or inf; remove those events")

    def __len__(self) -> int:
        """Number of events."""
        return len(self.scores)


def check_predictions(
    predictions: Predictions, task: str, class_names: Sequence[str], split: str
) -> None:
    """Check that predictions fit the task, with every class present and positively weighted.

    Parameters
    ----------
    predictions : Predictions
        The outputs on one split.
    task : {"binary", "multiclass", "regression"}
        What the model does.
    class_names : sequence of str
        Class names in label order; for regression, empty or the target's name.
    split : str
        Name of the split (``"train"``, ``"test"``...), used in messages.

    Raises
    ------
    ConfigError
        Unknown task, or class names that do not fit it.
    InputError
        Scores of the wrong shape, labels that are not class indices, a class without events,
        or a class (for regression: the whole split) whose total weight is not positive.
    """
    if task not in TASKS:
        raise ConfigError(f"task {task!r} is not known; use one of {list(TASKS)}")
    if len(predictions) == 0:
        raise InputError(f"{split} predictions hold no events")
    if task == "regression":
        if len(class_names) > 1:
            raise ConfigError("class_names: a regression takes at most one name, the target's")
        if predictions.scores.ndim != 1:
            raise InputError(f"{split} scores: a regression predicts one value, shape (N,)")
        if predictions.weights.sum() <= 0:
            raise InputError(f"{split} predictions: the total event weight is not positive")
        return
    n_classes = len(class_names)
    if task == "binary" and n_classes != 2:
        raise ConfigError(f"class_names: binary needs [background, signal], got {class_names}")
    if task == "multiclass" and n_classes < 2:
        raise ConfigError(f"class_names: multiclass needs at least two names, got {class_names}")
    expected_shape = (len(predictions),) if task == "binary" else (len(predictions), n_classes)
    if predictions.scores.shape != expected_shape:
        hint = "; pass the signal column, scores[:, 1]" if task == "binary" else ""
        raise InputError(
            f"{split} scores have shape {predictions.scores.shape}, expected {expected_shape} "
            f"for a {task} task with classes {list(class_names)}{hint}"
        )
    labels = predictions.labels
    if np.any(labels != np.round(labels)) or np.any((labels < 0) | (labels >= n_classes)):
        raise InputError(
            f"{split} labels must be class indices 0..{n_classes - 1} for classes "
            f"{list(class_names)}"
        )
    for index, name in enumerate(class_names):
        selected = labels == index
        if not np.any(selected):
            raise InputError(f"class {name!r} has no events in the {split} predictions")
        if predictions.weights[selected].sum() <= 0:
            raise InputError(
                f"class {name!r} has a total weight that is not positive in the {split} "
                "predictions; check its event weights"
            )


def data_summary(
    splits: Mapping[str, Predictions], task: str, class_names: Sequence[str]
) -> list[dict[str, Any]]:
    """Events and weights per split and class, as rows for the report's data table.

    Parameters
    ----------
    splits : mapping of str to Predictions
        Split name (``"train"``, ``"validation"``, ``"test"``) to its predictions.
    task : {"binary", "multiclass", "regression"}
        What the model does; a regression has one row per split (class ``"all"``).
    class_names : sequence of str
        Class names in label order.

    Returns
    -------
    list of dict
        One row per split and class with ``split``, ``class``, ``events``, ``sum_weights``,
        ``effective_events`` (``(Σw)² / Σw²``) and ``negative_weight_fraction`` (the share of
        events with a negative weight).
    """
    rows = []
    for split, predictions in splits.items():
        if task == "regression":
            groups = {"all": np.ones(len(predictions), dtype=bool)}
        else:
            groups = {name: predictions.labels == i for i, name in enumerate(class_names)}
        for name, selected in groups.items():
            weights = predictions.weights[selected]
            sum_squares = float(np.sum(weights**2))
            rows.append(
                {
                    "split": split,
                    "class": name,
                    "events": int(selected.sum()),
                    "sum_weights": float(weights.sum()),
                    "effective_events": float(weights.sum() ** 2 / sum_squares)
                    if sum_squares > 0
                    else 0.0,
                    "negative_weight_fraction": float(np.mean(weights < 0))
                    if len(weights)
                    else 0.0,
                }
            )
    return rows
