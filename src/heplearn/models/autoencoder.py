"""Autoencoders: a dense encoder to a small latent space and a decoder back.

``autoencoder`` learns to reconstruct its inputs through a bottleneck (e.g. 7 jet
features → 2); the reconstruction error of an event is its **anomaly score**, and the
bottleneck its embedding. ``vae`` (Kingma and Welling, arXiv:1312.6114) makes the latent
space a Gaussian: the encoder gives a mean and a variance, training adds the KL
divergence to a standard normal prior (weighted by ``kl_weight``, the β of
arXiv:1804.03599), and decoding draws from the prior gives new events.

Both read every tabular input (and images, flattened), in standardised units, and are
trained on the inputs alone (``objective="anomaly"``): train them on background only
with ``training.classes``, then events unlike the background reconstruct badly.
"""

from typing import Literal

import torch
from pydantic import Field, PositiveInt
from torch import Tensor, nn

from heplearn.models.base import Inputs, ModelFamily, ModelParams
from heplearn.models.layers import Activation, dense_layers, flat_size
from heplearn.models.schema import InputSchema


class AutoencoderParams(ModelParams):
    """Parameters of ``autoencoder``."""

    name: Literal["autoencoder"] = "autoencoder"
    widths: list[PositiveInt] = Field(
        default_factory=lambda: [32, 16],
        description="encoder hidden widths; the decoder mirrors them",
    )
    latent_dim: PositiveInt = Field(2, description="width of the bottleneck")
    activation: Activation = "relu"


class VAEParams(AutoencoderParams):
    """Parameters of ``vae``."""

    name: Literal["vae"] = "vae"  # type: ignore[assignment]
    kl_weight: float = Field(1.0, ge=0, description="weight β of the KL term")


class Autoencoder(nn.Module):
    """Dense autoencoder over the flattened inputs.

    Parameters
    ----------
    params : AutoencoderParams
        Widths, latent size and activation.
    schema : InputSchema
        The tabular (and image) inputs, joined in this order.
    n_outputs : int
        Unused: the output is the anomaly score.
    """

    def __init__(self, params: AutoencoderParams, schema: InputSchema, n_outputs: int) -> None:
        super().__init__()
        self.input_shapes = {name: info.shape for name, info in schema.items()}
        self.input_sizes = [flat_size(info) for info in schema.values()]
        width = sum(self.input_sizes)
        self.latent_dim = params.latent_dim
        self.encoder = nn.Sequential(
            dense_layers(width, params.widths, params.activation),
            nn.Linear(params.widths[-1] if params.widths else width, self._encoded_width()),
        )
        decoder_widths = list(reversed(params.widths))
        self.decoder = nn.Sequential(
            dense_layers(params.latent_dim, decoder_widths, params.activation),
            nn.Linear(decoder_widths[-1] if decoder_widths else params.latent_dim, width),
        )

    def _encoded_width(self) -> int:
        return self.latent_dim

    def joined(self, inputs: Inputs) -> Tensor:
        """Every input flattened and concatenated: ``(batch, features)``."""
        return torch.cat([inputs[name].flatten(1) for name in self.input_shapes], dim=1)

    def embed(self, inputs: Inputs) -> Tensor:
        """The bottleneck coordinates ``(batch, latent_dim)``."""
        return self.encoder(self.joined(inputs))

    def reconstruction_errors(self, inputs: Inputs, latent: Tensor) -> Tensor:
        """Mean squared difference per event between the inputs and the decoded latent."""
        return ((self.decoder(latent) - self.joined(inputs)) ** 2).mean(dim=1)

    def event_losses(self, inputs: Inputs) -> Tensor:
        """The reconstruction error of every event (what training minimises)."""
        return self.reconstruction_errors(inputs, self.embed(inputs))

    def forward(self, inputs: Inputs) -> Tensor:
        """The anomaly score, the reconstruction error, as ``(batch, 1)``."""
        return self.reconstruction_errors(inputs, self.embed(inputs)).unsqueeze(1)

    def split(self, joined: Tensor) -> Inputs:
        """Decoded features ``(batch, features)`` back into the inputs' shapes."""
        parts = torch.split(joined, self.input_sizes, dim=1)
        return {
            name: part.reshape(len(joined), *shape)
            for (name, shape), part in zip(self.input_shapes.items(), parts, strict=True)
        }


class VariationalAutoencoder(Autoencoder):
    """Autoencoder with a Gaussian latent space and a standard normal prior.

    The encoder gives the mean and log-variance of ``q(z|x)``; the embedding is the
    mean, the anomaly score the reconstruction error of the mean (deterministic).
    """

    def __init__(self, params: VAEParams, schema: InputSchema, n_outputs: int) -> None:
        super().__init__(params, schema, n_outputs)
        self.kl_weight = params.kl_weight

    def _encoded_width(self) -> int:
        return 2 * self.latent_dim

    def posterior(self, inputs: Inputs) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of the latent Gaussian of every event."""
        mean, log_variance = self.encoder(self.joined(inputs)).chunk(2, dim=1)
        return mean, log_variance.clamp(-20, 10)

    def embed(self, inputs: Inputs) -> Tensor:
        """The latent means ``(batch, latent_dim)``."""
        return self.posterior(inputs)[0]

    def event_losses(self, inputs: Inputs) -> Tensor:
        """Reconstruction error of a latent draw plus β × KL(q(z|x) ‖ N(0, 1)) per feature.

        Both terms are per input feature (the reconstruction error is a mean over the
        features, so the KL divergence is divided by their number too), which keeps β
        comparable between inputs of different widths.
        """
        mean, log_variance = self.posterior(inputs)
        draw = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
        divergence = 0.5 * (mean**2 + log_variance.exp() - 1 - log_variance).sum(dim=1)
        features = sum(self.input_sizes)
        return self.reconstruction_errors(inputs, draw) + self.kl_weight * divergence / features

    def sample(self, count: int, conditions: Inputs | None = None) -> Inputs:
        """Decode ``count`` draws from the prior into new events (standardised units)."""
        device = next(self.parameters()).device
        latent = torch.randn(count, self.latent_dim, device=device)
        return self.split(self.decoder(latent))


def _build_autoencoder(params: AutoencoderParams, schema: InputSchema, n_outputs: int) -> nn.Module:
    return Autoencoder(params, schema, n_outputs)


def _build_vae(params: VAEParams, schema: InputSchema, n_outputs: int) -> nn.Module:
    return VariationalAutoencoder(params, schema, n_outputs)


FAMILIES = (
    ModelFamily(
        name="autoencoder",
        params=AutoencoderParams,
        build=_build_autoencoder,
        main_kind=None,
        accepts=frozenset({"tabular", "image"}),
        objective="anomaly",
    ),
    ModelFamily(
        name="vae",
        params=VAEParams,
        build=_build_vae,
        main_kind=None,
        accepts=frozenset({"tabular", "image"}),
        objective="anomaly",
        samples=True,
    ),
)
