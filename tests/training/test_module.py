"""The LightningModule's batch trimming: less padding, the same losses and gradients."""

import copy

import torch

from heplearn.models.registry import build_model, model_params
from heplearn.models.schema import InputInfo
from heplearn.training.config import TrainingConfig
from heplearn.training.module import RunModule, trimmed
from heplearn.training.task import Task


def test_trimmed_cuts_every_particles_input_after_its_last_filled_slot() -> None:
    mask = torch.tensor([[1, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    batch = {
        "particles": torch.randn(2, 6, 3),
        "particles_mask": mask,
        "muons": torch.randn(2, 4, 2),
        "muons_mask": torch.zeros(2, 4, dtype=torch.bool),  # no muon at all: one slot kept
        "jet": torch.randn(2, 5),
        "label": torch.tensor([0, 1]),
    }
    out = trimmed(batch)
    assert out["particles"].shape == (2, 3, 3) and out["particles_mask"].shape == (2, 3)
    assert torch.equal(out["particles"], batch["particles"][:, :3])
    assert out["muons"].shape == (2, 1, 2) and out["muons_mask"].shape == (2, 1)
    assert out["jet"] is batch["jet"] and out["label"] is batch["label"]


def test_a_trimmed_batch_gives_the_same_loss_and_gradients() -> None:
    columns = ("part_deta", "part_dphi", "a", "b")
    schema = {"particles": InputInfo("particles", "particles", columns, (40, 4))}
    torch.manual_seed(0)
    model = build_model(model_params({"name": "particlenet-lite", "dropout": 0.0}), schema, 1)
    task = Task("binary", 1, "bce")
    generator = torch.Generator().manual_seed(1)
    counts = torch.randint(1, 25, (32,), generator=generator)
    mask = torch.arange(40) < counts.view(-1, 1)
    values = torch.where(mask.unsqueeze(-1), torch.randn(32, 40, 4, generator=generator), 0.0)
    batch = {"particles": values, "particles_mask": mask, "label": counts % 2}
    losses, lengths = {}, []
    for trim in (False, True):
        module = RunModule(copy.deepcopy(model), task, TrainingConfig(), trim_padding=trim).train()
        module.model.register_forward_pre_hook(
            lambda _, inputs: lengths.append(inputs[0]["particles"].shape[1])
        )
        loss, _ = module.event_losses(batch)
        loss.mean().backward()
        losses[trim] = loss, [parameter.grad for parameter in module.parameters()]
    torch.testing.assert_close(losses[True][0], losses[False][0])
    for trimmed_grad, padded_grad in zip(losses[True][1], losses[False][1], strict=True):
        torch.testing.assert_close(trimmed_grad, padded_grad, rtol=1e-4, atol=1e-6)
    assert lengths == [40, int(counts.max())] and lengths[1] < 40
