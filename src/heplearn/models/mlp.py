"""Multilayer perceptron over every tabular and image input."""

from typing import Literal

from pydantic import Field, PositiveInt
from torch import Tensor, nn

from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.layers import Activation, Head
from heplearn.models.schema import InputSchema


class MLPParams(ModelParams):
    """Parameters of ``mlp``."""

    name: Literal["mlp"] = "mlp"
    widths: list[PositiveInt] = Field(
        default_factory=lambda: [64, 64, 64], description="hidden layer widths"
    )
    activation: Activation = "relu"
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after every hidden layer")
    batch_norm: bool = Field(False, description="batch norm before every activation")


class MLP(nn.Module):
    """Dense network over the tabular inputs and the flattened images, concatenated.

    Parameters
    ----------
    params : MLPParams
        Layer widths, activation, dropout and batch norm.
    schema : InputSchema
        The tabular and image inputs, joined in this order.
    n_outputs : int
        Raw outputs per event.
    """

    def __init__(self, params: MLPParams, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        self.head = Head(
            0,
            list(schema.values()),
            params.widths,
            n_outputs,
            activation=params.activation,
            dropout=params.dropout,
            batch_norm=params.batch_norm,
        )

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` logits (or values) from the batch dictionary."""
        return self.head(None, inputs)


def build(params: MLPParams, schema: InputSchema, n_outputs: int) -> MLP:
    """The MLP for the selected inputs."""
    return MLP(params, schema, n_outputs)


FAMILY = ModelFamily(
    name="mlp",
    params=MLPParams,
    build=build,
    main_kind=None,
    accepts=frozenset({"tabular", "image"}),
)
