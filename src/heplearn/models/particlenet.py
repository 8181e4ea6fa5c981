"""ParticleNet: dynamic graph convolutions (EdgeConv) on the particle cloud.

Qu and Gouskos, Phys. Rev. D 101, 056019 (2020), arXiv:1902.08570. Each EdgeConv block
finds the ``k`` nearest neighbours of every particle (in the ``coordinates`` columns for
the first block, in the learned features after that), maps each edge
``(x_i, x_j - x_i)`` through linear layers with batch norm and ReLU, averages over the
neighbours and adds a shortcut. The blocks are followed by global average pooling over
the real particles and a dense head. ``particlenet`` and ``particlenet-lite`` default to
the two configurations of the paper (366k and 26k parameters for the 7 features of the
top-tagging study).

Padding never matters: padded particles are never neighbours of real ones (their
distance is infinite), are left out of batch-norm statistics, and are not pooled. A
particle with fewer than ``k`` real neighbours averages over the ones it has (a lone
particle keeps only its shortcut). The paper has no fusion layer; ``fusion: true`` adds
the one of weaver-core (the outputs of all blocks concatenated and mixed before pooling).
"""

from dataclasses import replace
from typing import Annotated, Literal

import torch
from pydantic import Field, PositiveInt
from torch import Tensor, nn
from torch.nn import functional

from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.layers import (
    Head,
    MaskedBatchNorm,
    column_indices,
    folded_linear,
    inputs_of_kind,
    masked_mean,
    particles_and_mask,
    the_input,
)
from heplearn.models.schema import InputSchema

BlockWidths = Annotated[list[PositiveInt], Field(min_length=1)]


class _ParticleNetOptions(ModelParams):
    """Parameters shared by ``particlenet`` and ``particlenet-lite`` (paper defaults)."""

    coordinates: list[str] = Field(
        default_factory=lambda: ["part_deta", "part_dphi"],
        min_length=1,
        description="particles columns of the first k-nearest-neighbour search",
    )
    k: PositiveInt = Field(16, description="neighbours per particle")
    convs: list[BlockWidths] = Field(
        default_factory=lambda: [[64, 64, 64], [128, 128, 128], [256, 256, 256]],
        min_length=1,
        description="layer widths of each EdgeConv block",
    )
    fc: list[PositiveInt] = Field(
        default_factory=lambda: [256], description="dense layers after the pooling"
    )
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout after each dense layer")
    fusion: bool = Field(False, description="weaver-core's fusion of all blocks' outputs")
    input_batch_norm: bool = Field(True, description="batch norm of the input features")


class ParticleNetParams(_ParticleNetOptions):
    """Parameters of ``particlenet``: k = 16, blocks (64,)×3, (128,)×3, (256,)×3, FC 256."""

    name: Literal["particlenet"] = "particlenet"


class ParticleNetLiteParams(_ParticleNetOptions):
    """Parameters of ``particlenet-lite``: k = 7, blocks (32,)×3, (64,)×3, FC 128."""

    name: Literal["particlenet-lite"] = "particlenet-lite"
    k: PositiveInt = Field(7, description="neighbours per particle")
    convs: list[BlockWidths] = Field(
        default_factory=lambda: [[32, 32, 32], [64, 64, 64]],
        min_length=1,
        description="layer widths of each EdgeConv block",
    )
    fc: list[PositiveInt] = Field(
        default_factory=lambda: [128], description="dense layers after the pooling"
    )


@torch.no_grad()
def nearest_neighbours(points: Tensor, mask: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` nearest other real particles of every particle.

    Parameters
    ----------
    points : Tensor
        ``(batch, length, dims)`` coordinates.
    mask : Tensor
        ``(batch, length)``, true for real particles.
    k : int
        Neighbours wanted.

    Returns
    -------
    index : Tensor
        ``(batch, length, min(k, length))`` positions of the neighbours.
    valid : Tensor
        Same shape, true where the neighbour is a real particle other than the particle
        itself and the particle is real; false slots must be left out of any aggregation.
    """
    squared = (points * points).sum(dim=-1)
    # |x_i|² + |x_j|² − 2 x_i·x_j, then no padded neighbour and not itself, all in place
    distance = (squared.unsqueeze(2) + squared.unsqueeze(1)).baddbmm_(
        points, points.transpose(1, 2), alpha=-2
    )
    itself = torch.eye(points.shape[1], dtype=torch.bool, device=points.device)
    distance.masked_fill_(~mask.unsqueeze(1), torch.inf).masked_fill_(itself, torch.inf)
    nearest, index = distance.topk(min(k, points.shape[1]), dim=-1, largest=False)
    valid = nearest.isfinite() & mask.unsqueeze(-1)
    return index, valid


class EdgeConv(nn.Module):
    """One EdgeConv block with a shortcut, on channel-last particle features.

    Parameters
    ----------
    in_features : int
        Features per particle.
    widths : list of int
        Widths of the edge layers (linear without bias, batch norm, ReLU).
    k : int
        Neighbours per particle.
    """

    def __init__(self, in_features: int, widths: list[int], k: int) -> None:
        super().__init__()
        self.k = k
        self.edge = nn.Linear(2 * in_features, widths[0], bias=False)
        self.edge_norm = MaskedBatchNorm(widths[0])
        self.edge_layers = nn.ModuleList()
        self.edge_norms = nn.ModuleList()
        width = widths[0]
        for out in widths[1:]:
            self.edge_layers.append(nn.Linear(width, out, bias=False))
            self.edge_norms.append(MaskedBatchNorm(out))
            width = out
        self.shortcut = nn.Linear(in_features, width, bias=False) if width != in_features else None
        self.shortcut_norm = MaskedBatchNorm(width) if self.shortcut is not None else None
        self.activation = nn.ReLU()
        self.out_features = width

    def forward(self, points: Tensor, features: Tensor, mask: Tensor) -> Tensor:
        """New features ``(batch, length, out)``; zero for padded particles.

        Parameters
        ----------
        points : Tensor
            ``(batch, length, dims)`` coordinates of the neighbour search.
        features : Tensor
            ``(batch, length, in_features)``, zero for padded particles.
        mask : Tensor
            ``(batch, length)``, true for real particles.
        """
        index, valid = nearest_neighbours(points, mask, self.k)
        count = valid.sum(dim=2, keepdim=True).clamp(min=1).to(features.dtype)
        if self.training:
            aggregated = self._edge_sums(features, index, valid) / count
        else:  # the mean over the real neighbours, as a batched product with their shares
            share = valid.to(features.dtype) / count
            aggregated = (share.unsqueeze(-2) @ self._fast_edges(features, index)).squeeze(-2)
        shortcut = features
        if self.shortcut is not None and self.shortcut_norm is not None:
            if self.training:
                shortcut = self.shortcut_norm(self.shortcut(features), mask)
            else:
                shortcut = functional.linear(
                    features, *folded_linear(self.shortcut.weight, self.shortcut_norm)
                )
        return torch.where(mask.unsqueeze(-1), self.activation(aggregated + shortcut), 0.0)

    def _edge_sums(self, features: Tensor, index: Tensor, valid: Tensor) -> Tensor:
        """Sum of the edge features over each particle's real neighbours, in training mode.

        Only the real edges are computed: they are gathered into rows ``(edges, width)``,
        so that batch norm takes its statistics from all of them (no masking) and padded
        or missing neighbours cost nothing. Returns ``(batch, length, out)``.
        """
        batch, length, k = index.shape
        edges_at = valid.reshape(-1).nonzero().squeeze(1)  # among the (batch·length·k) slots
        centres = edges_at.div(k, rounding_mode="floor")  # particle rows (batch·length)
        offsets = torch.arange(batch, device=index.device).view(-1, 1, 1) * length
        neighbours = (index + offsets).reshape(-1).index_select(0, edges_at)
        # W·(x_i, x_j − x_i) = (W_a − W_b)·x_i + W_b·x_j: two per-particle products, gathered.
        weight = self.edge.weight
        width = features.shape[-1]
        rows = features.reshape(-1, width)
        centre = rows @ (weight[:, :width] - weight[:, width:]).T
        neighbour = rows @ weight[:, width:].T
        edges = centre.index_select(0, centres) + neighbour.index_select(0, neighbours)
        edges = self.activation(self.edge_norm.normalise_rows(edges))
        for layer, norm in zip(self.edge_layers, self.edge_norms, strict=True):
            assert isinstance(norm, MaskedBatchNorm)
            edges = self.activation(norm.normalise_rows(layer(edges)))
        sums = edges.new_zeros(batch * length, edges.shape[-1]).index_add_(0, centres, edges)
        return sums.view(batch, length, -1)

    def _fast_edges(self, features: Tensor, index: Tensor) -> Tensor:
        """The same in evaluation mode, each batch norm folded into its linear layer.

        Edges to padded or missing neighbours are computed like the others (from zero
        features) and left out by the aggregation, so no masking is needed here.
        """
        weight, bias = folded_linear(self.edge.weight, self.edge_norm)
        width = features.shape[-1]
        centre = torch.addmm(
            bias, features.flatten(0, 1), (weight[:, :width] - weight[:, width:]).T
        ).view(*features.shape[:2], -1)
        neighbour = features @ weight[:, width:].T
        edges = gather_neighbours(neighbour, index).add_(centre.unsqueeze(2)).relu_()
        for layer, norm in zip(self.edge_layers, self.edge_norms, strict=True):
            assert isinstance(layer, nn.Linear) and isinstance(norm, MaskedBatchNorm)
            edges = functional.linear(edges, *folded_linear(layer.weight, norm)).relu_()
        return edges


def gather_neighbours(values: Tensor, index: Tensor) -> Tensor:
    """``values`` ``(batch, length, C)`` of the neighbours ``index`` ``(batch, length, k)``.

    Returns ``(batch, length, k, C)``: one ``index_select`` on the flattened batch.
    """
    batch, length, k = index.shape
    offsets = torch.arange(batch, device=index.device).view(-1, 1, 1) * values.shape[1]
    rows = values.reshape(-1, values.shape[-1]).index_select(0, (index + offsets).reshape(-1))
    return rows.view(batch, length, k, values.shape[-1])


class ParticleNet(nn.Module):
    """EdgeConv blocks, optional fusion, average pooling over real particles, dense head.

    Parameters
    ----------
    params : ParticleNetParams or ParticleNetLiteParams
        Coordinates, k, block widths, head and options.
    schema : InputSchema
        One particles input holding the ``coordinates`` columns, optionally tabular
        inputs joined after the pooling.
    n_outputs : int
        Raw outputs per event.

    Raises
    ------
    ConfigError
        When a coordinate is not a column of the particles input.
    """

    def __init__(self, params: _ParticleNetOptions, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        particles = the_input(schema, "particles", params.name)
        self.particles_name = particles.name
        self.coordinate_indices = column_indices(particles, params.coordinates, "model.coordinates")
        width = particles.features
        self.input_norm = MaskedBatchNorm(width) if params.input_batch_norm else None
        self.blocks = nn.ModuleList()
        for widths in params.convs:
            self.blocks.append(EdgeConv(width, widths, params.k))
            width = widths[-1]
        self.fusion: nn.Linear | None = None
        self.fusion_norm: MaskedBatchNorm | None = None
        if params.fusion:
            joined = sum(widths[-1] for widths in params.convs)
            width = min(max(joined // 128 * 128, 128), 1024)
            self.fusion = nn.Linear(joined, width, bias=False)
            self.fusion_norm = MaskedBatchNorm(width)
        self.head = Head(
            width, inputs_of_kind(schema, "tabular"), params.fc, n_outputs, dropout=params.dropout
        )

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` from the particles ``(B, L, F)``, mask and tabular inputs."""
        particles, mask = particles_and_mask(inputs, self.particles_name)
        points = particles[..., self.coordinate_indices]
        features = particles if self.input_norm is None else self.input_norm(particles, mask)
        outputs = []
        for block in self.blocks:
            features = block(points, features, mask)
            outputs.append(features)
            points = features
        if self.fusion is not None and self.fusion_norm is not None:
            fused = self.fusion_norm(self.fusion(torch.cat(outputs, dim=-1)), mask)
            features = torch.relu(fused)
        return self.head(masked_mean(features, mask), inputs)


def build(params: _ParticleNetOptions, schema: InputSchema, n_outputs: int) -> ParticleNet:
    """ParticleNet (or ParticleNet-Lite) for the selected particles (and tabular) inputs."""
    return ParticleNet(params, schema, n_outputs)


_PARTICLENET = ModelFamily(
    name="particlenet",
    params=ParticleNetParams,
    build=build,
    main_kind="particles",
    accepts=frozenset({"particles", "tabular"}),
    padding_invariant=True,
)
FAMILIES = (
    _PARTICLENET,
    replace(
        _PARTICLENET,
        name="particlenet-lite",
        params=ParticleNetLiteParams,
    ),
)
