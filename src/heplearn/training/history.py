"""``history.csv``: one row per epoch, kept in the checkpoints so a resumed run continues it."""

import time
from pathlib import Path
from typing import Any

import lightning as L

from heplearn.files import write_text_atomic

COLUMNS = ("epoch", "iteration", "train_loss", "val_loss", "val_auc", "lr", "seconds")


class History(L.Callback):
    """Records losses, validation AUC, learning rate and time per epoch.

    Parameters
    ----------
    path : Path
        Where ``history.csv`` is written (rewritten atomically after every epoch).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, float]] = []
        self._started = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """Start the epoch's clock."""
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """Add the epoch's row and rewrite the file (rank zero only)."""
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        row = {"epoch": float(trainer.current_epoch)}
        for name in ("train_loss", "val_loss", "val_auc"):
            if name in metrics:
                row[name] = float(metrics[name])
        row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        row["seconds"] = time.perf_counter() - self._started
        self.rows.append(row)
        if trainer.is_global_zero:
            self.write()

    def write(self) -> None:
        """Write the rows as CSV (columns that never appeared are left out)."""
        columns = [c for c in COLUMNS if any(c in row for row in self.rows)]
        lines = [",".join(columns)]
        lines += [",".join(f"{row.get(c, float('nan')):.6g}" for c in columns) for row in self.rows]
        write_text_atomic(self.path, "\n".join(lines) + "\n")

    def state_dict(self) -> dict[str, Any]:
        """The rows so far (saved in every checkpoint)."""
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from the rows of a checkpoint."""
        self.rows = list(state_dict["rows"])
