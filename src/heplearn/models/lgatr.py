"""L-GATr: the Lorentz-equivariant geometric-algebra transformer, through the ``lgatr`` package.

Spinner, Bresó, de Haan, Plehn, Thaler and Brehmer, NeurIPS 2024, arXiv:2405.14806, and
Brehmer et al., arXiv:2411.00446 (the ``lgatr`` package, ``pip install 'heplearn[lgatr]'``).
Each constituent's four-momentum is embedded as the vector part of a multivector of the
spacetime algebra; attention and MLPs act on multivectors equivariantly, so the grade-0
(scalar) parts of the outputs are Lorentz invariant. The network's scalar outputs and
the scalar part of its one multivector output are averaged over the real constituents
and a linear head (``fc`` dense layers first, if any) gives the logits.

With ``beams`` (the default) the two beam four-vectors (√2, 0, 0, ±1) GeV of
:mod:`heplearn.models.lorentznet` join every constituent as two extra multivector
channels (the package's "timelike" beam spurions): the output is then invariant under
rotations about the beam axis, and under every Lorentz transformation of the
constituents and beams together; ``beams: false`` makes it invariant under every proper
orthochronous Lorentz transformation of the constituents. The four-vectors, ``(px, py,
pz, E)`` and not standardised, are divided by ``scale`` (GeV) before the embedding.
Padded constituents are masked out of the attention (as keys) and of the pooling; an event
without any constituent gives a finite output.
"""

from typing import Any, Literal

import torch
from pydantic import Field, PositiveFloat, PositiveInt
from torch import Tensor, nn

from heplearn.extras import require
from heplearn.models.base import ModelFamily
from heplearn.models.layers import Head, inputs_of_kind, masked_mean, particles_and_mask
from heplearn.models.lorentznet import FourVectorParams, beam_vectors, four_vector_inputs
from heplearn.models.schema import InputSchema


class LGATrParams(FourVectorParams):
    """Parameters of ``lgatr``: a CPU-sized network by default."""

    name: Literal["lgatr"] = "lgatr"
    blocks: PositiveInt = Field(2, description="transformer blocks")
    multivectors: PositiveInt = Field(8, description="hidden multivector channels")
    hidden_scalars: PositiveInt = Field(16, description="hidden scalar channels")
    heads: PositiveInt = Field(2, description="attention heads")
    beams: bool = Field(True, description="the beams as extra multivector channels")
    scale: PositiveFloat = Field(100.0, description="GeV per unit of the embedded four-vectors")
    fc: list[PositiveInt] = Field(
        default_factory=list, description="dense layers after the pooling"
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout in the blocks and dense layers")


class LGATrTagger(nn.Module):
    """Multivector embedding, L-GATr, mean pooling of the invariant outputs, head.

    Parameters
    ----------
    params : LGATrParams
        Architecture, beams, scale and the names of the four-vector and scalar inputs.
    schema : InputSchema
        The four-vector particles input, optionally a scalars particles input and tabular
        inputs joined after the pooling.
    n_outputs : int
        Raw outputs per event.

    Raises
    ------
    MissingExtraError
        When the ``lgatr`` package is not installed.
    ConfigError
        When the particles inputs are not the named four-vectors (and scalars).
    """

    beams: Tensor | None

    def __init__(self, params: LGATrParams, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        lgatr: Any = require("lgatr", "lgatr", "model.name: lgatr")
        vectors, scalars = four_vector_inputs(params, schema)
        self.vectors_name = vectors.name
        self.scalars_name = scalars.name if scalars is not None else None
        self.scale = params.scale
        self.embed_vector = lgatr.embed_vector
        self.extract_scalar = lgatr.extract_scalar
        self.register_buffer("beams", beam_vectors() if params.beams else None, persistent=False)
        in_scalars = scalars.features if scalars is not None else 1
        self.network = lgatr.LGATr(
            num_blocks=params.blocks,
            in_mv_channels=1 + (2 if params.beams else 0),
            out_mv_channels=1,
            hidden_mv_channels=params.multivectors,
            in_s_channels=in_scalars,
            out_s_channels=params.hidden_scalars,
            hidden_s_channels=params.hidden_scalars,
            attention={"num_heads": params.heads},
            mlp={},
            dropout_prob=params.dropout or None,
        )
        self.head = Head(
            1 + params.hidden_scalars,
            inputs_of_kind(schema, "tabular"),
            params.fc,
            n_outputs,
            dropout=params.dropout,
        )

    def _multivectors(self, vectors: Tensor) -> Tensor:
        """``(B, N, channels, 16)``: each four-vector and the beams, in (E, px, py, pz) order."""
        order = [3, 0, 1, 2]
        channels = [vectors[..., order].unsqueeze(-2)]
        if self.beams is not None:
            beams = self.beams.to(vectors.dtype)[..., order] / self.scale
            channels.append(beams.expand(*vectors.shape[:2], -1, -1))
        return self.embed_vector(torch.cat(channels, dim=-2))

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` from the four-vectors, their mask, scalars and tabular inputs."""
        vectors, mask = particles_and_mask(inputs, self.vectors_name)
        if self.scalars_name is not None:
            scalars = particles_and_mask(inputs, self.scalars_name)[0]
        else:
            scalars = mask.unsqueeze(-1).to(vectors.dtype)
        # an event without constituents attends to its padding (then pooled away)
        keys = mask | ~mask.any(dim=1, keepdim=True)
        outputs, output_scalars = self.network(
            self._multivectors(vectors / self.scale),
            scalars,
            attn_mask=keys[:, None, None, :],
        )
        features = torch.cat([self.extract_scalar(outputs)[..., 0, :], output_scalars], dim=-1)
        return self.head(masked_mean(features, mask), inputs)


def build(params: LGATrParams, schema: InputSchema, n_outputs: int) -> LGATrTagger:
    """L-GATr for the selected four-vector (scalars and tabular) inputs."""
    return LGATrTagger(params, schema, n_outputs)


FAMILY = ModelFamily(
    name="lgatr",
    params=LGATrParams,
    build=build,
    main_kind=None,
    accepts=frozenset({"particles", "tabular"}),
    padding_invariant=True,
)
