"""heplearn: from collider data to trained, evaluated and deployable neural networks."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("heplearn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "train"]


def __getattr__(name: str) -> Any:
    """``heplearn.train`` without importing Lightning when only the CLI's help is needed."""
    if name == "train":
        from heplearn.training.fit import train

        return train
    raise AttributeError(f"module 'heplearn' has no attribute {name!r}")
