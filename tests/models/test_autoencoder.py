import pytest
import torch

from heplearn.models.base import Embeds, LearnsInputs, Samples
from heplearn.models.registry import MODELS, build_model, model_params


def _model(zoo, name: str, **params):
    schema = zoo.schema(tabular=5, image=(1, 4))
    return schema, build_model(model_params({"name": name, **params}), schema, 1)


@pytest.mark.parametrize("name", ["autoencoder", "vae"])
def test_scores_embeddings_and_losses_have_one_row_per_event(zoo, name):
    schema, model = _model(zoo, name, latent_dim=3)
    batch = zoo.batch(schema, size=6)
    assert MODELS[name].objective == "anomaly"
    assert isinstance(model, LearnsInputs) and isinstance(model, Embeds)
    assert model(batch).shape == (6, 1)
    assert model.embed(batch).shape == (6, 3)
    assert model.event_losses(batch).shape == (6,)
    assert torch.all(model(batch) >= 0)


def test_the_anomaly_score_is_the_reconstruction_error(zoo):
    schema, model = _model(zoo, "autoencoder")
    batch = zoo.batch(schema, size=4)
    joined = torch.cat([batch["jet"], batch["image"].flatten(1)], dim=1)
    expected = ((model.decoder(model.encoder(joined)) - joined) ** 2).mean(dim=1)
    assert torch.allclose(model(batch)[:, 0], expected)


@pytest.mark.slow  # trains both autoencoders
@pytest.mark.parametrize("name", ["autoencoder", "vae"])
def test_training_steps_lower_the_loss(zoo, name):
    torch.manual_seed(0)
    schema, model = _model(zoo, name)
    batch = zoo.batch(schema, size=128, seed=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.eval()
    before = model(batch).mean().item()
    model.train()
    for _ in range(150):
        optimiser.zero_grad()
        model.event_losses(batch).mean().backward()
        optimiser.step()
    model.eval()
    assert model(batch).mean().item() < 0.8 * before


def test_the_vae_decodes_prior_draws_into_every_input(zoo):
    _, model = _model(zoo, "vae", kl_weight=0.1)
    assert isinstance(model, Samples)
    torch.manual_seed(5)
    drawn = model.sample(7)
    torch.manual_seed(5)
    again = model.sample(7)
    assert drawn["jet"].shape == (7, 5) and drawn["image"].shape == (7, 1, 4, 4)
    assert torch.equal(drawn["jet"], again["jet"])
    assert all(torch.isfinite(values).all() for values in drawn.values())


def test_the_vae_embedding_is_deterministic_and_its_loss_includes_the_kl_term(zoo):
    schema, without = _model(zoo, "vae", kl_weight=0.0)
    batch = zoo.batch(schema, size=32)
    with_kl = build_model(model_params({"name": "vae", "kl_weight": 5.0}), schema, 1)
    with_kl.load_state_dict(without.state_dict())
    assert torch.equal(without.embed(batch), without.embed(batch))
    torch.manual_seed(0)
    plain = without.event_losses(batch)
    torch.manual_seed(0)
    assert torch.all(with_kl.event_losses(batch) > plain)
