"""Deployment: scores on new files (:mod:`.predict`) and the ONNX export (:mod:`.export`).

``export_onnx``, ``ExportReport`` and ``read_metadata`` are importable from here; they are
loaded on first use, so that ``heplearn.deploy.predict`` does not import onnx.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heplearn.deploy.export import ExportReport, export_onnx, read_metadata

__all__ = ["ExportReport", "export_onnx", "read_metadata"]


def __getattr__(name: str) -> Any:
    """The export API, imported when first asked for."""
    if name in __all__:
        from heplearn.deploy import export

        return getattr(export, name)
    raise AttributeError(f"module 'heplearn.deploy' has no attribute {name!r}")
