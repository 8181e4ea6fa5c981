"""Helpers shared by the model tests: schemas, synthetic batches and behaviour checks.

Everything is built in memory from :class:`InputInfo` (no files). The ``zoo`` fixture
gives the test modules one :class:`ZooChecks` object.
"""

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from heplearn.models.registry import build_model, model_params
from heplearn.models.schema import InputInfo, InputSchema

PARTICLE_COLUMNS = ("part_deta", "part_dphi", "part_pt", "part_logpt", "part_charge")
VECTOR_COLUMNS = ("part_px", "part_py", "part_pz", "part_energy")
Batch = dict[str, Tensor]


class ZooChecks:
    """Schemas, synthetic batches and the behaviour every model family must show."""

    def schema(
        self,
        *,
        particles: int = 0,
        tabular: int = 0,
        image: tuple[int, int] | None = None,
        vectors: bool = False,
    ) -> InputSchema:
        """A schema with a particles input of ``particles`` slots, ``tabular`` jet features,
        an image ``(channels, bins)`` and a four-vector particles input ``vectors``."""
        schema: InputSchema = {}
        if particles:
            schema["particles"] = InputInfo(
                "particles", "particles", PARTICLE_COLUMNS, (particles, len(PARTICLE_COLUMNS))
            )
        if vectors:
            schema["vectors"] = InputInfo(
                "vectors", "particles", VECTOR_COLUMNS, (particles, len(VECTOR_COLUMNS))
            )
        if tabular:
            columns = tuple(f"jet_{index}" for index in range(tabular))
            schema["jet"] = InputInfo("jet", "tabular", columns, (tabular,))
        if image is not None:
            channels, bins = image
            names = tuple(f"channel_{index}" for index in range(channels))
            schema["image"] = InputInfo("image", "image", names, (channels, bins, bins))
        return schema

    def batch(
        self,
        schema: InputSchema,
        size: int = 8,
        seed: int = 0,
        labels: Tensor | None = None,
        min_particles: int = 1,
    ) -> Batch:
        """Random inputs for ``schema``; padded slots hold zeros.

        Jets have between ``min_particles`` and the full length of real particles (some
        fewer than ParticleNet's k). With ``labels``, class 1 is shifted in every input,
        which makes the problem separable.
        """
        generator = torch.Generator().manual_seed(seed)
        shift = torch.zeros(size) if labels is None else labels.float()
        batch: Batch = {}
        mask = None
        for name, info in schema.items():
            if info.kind == "tabular":
                values = torch.randn(size, *info.shape, generator=generator)
                batch[name] = values + 2 * shift.view(-1, 1)
            elif info.kind == "image":
                values = torch.rand(size, *info.shape, generator=generator)
                bins = info.shape[1]
                centre = slice(bins // 4, bins - bins // 4)
                values[:, :, centre, centre] += 2 * shift.view(-1, 1, 1, 1)
                batch[name] = values
            elif name == "particles":
                length = info.shape[0]
                counts = torch.randint(min_particles, length + 1, (size,), generator=generator)
                mask = torch.arange(length) < counts.view(-1, 1)
                pt = torch.rand(size, length, generator=generator) * 50 + 1
                eta = 0.4 * torch.randn(size, length, generator=generator)
                phi = 0.4 * torch.randn(size, length, generator=generator)
                eta = eta * (1 - 0.7 * shift.view(-1, 1))  # signal: narrower jets
                phi = phi * (1 - 0.7 * shift.view(-1, 1))
                charge = torch.randint(-1, 2, (size, length), generator=generator).float()
                values = torch.stack([eta, phi, pt, pt.log(), charge], dim=-1)
                values = values + shift.view(-1, 1, 1)
                batch[name] = torch.where(mask.unsqueeze(-1), values, 0.0)
                batch[f"{name}_mask"] = mask
                vectors = torch.stack(
                    [pt * phi.cos(), pt * phi.sin(), pt * eta.sinh(), pt * eta.cosh()], dim=-1
                )
                batch["_vectors"] = torch.where(mask.unsqueeze(-1), vectors, 0.0)
        if "vectors" in schema:
            assert mask is not None
            batch["vectors"] = batch["_vectors"]
            batch["vectors_mask"] = mask
        batch.pop("_vectors", None)
        return batch

    def build(self, section: dict[str, object], schema: InputSchema, n_outputs: int) -> nn.Module:
        """A model from a ``model`` config section, seeded, in evaluation mode."""
        torch.manual_seed(0)
        model = build_model(model_params(section), schema, n_outputs)
        assert isinstance(model, nn.Module)
        return model.eval()

    @staticmethod
    def particle_inputs(batch: Batch) -> list[str]:
        """Names of the particle inputs of a batch (those with a mask)."""
        return [name for name in batch if f"{name}_mask" in batch]

    def with_garbage(self, batch: Batch, seed: int = 1) -> Batch:
        """The batch with random values instead of zeros in every padded slot."""
        generator = torch.Generator().manual_seed(seed)
        out = dict(batch)
        for name in self.particle_inputs(batch):
            values, mask = batch[name], batch[f"{name}_mask"]
            garbage = 100 * torch.randn(values.shape, generator=generator)
            out[name] = torch.where(mask.unsqueeze(-1), values, garbage)
        return out

    def with_more_padding(self, batch: Batch, extra: int) -> Batch:
        """The batch with ``extra`` more padded slots (holding garbage) per jet."""
        out = dict(batch)
        for name in self.particle_inputs(batch):
            values, mask = batch[name], batch[f"{name}_mask"]
            size, _, features = values.shape
            out[name] = torch.cat([values, torch.randn(size, extra, features)], dim=1)
            out[f"{name}_mask"] = torch.cat([mask, torch.zeros(size, extra, dtype=bool)], dim=1)
        return out

    def permuted(self, batch: Batch, seed: int = 2) -> Batch:
        """The batch with the slots of every jet shuffled (padding interleaved with particles)."""
        generator = torch.Generator().manual_seed(seed)
        names = self.particle_inputs(batch)
        size, length = batch[f"{names[0]}_mask"].shape
        order = torch.argsort(torch.rand(size, length, generator=generator), dim=1)
        rows = torch.arange(size).view(-1, 1)
        out = dict(batch)
        for name in names:
            out[name] = batch[name][rows, order]
            out[f"{name}_mask"] = batch[f"{name}_mask"][rows, order]
        return out

    @torch.no_grad()
    def outputs(self, model: nn.Module, batch: Batch) -> Tensor:
        """Model outputs in evaluation mode."""
        return model.eval()(batch)

    def assert_outputs(self, model: nn.Module, batch: Batch, shape: tuple[int, int]) -> None:
        """Outputs in evaluation mode have ``shape`` (batch, n_outputs) and are finite."""
        out = self.outputs(model, batch)
        assert out.shape == shape
        assert torch.isfinite(out).all()

    def assert_padding_ignored(self, model: nn.Module, batch: Batch) -> None:
        """Outputs do not change with garbage in the padding or 10 more padded slots."""
        reference = self.outputs(model, batch)
        torch.testing.assert_close(
            self.outputs(model, self.with_garbage(batch)), reference, atol=1e-5, rtol=1e-5
        )
        torch.testing.assert_close(
            self.outputs(model, self.with_more_padding(batch, 10)), reference, atol=1e-5, rtol=1e-5
        )

    @torch.no_grad()
    def assert_padding_ignored_in_training(self, model: nn.Module, batch: Batch) -> None:
        """In training mode too (dropout off), 10 more padded slots leave the outputs alone.

        Batch-norm statistics must come from real particles (and pairs, edges) only.
        """
        model.train()
        torch.testing.assert_close(
            model(self.with_more_padding(batch, 10)), model(batch), atol=1e-5, rtol=1e-5
        )

    def assert_permutation_invariant(self, model: nn.Module, batch: Batch) -> None:
        """Outputs do not change when the particles of each jet are reordered."""
        torch.testing.assert_close(
            self.outputs(model, self.permuted(batch)),
            self.outputs(model, batch),
            atol=1e-5,
            rtol=1e-5,
        )

    def weighted_bce(
        self, model: nn.Module, batch: Batch, labels: Tensor, weights: Tensor
    ) -> Tensor:
        """Weighted binary cross-entropy of a one-logit model."""
        logits = model(batch).squeeze(1)
        losses = nn.functional.binary_cross_entropy_with_logits(
            logits, labels.float(), reduction="none"
        )
        return (weights * losses).sum() / weights.sum()

    def assert_learns(
        self,
        make_model: Callable[[], nn.Module],
        schema: InputSchema,
        steps: int = 30,
        learning_rate: float = 1e-2,
        factor: float = 0.5,
    ) -> None:
        """30 Adam steps on a small separable problem at least halve the weighted BCE."""
        generator = torch.Generator().manual_seed(3)
        labels = torch.randint(0, 2, (64,), generator=generator)
        weights = torch.rand(64, generator=generator) + 0.5
        batch = self.batch(schema, size=64, seed=4, labels=labels)
        torch.manual_seed(0)
        model = make_model()
        optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
        model.train()
        first = self.weighted_bce(model, batch, labels, weights).item()
        for _ in range(steps):
            optimiser.zero_grad()
            loss = self.weighted_bce(model, batch, labels, weights)
            loss.backward()
            optimiser.step()
        last = self.weighted_bce(model, batch, labels, weights).item()
        assert math.isfinite(last)
        assert last < factor * first, (first, last)


@pytest.fixture
def zoo() -> ZooChecks:
    """The shared schemas, batches and checks of the model tests."""
    return ZooChecks()
