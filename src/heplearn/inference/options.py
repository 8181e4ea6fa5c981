"""How a run's model is applied to events: engine, batch or memory budget, device, precision."""

from dataclasses import dataclass
from typing import Literal

from heplearn.errors import ConfigError

Engine = Literal["torch", "onnx"]
Precision = Literal["32", "bf16"]
ENGINES: tuple[Engine, ...] = ("torch", "onnx")
PRECISIONS: tuple[Precision, ...] = ("32", "bf16")


@dataclass(frozen=True)
class ScoringOptions:
    """Settings of :class:`heplearn.inference.Scorer` (``predict`` and ``evaluate`` flags).

    Attributes
    ----------
    engine : {"torch", "onnx"}
        Eager PyTorch, or the exported graph run by ONNX Runtime (CPU).
    batch_size : int, optional
        Events per forward pass; default: as many as ``memory_budget`` allows, from the
        model's own memory per event (measured once on a probe batch).
    memory_budget : int, optional
        Bytes the scoring of one file may use beyond the loaded libraries and the model:
        half for the forward pass, half for the chunks of events being read. Default:
        :func:`heplearn.inference.memory.default_budget`.
    accelerator : str
        ``auto`` (a GPU when PyTorch sees one, else the CPU), ``cpu``, ``gpu``, ``cuda``
        or ``mps``.
    devices : str
        ``auto`` or ``1``: scoring uses one device per process (score files in parallel
        with several processes instead).
    precision : {"32", "bf16"}
        ``bf16`` runs the forward pass in bfloat16 autocast (scores are returned in
        float32); meant for GPUs.
    threads : int, optional
        CPU threads of the forward pass; default all the cores this process may use.
    """

    engine: Engine = "torch"
    batch_size: int | None = None
    memory_budget: int | None = None
    accelerator: str = "auto"
    devices: str = "auto"
    precision: Precision = "32"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"--precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, not {self.batch_size}")
        if self.memory_budget is not None and self.memory_budget <= 0:
            raise ConfigError(f"--memory-budget must be positive, not {self.memory_budget} bytes")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, not {self.threads}")
        if self.engine == "onnx" and self.precision != "32":
            raise ConfigError("--precision bf16 applies to --engine torch only")
