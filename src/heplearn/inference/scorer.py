"""Scores of a trained run for arrays of model inputs: what evaluate and predict share."""

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from heplearn.models.base import Embeds
from heplearn.run_directory import RunDirectory
from heplearn.training.task import Task

DEFAULT_BATCH = 4096


class Scorer:
    """Applies a run's model to preprocessed inputs, batch by batch, without gradients.

    Parameters
    ----------
    run : RunDirectory
        A finished run.
    batch_size : int
        Events per forward pass.
    """

    def __init__(self, run: RunDirectory, batch_size: int = DEFAULT_BATCH) -> None:
        self.run = run
        self.task: Task = run.task()
        self.schema = run.schema()
        self.model: Any = run.load_model()
        self.batch_size = batch_size

    @property
    def input_names(self) -> list[str]:
        """Keys of the arrays the model needs: its inputs and the masks of particle inputs."""
        names = []
        for name, info in self.schema.items():
            names.append(name)
            if info.kind == "particles":
                names.append(f"{name}_mask")
        return names

    def scores(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Signal probability ``(N,)`` (binary), probabilities ``(N, K)`` or values ``(N,)``.

        Values are the prediction (regression), the anomaly score (autoencoders) or the
        negative log-likelihood (flows).
        """
        if not isinstance(self.model, nn.Module):
            return self._estimator_scores(arrays)
        shape = (0, self.task.n_outputs) if self.task.kind == "multiclass" else (0,)
        return self._batched(lambda batch: self.task.scores(self.model(batch)), arrays, shape)

    def embeddings(self, arrays: dict[str, np.ndarray]) -> np.ndarray | None:
        """Latent coordinates ``(N, D)`` of a model with a latent space, else ``None``."""
        if not isinstance(self.model, Embeds):
            return None
        return self._batched(self.model.embed, arrays, (0, self.model.latent_dim))

    def _batched(
        self,
        function: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        arrays: dict[str, np.ndarray],
        empty_shape: tuple[int, ...],
    ) -> np.ndarray:
        """``function`` applied batch by batch without gradients, results concatenated."""
        count = len(arrays[next(iter(self.schema))])
        parts = []
        with torch.no_grad():
            for start in range(0, count, self.batch_size):
                batch = {
                    name: torch.from_numpy(
                        np.ascontiguousarray(arrays[name][start : start + self.batch_size])
                    )
                    for name in self.input_names
                }
                parts.append(function(batch).numpy())
        if not parts:
            return np.zeros(empty_shape, np.float32)
        return np.concatenate(parts)

    def _estimator_scores(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        from heplearn.models.bdt import tabular_matrix

        features = tabular_matrix(arrays, self.schema)
        if self.task.kind == "regression":
            return np.asarray(self.model.predict(features), np.float32)
        probabilities = np.asarray(self.model.predict_proba(features), np.float32)
        return probabilities[:, 1] if self.task.kind == "binary" else probabilities
