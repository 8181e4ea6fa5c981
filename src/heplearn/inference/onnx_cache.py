"""The scoring graph a run keeps: where it is, the key that says whether it is still the
run's, what it records of the model, and the settings ONNX Runtime scores with.

Nothing here imports torch or onnx: the ONNX Runtime engine
(:mod:`heplearn.inference.onnx_engine`) loads a kept graph with this module alone, and
:func:`heplearn.inference.onnx_graph.write_scoring_graph` writes one.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import heplearn
from heplearn.inference.memory import MemoryCost
from heplearn.run_directory import CONFIG, WEIGHTS, RunDirectory

SCORING_GRAPH = Path("export") / "scoring.onnx"
METADATA_KEY = "heplearn-scoring"
# raise when the graph, or what the metadata says, changes: older cached graphs are redone
GRAPH_FORMAT = 1


@dataclass(frozen=True)
class GraphInfo:
    """What the cached scoring graph records besides the graph.

    Attributes
    ----------
    key : str
        :func:`graph_key` of the run it was exported from.
    fixed, per_event : int
        Bytes of the forward pass (:class:`~heplearn.inference.memory.MemoryCost`), measured
        in ONNX Runtime on probe batches when the graph was exported
        (:mod:`heplearn.inference.onnx_probe`; by PyTorch where the system cannot tell).
    latent_dim : int or None
        Size of the model's latent space (computed by PyTorch, not in the graph).
    padding_invariant : bool
        Whether the model's scores do not depend on the padded length.
    dynamic_particles : bool or None
        Whether the graph's particle axis is dynamic (``None``: no particles input).
    """

    key: str
    fixed: int
    per_event: int
    latent_dim: int | None
    padding_invariant: bool
    dynamic_particles: bool | None

    @property
    def memory_cost(self) -> MemoryCost:
        """Memory of the forward pass: ``fixed + per_event × events`` bytes."""
        return MemoryCost(fixed=self.fixed, per_event=self.per_event)

    def to_json(self) -> str:
        """The JSON stored in the graph's ``metadata_props``."""
        return json.dumps(asdict(self))


def scoring_graph_path(run: RunDirectory) -> Path:
    """Where a run keeps its scoring graph: ``RUN_DIR/export/scoring.onnx``."""
    return run.path / SCORING_GRAPH


def graph_key(run: RunDirectory) -> str:
    """A digest of what the graph is made from: the weights, the config, the format."""
    digest = hashlib.sha256(f"{GRAPH_FORMAT} {heplearn.__version__}".encode())
    for name in (WEIGHTS, CONFIG):
        path = run.path / name
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def session_options(onnxruntime: Any, threads: int) -> Any:
    """ONNX Runtime's settings for scoring: ``threads`` operator threads, no spinning, and
    no memory pattern (planned per batch shape, it held about twice the memory of a
    batch for no measured gain in speed)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
