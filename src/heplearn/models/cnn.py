"""Convolutional network for jet images, with optional event-level features."""

from typing import Literal

from pydantic import Field, PositiveInt, field_validator
from torch import Tensor, nn

from heplearn.errors import ConfigError
from heplearn.models.base import ModelFamily, ModelParams
from heplearn.models.layers import Activation, Head, activation_layer, inputs_of_kind, the_input
from heplearn.models.schema import InputSchema


class CNNParams(ModelParams):
    """Parameters of ``cnn``.

    Each entry of ``filters`` is one block: a ``kernel_size`` convolution (same padding),
    optional batch norm, the activation and a 2×2 max pooling that halves the image.
    The feature maps are flattened, joined with any tabular inputs and passed through
    the dense layers.
    """

    name: Literal["cnn"] = "cnn"
    filters: list[PositiveInt] = Field(
        default_factory=lambda: [32, 64, 64], min_length=1, description="channels per block"
    )
    kernel_size: PositiveInt = Field(3, description="odd convolution kernel size")
    batch_norm: bool = True
    activation: Activation = "relu"
    dense: list[PositiveInt] = Field(
        default_factory=lambda: [128], description="dense layer widths after the blocks"
    )
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout after each dense layer")

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, kernel_size: int) -> int:
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        return kernel_size


class CNN(nn.Module):
    """Convolution blocks over the image, then a dense head.

    Parameters
    ----------
    params : CNNParams
        Block and head configuration.
    schema : InputSchema
        One image input ``(channels, bins, bins)``, optionally tabular inputs.
    n_outputs : int
        Raw outputs per event.

    Raises
    ------
    ConfigError
        When the image is too small for the number of pooling steps.
    """

    def __init__(self, params: CNNParams, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        image = the_input(schema, "image", params.name)
        self.image_name = image.name
        channels, height, width = image.shape
        blocks: list[nn.Module] = []
        for filters in params.filters:
            blocks.append(
                nn.Conv2d(
                    channels,
                    filters,
                    params.kernel_size,
                    padding=params.kernel_size // 2,
                    bias=not params.batch_norm,
                )
            )
            if params.batch_norm:
                blocks.append(nn.BatchNorm2d(filters))
            blocks += [activation_layer(params.activation), nn.MaxPool2d(2)]
            channels, height, width = filters, height // 2, width // 2
        if height < 1 or width < 1:
            raise ConfigError(
                f"model.filters: {len(params.filters)} blocks halve the image "
                f"{len(params.filters)} times, too often for input {image.name!r} of "
                f"{image.shape[1]}x{image.shape[2]} bins; use fewer blocks or more bins"
            )
        self.blocks = nn.Sequential(*blocks)
        self.head = Head(
            channels * height * width,
            inputs_of_kind(schema, "tabular"),
            params.dense,
            n_outputs,
            activation=params.activation,
            dropout=params.dropout,
        )

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` from ``inputs[image]`` ``(batch, C, H, W)`` and tabular inputs."""
        maps = self.blocks(inputs[self.image_name])
        return self.head(maps.flatten(1), inputs)


def build(params: CNNParams, schema: InputSchema, n_outputs: int) -> CNN:
    """The CNN for the selected image (and tabular) inputs."""
    return CNN(params, schema, n_outputs)


FAMILY = ModelFamily(
    name="cnn",
    params=CNNParams,
    build=build,
    main_kind="image",
    accepts=frozenset({"image", "tabular"}),
)
