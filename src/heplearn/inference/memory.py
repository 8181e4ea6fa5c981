"""Memory of scoring: the budget, and the forward batch that fits it.

A model's memory per event is measured, not guessed, by
:mod:`heplearn.inference.memory_probe` (which needs torch); this module holds what the
ONNX Runtime engine needs without torch: the budget and the batch a cost allows.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from heplearn.errors import ConfigError

if TYPE_CHECKING:
    import torch

# 256 MiB keeps predict's peak at a few hundred MiB: ONNX Runtime scored ParticleNet-Lite
# no faster in batches of 400 to 800 jets than of 64 to 200 (PyTorch: within ~20 %)
DEFAULT_BUDGET_CAP = 1 << 28
DEFAULT_BUDGET_FRACTION = 0.25
MAX_BATCH = 16_384
# On a CPU a forward batch is also kept within this working set, whatever the budget
# allows: per-jet speed falls once the activations outgrow the caches (one thread,
# PyTorch, length buckets: pfn 15,800 jets/s at batch 192 vs 12,300 at the budget's 639;
# ParticleNet-Lite 4,900 at 128 vs 3,500 at 307; ONNX Runtime pfn 19,000 at 128 vs 16,600
# at 311; loaded 2-core machine). The budget stays the bound on memory.
CPU_WORKING_SET = 48 << 20


def available_memory() -> int:
    """Bytes of memory this process can still take: the system's, within its cgroup limit."""
    available = _meminfo_available()
    limit = _cgroup_room()
    if limit is not None:
        available = min(available, limit) if available else limit
    return available or DEFAULT_BUDGET_CAP * 4


def default_budget() -> int:
    """A quarter of the available memory, at most 256 MiB (the default ``--memory-budget``)."""
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


@dataclass(frozen=True)
class MemoryCost:
    """Memory of a forward pass: ``fixed + per_event × events`` bytes at its peak."""

    fixed: int
    per_event: int

    def events_within(self, budget: int, most: int = MAX_BATCH) -> int:
        """The largest batch whose peak stays within ``budget`` bytes (1 to ``most``)."""
        room = budget - self.fixed
        return int(min(most, max(1, room // max(1, self.per_event))))


def forward_budget(budget: int | None, device: "torch.device | None" = None) -> int:
    """Bytes for the forward pass: half the budget (default: half of free GPU memory on a GPU).

    ``device`` ``None`` is the CPU (ONNX Runtime).
    """
    if budget is not None:
        return budget // 2
    if device is not None and device.type == "cuda":
        import torch

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
