"""Lorentz transformations of the four-vectors in test batches (float64, (px, py, pz, E))."""

import math

import torch
from torch import nn


def boost(velocity: tuple[float, float, float]) -> torch.Tensor:
    """The 4 × 4 boost by ``velocity`` (units of c) acting on ``(px, py, pz, E)`` columns."""
    beta = torch.tensor(velocity, dtype=torch.float64)
    speed2 = float(beta @ beta)
    gamma = 1 / math.sqrt(1 - speed2)
    matrix = torch.eye(4, dtype=torch.float64)
    matrix[:3, :3] += (gamma - 1) * torch.outer(beta, beta) / speed2
    matrix[:3, 3] = -gamma * beta
    matrix[3, :3] = -gamma * beta
    matrix[3, 3] = gamma
    return matrix


def rotation(axis: tuple[float, float, float], angle: float) -> torch.Tensor:
    """The 4 × 4 rotation of the momenta by ``angle`` about ``axis`` (energy unchanged)."""
    unit = torch.tensor(axis, dtype=torch.float64)
    unit = unit / unit.norm()
    cross = torch.tensor(
        [[0, -unit[2], unit[1]], [unit[2], 0, -unit[0]], [-unit[1], unit[0], 0]],
        dtype=torch.float64,
    )
    matrix = torch.eye(4, dtype=torch.float64)
    matrix[:3, :3] += math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross
    return matrix


def transformed(batch: dict[str, torch.Tensor], matrix: torch.Tensor) -> dict[str, torch.Tensor]:
    """The batch with every four-vector ``v`` replaced by ``matrix @ v``."""
    return dict(batch, vectors=batch["vectors"] @ matrix.T)


def in_float64(
    model: nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """The model and the batch in float64 (for invariance checks to 1e-9)."""
    doubled = {
        name: value.double() if value.is_floating_point() else value
        for name, value in batch.items()
    }
    return model.double(), doubled


# a boost, a rotation and two boosts around a rotation
LORENTZ = [
    boost((0.3, -0.5, 0.6)),
    rotation((1.0, 2.0, -0.5), 2.0),
    boost((0.0, 0.0, -0.9)) @ rotation((0.0, 1.0, 0.0), 0.7) @ boost((0.8, 0.1, 0.0)),
]
