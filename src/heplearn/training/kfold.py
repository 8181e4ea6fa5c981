"""k-fold training: ``training.folds: K`` trains K models, each tested on the fold it did not see.

The analysis practice for using every simulated event: the events fall into K folds (the
event number modulo K with ``data.split.event_column``, else a hash of seed, file and
entry, :func:`heplearn.data.splits.event_folds`). Model ``k`` is tested on fold ``k``,
validated (early stopping, best epoch) on fold ``k + 1`` (modulo K) and trained on the
other ``K − 2`` folds, so K must be at least 3. Every event is then scored by the one
model that never saw it: ``evaluate`` and ``compare`` quote the metrics on all events, and
``predict`` scores each event of the training files with the model of its fold.

The run directory holds the K runs, each a complete run directory::

    RUN_DIR/
      config.yaml       the config as given (training.folds: K)
      run.json          the task, classes and inputs (as each fold's), folds, fold_runs
      fold_0/ ... fold_<K-1>/    the runs, their data.split set to folds: K, fold: k
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from heplearn.errors import InputError
from heplearn.run_directory import RunDirectory

if TYPE_CHECKING:  # predict asks is_kfold without importing the model zoo (torch)
    from heplearn.training.config import RunConfig

FOLD_DIRECTORY = "fold_{}"


def fold_config(config: "RunConfig", fold: int) -> "RunConfig":
    """The config of fold ``fold``'s model: its split set to that fold, no ``folds`` left."""
    folds = config.training.folds
    split = config.data.split.model_copy(update={"folds": folds, "fold": fold})
    data = config.data.model_copy(update={"split": split})
    training = config.training.model_copy(update={"folds": None})
    return config.model_copy(update={"data": data, "training": training})


def is_kfold(run: RunDirectory) -> bool:
    """Whether ``run`` was trained with ``training.folds``."""
    return (run.config_data().get("training") or {}).get("folds") is not None


def fold_runs(run: RunDirectory) -> list[RunDirectory]:
    """The K runs of a k-fold run, in fold order.

    Raises
    ------
    InputError
        When a fold's run is missing or unfinished.
    """
    folds = run.config().training.folds
    if folds is None:
        raise InputError(f"{run.path} is not a k-fold run (no training.folds)")
    runs = [RunDirectory(run.path / FOLD_DIRECTORY.format(k)) for k in range(folds)]
    for fold in runs:
        if not fold.exists() or fold.info().get("status") != "finished":
            raise InputError(
                f"{fold.path} holds no finished run; finish the k-fold training with "
                f"heplearn train CONFIG --out {run.path} --resume"
            )
    return runs


def train_folds(
    config: "RunConfig",
    run: RunDirectory,
    train: Callable[..., RunDirectory],
    *,
    resume: bool,
) -> RunDirectory:
    """Train the K models of ``config`` into ``run`` (already prepared with its config).

    Parameters
    ----------
    config : RunConfig
        A config with ``training.folds``.
    run : RunDirectory
        The k-fold run directory; ``config.yaml`` is written.
    train : callable
        :func:`heplearn.training.fit.train`, which trains one fold.
    resume : bool
        Skip the folds that finished, continue the one that was interrupted.

    Returns
    -------
    RunDirectory
        ``run``, finished.
    """
    folds = config.training.folds
    assert folds is not None
    names = []
    for fold in range(folds):
        directory = RunDirectory(run.path / FOLD_DIRECTORY.format(fold))
        names.append(directory.path.name)
        finished = directory.exists() and directory.info().get("status") == "finished"
        if resume and finished:
            continue
        resumable = resume and directory.last_checkpoint.is_file()
        train(fold_config(config, fold), directory.path, resume=resumable, overwrite=True)
    info = RunDirectory(run.path / names[0]).info()
    run.write_info({**info, "folds": folds, "fold_runs": names, "status": "finished"})
    return run
