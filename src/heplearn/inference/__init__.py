"""Scoring a trained run: engines (PyTorch, ONNX Runtime), devices and bounded memory.

:class:`Scorer` applies a run's model to preprocessed arrays; :class:`ScoringOptions`
chooses the engine, the batch (or the memory budget it is derived from), the device
and the precision. ``evaluate`` and ``predict`` share both. The engines:
:mod:`.torch_engine` (the model on a CPU or GPU; scikit-learn estimators too) and
:mod:`.onnx_engine` (ONNX Runtime on the graph kept in the run, :mod:`.onnx_cache`;
it imports no torch), whose graph :mod:`.onnx_graph` builds and ``heplearn export``
writes. :mod:`.buckets` cuts batches of jets of similar length for padding-invariant
models (numpy only, shared by both engines); :mod:`.memory` turns a memory budget into
a batch from the memory per event that :mod:`.memory_probe` (PyTorch) or
:mod:`.onnx_probe` (ONNX Runtime) measured; :mod:`.devices` checks the device flags.
"""

from heplearn.inference.options import ScoringOptions
from heplearn.inference.scorer import Scorer

__all__ = ["Scorer", "ScoringOptions"]
