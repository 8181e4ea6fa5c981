"""heplearn: from collider data to trained, evaluated and deployable neural networks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("heplearn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
