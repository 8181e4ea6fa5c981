"""Tests of the shared building blocks: masked batch norm, masked pooling, column lookup."""

import pytest
import torch
from torch import nn

from heplearn.errors import ConfigError
from heplearn.models.layers import (
    Head,
    MaskedBatchNorm,
    column_indices,
    masked_mean,
    masked_sum,
    particles_and_mask,
)
from heplearn.models.schema import InputInfo


def _padded(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    values = 3 + 2 * torch.randn(6, 10, 4, generator=generator)
    mask = torch.arange(10) < torch.tensor([1, 3, 5, 7, 10, 0]).view(-1, 1)
    return values, mask


def test_masked_batch_norm_uses_real_entries_only() -> None:
    values, mask = _padded()
    masked = MaskedBatchNorm(4).train()
    plain = nn.BatchNorm1d(4).train()
    out = masked(values, mask)
    expected = plain(values[mask])
    torch.testing.assert_close(out[mask], expected)
    assert torch.all(out[~mask] == 0)
    torch.testing.assert_close(masked.running_mean, plain.running_mean)
    torch.testing.assert_close(masked.running_var, plain.running_var)
    assert masked.num_batches_tracked == 1


def test_masked_batch_norm_gradients_are_those_of_the_real_entries() -> None:
    values, mask = _padded()
    values.requires_grad_(True)
    masked = MaskedBatchNorm(4).train()
    plain = nn.BatchNorm1d(4).train()
    weights = torch.randn(values.shape, generator=torch.Generator().manual_seed(1))
    (masked(values, mask) * weights).sum().backward()
    copy = values.detach().clone().requires_grad_(True)
    (plain(copy[mask]) * weights[mask]).sum().backward()
    torch.testing.assert_close(values.grad, copy.grad)
    assert torch.all(values.grad[~mask] == 0)
    torch.testing.assert_close(masked.weight.grad, plain.weight.grad)


def test_masked_batch_norm_of_one_real_entry_gives_its_bias() -> None:
    values, _ = _padded()
    mask = torch.zeros(values.shape[:2], dtype=torch.bool)
    mask[2, 4] = True
    norm = MaskedBatchNorm(4).train()
    with torch.no_grad():
        norm.bias.fill_(0.5)
    out = norm(values, mask)
    assert torch.all(out[mask] == 0.5) and torch.all(out[~mask] == 0)
    torch.testing.assert_close(norm.running_mean, 0.1 * values[2, 4])
    torch.testing.assert_close(norm.running_var, torch.full((4,), 0.9))


def test_masked_batch_norm_in_eval_mode_is_per_entry() -> None:
    values, mask = _padded()
    norm = MaskedBatchNorm(4)
    norm.train()(values, mask)
    norm.eval()
    single = norm(values[:1], mask[:1])
    torch.testing.assert_close(norm(values, mask)[:1], single)
    plain = nn.BatchNorm1d(4).eval()
    plain.load_state_dict(norm.state_dict())
    torch.testing.assert_close(norm(values, mask)[mask], plain(values[mask]))


def test_masked_batch_norm_skips_an_all_padded_batch() -> None:
    norm = MaskedBatchNorm(4).train()
    out = norm(torch.randn(2, 5, 4), torch.zeros(2, 5, dtype=torch.bool))
    assert torch.all(out == 0)
    assert torch.all(norm.running_mean == 0)
    assert torch.all(norm.running_var == 1)


def test_masked_pooling_ignores_padding() -> None:
    values, mask = _padded()
    garbage = torch.where(mask.unsqueeze(-1), values, torch.full_like(values, 1e6))
    for event in range(5):
        real = values[event][mask[event]]
        torch.testing.assert_close(masked_sum(garbage, mask)[event], real.sum(dim=0))
        torch.testing.assert_close(masked_mean(garbage, mask)[event], real.mean(dim=0))
    assert torch.all(masked_mean(garbage, mask)[5] == 0)  # no particles at all


def test_particles_and_mask_zero_the_padding() -> None:
    values, mask = _padded()
    particles, got_mask = particles_and_mask({"p": values, "p_mask": mask.int()}, "p")
    assert got_mask.dtype == torch.bool
    assert torch.all(particles[~mask] == 0)
    torch.testing.assert_close(particles[mask], values[mask])


def test_column_indices_name_the_missing_column() -> None:
    info = InputInfo("particles", "particles", ("part_deta", "part_dphi"), (10, 2))
    assert column_indices(info, ["part_dphi", "part_deta"], "model.coordinates") == [1, 0]
    with pytest.raises(ConfigError, match=r"model\.coordinates: 'part_eta'.*part_deta, part_dphi"):
        column_indices(info, ["part_eta"], "model.coordinates")


def test_head_joins_features_and_flattened_extras() -> None:
    extras = [
        InputInfo("jet", "tabular", ("a", "b"), (2,)),
        InputInfo("image", "image", ("c",), (1, 3, 3)),
    ]
    head = Head(4, extras, [8], n_outputs=3)
    out = head(torch.randn(5, 4), {"jet": torch.randn(5, 2), "image": torch.randn(5, 1, 3, 3)})
    assert out.shape == (5, 3)
    assert head.hidden[0].in_features == 4 + 2 + 9
    with pytest.raises(ConfigError, match="at least one output"):
        Head(4, extras, [], n_outputs=0)
