"""Length buckets: batches of jets of similar length, trimmed, results back in event order."""

import numpy as np
import pytest
import torch

from heplearn.inference.buckets import batched, filled_lengths
from heplearn.models.registry import build_model, model_params
from heplearn.models.schema import InputInfo

PARTICLES = {"particles": "particles_mask"}


def chunk(events: int = 50, length: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    """Jets of 0 to ``length`` real particles (the first slots), zeros in the padding."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, length + 1, events)
    counts[3] = length  # one full jet
    mask = np.arange(length) < counts[:, None]
    values = rng.normal(size=(events, length, 5)).astype(np.float32)
    return {
        "particles": np.where(mask[..., None], values, 0).astype(np.float32),
        "particles_mask": mask,
        "jet": rng.normal(size=(events, 2)).astype(np.float32),
    }


def test_filled_lengths_end_at_the_last_real_slot() -> None:
    mask = np.array(
        [[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1], [0, 0, 0, 1]], dtype=bool
    )
    assert filled_lengths(mask).tolist() == [2, 0, 3, 4, 4]
    assert filled_lengths(np.zeros((3, 0), bool)).tolist() == [0, 0, 0]


def per_event(batch: dict[str, np.ndarray]) -> np.ndarray:
    """A padding-invariant function of each event: its particles' sum plus its jet row."""
    real = batch["particles"] * batch["particles_mask"][..., None]
    return real.sum(axis=1)[:, :2] + batch["jet"]


def test_buckets_trim_each_batch_and_give_the_results_in_event_order() -> None:
    arrays = chunk()
    seen: list[tuple[int, int, int]] = []

    def recording(batch: dict[str, np.ndarray]) -> np.ndarray:
        assert list(batch) == ["particles", "particles_mask", "jet"]
        longest = int(filled_lengths(batch["particles_mask"]).max())
        seen.append((len(batch["jet"]), batch["particles"].shape[1], longest))
        assert batch["particles_mask"].shape == batch["particles"].shape[:2]
        return per_event(batch)

    keys = list(arrays)
    plain = batched(per_event, arrays, keys, 8, (0, 2))
    bucketed = batched(recording, arrays, keys, 8, (0, 2), PARTICLES)
    np.testing.assert_allclose(bucketed, plain, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(plain, per_event(arrays))
    assert [events for events, _, _ in seen] == [8] * 6 + [2]
    # each batch is cut after its longest jet (one slot at least), shortest jets first
    assert all(width == max(longest, 1) for _, width, longest in seen)
    widths = [width for _, width, _ in seen]
    assert widths == sorted(widths) and widths[0] < widths[-1] == 30


def test_an_empty_chunk_gives_an_empty_result() -> None:
    arrays = {key: value[:0] for key, value in chunk().items()}
    for particles in (None, PARTICLES):
        result = batched(per_event, arrays, list(arrays), 8, (0, 2), particles)
        assert result.shape == (0, 2) and result.dtype == np.float32


@pytest.mark.parametrize("name", ["particlenet-lite", "part-small"])
def test_bucketed_scores_of_a_model_equal_plain_scores(name: str) -> None:
    columns = ("part_deta", "part_dphi", "a", "b", "c")
    schema = {"particles": InputInfo("particles", "particles", columns, (30, 5))}
    torch.manual_seed(0)
    model = build_model(model_params({"name": name}), schema, 3).eval()

    def scores(batch: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            return model({key: torch.from_numpy(value) for key, value in batch.items()}).numpy()

    arrays = chunk()
    keys = ["particles", "particles_mask"]
    plain = batched(scores, arrays, keys, 16, (0, 3))
    np.testing.assert_allclose(
        batched(scores, arrays, keys, 16, (0, 3), PARTICLES), plain, atol=1e-5
    )
    assert np.ptp(plain[:, 0]) > 1e-3  # (not a comparison of constants)
