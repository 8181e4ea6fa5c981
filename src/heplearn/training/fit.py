"""``heplearn train``: build the model, train it with Lightning, fill the run directory."""

import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from heplearn.errors import ConfigError, InputError
from heplearn.extras import require
from heplearn.files import atomic_path, write_text_atomic
from heplearn.models.registry import build_model, model_family
from heplearn.models.schema import input_schema
from heplearn.parallel import THREADS_VARIABLE, process_threads
from heplearn.run_directory import (
    BEST_CHECKPOINT,
    CONFIG,
    HISTORY,
    WEIGHTS,
    RunDirectory,
)
from heplearn.training.config import RunConfig, parse_run_config
from heplearn.training.data_module import RunDataModule
from heplearn.training.history import History
from heplearn.training.module import LOG_EVERY_N_STEPS, RunModule
from heplearn.training.process_group import ReleaseProcessGroup
from heplearn.training.progress import EpochProgressBar
from heplearn.training.record import record_run
from heplearn.training.task import Task

QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")
# Lightning's advice that does not apply (in-memory batches are gathered by indexing,
# small validation sets legitimately give few batches), and Lightning 2.6's use of a
# torch.utils._pytree name that torch 2.13 deprecates.
IGNORED_WARNINGS = (
    r".*does not have many workers.*",
    r".*The number of training batches .* is smaller than the logging interval.*",
    r".*isinstance\(treespec, LeafSpec\).*",
    r"Checkpoint directory .* exists and is not empty",  # (--resume continues in it)
)


def train(
    config: RunConfig | dict[str, Any],
    out: Path | str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: list[L.Callback] | None = None,
) -> RunDirectory:
    """Train the model of ``config`` and write the run directory ``out``.

    Parameters
    ----------
    config : RunConfig or dict
        The run config (a dict is validated first).
    out : Path or str
        The run directory to create (or to continue with ``resume``).
    resume : bool
        Continue a killed run from its last checkpoint; the config must be the same.
    overwrite : bool
        Replace a run already in ``out``.
    callbacks : list of lightning.Callback, optional
        Extra Lightning callbacks (neural networks only).

    Returns
    -------
    RunDirectory
        The finished run.
    """
    if not isinstance(config, RunConfig):
        config = parse_run_config(config)
    run = RunDirectory(Path(out))
    if not is_launched_rank():
        _prepare_directory(run, config, resume=resume, overwrite=overwrite)
    try:
        if config.training.folds is not None:
            from heplearn.training.kfold import train_folds

            return train_folds(config, run, train, resume=resume)
        if model_family(config.model.name).estimator:
            from heplearn.training.estimator import train_estimator

            train_estimator(config, run)
            return run
        return _train_network(config, run, resume=resume, callbacks=callbacks or [])
    except BaseException:
        # a run that fails before its first checkpoint (unreadable data, a missing logger
        # package) leaves nothing behind, so the same command can simply be run again; a
        # k-fold run keeps its finished folds for --resume (each fold cleans up after itself)
        if (
            not resume
            and not is_launched_rank()
            and not run.last_checkpoint.is_file()
            and config.training.folds is None
        ):
            shutil.rmtree(run.path, ignore_errors=True)
        raise


# Where launchers put a process's rank: Lightning's own DDP launch and a manual one
# (LOCAL_RANK, NODE_RANK), torchrun (RANK, GROUP_RANK) and SLURM's srun (SLURM_PROCID).
RANK_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "RANK", "GROUP_RANK", "SLURM_PROCID")


def is_launched_rank() -> bool:
    """True in every process of a distributed run but global rank 0 (which prepares the run
    directory and reports), however the processes were launched."""
    return any(os.environ.get(name, "0") != "0" for name in RANK_VARIABLES)


def _prepare_directory(
    run: RunDirectory, config: RunConfig, *, resume: bool, overwrite: bool
) -> None:
    if resume:
        if not run.exists():
            raise InputError(f"--resume: {run.path} holds no run to continue")
        if _training_part(run.config()) != _training_part(config):
            raise ConfigError(
                f"--resume: the config differs from the one {run.path} was started with "
                f"({run.path / CONFIG}); resume with the same config and --set options"
            )
        if config.training.folds is None and not run.last_checkpoint.is_file():
            raise InputError(
                f"--resume: {run.path} has no checkpoint yet (killed in the first epoch); "
                "start it again with --overwrite"
            )
        return
    if run.path.exists() and any(run.path.iterdir()):
        if not overwrite:
            raise InputError(
                f"{run.path} is not empty; choose another --out, continue the run there "
                "with --resume, or replace it with --overwrite"
            )
        _clear_run(run)
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the run directory {run.path}: {error.strerror}") from None
    write_text_atomic(run.path / CONFIG, config.to_yaml())


def _training_part(config: RunConfig) -> dict[str, Any]:
    """The config without its evaluation settings, which do not change the training."""
    return {k: v for k, v in config.to_dict().items() if k != "evaluation"}


def _clear_run(run: RunDirectory) -> None:
    if not run.exists():
        raise InputError(
            f"{run.path} is not a heplearn run directory; --overwrite only replaces runs"
        )
    shutil.rmtree(run.path)


def _train_network(
    config: RunConfig, run: RunDirectory, *, resume: bool, callbacks: list[L.Callback]
) -> RunDirectory:
    training = config.training
    L.seed_everything(config.training_seed, verbose=False)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    preprocessing = run.preprocessing() if resume else None
    data = RunDataModule(config, preprocessing)
    data.prepare()
    family = model_family(config.model.name)
    objective = family.objective
    assert data.preprocessing is not None
    task = Task.of(data.spec, data.n_classes, training.loss, objective, data.preprocessing.target)
    model = build_model(config.model, input_schema(data.spec), task.n_outputs)
    if training.compile:
        model = torch.compile(model)
    module = RunModule(model, task, training, trim_padding=family.padding_invariant)
    history = History(run.path / HISTORY)
    checkpoints = ModelCheckpoint(
        dirpath=run.checkpoints,
        filename=Path(BEST_CHECKPOINT).stem,
        monitor="val_loss",
        save_last=True,
        save_top_k=1,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    callbacks = [history, checkpoints, ReleaseProcessGroup(), *callbacks]
    if training.progress_bar:
        callbacks.append(EpochProgressBar())
    if training.early_stopping is not None:
        callbacks.append(
            EarlyStopping(
                monitor="val_loss",
                patience=training.early_stopping.patience,
                min_delta=training.early_stopping.min_delta,
                check_on_train_epoch_end=True,
            )
        )
    trainer = L.Trainer(
        max_epochs=training.epochs,
        accelerator=training.accelerator,
        devices=training.devices,
        num_nodes=training.num_nodes,
        strategy=_strategy(training.strategy),
        precision=training.precision,
        gradient_clip_val=training.gradient_clip,
        callbacks=callbacks,
        logger=_logger(training.logger, run.path),
        enable_progress_bar=training.progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        reload_dataloaders_every_n_epochs=1 if training.streaming else 0,
        default_root_dir=run.path,
        # Collecting the step metrics costs more than the step of a small model: only
        # for a logger, every LOG_EVERY_N_STEPS steps.
        log_every_n_steps=LOG_EVERY_N_STEPS if training.logger != "none" else 0,
    )
    data.check_shares(trainer.world_size)  # (before any other process starts)
    if trainer.is_global_zero and not resume:
        record_run(run, config, data, task)
    with warnings.catch_warnings(), _threads(training.threads, _local_processes(trainer)):
        for pattern in IGNORED_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        trainer.fit(module, datamodule=data, ckpt_path=run.last_checkpoint if resume else None)
    if trainer.is_global_zero:
        _finish(run, checkpoints, module)
    return run


def _local_processes(trainer: L.Trainer) -> int:
    """The processes that share this process's cores: one per device of the node when
    Lightning starts them (``--devices N``); one when a launcher started this process on
    its own (srun gives it its cores, torchrun sets ``OMP_NUM_THREADS``)."""
    environment = getattr(trainer.strategy, "cluster_environment", None)
    if environment is not None and environment.creates_processes_externally:
        return 1
    return trainer.num_devices


@contextmanager
def _threads(requested: int | None, local_processes: int) -> Iterator[None]:
    """This process's share of the cores while it trains
    (:func:`heplearn.parallel.process_threads`); the caller's threads afterwards.

    An explicit number is also put in ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``, which
    Lightning's launcher keeps (it sets cores / N only where the first is unset) and its
    ranks inherit (a ``MKL_NUM_THREADS=1`` left by a dask nanny would otherwise give a
    rank one thread).
    """
    threads = process_threads(requested, local_processes)
    if threads is None:
        yield
        return
    names = (THREADS_VARIABLE, "MKL_NUM_THREADS")
    before, variables = torch.get_num_threads(), {n: os.environ.get(n) for n in names}
    torch.set_num_threads(threads)
    if requested and local_processes > 1:
        os.environ.update(dict.fromkeys(names, str(threads)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
        for name, variable in variables.items():
            if variable is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = variable


def _finish(run: RunDirectory, checkpoints: ModelCheckpoint, module: RunModule) -> None:
    """Save the best epoch's weights as ``model.pt`` and mark the run finished."""
    best = checkpoints.best_model_path or str(run.last_checkpoint)
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    weights = {
        key.removeprefix("model.").replace("_orig_mod.", ""): value
        for key, value in state.items()
        if key.startswith("model.")
    }
    with atomic_path(run.path / WEIGHTS) as temporary:
        torch.save(weights, temporary)
    run.update_info(
        status="finished",
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        best_checkpoint=Path(best).name,
        best_val_loss=float(checkpoints.best_model_score)
        if checkpoints.best_model_score is not None
        else None,
        epochs=int(module.current_epoch),
    )


def _strategy(name: str) -> Any:
    if name != "ddp" and name != "ddp_spawn":
        return name
    from lightning.pytorch.strategies import DDPStrategy

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if name == "ddp_spawn":
        return DDPStrategy(process_group_backend=backend, start_method="spawn")
    return DDPStrategy(process_group_backend=backend, start_method="popen")


def _logger(name: str, run_path: Path) -> Any:
    if name == "none":
        return False
    require(name, "tracking", f"training.logger: {name} (or set training.logger: none)")
    if name == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=run_path / "logs", name="", version="")
    from lightning.pytorch.loggers import MLFlowLogger

    # MLflow 3 refuses its file store: an SQLite database in the run directory (view it with
    # mlflow ui --backend-store-uri sqlite:///RUN/logs/mlflow.db), artifacts beside it
    logs = run_path.resolve() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return MLFlowLogger(
        experiment_name=run_path.name,
        run_name=run_path.name,
        tracking_uri=f"sqlite:///{logs / 'mlflow.db'}",
        artifact_location=(logs / "artifacts").as_uri(),
    )
