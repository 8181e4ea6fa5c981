"""The predictions of a k-fold run: every event scored by the model that did not see it.

``test`` holds every event of the data once, each scored by the model of its fold (which
was trained and validated on the other folds): the metrics of a k-fold run are quoted on
all events. ``train`` (for the overtraining checks) holds every event once too, scored by
a model that was trained on it: the event of fold ``j`` by the model of fold ``j + 1``
(modulo K), whose training folds include fold ``j``.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from heplearn.data.spec import DatasetSpec
from heplearn.evaluation.predictions import Predictions
from heplearn.evaluation.run_data import run_predictions
from heplearn.evaluation.run_warnings import convergence_warnings
from heplearn.run_directory import RunDirectory
from heplearn.training.kfold import fold_runs


def _fold_data(run: RunDirectory, data: DatasetSpec | None, fold: int) -> DatasetSpec:
    """``data`` (default the run's) with fold ``fold`` as its test split."""
    spec = data if data is not None else run.config().data
    folds = run.config().training.folds
    split = spec.split.model_copy(update={"folds": folds, "fold": fold})
    return spec.model_copy(update={"split": split})


def concatenate(parts: Sequence[Predictions]) -> Predictions:
    """Predictions of several groups of events, one after the other."""

    def joined(arrays: list[Any]) -> np.ndarray | None:
        return None if any(a is None for a in arrays) else np.concatenate(arrays)

    return Predictions(
        scores=np.concatenate([part.scores for part in parts]),
        labels=np.concatenate([part.labels for part in parts]),
        weights=np.concatenate([part.weights for part in parts]),
        observers={
            name: np.concatenate([part.observers[name] for part in parts])
            for name in parts[0].observers
        },
        images=joined([part.images for part in parts]),
        embeddings=joined([part.embeddings for part in parts]),
    )


def kfold_predictions(
    run: RunDirectory,
    data: DatasetSpec | None = None,
    *,
    splits: Sequence[str] = ("train", "test"),
    **options: Any,
) -> dict[str, Predictions]:
    """The ``train`` and ``test`` predictions of a k-fold run (module docstring).

    Parameters
    ----------
    run : RunDirectory
        A finished k-fold run.
    data : DatasetSpec, optional
        Other data with the model's inputs (default: the run's); its events are split into
        the run's folds as the training data were.
    splits : sequence of str
        ``"train"`` and/or ``"test"``.
    **options
        Passed to :func:`heplearn.evaluation.run_data.run_predictions` (``observers``,
        ``image``, ``scoring``).
    """
    models = fold_runs(run)
    folds = len(models)
    result = {}
    if "test" in splits:
        result["test"] = concatenate(
            [
                run_predictions(model, _fold_data(run, data, fold), splits=("test",), **options)[
                    "test"
                ]
                for fold, model in enumerate(models)
            ]
        )
    if "train" in splits:
        result["train"] = concatenate(
            [
                run_predictions(
                    models[(fold + 1) % folds],
                    _fold_data(run, data, fold),
                    splits=("test",),
                    **options,
                )["test"]
                for fold in range(folds)
            ]
        )
    return result


def fold_convergence_warnings(run: RunDirectory) -> list[str]:
    """The not-converged warnings of each fold's training, naming the fold."""
    return [
        f"fold {fold}: {warning}"
        for fold, model in enumerate(fold_runs(run))
        for warning in convergence_warnings(model.history())
    ]
