"""Scores of a trained run for arrays of model inputs: what evaluate and predict share."""

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.data.batch import mask_key
from heplearn.inference.buckets import BatchFunction, batched
from heplearn.inference.memory import (
    CPU_WORKING_SET,
    MAX_BATCH,
    MemoryCost,
    check_budget,
    forward_budget,
)
from heplearn.inference.onnx_engine import OnnxEngine, require_cpu
from heplearn.inference.options import ScoringOptions
from heplearn.models.schema import batch_keys
from heplearn.parallel import available_cores, process_threads
from heplearn.run_directory import RunDirectory
from heplearn.training.task import Task

if TYPE_CHECKING:  # the onnx engine with a graph kept in the run never imports torch
    from heplearn.inference.torch_engine import TorchEngine


class Scorer:
    """Applies a run's model to preprocessed inputs, batch by batch, without gradients.

    The forward batch is ``options.batch_size`` or, by default, the largest batch whose
    forward pass fits half the memory budget, from the model's memory per event
    measured once on probe batches (:mod:`heplearn.inference.memory_probe`); on a CPU
    also at most what fits a cache-friendly working set
    (:data:`heplearn.inference.memory.CPU_WORKING_SET`), where larger batches are slower
    per event. PyTorch runs
    in ``torch.inference_mode`` on all the allowed cores (CPU) or on a GPU with pinned host
    memory and non-blocking copies, optionally in bfloat16
    (:mod:`heplearn.inference.torch_engine`); ONNX Runtime runs the run's scoring graph on
    the CPU (:mod:`heplearn.inference.onnx_engine`: exported once and kept in the run, then
    loaded without importing torch).

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
        # the option, else OMP_NUM_THREADS (a dask worker's or a launcher's share), else
        # every core this process may use
        self.threads = self.options.threads or process_threads(None, 1) or available_cores()
        self.onnx: OnnxEngine | None = None
        self._torch_engine: TorchEngine | None = None
        if self.options.engine == "onnx":
            require_cpu(self.options.accelerator)
            self.onnx = OnnxEngine(run, self.threads)
            self.padding_invariant = self.onnx.info.padding_invariant
        else:
            self.padding_invariant = self.torch.padding_invariant
        self._batch_size = self.options.batch_size

    @property
    def torch(self) -> "TorchEngine":
        """The PyTorch engine: the scoring engine, or, beside ONNX Runtime, what computes
        embeddings (on the CPU), built when first needed."""
        if self._torch_engine is None:
            from heplearn.inference.torch_engine import TorchEngine

            options = self.options
            if self.onnx is not None:
                options = replace(options, engine="torch", accelerator="cpu")
            self._torch_engine = TorchEngine(self.run, options, self.threads)
        return self._torch_engine

    @property
    def model(self) -> Any:
        """The run's trained model (a torch module, or an estimator)."""
        return self.torch.model

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
        """Memory of the model's forward pass, ``None`` for an estimator.

        Measured once by PyTorch; the ONNX Runtime engine reads what was measured when
        its graph was exported.
        """
        if self.onnx is not None:
            return self.onnx.info.memory_cost
        return self.torch.memory_cost()

    def summary(self) -> str:
        """One line: engine, device, batch and what chose it."""
        engine, where = "ONNX Runtime", f"{self.threads} CPU threads"
        if self.onnx is None:
            engine = f"PyTorch ({self.options.precision})"
            if self.torch.device.type != "cpu":
                where = str(self.torch.device)
        cost = self.memory_cost()
        reason = ""
        if self.options.batch_size is None and cost is not None:
            budget = forward_budget(self.options.memory_budget, self._device())
            cap = f", CPU working set {CPU_WORKING_SET / 2**20:.0f} MiB" if self._on_cpu() else ""
            reason = (
                f" ({cost.per_event / 2**20:.2f} MiB per event, forward budget "
                f"{budget / 2**20:.0f} MiB{cap})"
            )
        return f"scoring with {engine} on {where}, {self.batch_size} events per batch{reason}"

    def scores(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Signal probability ``(N,)`` (binary), probabilities ``(N, K)`` or values ``(N,)``.

        Values are the prediction (regression), the anomaly score (autoencoders) or the
        negative log-likelihood (flows).
        """
        shape = (0, self.task.n_outputs) if self.task.kind == "multiclass" else (0,)
        if self.onnx is not None:
            return self._batched(self.onnx.scores, arrays, shape)
        if self.torch.estimator is not None:
            return self.torch.estimator_scores(arrays)
        return self._batched(self.torch.scores, arrays, shape)

    def embeddings(self, arrays: dict[str, np.ndarray]) -> np.ndarray | None:
        """Latent coordinates ``(N, D)`` of a model with a latent space, else ``None``.

        Always computed by PyTorch (the exported graph has the scores only).
        """
        latent_dim = self.onnx.info.latent_dim if self.onnx is not None else self.torch.latent_dim
        if latent_dim is None:
            return None
        return self._batched(self.torch.embeddings, arrays, (0, latent_dim))

    def _batched(
        self, function: BatchFunction, arrays: dict[str, np.ndarray], empty_shape: tuple[int, ...]
    ) -> np.ndarray:
        """``function`` applied batch by batch, results in the events' order.

        A padding-invariant model is scored in batches of jets of similar length, each
        trimmed after its longest jet (:mod:`heplearn.inference.buckets`), by PyTorch and
        by ONNX Runtime where the graph's particle axis is dynamic.
        """
        particles = None
        if self.padding_invariant and (self.onnx is None or self.onnx.info.dynamic_particles):
            particles = {
                name: mask_key(name)
                for name, info in self.schema.items()
                if info.kind == "particles"
            }
        return batched(function, arrays, self.input_names, self.batch_size, empty_shape, particles)

    def _batch_for_budget(self) -> int:
        cost = self.memory_cost()
        if cost is None:
            return MAX_BATCH
        budget = forward_budget(self.options.memory_budget, self._device())
        check_budget(budget, cost)
        batch = cost.events_within(budget)
        if self._on_cpu():  # the events' activations, not the model's fixed memory
            batch = min(batch, MemoryCost(0, cost.per_event).events_within(CPU_WORKING_SET))
        return batch

    def _on_cpu(self) -> bool:
        device = self._device()
        return device is None or device.type == "cpu"

    def _device(self) -> Any:
        """The torch device of the PyTorch engine, ``None`` (the CPU) for ONNX Runtime."""
        return None if self.onnx is not None else self.torch.device
