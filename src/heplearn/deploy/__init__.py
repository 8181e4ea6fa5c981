"""Deployment: scores on new files (:mod:`.predict`; with a k-fold run each event scored by
the model of its fold, :mod:`.kfold`), the ONNX export (:mod:`.export`), density-ratio
weights from a reweighting classifier (:mod:`.reweight`) and the statistical
hand-off of a score to a fit (:mod:`.handoff`: templates and a pyhf workspace).

``export_onnx``, ``ExportReport``, ``read_metadata``, ``reweight_files`` and
``ReweightedFile`` are importable from here; they are loaded on first use, so that
``heplearn.deploy.predict`` does not import onnx.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heplearn.deploy.export import ExportReport, export_onnx, read_metadata
    from heplearn.deploy.reweight import ReweightedFile, reweight_files

_MODULES = {
    "ExportReport": "export",
    "export_onnx": "export",
    "read_metadata": "export",
    "ReweightedFile": "reweight",
    "reweight_files": "reweight",
}

__all__ = ["ExportReport", "ReweightedFile", "export_onnx", "read_metadata", "reweight_files"]


def __getattr__(name: str) -> Any:
    """The export and reweighting API, imported when first asked for."""
    if name in _MODULES:
        return getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(f"module 'heplearn.deploy' has no attribute {name!r}")
