"""Optional dependencies, grouped as the ``heplearn[...]`` extras of ``pyproject.toml``.

A feature that needs an extra calls :func:`require` (one module) or :func:`require_extra`
(all of an extra's modules) where it imports them; a missing module is one line naming the
``pip install`` to run, not a traceback.
"""

import importlib
import importlib.util
from types import ModuleType

from heplearn.errors import MissingExtraError

# extra -> the modules it provides (import names, not distribution names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "generate": ("pythia8mc", "fastjet"),
    "export": ("onnx", "onnxscript", "onnxruntime"),
    "dask": ("dask", "distributed"),
    "xgboost": ("xgboost",),
    "lgatr": ("lgatr",),
    "tracking": ("tensorboard", "mlflow"),
}


def missing_extra(module: str, extra: str, purpose: str) -> MissingExtraError:
    """The error for ``purpose`` needing ``module``, which ``heplearn[extra]`` installs."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    return MissingExtraError(
        f"{purpose} needs the {module} package, which is not installed; "
        f"pip install 'heplearn[{extra}]'"
    )


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or say which extra installs it.

    Parameters
    ----------
    module : str
        Import name, e.g. ``"xgboost"``.
    extra : str
        The ``heplearn[...]`` extra that provides it (a key of :data:`EXTRAS`).
    purpose : str
        What needs it, as the user asked for it (``"model.backend: xgboost"``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingExtraError
        When ``module`` (or a module it imports) is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise missing_extra(error.name or module, extra, purpose) from None


def require_extra(extra: str, purpose: str) -> None:
    """Check, without importing them, that every module of ``extra`` is installed.

    Raises
    ------
    MissingExtraError
        Naming the first missing module and the ``pip install`` to run.
    """
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except ValueError:  # in sys.modules as None (imports of it fail)
            found = False
        if not found:
            raise missing_extra(module, extra, purpose)
