"""Memory of scoring: the budget, and the forward batch that fits it.

A model's memory per event is measured, not guessed: the forward pass runs on two small
probe batches of worst-case events (every particle real) while every tensor it creates
is accounted for (:class:`LiveTensorBytes` on the CPU, the allocator's peak on a GPU);
the peak grows linearly with the batch, and its slope is the cost of one event.
"""

import functools
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from heplearn.errors import ConfigError

DEFAULT_BUDGET_CAP = 1 << 29  # 512 MiB: CPU batches beyond a few hundred events gain nothing
DEFAULT_BUDGET_FRACTION = 0.25
PROBE_EVENTS = (8, 32)
MAX_BATCH = 16_384


def available_memory() -> int:
    """Bytes of memory this process can still take: the system's, within its cgroup limit."""
    available = _meminfo_available()
    limit = _cgroup_room()
    if limit is not None:
        available = min(available, limit) if available else limit
    return available or DEFAULT_BUDGET_CAP * 4


def default_budget() -> int:
    """A quarter of the available memory, at most 512 MiB (the default ``--memory-budget``)."""
    return max(1 << 26, min(DEFAULT_BUDGET_CAP, int(available_memory() * DEFAULT_BUDGET_FRACTION)))


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cgroup_room() -> int | None:
    """Bytes left under a cgroup v2 memory limit, ``None`` without one."""
    folder = Path("/sys/fs/cgroup")
    try:
        limit = (folder / "memory.max").read_text().strip()
        current = int((folder / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - current)


class LiveTensorBytes(TorchDispatchMode):
    """Counts the bytes of the tensors created inside it that are still alive, and their peak.

    Storage shared by views is counted once and released when its last tensor is gone.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._references: dict[int, int] = {}

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        result = func(*args, **(kwargs or {}))
        for tensor in pytree.tree_leaves(result):
            if isinstance(tensor, torch.Tensor) and tensor.device.type != "meta":
                storage = tensor.untyped_storage()
                key, size = storage.data_ptr(), storage.nbytes()
                if key not in self._references:
                    self._references[key] = 0
                    self.live += size
                    self.peak = max(self.peak, self.live)
                self._references[key] += 1
                weakref.finalize(tensor, self._release, key, size)
        return result

    def _release(self, key: int, size: int) -> None:
        count = self._references.get(key)
        if count is None:
            return
        if count > 1:
            self._references[key] = count - 1
            return
        del self._references[key]
        self.live -= size


def peak_bytes(run: Callable[[], Any], device: torch.device) -> int:
    """Peak bytes of the tensors ``run`` creates on ``device`` (inputs it makes included)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    with LiveTensorBytes() as counter:
        run()
    return counter.peak


@dataclass(frozen=True)
class MemoryCost:
    """Memory of a forward pass: ``fixed + per_event × events`` bytes at its peak."""

    fixed: int
    per_event: int

    def events_within(self, budget: int, most: int = MAX_BATCH) -> int:
        """The largest batch whose peak stays within ``budget`` bytes (1 to ``most``)."""
        room = budget - self.fixed
        return int(min(most, max(1, room // max(1, self.per_event))))


def measure_cost(forward: Callable[[int], Any], device: torch.device) -> MemoryCost:
    """The memory cost of ``forward(events)``, measured on the probe batches.

    Parameters
    ----------
    forward : callable
        Makes a batch of that many worst-case events and runs the model on it.
    device : torch.device
        Where the tensors live.
    """
    small, large = PROBE_EVENTS
    peaks = [peak_bytes(functools.partial(forward, events), device) for events in (small, large)]
    per_event = max(1, math.ceil((peaks[1] - peaks[0]) / (large - small)))
    return MemoryCost(fixed=max(0, peaks[1] - per_event * large), per_event=per_event)


def forward_budget(budget: int | None, device: torch.device) -> int:
    """Bytes for the forward pass: half the budget (default: half of free GPU memory on a GPU)."""
    if budget is not None:
        return budget // 2
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free) // 2
    return default_budget() // 2


def check_budget(budget: int, cost: MemoryCost) -> None:
    """Refuse a budget in which not even one event fits."""
    if cost.fixed + cost.per_event > budget:
        raise ConfigError(
            f"--memory-budget: one event needs {(cost.fixed + cost.per_event) / 2**20:.1f} MiB "
            f"for the forward pass, more than the {budget / 2**20:.1f} MiB half of the budget "
            "allows; give a larger --memory-budget (or --batch-size 1)"
        )
