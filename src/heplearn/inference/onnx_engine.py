"""The ONNX Runtime engine: the run's exported graph scores the events on the CPU."""

from typing import Any

import numpy as np

from heplearn.data.batch import contiguous
from heplearn.errors import ConfigError, OutputError
from heplearn.extras import require
from heplearn.run_directory import RunDirectory


class OnnxEngine:
    """Scores of a run computed by ONNX Runtime from the graph of its network.

    The graph (:func:`heplearn.inference.onnx_graph.scoring_graph`) takes the standardised
    inputs the data layer makes, as the PyTorch engine does, and is built in memory
    when the engine is made (a few seconds for the graph networks).

    Parameters
    ----------
    run : RunDirectory
        A finished run of a neural network.
    threads : int
        Threads of ONNX Runtime's operators.

    Raises
    ------
    InputError
        For a scikit-learn estimator.
    OutputError
        When the model cannot be exported or ONNX Runtime cannot load it (one line why).
    """

    def __init__(self, run: RunDirectory, threads: int) -> None:
        onnxruntime = require("onnxruntime", "export", "--engine onnx")

        # needs heplearn[export] (onnx, onnxscript): imported only when asked for
        from heplearn.inference.onnx_graph import scoring_graph

        proto = scoring_graph(run)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session: Any = onnxruntime.InferenceSession(
                proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime's errors have no common public base class
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise OutputError(
                f"ONNX Runtime {onnxruntime.__version__} cannot load the graph of {run.path} "
                f"({message}); score with --engine torch"
            ) from None
        self.input_names = [value.name for value in self.session.get_inputs()]

    def scores(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """The ``scores`` output for one batch of standardised inputs and masks."""
        result: np.ndarray = self.session.run(["scores"], contiguous(batch, self.input_names))[0]
        return result


def require_cpu(device_type: str) -> None:
    """The ONNX Runtime installed with heplearn runs on the CPU only."""
    if device_type != "cpu":
        raise ConfigError(
            f"--engine onnx runs on the CPU (onnxruntime without GPU providers), not on "
            f"{device_type}; score on a GPU with --engine torch, or give --accelerator cpu"
        )
