"""The memory of a model's forward pass, measured on probe batches (PyTorch).

The forward pass runs on two small probe batches of worst-case events (every particle
real) while every tensor it creates is accounted for (:class:`LiveTensorBytes` on the
CPU, the allocator's peak on a GPU); the peak grows linearly with the batch, and its
slope is the cost of one event.
"""

import functools
import math
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from heplearn.inference.memory import MemoryCost

PROBE_EVENTS = (8, 32)


class LiveTensorBytes(TorchDispatchMode):
    """Counts the bytes of the tensors created inside it that are still alive, and their peak.

    Storage shared by views is counted once and released when its last tensor is gone.
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # PyTorch wraps a mode's __torch_dispatch__ in torch._dynamo.disable unless this
        # says False, which imports torch._dynamo (and sympy) at the first operation: a
        # second and a half of every scoring process's start. Nothing here is compiled.
        return False

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
