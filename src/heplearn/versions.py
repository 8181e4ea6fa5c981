"""Versions of the packages that shape heplearn's outputs, recorded with every result."""

import platform
from importlib.metadata import PackageNotFoundError, version

RECORDED_PACKAGES = ("heplearn", "numpy", "awkward", "uproot", "pythia8mc", "fastjet", "torch")


def package_versions() -> dict[str, str]:
    """Return the Python version and the installed versions of the recorded packages.

    Packages that are not installed are left out.
    """
    versions = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions
