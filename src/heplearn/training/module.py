"""The LightningModule: a registry model, its weighted loss, optimiser and schedule."""

import math
import time
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from heplearn.data.batch import MASK_SUFFIX, Batch, is_mask_key
from heplearn.errors import HeplearnError
from heplearn.models.base import LearnsInputs
from heplearn.roc import auc, roc_curve
from heplearn.training.config import TrainingConfig
from heplearn.training.task import Task, weighted_mean

# The logger writes the step metrics every this many steps (Trainer's log_every_n_steps).
LOG_EVERY_N_STEPS = 50
# The progress bar's step loss is updated at most this often.
STEP_DISPLAY_SECONDS = 0.5


class TrainingDivergedError(HeplearnError):
    """The loss became NaN or infinite."""


class RunModule(L.LightningModule):
    """Trains one model of the registry on batch dictionaries.

    Parameters
    ----------
    model : nn.Module
        Takes the batch dictionary and returns ``(batch, n_outputs)``.
    task : Task
        Loss and output conversion.
    training : TrainingConfig
        Optimiser, schedule and epochs.
    trim_padding : bool
        Cut every batch's particles inputs after the last slot any of its events fills
        (:func:`trimmed`), for a model whose family is ``padding_invariant``: the same
        outputs and gradients for less work when jets are much shorter than the padding.
    """

    def __init__(
        self, model: nn.Module, task: Task, training: TrainingConfig, trim_padding: bool = False
    ) -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.training_config = training
        self.trim_padding = trim_padding
        self._validation: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._train_loss = _EpochLoss()
        self._val_loss = _EpochLoss()
        self._step_shown = -math.inf

    def forward(self, batch: Batch) -> torch.Tensor:
        """Model outputs (logits or values) for a batch."""
        return self.model(trimmed(batch) if self.trim_padding else batch)

    def event_losses(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The loss of every event, and the outputs when the loss was computed from them.

        Supervised tasks compare the outputs with the labels; a model that learns its
        inputs (autoencoder, flow) computes its own losses.
        """
        if self.task.learns_inputs:
            assert isinstance(self.model, LearnsInputs)
            return self.model.event_losses(batch), None
        outputs = self(batch)
        return self.task.event_losses(outputs, batch["label"]), outputs

    def training_step(self, batch: Batch, batch_index: int) -> torch.Tensor:
        """Weighted loss of one batch; a NaN or infinite loss stops the run."""
        loss = weighted_mean(self.event_losses(batch)[0], batch["weight"])
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"the training loss became {loss.item()} at epoch {self.current_epoch}, "
                f"step {self.global_step}; the last good weights are in checkpoints/last.ckpt. "
                "Lower training.optimizer.lr, set training.gradient_clip, or check the inputs"
            )
        # A log call costs about as much as the whole step of a small model: the epoch's
        # loss is summed here and logged once, at its last batch; the step loss only as
        # often as the progress bar or the logger show it.
        self._train_loss.add(loss, len(batch["weight"]))
        if self.training_config.shows_steps and self._step_is_shown():
            self.log("loss", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=1)
        if self.trainer.is_last_batch:
            self._log_epoch_loss("train_loss", self._train_loss, prog_bar=False)
        return loss

    def _step_is_shown(self) -> bool:
        """Whether this step's loss is shown: on the steps the logger writes (every
        :data:`LOG_EVERY_N_STEPS`), at the end of an epoch, and otherwise for the progress
        bar at most every :data:`STEP_DISPLAY_SECONDS`."""
        now = time.monotonic()
        logged = (self.global_step + 1) % LOG_EVERY_N_STEPS == 0
        if logged or self.trainer.is_last_batch or now - self._step_shown >= STEP_DISPLAY_SECONDS:
            self._step_shown = now
            return True
        return False

    def on_train_epoch_start(self) -> None:
        """Start the sum of the epoch's training loss."""
        self._train_loss = _EpochLoss()

    def validation_step(self, batch: Batch, batch_index: int) -> None:
        """Validation loss, and the scores kept for the epoch's AUC."""
        event_losses, outputs = self.event_losses(batch)
        self._val_loss.add(weighted_mean(event_losses, batch["weight"]), len(batch["weight"]))
        if outputs is not None and self.task.kind in ("binary", "multiclass"):
            scores = self.task.scores(outputs).detach().float()
            self._validation.append((scores, batch["label"], batch["weight"]))

    def on_validation_epoch_end(self) -> None:
        """The validation loss, and the weighted AUC (one-vs-rest mean for several classes)."""
        if self._val_loss.events:
            self._log_epoch_loss("val_loss", self._val_loss, prog_bar=True)
        self._val_loss = _EpochLoss()
        if not self._validation:
            return
        scores, labels, weights = (
            torch.cat(parts) for parts in zip(*self._validation, strict=True)
        )
        self._validation.clear()
        if self.trainer.world_size > 1:
            scores, labels, weights = (self._gathered(t) for t in (scores, labels, weights))
        auc = epoch_auc(scores.cpu().numpy(), labels.cpu().numpy(), weights.cpu().numpy())
        self.log("val_auc", auc, prog_bar=True, rank_zero_only=True)

    def _log_epoch_loss(self, name: str, loss: "_EpochLoss", prog_bar: bool) -> None:
        """Log the mean loss per event over the events of every rank."""
        total = loss.sum().float()
        events = torch.tensor(float(loss.events), device=total.device)
        if self.trainer.world_size > 1:  # (streamed shares hold unequal numbers of events)
            total, events = (self._gathered(value.reshape(1)).sum() for value in (total, events))
        # every rank logs the same value (sync_dist averages equal numbers)
        self.log(
            name,
            total / events,
            prog_bar=prog_bar,
            on_step=False,
            on_epoch=True,
            sync_dist=True,
            batch_size=1,
        )

    def _gathered(self, values: torch.Tensor) -> torch.Tensor:
        """The values of every rank, one after the other (ranks may hold different numbers)."""
        size = torch.tensor([len(values)], device=values.device)
        sizes = self.all_gather(size)
        assert isinstance(sizes, torch.Tensor)
        longest = int(sizes.max())
        padded = values.new_zeros((longest, *values.shape[1:]))
        padded[: len(values)] = values
        gathered = self.all_gather(padded)
        assert isinstance(gathered, torch.Tensor)
        counts = sizes.flatten().tolist()
        return torch.cat([part[:count] for part, count in zip(gathered, counts, strict=True)])

    def configure_optimizers(self) -> Any:
        """AdamW (or Adam) with the configured schedule, stepped every optimiser step."""
        settings = self.training_config.optimizer
        optimizer_class = torch.optim.AdamW if settings.name == "adamw" else torch.optim.Adam
        optimizer = optimizer_class(
            self.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
        )
        schedule = self.training_config.schedule
        if schedule.name == "constant":
            return optimizer
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        if schedule.name == "cosine":
            scheduler: Any = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=total, eta_min=settings.lr * schedule.final_fraction
            )
        elif schedule.name == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=settings.lr,
                total_steps=total,
                pct_start=max(schedule.warmup_fraction, 1e-3),
            )
        else:
            steps_per_epoch = max(total // self.training_config.epochs, 1)
            scheduler = torch.optim.lr_scheduler.StepLR(
                optimizer, step_size=schedule.step_epochs * steps_per_epoch, gamma=schedule.gamma
            )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the random state of every rank, so a resumed run draws what the
        uninterrupted one did (ranks draw different amounts when their batches differ).

        Every rank calls this hook (rank 0 writes the file)."""
        state = torch.get_rng_state()
        checkpoint["torch_rng_state"] = state
        if self.trainer.world_size > 1:
            states = self.all_gather(state.to(self.device))
            assert isinstance(states, torch.Tensor)
            checkpoint["torch_rng_states"] = states.cpu()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore this rank's random state saved with the checkpoint."""
        states = checkpoint.get("torch_rng_states")
        if states is not None and len(states) == self.trainer.world_size:
            torch.set_rng_state(states[self.trainer.global_rank].clone())
        elif "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])


def trimmed(batch: Batch) -> Batch:
    """The batch with each particles input and its mask cut after the last slot filled.

    The slots after the last real particle of every event in the batch are padding for
    all of them; at least one slot is kept. Other entries are left as they are.
    """
    out = dict(batch)
    for key, mask in batch.items():
        if not is_mask_key(key):
            continue
        filled = mask.any(dim=0).nonzero()
        longest = int(filled.max()) + 1 if len(filled) else 1
        out[key] = mask[:, :longest]
        name = key.removesuffix(MASK_SUFFIX)
        out[name] = batch[name][:, :longest]
    return out


class _EpochLoss:
    """The mean loss per event over the batches of an epoch, kept as a sum on the device."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.events = 0

    def add(self, batch_loss: torch.Tensor, events: int) -> None:
        """Add a batch's mean loss over its ``events`` events."""
        part = batch_loss.detach() * events
        self.total = part if self.total is None else self.total + part
        self.events += events

    def sum(self) -> torch.Tensor:
        """The summed loss of the events."""
        assert self.total is not None
        return self.total


def epoch_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """Weighted AUC; for several classes the mean of the one-vs-rest AUCs."""
    if scores.ndim == 1:
        return auc(roc_curve(scores, labels == 1, weights))
    values = [
        auc(roc_curve(scores[:, k], labels == k, weights))
        for k in range(scores.shape[1])
        if (labels == k).any()
    ]
    return float(np.mean(values)) if values else math.nan
