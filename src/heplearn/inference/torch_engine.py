"""The PyTorch engine: a run's own model, as it was trained, on a CPU or a GPU.

The model is a ``torch.nn.Module`` (run in ``torch.inference_mode``, on all the allowed
cores or on a GPU with pinned host memory and non-blocking copies, optionally in
bfloat16) or a scikit-learn estimator (scored on the whole chunk at once). Importing
this module imports torch and the model zoo; the ONNX Runtime engine does without.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from heplearn.allocator import keep_large_blocks
from heplearn.data.batch import ArrayBatch, Batch, mask_key
from heplearn.inference.devices import scoring_device
from heplearn.inference.memory import MemoryCost
from heplearn.inference.memory_probe import measure_cost
from heplearn.inference.options import ScoringOptions
from heplearn.models.base import Embeds
from heplearn.models.registry import model_family
from heplearn.run_directory import RunDirectory


class TorchEngine:
    """A run's trained model applied to batches of standardised inputs.

    Parameters
    ----------
    run : RunDirectory
        A finished run.
    options : ScoringOptions
        Device, devices and precision.
    threads : int
        CPU threads of the forward pass.

    Raises
    ------
    ConfigError
        For a device that is not there.
    """

    def __init__(self, run: RunDirectory, options: ScoringOptions, threads: int) -> None:
        self.task = run.task()
        self.schema = run.schema()
        self.model: Any = run.load_model()
        family = model_family(run.config().model.name)
        self.estimator = family.estimator
        self.padding_invariant = family.padding_invariant
        self.precision = options.precision
        self.device = scoring_device(options.accelerator, options.devices)
        if self.device.type == "cpu":
            torch.set_num_threads(threads)
            keep_large_blocks()  # activations from the heap from the first batch on
        if isinstance(self.model, nn.Module):
            self.model.to(self.device)
        self._cost: MemoryCost | None = None

    @property
    def latent_dim(self) -> int | None:
        """Size of the model's latent space (an autoencoder's), ``None`` without one."""
        return self.model.latent_dim if isinstance(self.model, Embeds) else None

    def scores(self, batch: ArrayBatch) -> np.ndarray:
        """The task's scores of one batch of a network (float32 numpy)."""
        return self._run(lambda tensors: self.task.scores(self.model(tensors)), batch)

    def embeddings(self, batch: ArrayBatch) -> np.ndarray:
        """The latent coordinates of one batch of an autoencoder (float32 numpy)."""
        return self._run(self.model.embed, batch)

    def estimator_scores(self, arrays: ArrayBatch) -> np.ndarray:
        """Scores of a scikit-learn estimator for a whole chunk."""
        assert self.estimator is not None  # (the model is not a torch module)
        features = self.estimator.features(arrays, self.schema)
        if self.task.kind == "regression":
            return np.asarray(self.model.predict(features), np.float32)
        probabilities = np.asarray(self.model.predict_proba(features), np.float32)
        return probabilities[:, 1] if self.task.kind == "binary" else probabilities

    def memory_cost(self) -> MemoryCost | None:
        """Memory of the model's forward pass (measured once), ``None`` for an estimator."""
        if not isinstance(self.model, nn.Module):
            return None
        if self._cost is None:
            self._cost = measure_cost(self.probe, self.device)
        return self._cost

    def probe(self, events: int) -> None:
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

    def _run(self, function: Callable[[Batch], torch.Tensor], batch: ArrayBatch) -> np.ndarray:
        """``function`` on a batch of arrays moved to the device, as float32 numpy."""
        tensors = {name: self._to_device(values) for name, values in batch.items()}
        with torch.inference_mode(), self._autocast():
            result = function(tensors)
        return result.float().cpu().numpy()

    def _to_device(self, values: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(values))
        if self.device.type == "cpu":
            return tensor
        if self.device.type == "cuda":
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=True)

    def _autocast(self) -> AbstractContextManager[Any]:
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return nullcontext()
