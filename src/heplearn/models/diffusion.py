"""A denoising diffusion model (DDPM) that draws new jet images.

The model follows Ho, Jain and Abbeel, "Denoising Diffusion Probabilistic Models"
(arXiv:2006.11239): a fixed forward process adds Gaussian noise to an image ``x0`` over
``timesteps`` steps, ``x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε``, and a small U-Net
``ε_θ(x_t, t)`` learns to predict the noise ``ε``. Training minimises the per-image mean
squared error between ``ε`` and ``ε_θ`` at a random step (the "simple" loss of the paper).
The cosine noise schedule is that of Nichol and Dhariwal (arXiv:2102.09672); new images
are drawn with the strided sampler of Song, Meng and Ermon (DDIM, arXiv:2010.02502), which
needs far fewer network evaluations than training steps (``sampling_steps``). With
``sampling_eta = 1`` (the default) every step adds fresh noise, and with ``sampling_steps =
timesteps`` it is the ancestral sampler of the DDPM paper; ``sampling_eta = 0`` is the
deterministic DDIM sampler, which needs a better trained network: after a few minutes of
CPU training on QCD jet images a third of its images came out as bright noise, against
none with ``sampling_eta = 1``.

Units. The model works in ``[-1, 1]``: a pixel ``p`` of the data becomes
``2 (p / pixel_max) ** intensity_power - 1``. With ``normalise: max`` in the image input
every image lies in ``[0, 1]`` and ``pixel_max = 1`` (the default) is right; for other
normalisations set ``pixel_max`` to the largest pixel value of the data. A power below 1
spreads the many faint pixels of a jet image over more of the range. :meth:`DDPM.sample`
maps back to the data's units, clamps to ``[0, pixel_max]`` and sets pixels below
``pixel_threshold * pixel_max`` to zero: empty cells of real images are exactly zero,
while a drawn background is only close to ``-1``. With ``normalise_samples`` it then
scales every drawn image as the image input's ``normalise`` scaled the data (a brightest
pixel of exactly 1 for ``max``), so that a drawn image is not told from a real one by
that alone. Jet images span many decades (with
``normalise: max`` half of the lit pixels of a 20×20 QCD jet image are below 0.004), hence
the default power of 1/4: a pixel of ``1e-4`` (the default threshold) sits at ``-0.8``,
clear of the background at ``-1``, and a drawn background less than 0.2 above ``-1``
falls below the threshold.

Scores. ``forward`` returns one number per image, ``(batch, 1)``: the denoising loss
averaged over ``score_timesteps`` fixed noise levels (the midpoints of equal strata of
the steps) with one fixed noise image per level, the same for every image. An image's
score therefore depends neither on the batch it is in nor on the random state; it is a
deterministic estimate of the training loss (lower: more typical of the training data).
In evaluation mode ``event_losses`` returns the same fixed-noise loss, so
the validation loss is comparable from epoch to epoch; in training mode it draws a random
step and noise per image.
"""

import math
from typing import Literal, cast

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt, ValidationInfo, field_validator
from torch import Tensor, nn

from heplearn.models.base import Inputs, ModelFamily, ModelParams
from heplearn.models.layers import the_input
from heplearn.models.schema import InputSchema

# images drawn per network evaluation in sample(), bounding the memory it needs
_SAMPLE_CHUNK = 512
# seed of the fixed noise images behind forward() (a constant: scores must not move)
_SCORE_SEED = 20_062_006
# the most channels a group-norm group has
_MAX_GROUPS = 8


class DDPMParams(ModelParams):
    """Parameters of ``ddpm``.

    The U-Net has one level per entry of ``channel_multipliers`` (``channels`` times the
    multiplier feature maps, ``blocks_per_level`` residual blocks each) and halves the
    image between levels; images whose size is not divisible by ``2 ** (levels - 1)`` are
    zero-padded on entry and cropped on exit.
    """

    name: Literal["ddpm"] = "ddpm"
    timesteps: int = Field(400, ge=2, le=10_000, description="diffusion steps of training")
    schedule: Literal["linear", "cosine"] = Field(
        "cosine",
        description="noise schedule: linear (Ho et al., β from 1e-4 to 0.02 for 1000 steps, "
        "scaled by 1000/timesteps) or cosine (Nichol and Dhariwal)",
    )
    channels: PositiveInt = Field(32, description="feature maps of the first U-Net level")
    channel_multipliers: list[PositiveInt] = Field(
        default_factory=lambda: [1, 2, 2],
        min_length=1,
        max_length=5,
        description="feature maps of each level, in units of channels",
    )
    blocks_per_level: PositiveInt = Field(1, le=4, description="residual blocks per level")
    time_embedding: PositiveInt = Field(64, description="size of the sinusoidal step embedding")
    sampling_steps: PositiveInt = Field(50, description="network evaluations per drawn image")
    sampling_eta: float = Field(
        1.0, ge=0, le=1, description="1: DDPM-like noise in every step; 0: deterministic DDIM"
    )
    pixel_max: float = Field(1.0, gt=0, description="largest pixel value of the data")
    intensity_power: float = Field(
        0.25, gt=0, le=1, description="pixels are mapped as (p / pixel_max) ** power"
    )
    pixel_threshold: float = Field(
        1e-4,
        ge=0,
        lt=1,
        description="drawn pixels below pixel_threshold * pixel_max are set to zero",
    )
    normalise_samples: Literal["none", "max", "sum"] = Field(
        "none",
        description="scale each drawn image as the image input's normalise does "
        "(max: brightest pixel 1; sum: total 1)",
    )
    score_timesteps: PositiveInt = Field(
        4, le=64, description="fixed noise levels averaged in the per-image score"
    )

    @field_validator("sampling_steps", "score_timesteps")
    @classmethod
    def _at_most_timesteps(cls, steps: int, info: ValidationInfo) -> int:
        timesteps = info.data.get("timesteps")
        if timesteps is not None and steps > timesteps:
            raise ValueError(f"must not exceed timesteps ({timesteps}), got {steps}")
        return steps

    @field_validator("time_embedding")
    @classmethod
    def _even(cls, size: int) -> int:
        if size % 2:
            raise ValueError(f"time_embedding must be even (sines and cosines), got {size}")
        return size


def noise_schedule(timesteps: int, schedule: Literal["linear", "cosine"]) -> Tensor:
    """The cumulative signal fractions ``ᾱ_t`` of the forward process, ``(timesteps,)``.

    Parameters
    ----------
    timesteps : int
        Number of diffusion steps.
    schedule : {"linear", "cosine"}
        ``linear``: β rising linearly from ``1e-4`` to ``0.02`` (Ho et al.), both scaled
        by ``1000 / timesteps`` so that the images end as (nearly) pure noise whatever
        the number of steps. ``cosine``: ``ᾱ_t ∝ cos²((t/T + s) / (1 + s) π/2)`` with
        ``s = 0.008`` and β capped at 0.999 (Nichol and Dhariwal).

    Returns
    -------
    torch.Tensor
        ``ᾱ_t`` for ``t = 0 .. timesteps - 1`` (float64), decreasing from near 1 to near 0.
    """
    if schedule == "linear":
        scale = 1000 / timesteps
        betas = torch.linspace(1e-4 * scale, 0.02 * scale, timesteps, dtype=torch.float64)
        betas = betas.clamp(max=0.999)
    else:
        offset = 0.008
        steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        signal = torch.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2
        betas = (1 - signal[1:] / signal[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0)


def sinusoidal_embedding(steps: Tensor, size: int) -> Tensor:
    """Sine and cosine features of the diffusion steps (the transformer's position code).

    Parameters
    ----------
    steps : torch.Tensor
        ``(batch,)`` step indices.
    size : int
        Even number of features.

    Returns
    -------
    torch.Tensor
        ``(batch, size)``: ``sin(t ω_k)`` then ``cos(t ω_k)`` with frequencies ``ω_k``
        from 1 down to 1/10000.
    """
    half = size // 2
    exponents = torch.arange(half, device=steps.device, dtype=torch.float32) / max(half - 1, 1)
    frequencies = torch.exp(-math.log(10_000.0) * exponents)
    angles = steps.float().unsqueeze(1) * frequencies.unsqueeze(0)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def group_norm(channels: int) -> nn.GroupNorm:
    """Group normalisation with the most groups (up to 8) that divide ``channels``."""
    groups = max(g for g in range(1, _MAX_GROUPS + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with group norm and SiLU, the step embedding added between.

    Parameters
    ----------
    in_channels, out_channels : int
        Feature maps in and out; a 1×1 convolution matches the shortcut when they differ.
    embedding : int
        Size of the step embedding.
    """

    def __init__(self, in_channels: int, out_channels: int, embedding: int) -> None:
        super().__init__()
        self.first = nn.Sequential(
            group_norm(in_channels),
            nn.SiLU(),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
        )
        self.step = nn.Sequential(nn.SiLU(), nn.Linear(embedding, out_channels))
        self.second = nn.Sequential(
            group_norm(out_channels),
            nn.SiLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.shortcut: nn.Module = (
            nn.Conv2d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, maps: Tensor, step: Tensor) -> Tensor:
        """``(batch, out, H, W)`` from ``maps (batch, in, H, W)`` and ``step (batch, E)``."""
        hidden = self.first(maps) + self.step(step)[:, :, None, None]
        return self.second(hidden) + self.shortcut(maps)


class UNet(nn.Module):
    """The noise predictor ``ε_θ(x_t, t)``: a small U-Net with a step embedding.

    Parameters
    ----------
    image_channels : int
        Channels of the image.
    channels : int
        Feature maps of the first level.
    multipliers : list of int
        Feature maps of each level in units of ``channels``; the image is halved between
        consecutive levels (strided convolution) and doubled back (nearest upsampling and
        a convolution), with skip connections joined by concatenation.
    blocks_per_level : int
        Residual blocks per level on the way down and on the way up.
    embedding : int
        Size of the sinusoidal step embedding (an MLP of twice that width follows).
    """

    def __init__(
        self,
        image_channels: int,
        channels: int,
        multipliers: list[int],
        blocks_per_level: int,
        embedding: int,
    ) -> None:
        super().__init__()
        self.embedding = embedding
        self.halvings = len(multipliers) - 1
        width = 2 * embedding
        self.step_mlp = nn.Sequential(
            nn.Linear(embedding, width), nn.SiLU(), nn.Linear(width, width)
        )
        self.stem = nn.Conv2d(image_channels, channels, 3, padding=1)
        widths = [channels * m for m in multipliers]
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skip_widths, current = [], channels
        for level, level_width in enumerate(widths):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level):
                blocks.append(ResidualBlock(current, level_width, width))
                current = level_width
                skip_widths.append(current)
            self.down.append(blocks)
            last = level == len(widths) - 1
            self.downsample.append(
                nn.Identity() if last else nn.Conv2d(current, current, 3, stride=2, padding=1)
            )
        self.middle = nn.ModuleList(
            [ResidualBlock(current, current, width), ResidualBlock(current, current, width)]
        )
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(widths))):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level):
                blocks.append(ResidualBlock(current + skip_widths.pop(), widths[level], width))
                current = widths[level]
            self.up.append(blocks)
            self.upsample.append(
                nn.Identity() if level == 0 else nn.Conv2d(current, current, 3, padding=1)
            )
        self.head_norm = nn.Sequential(group_norm(current), nn.SiLU())
        self.head = nn.Conv2d(current, image_channels, 3, padding=1)
        # start as the zero predictor: the first loss is that of predicting no noise
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # type: ignore[arg-type]

    def padding(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Zeros to add (left, right, top, bottom) so each halving divides the image exactly."""
        factor = 2**self.halvings
        extra_h, extra_w = -height % factor, -width % factor
        return extra_w // 2, extra_w - extra_w // 2, extra_h // 2, extra_h - extra_h // 2

    def forward(self, images: Tensor, steps: Tensor) -> Tensor:
        """The predicted noise ``(batch, C, H, W)`` of noisy ``images`` at integer ``steps``."""
        height, width = images.shape[-2:]
        left, right, top, bottom = self.padding(height, width)
        maps = self.stem(F.pad(images, (left, right, top, bottom)))
        step = self.step_mlp(sinusoidal_embedding(steps, self.embedding))
        skips = []
        for blocks, downsample in zip(self.down, self.downsample, strict=True):
            for block in cast(nn.ModuleList, blocks):
                maps = block(maps, step)
                skips.append(maps)
            maps = downsample(maps)
        for block in self.middle:
            maps = block(maps, step)
        for blocks, upsample in zip(self.up, self.upsample, strict=True):
            for block in cast(nn.ModuleList, blocks):
                maps = block(torch.cat([maps, skips.pop()], dim=1), step)
            if not isinstance(upsample, nn.Identity):
                maps = upsample(F.interpolate(maps, scale_factor=2.0, mode="nearest"))
        noise = self.head(self.head_norm(maps))
        return noise[:, :, top : top + height, left : left + width]


class DDPM(nn.Module):
    """Denoising diffusion model of one image input (see the module docstring).

    Parameters
    ----------
    params : DDPMParams
        Schedule, U-Net, sampler and pixel mapping.
    schema : InputSchema
        Exactly one image input ``(channels, bins, bins)``.
    n_outputs : int
        Outputs of ``forward``; 1 (the score) for a generative task.

    Attributes
    ----------
    image_name : str
        The batch key of the image.
    image_shape : tuple of int
        ``(channels, height, width)`` of one image.
    signal : torch.Tensor
        ``ᾱ_t`` of every step (a buffer derived from the parameters, not saved).
    """

    signal: Tensor
    score_steps: Tensor
    score_noise: Tensor

    def __init__(self, params: DDPMParams, schema: InputSchema, n_outputs: int = 1) -> None:
        super().__init__()
        if n_outputs != 1:
            raise ValueError(f"ddpm gives one score per image, not {n_outputs} outputs")
        image = the_input(schema, "image", params.name)
        self.image_name = image.name
        self.image_shape: tuple[int, int, int] = tuple(image.shape)  # type: ignore[assignment]
        self.params = params
        self.unet = UNet(
            image.shape[0],
            params.channels,
            params.channel_multipliers,
            params.blocks_per_level,
            params.time_embedding,
        )
        signal = noise_schedule(params.timesteps, params.schedule)
        # derived from the parameters, so kept out of the saved weights
        self.register_buffer("signal", signal.float(), persistent=False)
        steps, noise = self._score_noise(params)
        self.register_buffer("score_steps", steps, persistent=False)
        self.register_buffer("score_noise", noise, persistent=False)

    def _score_noise(self, params: DDPMParams) -> tuple[Tensor, Tensor]:
        """The fixed steps (midpoints of equal strata) and noise images of the score."""
        count = params.score_timesteps
        edges = (torch.arange(count, dtype=torch.float64) + 0.5) * params.timesteps / count
        generator = torch.Generator().manual_seed(_SCORE_SEED)
        noise = torch.randn(count, *self.image_shape, generator=generator)
        return edges.long(), noise

    def to_model_units(self, pixels: Tensor) -> Tensor:
        """Pixels in the data's units to the model's ``[-1, 1]``."""
        scaled = (pixels / self.params.pixel_max).clamp(min=0)
        return 2 * scaled**self.params.intensity_power - 1

    def to_data_units(self, values: Tensor) -> Tensor:
        """The model's ``[-1, 1]`` back to pixels in ``[0, pixel_max]``."""
        scaled = ((values + 1) / 2).clamp(0, 1)
        return self.params.pixel_max * scaled ** (1 / self.params.intensity_power)

    def _noised(self, clean: Tensor, steps: Tensor, noise: Tensor) -> Tensor:
        signal = self.signal[steps].view(-1, 1, 1, 1)
        return signal.sqrt() * clean + (1 - signal).sqrt() * noise

    def denoising_losses(self, clean: Tensor, steps: Tensor, noise: Tensor) -> Tensor:
        """Per-image mean squared error of the predicted noise, ``(batch,)``.

        Parameters
        ----------
        clean : torch.Tensor
            ``(batch, C, H, W)`` images in the model's units.
        steps : torch.Tensor
            ``(batch,)`` diffusion steps, or ``(1,)``: one for every image.
        noise : torch.Tensor
            ``(batch, C, H, W)`` standard normal noise, or ``(1, C, H, W)``.
        """
        predicted = self.unet(self._noised(clean, steps, noise), steps)
        return (predicted - noise).pow(2).mean(dim=(1, 2, 3))

    def fixed_losses(self, inputs: Inputs) -> Tensor:
        """The denoising loss at the fixed steps and noise of the score, ``(batch,)``.

        The step and the noise image broadcast over the batch (not expanded to its size),
        so that an ONNX export keeps the batch axis dynamic.
        """
        clean = self.to_model_units(inputs[self.image_name])
        losses = [
            self.denoising_losses(clean, step.reshape(1), noise.unsqueeze(0))
            for step, noise in zip(self.score_steps, self.score_noise, strict=True)
        ]
        return torch.stack(losses).mean(dim=0)

    def event_losses(self, inputs: Inputs) -> Tensor:
        """Per-image loss, ``(batch,)``: a random step and noise in training mode, the
        fixed ones of the score (:meth:`fixed_losses`) in evaluation mode."""
        if not self.training:
            return self.fixed_losses(inputs)
        clean = self.to_model_units(inputs[self.image_name])
        steps = torch.randint(0, self.params.timesteps, (len(clean),), device=clean.device)
        return self.denoising_losses(clean, steps, torch.randn_like(clean))

    def forward(self, inputs: Inputs) -> Tensor:
        """The score of every image, ``(batch, 1)``: :meth:`fixed_losses`."""
        return self.fixed_losses(inputs).unsqueeze(1)

    def sampling_steps(self) -> list[int]:
        """The diffusion steps the sampler visits, from the noisiest to step 0."""
        count, timesteps = self.params.sampling_steps, self.params.timesteps
        spaced = torch.linspace(timesteps - 1, 0, count, dtype=torch.float64).round().long()
        return sorted(set(spaced.tolist()), reverse=True)

    def _denoise(self, images: Tensor, step: int, previous: int | None) -> Tensor:
        """One DDIM step from ``step`` to ``previous`` (``None``: the clean image)."""
        signal = self.signal[step]
        signal_before = self.signal[previous] if previous is not None else signal.new_tensor(1.0)
        steps = torch.full((len(images),), step, device=images.device, dtype=torch.long)
        noise = self.unet(images, steps)
        clean = ((images - (1 - signal).sqrt() * noise) / signal.sqrt()).clamp(-1, 1)
        noise = (images - signal.sqrt() * clean) / (1 - signal).sqrt()
        spread = (
            self.params.sampling_eta
            * (((1 - signal_before) / (1 - signal)) * (1 - signal / signal_before)).sqrt()
        )
        direction = (1 - signal_before - spread**2).clamp(min=0).sqrt()
        result = signal_before.sqrt() * clean + direction * noise
        if self.params.sampling_eta > 0 and previous is not None:
            result = result + spread * torch.randn_like(images)
        return result

    def _draw(self, count: int, device: torch.device) -> Tensor:
        images = torch.randn(count, *self.image_shape, device=device)
        visited = self.sampling_steps()
        for step, previous in zip(visited, [*visited[1:], None], strict=True):
            images = self._denoise(images, step, previous)
        return images

    @torch.no_grad()
    def sample(self, count: int, conditions: Inputs | None = None) -> Inputs:
        """Draw ``count`` new images with the strided (DDIM) sampler.

        Parameters
        ----------
        count : int
            Images to draw.
        conditions : None
            The model is unconditional; anything else is an error.

        Returns
        -------
        dict of str to torch.Tensor
            ``{image_name: (count, C, H, W)}`` in the data's units, within
            ``[0, pixel_max]`` (or scaled as ``normalise_samples`` says), on the
            model's device. The starting noise (and, for
            ``sampling_eta > 0``, the noise of each step) comes from torch's global
            random state: the same ``torch.manual_seed`` gives the same images.
        """
        if conditions:
            raise ValueError("ddpm is unconditional: sample() takes no conditions")
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        device = self.signal.device
        drawn = [
            self.to_data_units(self._draw(min(_SAMPLE_CHUNK, count - start), device))
            for start in range(0, count, _SAMPLE_CHUNK)
        ]
        images = torch.cat(drawn) if drawn else torch.zeros(0, *self.image_shape, device=device)
        threshold = self.params.pixel_threshold * self.params.pixel_max
        images = torch.where(images >= threshold, images, 0.0)
        return {self.image_name: normalised(images, self.params.normalise_samples)}


def normalised(images: Tensor, normalise: Literal["none", "max", "sum"]) -> Tensor:
    """Images ``(N, C, H, W)`` scaled per image, over all channels, to a brightest pixel of 1
    (``max``) or a total of 1 (``sum``), as the image input does; empty images stay empty."""
    if normalise == "none":
        return images
    flat = images.flatten(1)
    scale = flat.amax(dim=1) if normalise == "max" else flat.sum(dim=1)
    scale = torch.where(scale > 0, scale, 1.0)
    return images / scale.view(-1, 1, 1, 1)


def build(params: DDPMParams, schema: InputSchema, n_outputs: int) -> DDPM:
    """The diffusion model of the selected image input."""
    return DDPM(params, schema, n_outputs)


FAMILY = ModelFamily(
    name="ddpm",
    params=DDPMParams,
    build=build,
    main_kind="image",
    accepts=frozenset({"image"}),
    objective="generative",
    samples=True,
)
