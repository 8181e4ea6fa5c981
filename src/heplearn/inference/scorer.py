"""Scores of a trained run for arrays of model inputs: what evaluate and predict share."""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from heplearn.data.batch import Batch, mask_key
from heplearn.inference.devices import available_cores, scoring_device
from heplearn.inference.memory import (
    MAX_BATCH,
    MemoryCost,
    check_budget,
    forward_budget,
    measure_cost,
)
from heplearn.inference.onnx_engine import OnnxEngine, require_cpu
from heplearn.inference.options import ScoringOptions
from heplearn.models.base import Embeds
from heplearn.models.registry import model_family
from heplearn.models.schema import batch_keys
from heplearn.run_directory import RunDirectory
from heplearn.training.task import Task

BatchFunction = Callable[[dict[str, np.ndarray]], np.ndarray]


class Scorer:
    """Applies a run's model to preprocessed inputs, batch by batch, without gradients.

    The forward batch is ``options.batch_size`` or, by default, the largest batch whose
    forward pass fits half the memory budget, from the model's memory per event
    measured once on probe batches (:mod:`heplearn.inference.memory`). PyTorch runs in
    ``torch.inference_mode`` on all the allowed cores (CPU) or on a GPU with pinned host
    memory and non-blocking copies (optionally in bfloat16); ONNX Runtime runs the
    exported graph on the CPU.

    Parameters
    ----------
    run : RunDirectory
        A finished run.
    options : ScoringOptions, optional
        Engine, batch or memory budget, device, precision and threads.

    Raises
    ------
    ConfigError
        For a device that is not there, or options that do not go together.
    OutputError
        With ``engine="onnx"``, when the model cannot be exported (one line why).
    """

    def __init__(self, run: RunDirectory, options: ScoringOptions | None = None) -> None:
        self.run = run
        self.options = options or ScoringOptions()
        self.task: Task = run.task()
        self.schema = run.schema()
        self.model: Any = run.load_model()
        self.estimator = model_family(run.config().model.name).estimator
        self.device = scoring_device(self.options.accelerator, self.options.devices)
        self.threads = self.options.threads or available_cores()
        self.onnx: OnnxEngine | None = None
        if self.options.engine == "onnx":
            require_cpu(self.device.type)
            self.onnx = OnnxEngine(run, self.threads)
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        if isinstance(self.model, nn.Module):
            self.model.to(self.device)
        self._batch_size = self.options.batch_size
        self._cost: MemoryCost | None = None

    @property
    def input_names(self) -> list[str]:
        """Keys of the arrays the model needs: its inputs and the masks of particle inputs."""
        return batch_keys(self.schema)

    @property
    def batch_size(self) -> int:
        """Events per forward pass: the option, or the most the memory budget allows."""
        if self._batch_size is None:
            self._batch_size = self._batch_for_budget()
        return self._batch_size

    def memory_cost(self) -> MemoryCost | None:
        """Memory of the model's forward pass (measured once), ``None`` for an estimator."""
        if not isinstance(self.model, nn.Module):
            return None
        if self._cost is None:
            self._cost = measure_cost(self._probe, self.device)
        return self._cost

    def summary(self) -> str:
        """One line: engine, device, batch and what chose it."""
        engine = "ONNX Runtime" if self.onnx is not None else f"PyTorch ({self.options.precision})"
        where = f"{self.threads} CPU threads" if self.device.type == "cpu" else str(self.device)
        cost = self.memory_cost()
        reason = ""
        if self.options.batch_size is None and cost is not None:
            budget = forward_budget(self.options.memory_budget, self.device)
            reason = (
                f" ({cost.per_event / 2**20:.2f} MiB per event, forward budget "
                f"{budget / 2**20:.0f} MiB)"
            )
        return f"scoring with {engine} on {where}, {self.batch_size} events per batch{reason}"

    def scores(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Signal probability ``(N,)`` (binary), probabilities ``(N, K)`` or values ``(N,)``.

        Values are the prediction (regression), the anomaly score (autoencoders) or the
        negative log-likelihood (flows).
        """
        if not isinstance(self.model, nn.Module):
            return self._estimator_scores(arrays)
        shape = (0, self.task.n_outputs) if self.task.kind == "multiclass" else (0,)
        if self.onnx is not None:
            return self._batched(self.onnx.scores, arrays, shape)
        function = self._torch(lambda batch: self.task.scores(self.model(batch)))
        return self._batched(function, arrays, shape)

    def embeddings(self, arrays: dict[str, np.ndarray]) -> np.ndarray | None:
        """Latent coordinates ``(N, D)`` of a model with a latent space, else ``None``.

        Always computed by PyTorch (the exported graph has the scores only).
        """
        if not isinstance(self.model, Embeds):
            return None
        return self._batched(self._torch(self.model.embed), arrays, (0, self.model.latent_dim))

    def _batched(
        self, function: BatchFunction, arrays: dict[str, np.ndarray], empty_shape: tuple[int, ...]
    ) -> np.ndarray:
        """``function`` applied batch by batch, results concatenated."""
        count = len(arrays[next(iter(self.schema))])
        size = self.batch_size
        parts = [
            function({name: arrays[name][start : start + size] for name in self.input_names})
            for start in range(0, count, size)
        ]
        if not parts:
            return np.zeros(empty_shape, np.float32)
        return np.concatenate(parts)

    def _torch(self, function: Callable[[Batch], torch.Tensor]) -> BatchFunction:
        """``function`` on a batch of arrays moved to the device, as float32 numpy."""

        def run(batch: dict[str, np.ndarray]) -> np.ndarray:
            tensors = {name: self._to_device(values) for name, values in batch.items()}
            with torch.inference_mode(), self._autocast():
                result = function(tensors)
            return result.float().cpu().numpy()

        return run

    def _to_device(self, values: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(values))
        if self.device.type == "cpu":
            return tensor
        if self.device.type == "cuda":
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=True)

    def _autocast(self) -> AbstractContextManager[Any]:
        if self.options.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def _probe(self, events: int) -> None:
        """One forward pass on ``events`` worst-case events (every particle real)."""
        generator = torch.Generator().manual_seed(0)
        batch: Batch = {}
        for name, info in self.schema.items():
            batch[name] = torch.randn((events, *info.shape), generator=generator).to(self.device)
            if info.kind == "particles":
                batch[mask_key(name)] = torch.ones(
                    (events, info.shape[0]), dtype=torch.bool, device=self.device
                )
        with torch.inference_mode(), self._autocast():
            self.task.scores(self.model(batch))
            if isinstance(self.model, Embeds):
                self.model.embed(batch)

    def _batch_for_budget(self) -> int:
        cost = self.memory_cost()
        if cost is None:
            return MAX_BATCH
        budget = forward_budget(self.options.memory_budget, self.device)
        check_budget(budget, cost)
        return cost.events_within(budget)

    def _estimator_scores(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        assert self.estimator is not None  # (the model is not a torch module)
        features = self.estimator.features(arrays, self.schema)
        if self.task.kind == "regression":
            return np.asarray(self.model.predict(features), np.float32)
        probabilities = np.asarray(self.model.predict_proba(features), np.float32)
        return probabilities[:, 1] if self.task.kind == "binary" else probabilities
