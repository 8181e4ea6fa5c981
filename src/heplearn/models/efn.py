"""Energy Flow Networks: an IRC-safe Deep Set weighted by energy fractions.

The Energy Flow Network of Komiske, Metodiev and Thaler (JHEP 01 (2019) 121,
arXiv:1810.05165) computes ``F(Σ_i z_i Φ(angles_i))`` with ``z_i = E_i / Σ_j E_j``
over the real particles of the jet. Φ sees only angular coordinates and enters
linearly in the energies, so the output does not change when a zero-energy particle is
added (infrared safety) or a particle is split into two collinear ones (collinear
safety).

The energy column must hold raw, non-negative energies (or transverse momenta): set
``standardise: {<particles input>: none}`` in the dataset spec. A standardised or
logarithmic column gives fractions that are not energy fractions, and the network is then
neither IRC safe nor an EFN.
"""

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from heplearn.models.base import ModelFamily
from heplearn.models.deepsets import SetNetworkParams, phi_and_head
from heplearn.models.layers import column_indices, particles_and_mask, the_input
from heplearn.models.schema import InputSchema


class EFNParams(SetNetworkParams):
    """Parameters of ``efn``; layer defaults follow the paper (as for the PFN)."""

    name: Literal["efn"] = "efn"
    energy_column: str = Field(
        "part_pt", description="particles column with raw energies or pT (not standardised)"
    )
    angle_columns: list[str] = Field(
        default_factory=lambda: ["part_deta", "part_dphi"],
        min_length=1,
        description="particles columns Φ reads",
    )


class EFN(nn.Module):
    """``F(Σ_i z_i Φ(angles_i) ⊕ tabular)``, with ``z`` the energy fractions of real particles.

    Parameters
    ----------
    params : EFNParams
        Columns, layer widths, activation and dropout.
    schema : InputSchema
        One particles input holding ``energy_column`` and ``angle_columns``, optionally
        tabular inputs joined after the sum.
    n_outputs : int
        Raw outputs per event.

    Raises
    ------
    ConfigError
        When a named column is not a column of the particles input.
    """

    def __init__(self, params: EFNParams, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        particles = the_input(schema, "particles", params.name)
        self.particles_name = particles.name
        (self.energy_index,) = column_indices(
            particles, [params.energy_column], "model.energy_column"
        )
        self.angle_indices = column_indices(particles, params.angle_columns, "model.angle_columns")
        self.phi, self.head = phi_and_head(params, len(self.angle_indices), schema, n_outputs)

    def energy_fractions(self, particles: Tensor) -> Tensor:
        """``z_i = E_i / Σ_j E_j`` ``(batch, length)`` of zero-padded particles (0 if ΣE = 0)."""
        energy = particles[..., self.energy_index]
        total = energy.sum(dim=1, keepdim=True)
        return energy / torch.where(total != 0, total, 1.0)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` from the particles ``(B, L, F)``, mask and tabular inputs."""
        particles, _ = particles_and_mask(inputs, self.particles_name)
        fractions = self.energy_fractions(particles)
        latent = self.phi(particles[..., self.angle_indices])
        pooled = (fractions.unsqueeze(-1) * latent).sum(dim=1)
        return self.head(pooled, inputs)


def build(params: EFNParams, schema: InputSchema, n_outputs: int) -> EFN:
    """The EFN for the selected particles (and tabular) inputs."""
    return EFN(params, schema, n_outputs)


FAMILY = ModelFamily(
    name="efn",
    params=EFNParams,
    build=build,
    main_kind="particles",
    accepts=frozenset({"particles", "tabular"}),
    padding_invariant=True,
)
