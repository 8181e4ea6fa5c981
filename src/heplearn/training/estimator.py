"""Training the scikit-learn style estimators (``bdt``, ``forest``): one fit on the training
split, through the family's :class:`~heplearn.models.estimators.EstimatorHooks`."""

import time

import numpy as np
import torch

from heplearn.models.registry import build_model, model_family
from heplearn.models.schema import input_schema
from heplearn.run_directory import ESTIMATOR, HISTORY, RunDirectory
from heplearn.training.config import RunConfig
from heplearn.training.data_module import RunDataModule
from heplearn.training.history import History
from heplearn.training.module import epoch_auc
from heplearn.training.record import record_run
from heplearn.training.task import Task


def train_estimator(config: RunConfig, run: RunDirectory) -> None:
    """Fit the estimator of ``config`` with event weights and fill the run directory.

    The history holds one row per stage of the model (boosting iteration, tree of a
    forest): the weighted losses of the model with that many trees on the training and
    validation splits; the last row also holds the validation AUC and the time taken.
    """
    hooks = model_family(config.model.name).estimator
    assert hooks is not None  # (fit.train sends only estimator families here)
    started = time.perf_counter()
    data = RunDataModule(config)
    data.prepare()
    task = Task.of(data.spec, data.n_classes, config.training.loss)
    record_run(run, config, data, task)
    schema = input_schema(data.spec)
    model = build_model(config.model, schema, task.n_outputs)
    model.random_state = config.training_seed
    train, validation = data.arrays("train"), data.arrays("validation")
    model.fit(
        hooks.features(train, schema),
        train["label"],
        sample_weight=train["weight"],
        validation=(hooks.features(validation, schema), validation["label"], validation["weight"]),
    )

    splits = {"train": train, "val": validation}
    stages = [model.staged_predictions(hooks.features(a, schema)) for a in splits.values()]
    rows: list[dict[str, float]] = []
    for iteration, predictions in enumerate(zip(*stages, strict=True), start=1):
        row = {"iteration": float(iteration)}
        for (split, arrays), predicted in zip(splits.items(), predictions, strict=True):
            outputs = _outputs(task, predicted)
            labels, weights = torch.from_numpy(arrays["label"]), torch.from_numpy(arrays["weight"])
            row[f"{split}_loss"] = float(task.weighted_loss(outputs, labels, weights))
        rows.append(row)
    row = rows[-1]
    if task.kind != "regression":  # (outputs: the validation split with every tree)
        row["val_auc"] = epoch_auc(
            task.scores(outputs).numpy(), validation["label"], validation["weight"]
        )
    row["seconds"] = time.perf_counter() - started
    history = History(run.path / HISTORY)
    history.rows = rows
    history.write()
    hooks.save(model, run.path / ESTIMATOR)
    run.update_info(
        status="finished",
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        best_val_loss=row["val_loss"],
        epochs=1,
    )


def _outputs(task: Task, predictions: np.ndarray) -> torch.Tensor:
    """The estimator's predictions (probabilities or values) as the logits (or values) a
    network would give."""
    if task.kind == "regression":
        return torch.from_numpy(np.asarray(predictions, np.float64)[:, None])
    probabilities = np.clip(predictions, 1e-7, 1 - 1e-7)
    if task.kind == "binary":
        p = probabilities[:, 1]
        return torch.from_numpy(np.log(p / (1 - p))[:, None])
    return torch.from_numpy(np.log(probabilities))
