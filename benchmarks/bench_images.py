"""Jet images: the vectorised builder against a per-jet numpy.histogram2d loop.

The jets are random, as in the tests (generating them with ``heplearn.generate`` would take
far longer than imaging them): a Poisson number of constituents with mean 50, Gaussian Δη
and Δφ of width 0.3, exponential pT and random charges, stored as float32 as the generator
stores them. The loop is the plain per-jet code: the constituents are flattened to numpy
once, then each jet's slice goes through ``numpy.histogram2d`` (once per channel) into a
preallocated float32 array. Each time is the best of a few repeats.
"""

import time
from collections.abc import Callable
from functools import partial

import awkward as ak
import numpy as np

from benchmarks.report import Section
from heplearn.data.images import ImageSpec, jet_images

BINS = 40
EXTENT = 0.8
BUILDER_REPEATS = 7
LOOP_REPEATS = 2


def _random_jets(n_jets: int, seed: int = 1) -> ak.Array:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(50, n_jets)
    total = int(counts.sum())
    flat = {
        "deta": rng.normal(0, 0.3, total).astype(np.float32),
        "dphi": rng.normal(0, 0.3, total).astype(np.float32),
        "pt": rng.exponential(10.0, total).astype(np.float32),
        "charge": rng.integers(-1, 2, total).astype(np.int8),
    }
    return ak.Array({name: ak.unflatten(values, counts) for name, values in flat.items()})


def _best_seconds(function: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    best, result = float("inf"), np.empty(0)
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def _histogram2d_loop(jets: ak.Array, masks: list[ak.Array] | None = None) -> np.ndarray:
    """Unnormalised axis-centred images: numpy.histogram2d once per jet and channel."""
    channels = [jets] if masks is None else [jets[mask] for mask in masks]
    images = np.empty((len(jets), len(channels), BINS, BINS), dtype=np.float32)
    window = [[-EXTENT, EXTENT], [-EXTENT, EXTENT]]
    for channel, selected in enumerate(channels):
        offsets = np.concatenate(([0], np.cumsum(ak.to_numpy(ak.num(selected.deta)))))
        eta, phi, pt = (ak.to_numpy(ak.flatten(selected[name])) for name in ("deta", "dphi", "pt"))
        for index in range(len(jets)):
            part = slice(offsets[index], offsets[index + 1])
            images[index, channel] = np.histogram2d(
                eta[part], phi[part], bins=BINS, range=window, weights=pt[part]
            )[0]
    return images


def run(quick: bool = False) -> list[Section]:
    """Time 40×40 images of random jets: the builder against the per-jet loop."""
    n_jets = 1_000 if quick else 10_000
    jets = _random_jets(n_jets)
    masks = [jets.charge != 0, jets.charge == 0]
    one_channel = _best_seconds(partial(_histogram2d_loop, jets), LOOP_REPEATS)
    two_channels = _best_seconds(partial(_histogram2d_loop, jets, masks), LOOP_REPEATS)
    cases = [
        ("1 channel, axis-centred, unnormalised", ImageSpec(normalise="none"), None, one_channel),
        (
            "2 channels (charged, neutral), axis-centred, unnormalised",
            ImageSpec(normalise="none", channels=("charged", "neutral")),
            masks,
            two_channels,
        ),
        (
            "1 channel, leading-centred, rotated, flipped, unit sum",
            ImageSpec(centre="leading", rotate=True, flip=True, normalise="sum"),
            None,
            one_channel,
        ),
    ]
    section = Section(
        "Jet images: vectorised builder vs a per-jet numpy.histogram2d loop",
        f"{BINS}×{BINS} pT-weighted images (extent ±{EXTENT}) of random jets with about 50 "
        "constituents each (float32, as generated; `heplearn generate` is far too slow to "
        "feed this). *builder* is `heplearn.data.images.jet_images`; the *histogram2d loop* "
        "calls `numpy.histogram2d` once per jet and channel on numpy slices, into a "
        "preallocated float32 array. The loop does no centring, rotation, flip or "
        "normalisation, so the last row, where the builder does all of them, flatters the "
        "loop; in the other rows both do the same work and their images are checked equal. "
        f"Best of {BUILDER_REPEATS} (builder) and {LOOP_REPEATS} (loop) runs; speed-up = loop "
        "time / builder time (target ≥ 50×).",
        ["images", "jets", "builder [jets/s]", "histogram2d loop [jets/s]", "speed-up"],
    )
    for label, spec, channel_masks, (loop_seconds, loop_images) in cases:
        build = partial(jet_images, jets.deta, jets.dphi, jets.pt, spec, channel_masks)
        seconds, images = _best_seconds(build, BUILDER_REPEATS)
        if spec.normalise == "none":
            np.testing.assert_allclose(images, loop_images, rtol=1e-6)
        section.rows.append(
            [
                label,
                f"{n_jets}",
                f"{n_jets / seconds:,.0f}",
                f"{n_jets / loop_seconds:,.0f}",
                f"**{loop_seconds / seconds:.0f}×**",
            ]
        )
    return [section]
