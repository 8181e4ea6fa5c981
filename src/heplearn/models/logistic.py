"""Logistic (or linear) regression: one linear layer over every tabular and image input."""

from typing import Literal

from torch import Tensor, nn

from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.layers import Head
from heplearn.models.schema import InputSchema


class LogisticParams(ModelParams):
    """Parameters of ``logistic``: none beyond the inputs it reads."""

    name: Literal["logistic"] = "logistic"


class LinearModel(nn.Module):
    """One linear layer over the tabular inputs and the flattened images, concatenated.

    With a sigmoid (binary), softmax (multi-class) or nothing (regression) in the loss,
    this is logistic, multinomial logistic or linear regression.

    Parameters
    ----------
    schema : InputSchema
        The tabular and image inputs, joined in this order.
    n_outputs : int
        Raw outputs per event.
    """

    def __init__(self, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        self.head = Head(0, list(schema.values()), [], n_outputs)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` logits (or values) from the batch dictionary."""
        return self.head(None, inputs)


def build(params: LogisticParams, schema: InputSchema, n_outputs: int) -> LinearModel:
    """The linear model for the selected inputs."""
    return LinearModel(schema, n_outputs)


FAMILY = ModelFamily(
    name="logistic",
    params=LogisticParams,
    build=build,
    main_kind=None,
    accepts=frozenset({"tabular", "image"}),
)
