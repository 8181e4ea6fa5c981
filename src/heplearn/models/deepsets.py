"""Deep Sets and Particle Flow Networks: a per-particle map, a masked sum, a head.

The Particle Flow Network of Komiske, Metodiev and Thaler (JHEP 01 (2019) 121,
arXiv:1810.05165) is a Deep Set over particles: ``F(Σ_i Φ(p_i))``. The defaults are
those of the paper and of the EnergyFlow package: Φ with layers (100, 100, 256), a
latent space of 256, F with layers (100, 100, 100), ReLU everywhere. ``deepsets`` and
``pfn`` are the same network under two names.
"""

from typing import Literal

from pydantic import Field, PositiveInt
from torch import Tensor, nn

from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.layers import (
    Activation,
    Head,
    PointwiseMLP,
    inputs_of_kind,
    masked_mean,
    masked_sum,
    particles_and_mask,
    the_input,
)
from heplearn.models.schema import InputSchema


class SetNetworkParams(ModelParams):
    """The Φ and F networks of a Deep Set (``deepsets``, ``pfn``, ``efn``); paper defaults."""

    phi: list[PositiveInt] = Field(
        default_factory=lambda: [100, 100, 256],
        min_length=1,
        description="per-particle layers Φ; the last is the latent dimension",
    )
    f: list[PositiveInt] = Field(
        default_factory=lambda: [100, 100, 100], description="layers F after the pooling"
    )
    activation: Activation = "relu"
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each F layer")


def phi_and_head(
    params: SetNetworkParams, phi_features: int, schema: InputSchema, n_outputs: int
) -> tuple[PointwiseMLP, Head]:
    """Φ over ``phi_features`` per particle, and F over the pooled Φ joined with tabular inputs.

    Parameters
    ----------
    params : SetNetworkParams
        Layer widths, activation and dropout.
    phi_features : int
        Features per particle that Φ reads.
    schema : InputSchema
        The model's inputs; the tabular ones are joined after the pooling.
    n_outputs : int
        Raw outputs per event.
    """
    phi = PointwiseMLP(phi_features, params.phi, params.activation)
    head = Head(
        phi.out_features,
        inputs_of_kind(schema, "tabular"),
        params.f,
        n_outputs,
        activation=params.activation,
        dropout=params.dropout,
    )
    return phi, head


class DeepSetsParams(SetNetworkParams):
    """Parameters of ``deepsets`` and ``pfn``."""

    name: Literal["deepsets", "pfn"] = "pfn"
    pooling: Literal["sum", "mean"] = Field(
        "sum", description="sum (the PFN) or mean over the real particles"
    )


class DeepSets(nn.Module):
    """``F(pool_i Φ(p_i) ⊕ tabular)`` with pooling over real particles only.

    Parameters
    ----------
    params : DeepSetsParams
        Layer widths, activation, pooling and dropout.
    schema : InputSchema
        One particles input, optionally tabular inputs joined after the pooling.
    n_outputs : int
        Raw outputs per event.
    """

    def __init__(self, params: DeepSetsParams, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        particles = the_input(schema, "particles", params.name)
        self.particles_name = particles.name
        self.pooling = params.pooling
        self.phi, self.head = phi_and_head(params, particles.features, schema, n_outputs)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` from the particles ``(B, L, F)``, mask and tabular inputs."""
        particles, mask = particles_and_mask(inputs, self.particles_name)
        latent = self.phi(particles)
        pooled = masked_sum(latent, mask) if self.pooling == "sum" else masked_mean(latent, mask)
        return self.head(pooled, inputs)


def build(params: DeepSetsParams, schema: InputSchema, n_outputs: int) -> DeepSets:
    """The Deep Sets network for the selected particles (and tabular) inputs."""
    return DeepSets(params, schema, n_outputs)


FAMILIES = tuple(
    ModelFamily(
        name=name,
        params=DeepSetsParams,
        build=build,
        main_kind="particles",
        accepts=frozenset({"particles", "tabular"}),
        padding_invariant=True,
    )
    for name in ("deepsets", "pfn")
)
