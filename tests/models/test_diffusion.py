"""Tests of the denoising diffusion model of jet images (``ddpm``)."""

import math

import pytest
import torch

from helpers import run_config
from heplearn.errors import ConfigError
from heplearn.models.base import LearnsInputs, Samples
from heplearn.models.diffusion import DDPM, noise_schedule
from heplearn.models.registry import build_model, model_params
from heplearn.training.fit import train

# a U-Net small enough for quick tests: two levels of 8 and 16 feature maps
SMALL = {
    "name": "ddpm",
    "timesteps": 100,
    "channels": 8,
    "channel_multipliers": [1, 2],
    "time_embedding": 16,
    "sampling_steps": 5,
}


def jet_like_images(count: int, channels: int, bins: int, seed: int) -> torch.Tensor:
    """Images in ``[0, 1]`` (as ``normalise: max`` gives): a bright core near the centre,
    a fainter blob at a random angle, and zero elsewhere."""
    generator = torch.Generator().manual_seed(seed)
    grid = torch.arange(bins, dtype=torch.float32) - (bins - 1) / 2
    eta, phi = grid.view(1, -1, 1), grid.view(1, 1, -1)
    angle = 2 * math.pi * torch.rand(count, 1, 1, generator=generator)
    radius = bins / 4
    core = torch.exp(-(eta**2 + phi**2) / 2)
    second = 0.5 * torch.exp(
        -((eta - radius * angle.cos()) ** 2 + (phi - radius * angle.sin()) ** 2) / 2
    )
    image = core + second
    image = torch.where(image > 0.05, image, 0.0)
    image = image / image.amax(dim=(1, 2), keepdim=True)
    return image.unsqueeze(1).expand(count, channels, bins, bins).contiguous()


def build(zoo, section: dict[str, object], channels: int = 1, bins: int = 16) -> DDPM:
    model = zoo.build(section, zoo.schema(image=(channels, bins)), 1)
    assert isinstance(model, DDPM)
    return model


@pytest.mark.parametrize(
    ("channels", "bins", "multipliers"),
    [(1, 16, [1, 2, 2]), (1, 20, [1, 2, 2]), (2, 40, [1, 2, 2]), (2, 20, [1, 1, 2, 2])],
)
def test_output_shapes(zoo, channels: int, bins: int, multipliers: list[int]) -> None:
    # 20 bins halved three times is padded to 24 and cropped back
    model = build(zoo, {**SMALL, "channel_multipliers": multipliers}, channels, bins)
    images = {"image": jet_like_images(3, channels, bins, seed=0)}
    assert isinstance(model, LearnsInputs)
    assert isinstance(model, Samples)
    zoo.assert_outputs(model, images, (3, 1))
    assert model.unet(images["image"], torch.tensor([0, 50, 99])).shape == (3, channels, bins, bins)
    assert model.train().event_losses(images).shape == (3,)
    torch.manual_seed(0)
    drawn = model.eval().sample(2)
    assert set(drawn) == {"image"}
    assert drawn["image"].shape == (2, channels, bins, bins)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("timesteps", [50, 1000])
def test_noise_schedule_goes_from_signal_to_noise(schedule: str, timesteps: int) -> None:
    signal = noise_schedule(timesteps, schedule)  # type: ignore[arg-type]
    assert signal.shape == (timesteps,)
    assert (signal.diff() < 0).all()
    assert signal[0] > 0.98
    assert signal[-1] < 1e-3


def test_forward_is_a_deterministic_per_image_score(zoo) -> None:
    model = build(zoo, SMALL)
    images = {"image": jet_like_images(6, 1, 16, seed=1)}
    torch.manual_seed(1)
    first = zoo.outputs(model, images)
    torch.manual_seed(2)
    second = zoo.outputs(model, images)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    # an image's score does not depend on the other images of its batch
    alone = zoo.outputs(model, {"image": images["image"][2:3]})
    torch.testing.assert_close(alone, first[2:3], rtol=1e-5, atol=1e-6)
    # the validation loss (evaluation mode) is the same score
    with torch.no_grad():
        torch.testing.assert_close(model.eval().event_losses(images), first[:, 0])
    # the zero-initialised head predicts no noise: the first score is the noise's mean square
    assert first.mean().item() == pytest.approx(1.0, abs=0.15)


def test_training_losses_are_random_in_training_mode(zoo) -> None:
    model = build(zoo, SMALL).train()
    images = {"image": jet_like_images(4, 1, 16, seed=1)}
    torch.manual_seed(0)
    first = model.event_losses(images)
    torch.manual_seed(0)
    again = model.event_losses(images)
    second = model.event_losses(images)
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, second)


@pytest.mark.slow  # dozens of training steps of a U-Net
def test_a_few_dozen_steps_lower_the_denoising_loss(zoo) -> None:
    torch.manual_seed(0)
    model = build(zoo, SMALL, bins=12)
    images = {"image": jet_like_images(16, 1, 12, seed=2)}
    held_out = {"image": jet_like_images(32, 1, 12, seed=3)}
    with torch.no_grad():
        before = model.eval()(held_out).mean().item()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(30):
        optimiser.zero_grad()
        model.event_losses(images).mean().backward()
        optimiser.step()
    with torch.no_grad():
        after = model.eval()(held_out).mean().item()
    assert math.isfinite(after)
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_samples_are_reproducible_and_in_range(zoo, eta: float) -> None:
    section = {**SMALL, "sampling_eta": eta, "pixel_max": 2.0, "pixel_threshold": 0.01}
    model = build(zoo, section, channels=2, bins=16)
    torch.manual_seed(5)
    first = model.sample(7)["image"]
    torch.manual_seed(5)
    again = model.sample(7)["image"]
    other = model.sample(7)["image"]
    assert first.shape == (7, 2, 16, 16)
    assert torch.isfinite(first).all()
    assert first.min() >= 0
    assert first.max() <= 2.0
    assert not ((first > 0) & (first < 0.02)).any()  # faint pixels are zeroed
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("normalise", ["max", "sum"])
def test_samples_are_normalised_like_the_data(zoo, normalise: str) -> None:
    model = build(zoo, {**SMALL, "normalise_samples": normalise}, channels=2, bins=12)
    torch.manual_seed(0)
    images = model.sample(5)["image"].flatten(1)
    totals = images.amax(dim=1) if normalise == "max" else images.sum(dim=1)
    torch.testing.assert_close(totals, torch.ones(5))


def test_sampler_visits_the_requested_steps(zoo) -> None:
    model = build(zoo, {**SMALL, "timesteps": 100, "sampling_steps": 7})
    visited = model.sampling_steps()
    assert len(visited) == 7
    assert visited[0] == 99
    assert visited[-1] == 0
    assert visited == sorted(visited, reverse=True)
    full = build(zoo, {**SMALL, "timesteps": 20, "sampling_steps": 20})
    assert full.sampling_steps() == list(range(19, -1, -1))


def test_pixel_mapping_round_trips(zoo) -> None:
    model = build(zoo, {**SMALL, "pixel_max": 0.5, "intensity_power": 0.5})
    pixels = torch.tensor([0.0, 0.01, 0.125, 0.5])
    units = model.to_model_units(pixels)
    torch.testing.assert_close(units, torch.tensor([-1.0, -1 + 2 * 0.02**0.5, 0.0, 1.0]))
    torch.testing.assert_close(model.to_data_units(units), pixels)
    assert model.to_data_units(torch.tensor([-3.0, 3.0])).tolist() == [0.0, 0.5]


def test_sample_takes_no_conditions(zoo) -> None:
    model = build(zoo, SMALL)
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, conditions={"image": torch.zeros(2, 1, 16, 16)})
    assert model.sample(0)["image"].shape == (0, 1, 16, 16)


def test_registry_builds_it_from_a_config(zoo) -> None:
    schema = zoo.schema(image=(1, 20), tabular=3)
    model = build_model(model_params({"name": "ddpm"}), schema, 1)
    assert isinstance(model, DDPM)
    assert model.image_name == "image"
    assert model.params.timesteps == 400
    assert model.params.schedule == "cosine"
    assert len(model.sampling_steps()) == 50


def test_registry_refuses_data_without_an_image(zoo) -> None:
    schema = zoo.schema(tabular=3, particles=10)
    with pytest.raises(ConfigError, match=r"model 'ddpm' needs exactly one image input"):
        build_model(model_params({"name": "ddpm"}), schema, 1)
    with pytest.raises(ConfigError, match=r"reads image inputs, not jet \(tabular\)"):
        build_model(model_params({"name": "ddpm", "inputs": ["jet"]}), schema, 1)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"timesteps": 100, "sampling_steps": 200}, r"model\.sampling_steps: must not exceed"),
        ({"time_embedding": 15}, r"model\.time_embedding: time_embedding must be even"),
        ({"schedule": "quadratic"}, r"model\.schedule"),
        ({"channel_multipliers": []}, r"model\.channel_multipliers"),
    ],
)
def test_invalid_parameters_are_refused(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        model_params({"name": "ddpm", **section})


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def test_one_epoch_of_training_on_generated_jet_images(top, tmp_path) -> None:
    config = run_config(top, {**SMALL, "inputs": ["image"]}, epochs=1)
    config["data"]["inputs"]["image"]["normalise"] = "max"
    run = train(config, tmp_path / "run")
    history = run.history()
    assert len(history) == 1
    assert math.isfinite(history[0]["val_loss"])
    assert history[0]["val_loss"] < 1.0  # below the zero predictor's loss
    model = run.load_model()
    assert isinstance(model, DDPM)
    torch.manual_seed(0)
    drawn = model.sample(4)["image"]
    assert drawn.shape == (4, 1, 16, 16)
    assert drawn.min() >= 0
    assert drawn.max() <= 1
