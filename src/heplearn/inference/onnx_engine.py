"""The ONNX Runtime engine: the run's scoring graph, exported once and kept in the run.

The graph (:func:`heplearn.inference.onnx_graph.write_scoring_graph`) takes the
standardised inputs the data layer makes, as the PyTorch engine does. It is exported the
first time a run is scored with ``--engine onnx`` and written, atomically, to
``RUN_DIR/export/scoring.onnx`` with a key of the weights and the config it came from
and what scoring needs to know of the model (its memory per event, measured once in ONNX
Runtime). Later calls load it without importing torch, and export again when the key no
longer matches (a run trained again).
"""

import json
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.batch import contiguous
from heplearn.errors import ConfigError, OutputError
from heplearn.extras import require
from heplearn.inference.onnx_cache import (
    METADATA_KEY,
    GraphInfo,
    graph_key,
    scoring_graph_path,
    session_options,
)
from heplearn.run_directory import RunDirectory


class OnnxEngine:
    """Scores of a run computed by ONNX Runtime from the graph of its network.

    Parameters
    ----------
    run : RunDirectory
        A finished run of a neural network.
    threads : int
        Threads of ONNX Runtime's operators.

    Attributes
    ----------
    info : GraphInfo
        The graph's key, memory cost and model facts.
    exported : bool
        Whether the graph was exported here (no up-to-date one was kept in the run).

    Raises
    ------
    InputError
        For an unfinished run or a scikit-learn estimator.
    OutputError
        When the model cannot be exported or ONNX Runtime cannot load it (one line why).
    """

    def __init__(self, run: RunDirectory, threads: int) -> None:
        self._onnxruntime = require("onnxruntime", "export", "--engine onnx")
        self.run = run
        self.threads = threads
        run.check_finished()
        key = graph_key(run)
        path = scoring_graph_path(run)
        self.exported = False
        session = self._cached(path, key)
        if session is None:
            # export needs torch and heplearn[export] (onnx, onnxscript): only when asked for
            from heplearn.inference.onnx_graph import write_scoring_graph

            session = self._load(write_scoring_graph(run, key, path))
            self.exported = True
        self.session: Any = session
        self.info = _graph_info(session)
        self.input_names = [value.name for value in session.get_inputs()]

    def scores(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """The ``scores`` output for one batch of standardised inputs and masks."""
        result: np.ndarray = self.session.run(["scores"], contiguous(batch, self.input_names))[0]
        return result

    def _cached(self, path: Path, key: str) -> Any:
        """The session of the graph kept in the run, ``None`` when it is missing or stale."""
        try:
            session = self._load(path.read_bytes())
        except (OSError, OutputError):
            return None
        return session if _graph_info(session).key == key else None

    def _load(self, graph: bytes) -> Any:
        onnxruntime = self._onnxruntime
        options = session_options(onnxruntime, self.threads)
        try:
            return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime's errors have no common public base class
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise OutputError(
                f"ONNX Runtime {onnxruntime.__version__} cannot load the graph of "
                f"{self.run.path} ({message}); score with --engine torch"
            ) from None


def _graph_info(session: Any) -> GraphInfo:
    """The :class:`GraphInfo` of a loaded graph (a blank key when it has none)."""
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    try:
        return GraphInfo(**json.loads(text))
    except (TypeError, ValueError):  # no metadata, or written by another format
        return GraphInfo("", 0, 1, None, False, None)


def require_cpu(accelerator: str) -> None:
    """The ONNX Runtime installed with heplearn runs on the CPU only."""
    if accelerator.lower() not in ("auto", "cpu"):
        raise ConfigError(
            f"--engine onnx runs on the CPU (onnxruntime without GPU providers), not on "
            f"{accelerator}; score on a GPU with --engine torch, or give --accelerator cpu"
        )
