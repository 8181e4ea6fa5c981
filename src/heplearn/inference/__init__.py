"""Scoring a trained run: engines (PyTorch, ONNX Runtime), devices and bounded memory.

:class:`Scorer` applies a run's model to preprocessed arrays; :class:`ScoringOptions`
chooses the engine, the batch (or the memory budget it is derived from), the device
and the precision. ``evaluate`` and ``predict`` share both. :mod:`.onnx_graph` builds the
ONNX graph of a network, which the ``onnx`` engine scores with and ``heplearn export``
writes.
"""

from heplearn.inference.options import ScoringOptions
from heplearn.inference.scorer import Scorer

__all__ = ["Scorer", "ScoringOptions"]
