"""The memory of ONNX Runtime's forward pass, measured in a fresh process.

ONNX Runtime allocates outside Python and torch, so its memory per event is measured as
the kernel sees it: a new interpreter (``python -m heplearn.inference.onnx_probe``)
loads the graph as the engine does, runs two probe batches of worst-case events (every
particle real), and reads its peak resident memory (Linux ``VmHWM``) after each; the
peak grows linearly with the batch, and its slope is the cost of one event. A fresh
process keeps the measurement clear of the memory the export freed. It runs once per
exported graph.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.inference.memory import MemoryCost

PROBE_EVENTS = (32, 128)
Shapes = dict[str, tuple[str, list[int]]]


def measure_graph_cost(graph: Path, shapes: Shapes, threads: int) -> MemoryCost | None:
    """The memory of a forward pass of ``graph`` in ONNX Runtime, ``None`` where the
    system does not report a process's peak memory.

    Parameters
    ----------
    graph : Path
        The ONNX file.
    shapes : dict
        ``{input: (dtype, shape without the batch axis)}`` of worst-case events.
    threads : int
        Threads of ONNX Runtime's operators, as the engine will use.
    """
    command = [sys.executable, "-m", __name__, str(graph), json.dumps(shapes), str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return None
    values = json.loads(lines[-1])
    return None if values is None else MemoryCost(**values)


def _resident(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _probe(graph: Path, shapes: Shapes, threads: int) -> dict[str, int] | None:
    """``{fixed, per_event}`` bytes of the forward pass, in this (fresh) process."""
    import onnxruntime

    from heplearn.inference.onnx_cache import session_options

    session = onnxruntime.InferenceSession(
        graph.read_bytes(), session_options(onnxruntime, threads), ["CPUExecutionProvider"]
    )
    generator = np.random.default_rng(0)
    feeds = [
        {
            name: np.ones((events, *shape), bool)
            if dtype == "bool"
            else generator.standard_normal((events, *shape)).astype(np.float32)
            for name, (dtype, shape) in shapes.items()
        }
        for events in PROBE_EVENTS
    ]
    base = _resident("VmRSS")
    peaks = []
    for feed in feeds:
        session.run(["scores"], feed)
        peak = _resident("VmHWM")
        if base is None or peak is None:
            return None
        peaks.append(peak - base)
    small, large = PROBE_EVENTS
    per_event = max(1, (peaks[1] - peaks[0]) // (large - small))
    return {"fixed": max(0, peaks[1] - per_event * large), "per_event": per_event}


def main(arguments: list[str]) -> None:
    """``GRAPH SHAPES_JSON THREADS``: print the cost as one JSON line (``null``: unknown)."""
    graph, shapes, threads = Path(arguments[0]), json.loads(arguments[1]), int(arguments[2])
    cost: Any = _probe(graph, shapes, threads)
    print(json.dumps(cost))


if __name__ == "__main__":
    main(sys.argv[1:])
