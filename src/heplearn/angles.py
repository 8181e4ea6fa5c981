"""The azimuth wrap: an angle or a difference of angles brought into [-π, π).

One formula for every layer that needs it: numpy and awkward arrays (generation's Δφ,
jet images' centring) through :func:`wrap_phi`, torch tensors (ParT's pairwise ΔR)
through :func:`wrap_phi_tensor`. Both use ``floor`` rather than a float modulo, which is
several times faster in numpy and keeps torch's autograd.
"""

import math
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

TWO_PI = 2 * math.pi
_TURNS = 0.5 / math.pi  # turns per radian

Angles = TypeVar("Angles")


def wrap_phi(phi: Angles) -> Angles:
    """``phi`` wrapped into [-π, π) (up to rounding: a value a few ulp below π may give -π).

    Parameters
    ----------
    phi : numpy.ndarray, awkward.Array or float
        Angles in radians, any shape (jagged arrays too).

    Returns
    -------
    The same type and shape: ``phi - 2π k`` with ``k = floor((phi + π) / 2π)``.
    """
    return phi - TWO_PI * np.floor((phi + math.pi) * _TURNS)  # type: ignore[operator]


def wrap_phi_tensor(phi: "Tensor") -> "Tensor":
    """:func:`wrap_phi` for a torch tensor (differentiable, on the tensor's device)."""
    return phi - TWO_PI * ((phi + math.pi) * _TURNS).floor()
