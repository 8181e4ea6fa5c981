"""LorentzNet: a Lorentz-equivariant graph network on the constituents' four-momenta.

Gong, Meng, Zhang, Qu, Li, Qian, Du, Ma and Liu, JHEP 07 (2022) 030, arXiv:2201.08187.
Every node carries a four-vector ``x_i`` (its four-momentum at the input) and scalars
``h_i``. A Lorentz group equivariant block (LGEB) updates both from messages built out
of Lorentz invariants only::

    m_ij = φ_e(h_i, h_j, ψ(‖x_i − x_j‖²), ψ(⟨x_i, x_j⟩))
    x_i ← x_i + c Σ_j φ_x(m_ij) x_j
    h_i ← h_i + φ_h(h_i, Σ_j φ_m(m_ij) m_ij)

with the Minkowski product ⟨a, b⟩ = a⁰b⁰ − a·b, ψ(z) = sgn(z) ln(|z| + 1), φ_m a sigmoid
weight of each edge and the sums over the other real nodes. The scalars never see a
four-vector except through Minkowski products, so they, the pooled ``mean_i h_i`` and the
output are invariant under every Lorentz transformation of the inputs, and the ``x_i``
are equivariant. The last block updates only the scalars (its four-vectors would not be
read).

Input scalars of every node: ψ(m²) of its four-momentum, the columns of the optional
``scalars`` particles input (e.g. the charge; only Lorentz scalars keep the symmetry),
and, with ``beams`` (the default, as in the paper), a beam label. The beams are two
extra nodes with the four-vectors (√2, 0, 0, ±1) GeV along the z axis, as in the
paper's top-tagging set-up: they break the full Lorentz symmetry down to the one of a
collider (rotations about the beam axis), so the network can learn, for example, the
constituents' transverse momenta. Without beams the output is invariant under every
boost and rotation.

``lorentznet`` defaults to a CPU-sized network (32 hidden, 4 blocks); the paper's
configuration is ``hidden: 72, blocks: 6`` (224k parameters). Padded particles send and
receive no messages, are left out of the batch-norm statistics and out of the pooling.
The four-vectors must be ``(px, py, pz, E)`` in this order, not standardised
(``standardise: none`` for that input): standardising them breaks the symmetry.
"""

import math
from typing import Literal

import torch
from pydantic import Field, PositiveFloat, PositiveInt
from torch import Tensor, nn

from heplearn.errors import ConfigError
from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.layers import (
    Head,
    MaskedBatchNorm,
    inputs_of_kind,
    masked_mean,
    particles_and_mask,
)
from heplearn.models.schema import InputInfo, InputSchema

# Four-vector arithmetic in double precision: the Minkowski products of nearly collinear
# constituents of TeV jets cancel to a part in 10⁶ (in float32 the scores moved by 1e-4).
VECTOR_DTYPE = torch.float64
# the metric signature (+, −, −, −) for (px, py, pz, E)
_METRIC = (-1.0, -1.0, -1.0, 1.0)
_BEAMS = ((0.0, 0.0, 1.0, math.sqrt(2.0)), (0.0, 0.0, -1.0, math.sqrt(2.0)))


class FourVectorParams(ModelParams):
    """The inputs of a network on four-vectors: their particles input and optional scalars."""

    vectors: str = Field(
        "vectors", description="particles input with (px, py, pz, E), not standardised"
    )
    scalars: str | None = Field(
        None, description="particles input of per-particle scalars (e.g. charge), if any"
    )


class LorentzNetParams(FourVectorParams):
    """Parameters of ``lorentznet``; the paper's configuration is hidden 72, 6 blocks."""

    name: Literal["lorentznet"] = "lorentznet"
    hidden: PositiveInt = Field(32, description="width of the node scalars and messages")
    blocks: PositiveInt = Field(4, description="Lorentz group equivariant blocks (LGEB)")
    c: PositiveFloat = Field(1e-3, description="scale c of the four-vector update")
    beams: bool = Field(True, description="add two beam nodes along z (the paper's set-up)")
    fc: list[PositiveInt] | None = Field(
        None, description="dense layers after the pooling; default: one of width hidden"
    )
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout in the dense layers")


def minkowski(first: Tensor, second: Tensor) -> Tensor:
    """Minkowski product ``E₁E₂ − p₁·p₂`` of ``(..., 4)`` vectors ``(px, py, pz, E)``."""
    metric = torch.tensor(_METRIC, dtype=first.dtype, device=first.device)
    return (first * metric * second).sum(dim=-1)


def psi(value: Tensor) -> Tensor:
    """``sgn(z) ln(|z| + 1)``: compresses the GeV² scales of Minkowski products."""
    return torch.sign(value) * torch.log1p(value.abs())


def squared_mass(vectors: Tensor) -> Tensor:
    """``E² − |p|²`` of ``(..., 4)`` vectors as ``(E − |p|)(E + |p|)`` (less cancellation)."""
    momentum = vectors[..., :3].norm(dim=-1)
    energy = vectors[..., 3]
    return (energy - momentum) * (energy + momentum)


class EdgeBatchNorm(MaskedBatchNorm):
    """:class:`MaskedBatchNorm` for the ``(B, N, N, C)`` edges, in fewer passes over them.

    The statistics come from the real edges only (``E[x]`` and ``E[x²]`` as masked
    reductions); the output at the other edges is not zeroed: the caller leaves them out.
    """

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Normalise ``x`` ``(B, N, N, C)`` with statistics over ``mask`` ``(B, N, N)``."""
        assert mask is not None
        if self.training:
            weights = mask.to(x.dtype)
            count = weights.sum()
            mean = torch.einsum("bij,bijc->c", weights, x) / count.clamp(min=1)
            square = torch.einsum("bij,bijc->c", weights, x * x) / count.clamp(min=1)
            var = (square - mean * mean).clamp(min=0)
            self._update_running_stats(mean, var, count)
        else:
            assert self.running_mean is not None and self.running_var is not None
            mean, var = self.running_mean, self.running_var
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            scale = scale * self.weight
        shift = -mean * scale + (self.bias if self.affine else 0.0)
        return torch.addcmul(shift, x, scale)


class LorentzBlock(nn.Module):
    """One Lorentz group equivariant block (LGEB) on a dense graph of nodes.

    Parameters
    ----------
    hidden : int
        Width of the node scalars and of the messages.
    c : float
        Scale of the four-vector update.
    updates_vectors : bool
        False for the last block: only the scalars are updated.
    """

    def __init__(self, hidden: int, c: float, updates_vectors: bool) -> None:
        super().__init__()
        self.c = c
        # φ_e's first layer on (h_i, h_j, ψ‖x_i − x_j‖², ψ⟨x_i, x_j⟩), split by argument
        self.edge_receiver = nn.Linear(hidden, hidden)
        self.edge_sender = nn.Linear(hidden, hidden, bias=False)
        self.edge_invariants = nn.Linear(2, hidden, bias=False)
        self.edge_norm = EdgeBatchNorm(hidden)
        self.edge_out = nn.Linear(hidden, hidden)
        self.edge_weight = nn.Linear(hidden, 1)
        self.node_in = nn.Linear(2 * hidden, hidden)
        self.node_norm = MaskedBatchNorm(hidden)
        self.node_out = nn.Linear(hidden, hidden)
        self.vector_coefficient = (
            nn.Sequential(
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1, bias=False)
            )
            if updates_vectors
            else None
        )

    def forward(
        self, scalars: Tensor, vectors: Tensor, edges: Tensor, nodes: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Updated ``scalars`` ``(B, N, hidden)`` and ``vectors`` ``(B, N, 4)``.

        Parameters
        ----------
        scalars, vectors : Tensor
            Node scalars and four-vectors, zero for padded nodes.
        edges : Tensor
            ``(B, N, N)``, true between two different real nodes.
        nodes : Tensor
            ``(B, N)``, true for real nodes.
        """
        products = minkowski(vectors.unsqueeze(2), vectors.unsqueeze(1))
        own = torch.diagonal(products, dim1=1, dim2=2)
        distances = own.unsqueeze(2) + own.unsqueeze(1) - 2 * products
        invariants = psi(torch.stack([distances, products], dim=-1)).to(scalars.dtype)
        # in place: each (B, N, N, C) tensor is written once (the step is memory bound)
        messages = self.edge_invariants(invariants)
        messages += self.edge_receiver(scalars).unsqueeze(2)
        messages += self.edge_sender(scalars).unsqueeze(1)
        messages = self.edge_out(self.edge_norm(messages, edges).relu_()).relu_()
        weights = torch.where(edges, torch.sigmoid(self.edge_weight(messages)).squeeze(-1), 0.0)
        # Σ_j w_ij m_ij as one product per node: (B, N, 1, N) @ (B, N, N, C)
        aggregated = (weights.unsqueeze(2) @ messages).squeeze(2)
        update = self.node_in(torch.cat([scalars, aggregated], dim=-1))
        update = self.node_out(torch.relu(self.node_norm(update, nodes)))
        scalars = torch.where(nodes.unsqueeze(-1), scalars + update, 0.0)
        if self.vector_coefficient is not None:
            coefficients = self.vector_coefficient(messages).squeeze(-1)
            coefficients = torch.where(edges, coefficients, 0.0).to(vectors.dtype)
            vectors = vectors + self.c * coefficients @ vectors
        return scalars, vectors


def beam_vectors() -> Tensor:
    """The two beam four-vectors ``(px, py, pz, E)`` = (0, 0, ±1, √2) GeV, ``(2, 4)``."""
    return torch.tensor(_BEAMS)


def four_vector_inputs(
    params: FourVectorParams, schema: InputSchema
) -> tuple[InputInfo, InputInfo | None]:
    """The four-vector input and the scalars input (if any) of ``schema``, checked.

    Raises
    ------
    ConfigError
        When ``params.vectors`` is not a particles input with 4 columns, ``params.scalars``
        not another particles input of the same length, or the model reads a third one.
    """
    particles = {info.name: info for info in inputs_of_kind(schema, "particles")}
    available = ", ".join(particles) or "none"
    if params.vectors not in particles:
        raise ConfigError(
            f"model.vectors: {params.vectors!r} is not a particles input the model reads; "
            f"its particles inputs are: {available}. Name the input of (px, py, pz, E) "
            "with model.vectors"
        )
    vectors = particles[params.vectors]
    if vectors.features != 4:
        raise ConfigError(
            f"model.vectors: input {vectors.name!r} must have the 4 columns px, py, pz, E, "
            f"not {', '.join(vectors.columns)}"
        )
    scalars = None
    if params.scalars is not None:
        if params.scalars not in particles or params.scalars == params.vectors:
            raise ConfigError(
                f"model.scalars: {params.scalars!r} is not a particles input the model reads "
                f"besides model.vectors; its particles inputs are: {available}"
            )
        scalars = particles[params.scalars]
        if scalars.shape[0] != vectors.shape[0]:
            raise ConfigError(
                f"model.scalars: input {scalars.name!r} has length {scalars.shape[0]} but "
                f"{vectors.name!r} has length {vectors.shape[0]}; give both the same length"
            )
    others = [name for name in particles if name not in {params.vectors, params.scalars}]
    if others:
        raise ConfigError(
            f"model {params.name!r} reads the four-vectors (model.vectors = {params.vectors!r}) "
            f"and optionally per-particle scalars (model.scalars), not also {', '.join(others)}; "
            "choose its inputs with model.inputs, e.g. [vectors]"
        )
    return vectors, scalars


class LorentzNet(nn.Module):
    """Scalar embedding, LGEBs, mean pooling over the nodes, dense head.

    Parameters
    ----------
    params : LorentzNetParams
        Architecture, beams and the names of the four-vector and scalar inputs.
    schema : InputSchema
        The four-vector particles input, optionally a scalars particles input and tabular
        inputs joined after the pooling.
    n_outputs : int
        Raw outputs per event.

    Raises
    ------
    ConfigError
        When the particles inputs are not the named four-vectors (and scalars).
    """

    beams: Tensor | None
    beam_scalars: Tensor | None

    def __init__(self, params: LorentzNetParams, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        vectors, scalars = four_vector_inputs(params, schema)
        self.vectors_name = vectors.name
        self.scalars_name = scalars.name if scalars is not None else None
        n_scalars = 1 + (scalars.features if scalars is not None else 0) + int(params.beams)
        # beam nodes come first; a transformation of "all four-vectors" includes ``beams``
        beams, beam_scalars = None, None
        if params.beams:
            beams = beam_vectors()
            beam_scalars = torch.zeros(2, n_scalars)
            beam_scalars[:, 0] = psi(squared_mass(beams))
            beam_scalars[:, -1] = 1.0  # the beam label
        self.register_buffer("beams", beams, persistent=False)
        self.register_buffer("beam_scalars", beam_scalars, persistent=False)
        self.embedding = nn.Linear(n_scalars, params.hidden)
        self.blocks = nn.ModuleList(
            LorentzBlock(params.hidden, params.c, updates_vectors=index < params.blocks - 1)
            for index in range(params.blocks)
        )
        self.head = Head(
            params.hidden,
            inputs_of_kind(schema, "tabular"),
            params.fc if params.fc is not None else [params.hidden],
            n_outputs,
            dropout=params.dropout,
        )

    def nodes(self, inputs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Input scalars ``(B, N, S)``, four-vectors ``(B, N, 4)`` and mask of every node.

        The beams (if any) come first, then the particles; padded nodes are zero.
        """
        vectors, mask = particles_and_mask(inputs, self.vectors_name)
        dtype = vectors.dtype
        vectors = vectors.to(VECTOR_DTYPE)
        parts = [psi(squared_mass(vectors)).to(dtype).unsqueeze(-1)]
        if self.scalars_name is not None:
            parts.append(particles_and_mask(inputs, self.scalars_name)[0])
        if self.beams is not None:
            parts.append(torch.zeros_like(parts[0]))
        scalars = torch.where(mask.unsqueeze(-1), torch.cat(parts, dim=-1), 0.0)
        if self.beams is None or self.beam_scalars is None:
            return scalars, vectors, mask
        batch = vectors.shape[0]
        beam_mask = torch.ones(batch, 2, dtype=torch.bool, device=mask.device)
        return (
            torch.cat([self.beam_scalars.to(scalars.dtype).expand(batch, -1, -1), scalars], 1),
            torch.cat([self.beams.to(VECTOR_DTYPE).expand(batch, -1, -1), vectors], 1),
            torch.cat([beam_mask, mask], dim=1),
        )

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` from the four-vectors, their mask, scalars and tabular inputs."""
        scalars, vectors, nodes = self.nodes(inputs)
        length = nodes.shape[1]
        itself = torch.eye(length, dtype=torch.bool, device=nodes.device)
        edges = nodes.unsqueeze(2) & nodes.unsqueeze(1) & ~itself
        hidden = torch.where(nodes.unsqueeze(-1), self.embedding(scalars), 0.0)
        for block in self.blocks:
            hidden, vectors = block(hidden, vectors, edges, nodes)
        return self.head(masked_mean(hidden, nodes), inputs)


def build(params: LorentzNetParams, schema: InputSchema, n_outputs: int) -> LorentzNet:
    """LorentzNet for the selected four-vector (scalars and tabular) inputs."""
    return LorentzNet(params, schema, n_outputs)


FAMILY = ModelFamily(
    name="lorentznet",
    params=LorentzNetParams,
    build=build,
    main_kind=None,
    accepts=frozenset({"particles", "tabular"}),
    padding_invariant=True,
)
