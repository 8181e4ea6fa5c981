"""Particle Transformer (ParT): attention over particles with pairwise interaction biases.

Qu, Li and Qian, ICML 2022, arXiv:2202.03772. Particles are embedded by an MLP, pass
through particle-attention blocks whose attention scores get a per-head bias learned
from four pairwise features of the particles' 4-vectors (ln kT, ln z, ln ΔR, ln m²), then
class-attention blocks summarise them into a class token that feeds the head. Blocks are
pre-norm with the paper's extra normalisations (after attention and inside the
feed-forward layer), a learned scale per head and per residual channel.

``part`` defaults to the paper's configuration (embedding (128, 512, 128), 8 particle
blocks, 2 class blocks, 8 heads, pair embedding (64, 64, 64): 2.14M parameters on the
17 features and 10 classes of JetClass); ``part-small`` to a smaller one for quick
studies.

Two particles inputs. The interaction bias reads a particles input named by ``vectors``
holding ``(px, py, pz, E)`` in this column order, unstandardised (``standardise: none``),
of the same length as the features input; the other particles input is the features the
embedding reads, and its mask is the mask of both. Without ``vectors`` the model is a
plain transformer with class attention. Padded particles are masked out of every
attention as keys and out of the batch-norm statistics; an event without any real
particle still gets a finite output (from the class token alone).
"""

from dataclasses import replace
from typing import Literal

import torch
from pydantic import Field, NonNegativeInt, PositiveInt, model_validator
from torch import Tensor, nn
from torch.nn import functional

from heplearn.angles import wrap_phi_tensor
from heplearn.errors import ConfigError
from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.layers import (
    Head,
    MaskedBatchNorm,
    folded_linear,
    inputs_of_kind,
    particles_and_mask,
)
from heplearn.models.schema import InputInfo, InputSchema


class _ParTOptions(ModelParams):
    """Parameters shared by ``part`` and ``part-small``."""

    vectors: str | None = Field(
        None,
        description="particles input with (px, py, pz, E) for the pair interactions; "
        "none: no interaction bias",
    )
    embed: list[PositiveInt] = Field(
        default_factory=lambda: [128, 512, 128],
        min_length=1,
        description="particle embedding layers; the last is the model dimension",
    )
    pair_embed: list[PositiveInt] = Field(
        default_factory=lambda: [64, 64, 64],
        description="pair embedding layers (a last layer with one output per head follows)",
    )
    heads: PositiveInt = 8
    particle_blocks: NonNegativeInt = 8
    class_blocks: PositiveInt = 2
    ffn_ratio: PositiveInt = Field(4, description="feed-forward width / model dimension")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout in attention and feed-forward")
    fc: list[PositiveInt] = Field(
        default_factory=list, description="dense layers after the class token"
    )
    input_batch_norm: bool = Field(True, description="batch norm of the input features")

    @model_validator(mode="after")
    def _heads_divide_dimension(self) -> "_ParTOptions":
        if self.embed[-1] % self.heads:
            raise ValueError(
                f"the model dimension embed[-1] = {self.embed[-1]} must be a multiple of "
                f"heads = {self.heads}"
            )
        return self


class ParTParams(_ParTOptions):
    """Parameters of ``part`` (the paper's configuration)."""

    name: Literal["part"] = "part"


class ParTSmallParams(_ParTOptions):
    """Parameters of ``part-small``: dimension 64, 3 + 1 blocks, 4 heads, pairs (32, 32)."""

    name: Literal["part-small"] = "part-small"
    embed: list[PositiveInt] = Field(
        default_factory=lambda: [64, 256, 64],
        min_length=1,
        description="particle embedding layers; the last is the model dimension",
    )
    pair_embed: list[PositiveInt] = Field(
        default_factory=lambda: [32, 32],
        description="pair embedding layers (a last layer with one output per head follows)",
    )
    heads: PositiveInt = 4
    particle_blocks: NonNegativeInt = 3
    class_blocks: PositiveInt = 1


def pair_features(first: Tensor, second: Tensor, eps: float = 1e-8) -> Tensor:
    """ln kT, ln z, ln ΔR and ln m² of particle pairs, as in the ParT paper.

    Parameters
    ----------
    first, second : Tensor
        ``(..., 4)`` four-vectors ``(px, py, pz, E)`` of the two particles of each pair.
    eps : float
        Floor of every argument of a logarithm (zero vectors give finite values).

    Returns
    -------
    Tensor
        ``(..., 4)``: ``ln(min(pT_a, pT_b) ΔR)``, ``ln(min(pT_a, pT_b) / (pT_a + pT_b))``,
        ``ln ΔR`` and ``ln m²`` of the summed four-vector; ΔR in rapidity and azimuth.
        Symmetric in the two particles.
    """

    def pt_rapidity_phi(vector: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Transverse momentum, rapidity and azimuth of ``(px, py, pz, E)``."""
        px, py, pz, energy = vector.unbind(dim=-1)
        rapidity = 0.5 * torch.log((energy + pz).clamp(min=eps) / (energy - pz).clamp(min=eps))
        return torch.sqrt(px**2 + py**2), rapidity, torch.atan2(py, px)

    pt_a, rapidity_a, phi_a = pt_rapidity_phi(first)
    pt_b, rapidity_b, phi_b = pt_rapidity_phi(second)
    delta_phi = wrap_phi_tensor(phi_a - phi_b)
    delta = torch.sqrt((rapidity_a - rapidity_b) ** 2 + delta_phi**2)
    pt_min = torch.minimum(pt_a, pt_b)
    total = first + second
    mass2 = total[..., 3] ** 2 - (total[..., :3] ** 2).sum(dim=-1)
    return torch.stack(
        [
            torch.log((pt_min * delta).clamp(min=eps)),
            torch.log((pt_min / (pt_a + pt_b).clamp(min=eps)).clamp(min=eps)),
            torch.log(delta.clamp(min=eps)),
            torch.log(mass2.clamp(min=eps)),
        ],
        dim=-1,
    )


def triangle_pairs(length: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Row and column of every pair ``column <= row < length``, in the order of
    ``torch.tril_indices(length, length)``.

    Built from ``torch.arange`` by arithmetic, so that torch.export keeps ``length``
    symbolic (``torch.tril_indices`` takes a plain integer and pins it). Pair ``k``
    lies in row ``r = floor((sqrt(8k + 1) - 1) / 2)``; the float32 estimate is corrected
    by one row where rounding put it off, so the indices are exact on any device.

    Returns
    -------
    tuple of Tensor
        ``(row, column)``, int64 of ``length (length + 1) / 2`` entries each.
    """
    index = torch.arange(length * (length + 1) // 2, device=device)
    row = torch.floor((torch.sqrt(8 * index.float() + 1) - 1) / 2).long()
    row = row - (row * (row + 1) // 2 > index).long()
    row = row + ((row + 1) * (row + 2) // 2 <= index).long()
    return row, index - row * (row + 1) // 2


def mirrored_pair_index(length: int, device: torch.device) -> Tensor:
    """``(length, length)``: where pair ``(i, j)`` sits in :func:`triangle_pairs`' order,
    whichever of ``i`` and ``j`` is larger."""
    particle = torch.arange(length, device=device)
    high = torch.maximum(particle.unsqueeze(1), particle.unsqueeze(0))
    low = torch.minimum(particle.unsqueeze(1), particle.unsqueeze(0))
    return high * (high + 1) // 2 + low


class PairEmbedding(nn.Module):
    """Per-head attention biases ``(batch, heads, length, length)`` from particle pairs.

    Batch norm of the four pair features, then ``Linear → batch norm → GELU`` per width,
    the last with one output per head; computed once per unordered pair (diagonal
    included, :func:`triangle_pairs`) and mirrored (:func:`mirrored_pair_index`). Pairs
    with a padded particle are left out of the batch-norm statistics. The pairs are
    built from ``torch.arange`` of the length, so torch.export and the ONNX graph keep
    the particle axis dynamic.

    Parameters
    ----------
    widths : list of int
        Hidden widths.
    heads : int
        Attention heads (outputs of the last layer).
    """

    def __init__(self, widths: list[int], heads: int) -> None:
        super().__init__()
        self.input_norm = MaskedBatchNorm(4)
        self.layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        width = 4
        for out in [*widths, heads]:
            self.layers.append(nn.Linear(width, out))
            self.norms.append(MaskedBatchNorm(out))
            width = out

    def forward(self, vectors: Tensor, mask: Tensor) -> Tensor:
        """Biases from ``vectors`` ``(batch, length, 4)`` and ``mask`` ``(batch, length)``."""
        length = vectors.shape[1]
        row, column = triangle_pairs(length, vectors.device)
        pair_mask = mask[:, row] & mask[:, column]
        embedded = self.input_norm(pair_features(vectors[:, row], vectors[:, column]), pair_mask)
        for layer, norm in zip(self.layers, self.norms, strict=True):
            assert isinstance(layer, nn.Linear) and isinstance(norm, MaskedBatchNorm)
            if self.training:
                embedded = functional.gelu(norm(layer(embedded), pair_mask))
            else:  # each batch norm folded into its layer; pairs with padding stay finite,
                # and their biases meet padded keys (-3e4) or padded queries (discarded)
                folded = folded_linear(layer.weight, norm, layer.bias)
                embedded = functional.gelu(functional.linear(embedded, *folded))
        return embedded.transpose(1, 2)[:, :, mirrored_pair_index(length, vectors.device)]


class AttentionBlock(nn.Module):
    """Pre-norm transformer block of ParT (particle or class attention).

    Parameters
    ----------
    dim : int
        Model dimension.
    heads : int
        Attention heads.
    ffn_ratio : int
        Feed-forward width as a multiple of ``dim``.
    dropout : float
        Dropout of the attention weights, the attention output and the feed-forward layer.
    """

    def __init__(self, dim: int, heads: int, ffn_ratio: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.pre_attention_norm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.head_scale = nn.Parameter(torch.ones(heads))
        self.attention_out = nn.Linear(dim, dim)
        self.post_attention_norm = nn.LayerNorm(dim)
        self.pre_ffn_norm = nn.LayerNorm(dim)
        self.ffn_in = nn.Linear(dim, ffn_ratio * dim)
        self.ffn_norm = nn.LayerNorm(ffn_ratio * dim)
        self.ffn_out = nn.Linear(ffn_ratio * dim, dim)
        self.residual_scale = nn.Parameter(torch.ones(dim))

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, length, dim = x.shape
        return x.view(batch, length, self.heads, dim // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, bias: Tensor, cls: Tensor | None = None) -> Tensor:
        """One block.

        Parameters
        ----------
        x : Tensor
            ``(batch, length, dim)`` particle states.
        bias : Tensor
            Additive attention bias, broadcastable to ``(batch, heads, queries, keys)``;
            very negative for padded keys.
        cls : Tensor, optional
            ``(batch, 1, dim)`` class token: class attention, where the token attends to
            itself and the particles and only the token is updated.

        Returns
        -------
        Tensor
            The updated particles, or the updated class token.
        """
        if cls is None:
            residual = x
            keys = self.pre_attention_norm(x)
            queries = keys
        else:
            residual = cls
            keys = self.pre_attention_norm(torch.cat([cls, x], dim=1))
            queries = keys[:, :1]
        key, value = self.key_value(keys).chunk(2, dim=-1)
        attended = functional.scaled_dot_product_attention(
            self._split_heads(self.query(queries)),
            self._split_heads(key),
            self._split_heads(value),
            attn_mask=bias.to(keys.dtype),
            dropout_p=self.dropout if self.training else 0.0,
        )
        # Merge the heads inside the output projection, each head scaled by its own factor.
        dim = queries.shape[-1]
        weight = self.attention_out.weight.view(dim, self.heads, dim // self.heads)
        # (in the activations' dtype: autocast leaves einsum to its parts where a dispatch
        # mode is active, as in the scorer's memory probe, and they meet bf16 and float32)
        weight = (weight * self.head_scale.view(1, -1, 1)).to(attended.dtype)
        attended = torch.einsum("bhqc,ohc->bqo", attended, weight) + self.attention_out.bias
        attended = self.post_attention_norm(attended)
        x = residual + functional.dropout(attended, self.dropout, self.training)
        hidden = functional.dropout(
            functional.gelu(self.ffn_in(self.pre_ffn_norm(x))), self.dropout, self.training
        )
        hidden = functional.dropout(
            self.ffn_out(self.ffn_norm(hidden)), self.dropout, self.training
        )
        return hidden + self.residual_scale * x


# Finite in float16 too (an event without particles must not give NaN), and far enough
# below any attention score that padded keys get exactly zero weight.
PADDED_KEY_BIAS = -3.0e4


def _key_padding_bias(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """``(batch, 1, 1, length)``: 0 for real keys, ``PADDED_KEY_BIAS`` for padded ones."""
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return bias.masked_fill(~mask, PADDED_KEY_BIAS).view(mask.shape[0], 1, 1, -1)


def _particle_inputs(
    params: _ParTOptions, schema: InputSchema
) -> tuple[InputInfo, InputInfo | None]:
    """The features input and the four-vector input (if any), checked."""
    particles = inputs_of_kind(schema, "particles")
    available = ", ".join(info.name for info in particles) or "none"
    vectors = None
    if params.vectors is not None:
        if params.vectors not in schema or schema[params.vectors].kind != "particles":
            raise ConfigError(
                f"model.vectors: {params.vectors!r} is not a particles input the model reads; "
                f"its particles inputs are: {available}"
            )
        vectors = schema[params.vectors]
        if vectors.features != 4:
            raise ConfigError(
                f"model.vectors: input {vectors.name!r} must have the 4 columns px, py, pz, E, "
                f"not {', '.join(vectors.columns)}"
            )
    features = [info for info in particles if info.name != params.vectors]
    if len(features) != 1:
        found = ", ".join(info.name for info in features) or "none"
        raise ConfigError(
            f"model {params.name!r} needs exactly one particles input of features besides "
            f"model.vectors (found {found}); name the four-vector input with model.vectors "
            "or choose the inputs with model.inputs"
        )
    if vectors is not None and vectors.shape[0] != features[0].shape[0]:
        raise ConfigError(
            f"model.vectors: input {vectors.name!r} has length {vectors.shape[0]} but "
            f"{features[0].name!r} has length {features[0].shape[0]}; give both the same length"
        )
    return features[0], vectors


class ParticleTransformer(nn.Module):
    """Embedding, particle-attention blocks with pair biases, class attention, head.

    Parameters
    ----------
    params : ParTParams or ParTSmallParams
        Architecture and the name of the four-vector input.
    schema : InputSchema
        One particles input of features, optionally the ``vectors`` input and tabular
        inputs joined to the class token before the head.
    n_outputs : int
        Raw outputs per event.

    Raises
    ------
    ConfigError
        When the particles inputs are not one features input plus the named vectors.
    """

    def __init__(self, params: _ParTOptions, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        features, vectors = _particle_inputs(params, schema)
        self.particles_name = features.name
        self.vectors_name = vectors.name if vectors is not None else None
        width = features.features
        self.input_norm = MaskedBatchNorm(width) if params.input_batch_norm else None
        embedding: list[nn.Module] = []
        for out in params.embed:
            embedding += [nn.LayerNorm(width), nn.Linear(width, out), nn.GELU()]
            width = out
        self.embedding = nn.Sequential(*embedding)
        self.pair_embedding = (
            PairEmbedding(params.pair_embed, params.heads) if vectors is not None else None
        )
        self.particle_blocks = nn.ModuleList(
            AttentionBlock(width, params.heads, params.ffn_ratio, params.dropout)
            for _ in range(params.particle_blocks)
        )
        self.class_blocks = nn.ModuleList(
            AttentionBlock(width, params.heads, params.ffn_ratio, params.dropout)
            for _ in range(params.class_blocks)
        )
        self.class_token = nn.Parameter(nn.init.trunc_normal_(torch.zeros(1, 1, width), std=0.02))
        self.norm = nn.LayerNorm(width)
        self.head = Head(
            width, inputs_of_kind(schema, "tabular"), params.fc, n_outputs, dropout=params.dropout
        )

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` from the particles, their mask, the vectors and tabular inputs."""
        particles, mask = particles_and_mask(inputs, self.particles_name)
        if self.input_norm is not None:
            particles = self.input_norm(particles, mask)
        x = torch.where(mask.unsqueeze(-1), self.embedding(particles), 0.0)
        bias = _key_padding_bias(mask, x.dtype)
        particle_bias = bias
        if self.pair_embedding is not None and self.vectors_name is not None:
            vectors = torch.where(mask.unsqueeze(-1), inputs[self.vectors_name], 0.0)
            particle_bias = bias + self.pair_embedding(vectors, mask)
        for block in self.particle_blocks:
            x = torch.where(mask.unsqueeze(-1), block(x, particle_bias), 0.0)
        cls = self.class_token.expand(x.shape[0], -1, -1)
        class_bias = torch.cat([bias.new_zeros(x.shape[0], 1, 1, 1), bias], dim=-1)
        for block in self.class_blocks:
            cls = block(x, class_bias, cls=cls)
        return self.head(self.norm(cls.squeeze(1)), inputs)


def build(params: _ParTOptions, schema: InputSchema, n_outputs: int) -> ParticleTransformer:
    """ParT (or ParT-small) for the selected particles (and tabular) inputs."""
    return ParticleTransformer(params, schema, n_outputs)


_PART = ModelFamily(
    name="part",
    params=ParTParams,
    build=build,
    main_kind=None,
    accepts=frozenset({"particles", "tabular"}),
    padding_invariant=True,
)
FAMILIES = (
    _PART,
    replace(
        _PART,
        name="part-small",
        params=ParTSmallParams,
    ),
)
