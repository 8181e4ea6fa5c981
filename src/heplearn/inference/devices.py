"""The device a run is scored on, from ``--accelerator`` and ``--devices``."""

import socket
from typing import TYPE_CHECKING

from heplearn.errors import ConfigError

if TYPE_CHECKING:  # the ONNX Runtime engine checks its flags without torch
    import torch

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


def check_accelerator(accelerator: str = "auto", devices: str | int = "auto") -> str:
    """The accelerator's name (lower case), checked without looking for the device.

    Raises
    ------
    ConfigError
        For an unknown accelerator, or a device count other than one.
    """
    name = str(accelerator).lower()
    if name not in ACCELERATORS:
        raise ConfigError(
            f"--accelerator must be one of {', '.join(ACCELERATORS)}, not {accelerator!r}"
        )
    if str(devices).lower() not in ("auto", "1"):
        raise ConfigError(
            f"--devices {devices}: scoring runs on one device per process; give --devices 1 "
            "(or auto) and score several files in parallel processes instead"
        )
    return name


def scoring_device(accelerator: str = "auto", devices: str | int = "auto") -> "torch.device":
    """The one device scoring runs on.

    Parameters
    ----------
    accelerator : str
        ``auto`` picks a CUDA GPU when PyTorch sees one, else the CPU; ``gpu`` and ``cuda``
        ask for a CUDA GPU, ``mps`` for Apple's GPU, ``cpu`` for the CPU.
    devices : str or int
        ``auto`` or ``1``. A process scores on one device; several files are scored in
        parallel by several processes.

    Raises
    ------
    ConfigError
        For an unknown accelerator, a device count other than one, or a GPU asked for
        where PyTorch sees none.
    """
    import torch

    name = check_accelerator(accelerator, devices)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"--accelerator {name}: no CUDA GPU is available to PyTorch {torch.__version__} "
                f"on {_this_machine()}; score on the CPU with --accelerator cpu (or auto)"
            )
        return torch.device("cuda", torch.cuda.current_device())
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(
                f"--accelerator mps: no Apple GPU is available to PyTorch on {_this_machine()}; "
                "score on the CPU with --accelerator cpu (or auto)"
            )
        return torch.device("mps")
    return torch.device("cpu")


def _this_machine() -> str:
    """This machine, by name: a dask worker's error is read on the machine that submitted."""
    return f"this machine ({socket.gethostname()})"
