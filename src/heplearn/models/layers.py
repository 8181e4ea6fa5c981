"""Building blocks shared by the neural-network families.

Everything here works on the batch conventions of :mod:`heplearn.models.base`:
particle inputs are channel-last ``(batch, length, features)`` tensors with a boolean
mask ``(batch, length)`` that is true for real particles. Padded entries never
influence a result: they are zeroed on entry (:func:`particles_and_mask`), left out of
batch-norm statistics (:class:`MaskedBatchNorm`) and out of pooling
(:func:`masked_sum`, :func:`masked_mean`).
"""

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from heplearn.data.batch import mask_key
from heplearn.errors import ConfigError
from heplearn.models.schema import InputInfo, InputKind, InputSchema

Activation = Literal["relu", "silu", "tanh", "sigmoid", "gelu"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}


def activation_layer(name: Activation) -> nn.Module:
    """A new activation module by name (``relu``, ``silu``, ``tanh``, ``sigmoid``, ``gelu``)."""
    return _ACTIVATIONS[name]()


def dense_layers(
    in_features: int,
    widths: Sequence[int],
    activation: Activation = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> nn.Sequential:
    """Hidden layers ``Linear → [BatchNorm] → activation → [Dropout]``, one per width.

    Parameters
    ----------
    in_features : int
        Width of the input.
    widths : sequence of int
        Width of each hidden layer; empty gives an identity.
    activation : str
        Activation after every layer.
    dropout : float
        Dropout probability after every activation (0 switches it off).
    batch_norm : bool
        Batch normalisation between each linear layer and its activation.

    Returns
    -------
    torch.nn.Sequential
        The layers; its output width is ``widths[-1]`` (``in_features`` if empty).
    """
    layers: list[nn.Module] = []
    for width in widths:
        layers.append(nn.Linear(in_features, width, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation_layer(activation))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        in_features = width
    return nn.Sequential(*layers)


class PointwiseMLP(nn.Module):
    """The same MLP applied to every particle: ``(batch, length, in) → (batch, length, out)``.

    Parameters
    ----------
    in_features : int
        Features per particle.
    widths : sequence of int
        Width of each layer; every layer is followed by the activation.
    activation : str
        Activation after every layer.
    """

    def __init__(
        self, in_features: int, widths: Sequence[int], activation: Activation = "relu"
    ) -> None:
        super().__init__()
        self.layers = dense_layers(in_features, widths, activation)
        self.out_features = widths[-1] if widths else in_features

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP on the last axis."""
        return self.layers(x)


class MaskedBatchNorm(nn.BatchNorm1d):
    """Batch normalisation of the last axis whose statistics come from real entries only.

    Takes channel-last tensors ``(..., features)`` and a boolean mask of the leading
    shape ``(...)``. In training mode the mean and variance are taken over the entries
    where the mask is true, so the amount of padding does not change the result; in
    evaluation mode the running statistics are used, entry by entry. Masked entries of
    the output are zero (and get no gradient). Parameters and buffers are those of
    :class:`torch.nn.BatchNorm1d`.

    In training mode the real entries are gathered into rows and normalised by PyTorch's
    own batch-norm kernel (one fused pass for the statistics, one for the output, and
    the same for the gradients), then put back in place.
    """

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Normalise ``x`` (``(..., features)``); ``mask`` is ``x.shape[:-1]``, true = real."""
        if not self.training:
            assert self.running_mean is not None and self.running_var is not None
            y = (x - self.running_mean) * torch.rsqrt(self.running_var + self.eps)
            if self.affine:
                y = y * self.weight + self.bias
            return y if mask is None else torch.where(mask.unsqueeze(-1), y, 0.0)
        flat = x.reshape(-1, x.shape[-1])
        if mask is None:
            return self.normalise_rows(flat).view(x.shape)
        rows = mask.reshape(-1).nonzero().squeeze(1)
        normalised = self.normalise_rows(flat.index_select(0, rows))
        return flat.new_zeros(flat.shape).index_copy(0, rows, normalised).view(x.shape)

    def normalise_rows(self, rows: Tensor) -> Tensor:
        """Training-mode batch norm of ``rows`` ``(entries, features)``, every one real.

        Updates the running statistics (with the unbiased variance, as
        :class:`torch.nn.BatchNorm1d` does); none are learnt from fewer than one entry.
        """
        count = rows.shape[0]
        momentum = self.momentum if self.momentum is not None else 0.1
        if count >= 2:
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
            return torch.batch_norm(
                rows,
                self.weight,
                self.bias,
                self.running_mean,
                self.running_var,
                True,
                momentum,
                self.eps,
                torch.backends.cudnn.enabled,
            )
        # one entry is its own mean with no spread; none leaves the statistics alone
        mean = rows.sum(dim=0)
        var = torch.zeros_like(mean)
        self._update_running_stats(mean, var, torch.tensor(float(count), device=rows.device))
        y = (rows - mean) * torch.rsqrt(var + self.eps)
        return y * self.weight + self.bias if self.affine else y

    def folded(self) -> tuple[Tensor, Tensor]:
        """``(scale, shift)`` with evaluation-mode output ``x * scale + shift`` on real entries.

        Folded into the weights of the linear layer before it, the normalisation costs
        nothing at inference (:func:`folded_linear`).
        """
        assert self.running_mean is not None and self.running_var is not None
        scale = torch.rsqrt(self.running_var + self.eps)
        if self.affine:
            scale = scale * self.weight
        shift = -self.running_mean * scale
        if self.affine:
            shift = shift + self.bias
        return scale, shift

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, count: Tensor) -> None:
        """Move the running statistics towards this batch (skipped for an all-padded batch)."""
        if self.running_mean is None or self.running_var is None:
            return
        momentum = self.momentum if self.momentum is not None else 0.1
        unbiased = var * count / (count - 1).clamp(min=1)
        seen = count > 0
        self.running_mean.copy_(
            torch.where(
                seen, torch.lerp(self.running_mean, mean.detach(), momentum), self.running_mean
            )
        )
        self.running_var.copy_(
            torch.where(
                seen, torch.lerp(self.running_var, unbiased.detach(), momentum), self.running_var
            )
        )
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)


def folded_linear(
    weight: Tensor, norm: MaskedBatchNorm, bias: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """A linear layer and the evaluation-mode ``norm`` after it, as one linear layer.

    Returns ``(weight, bias)`` such that ``x @ weight.T + bias`` equals
    ``norm(x @ W.T + b)`` on real entries, up to float rounding.
    """
    scale, shift = norm.folded()
    return weight * scale.unsqueeze(1), shift if bias is None else bias * scale + shift


def masked_sum(x: Tensor, mask: Tensor) -> Tensor:
    """Sum of ``x`` ``(batch, length, features)`` over the real entries: ``(batch, features)``."""
    return torch.where(mask.unsqueeze(-1), x, 0.0).sum(dim=1)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over the real entries (zero for an event without any): ``(batch, features)``."""
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
    return masked_sum(x, mask) / count


def particles_and_mask(inputs: dict[str, Tensor], name: str) -> tuple[Tensor, Tensor]:
    """A particle input with its padded entries zeroed, and its boolean mask.

    Whatever the padding holds (the spec's ``pad_value``, garbage) does not reach the model.

    Raises
    ------
    KeyError
        When the batch lacks the input or its ``<name>_mask``.
    """
    mask = inputs[mask_key(name)].to(torch.bool)
    particles = torch.where(mask.unsqueeze(-1), inputs[name], 0.0)
    return particles, mask


def inputs_of_kind(schema: InputSchema, kind: InputKind) -> list[InputInfo]:
    """The inputs of one kind, in schema order."""
    return [info for info in schema.values() if info.kind == kind]


def the_input(schema: InputSchema, kind: InputKind, model: str) -> InputInfo:
    """The single input of ``kind`` that a model reads.

    Raises
    ------
    ConfigError
        When there is none or more than one.
    """
    found = inputs_of_kind(schema, kind)
    if len(found) != 1:
        names = ", ".join(info.name for info in found) or "none"
        raise ConfigError(f"model {model!r} needs exactly one {kind} input (found {names})")
    return found[0]


def column_indices(info: InputInfo, columns: Sequence[str], key: str) -> list[int]:
    """Positions of named columns in an input.

    Parameters
    ----------
    info : InputInfo
        The input whose columns are searched.
    columns : sequence of str
        The names to find, exactly as in the dataset spec.
    key : str
        The config key that named them (for the error message), e.g. ``model.coordinates``.

    Raises
    ------
    ConfigError
        Naming the missing column and the columns the input has.
    """
    indices = []
    for column in columns:
        if column not in info.columns:
            raise ConfigError(
                f"{key}: {column!r} is not a column of input {info.name!r}; "
                f"its columns are: {', '.join(info.columns)}"
            )
        indices.append(info.columns.index(column))
    return indices


def flat_size(info: InputInfo) -> int:
    """Numbers per event of an input once flattened."""
    return math.prod(info.shape)


class Head(nn.Module):
    """Joins learned features with event-level inputs and maps them to the outputs.

    ``forward(features, inputs)`` concatenates ``features`` ``(batch, in_features)`` (if
    any) with every extra input flattened (tabular ``(batch, F)``, images
    ``(batch, C, H, W)``), in the order given, then applies hidden layers and a final
    linear layer with ``n_outputs`` raw outputs.

    Parameters
    ----------
    in_features : int
        Width of the learned features (0 when there are none).
    extras : sequence of InputInfo
        Inputs read directly from the batch and joined to the features.
    widths : sequence of int
        Hidden layer widths.
    n_outputs : int
        Outputs: 1 for binary classification (a logit) or regression, K for K classes.
    activation : str
        Activation of the hidden layers.
    dropout : float
        Dropout after every hidden layer.
    batch_norm : bool
        Batch normalisation in the hidden layers.
    """

    def __init__(
        self,
        in_features: int,
        extras: Sequence[InputInfo],
        widths: Sequence[int],
        n_outputs: int,
        activation: Activation = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if n_outputs < 1:
            raise ConfigError(f"a model needs at least one output, got n_outputs={n_outputs}")
        self.extra_names = [info.name for info in extras]
        total = in_features + sum(flat_size(info) for info in extras)
        if total == 0:
            raise ConfigError("the model has no input features to read")
        self.hidden = dense_layers(total, widths, activation, dropout, batch_norm)
        self.output = nn.Linear(widths[-1] if widths else total, n_outputs)

    def forward(self, features: Tensor | None, inputs: dict[str, Tensor]) -> Tensor:
        """``(batch, n_outputs)`` from the features and the extra inputs of the batch."""
        parts = [] if features is None else [features]
        parts += [inputs[name].flatten(1) for name in self.extra_names]
        joined = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return self.output(self.hidden(joined))
