"""Tests for heplearn.data.images, checked against a per-jet numpy.histogram2d loop."""

import awkward as ak
import numpy as np
import pydantic
import pytest

from heplearn.data import images as images_module
from heplearn.data.images import ImageSpec, jet_images
from heplearn.errors import ConfigError, InputError

N_JETS = 200


def _wrap(phi: np.ndarray) -> np.ndarray:
    return (phi + np.pi) % (2 * np.pi) - np.pi


def _random_jets(seed: int = 7, n_jets: int = N_JETS) -> ak.Array:
    """Jets of 0-80 constituents (some empty), a third of them with their axis near φ = ±π.

    Stored as the generator stores them: float32, ``dphi`` the wrapped difference of the
    constituent's and the jet's (wrapped) φ; ``phi`` is the constituent's own φ.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 81, n_jets)
    counts[::17] = 0
    jet_phi = rng.uniform(-np.pi, np.pi, n_jets)
    jet_phi[::3] = np.pi - rng.uniform(-0.05, 0.05, len(jet_phi[::3]))
    total = counts.sum()
    part_phi = _wrap(np.repeat(jet_phi, counts) + rng.normal(0, 0.35, total))
    flat = {
        "deta": rng.normal(0, 0.35, total).astype(np.float32),
        "dphi": _wrap(part_phi - np.repeat(jet_phi, counts)).astype(np.float32),
        "pt": rng.exponential(20.0, total).astype(np.float32),
        "charge": rng.integers(-1, 2, total),
        "phi": part_phi,
    }
    return ak.Array({name: ak.unflatten(values, counts) for name, values in flat.items()})


def _reference(jets: ak.Array, spec: ImageSpec) -> np.ndarray:
    """The unnormalised axis-centred images, one numpy.histogram2d call per jet."""
    extent = spec.extent
    bins = (spec.bins, spec.bins_phi or spec.bins)
    return np.stack(
        [
            np.histogram2d(
                ak.to_numpy(jet.deta),
                ak.to_numpy(jet.dphi),
                bins=bins,
                range=[[-extent, extent], [-extent, extent]],
                weights=ak.to_numpy(jet.pt),
            )[0]
            for jet in jets
        ]
    )[:, np.newaxis]


def _images(jets: ak.Array, **options: object) -> np.ndarray:
    return jet_images(jets.deta, jets.dphi, jets.pt, ImageSpec(**options))


SHAPES = [{"bins": 40, "extent": 0.8}, {"bins": 15, "bins_phi": 24, "extent": 1.0}]


# --- 1. the vectorised builder against numpy.histogram2d ---------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_histogram2d(shape: dict[str, float]) -> None:
    jets = _random_jets()
    reference = _reference(jets, ImageSpec(**shape))
    images = _images(jets, normalise="none", **shape)
    np.testing.assert_allclose(images, reference, rtol=1e-6, atol=0)
    # the test data exercise what they should: empty jets, dropped constituents, and jets
    # whose constituents straddle φ = ±π, which wrapped Δφ keeps together
    assert ak.any(ak.num(jets.deta) == 0)
    assert ak.sum(abs(jets.deta) > shape["extent"]) > 0
    straddle = ak.any(jets.phi > 3.0, axis=1) & ak.any(jets.phi < -3.0, axis=1)
    assert ak.sum(straddle) > 20
    assert ak.max(abs(jets.dphi[straddle])) < 2.0


@pytest.mark.parametrize("shape", SHAPES)
def test_normalise_sum_and_max(shape: dict[str, float]) -> None:
    jets = _random_jets()
    reference = _reference(jets, ImageSpec(**shape))
    filled = reference.sum(axis=(1, 2, 3)) > 0
    assert 0 < filled.sum() < len(jets)

    by_sum = _images(jets, normalise="sum", **shape)
    np.testing.assert_allclose(by_sum.sum(axis=(1, 2, 3))[filled], 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        by_sum[filled],
        reference[filled] / reference[filled].sum(axis=(1, 2, 3), keepdims=True),
        rtol=1e-6,
        atol=1e-9,
    )

    by_max = _images(jets, normalise="max", **shape)
    np.testing.assert_array_equal(by_max.max(axis=(1, 2, 3))[filled], 1.0)
    assert by_max.min() >= 0
    np.testing.assert_array_equal(by_sum[~filled], 0.0)
    np.testing.assert_array_equal(by_max[~filled], 0.0)


@pytest.mark.parametrize(
    ("dtype", "phi_dtype"), [("float32", "float32"), ("float64", "float64"), ("float32", "float64")]
)
@pytest.mark.parametrize(("bins", "extent"), [(40, 0.8), (15, 1.0), (7, 0.3)])
def test_bin_edges_follow_histogram2d(dtype: str, phi_dtype: str, bins: int, extent: float) -> None:
    """Values on, just below and just above every edge land where numpy.histogram2d puts them."""
    edges = np.linspace(-extent, extent, bins + 1).astype(dtype)
    near = np.concatenate([edges, np.nextafter(edges, -1), np.nextafter(edges, 1), [0.0]])
    near = near.astype(dtype)
    deta = np.repeat(near, len(near))
    dphi = np.tile(near, len(near)).astype(phi_dtype)
    pt = np.arange(1, len(deta) + 1, dtype=dtype)
    spec = ImageSpec(bins=bins, extent=extent, normalise="none")
    # one jet, with the numbers' own precision (ak.Array of a list would make them float64)
    jet = [ak.unflatten(values, [len(values)]) for values in (deta, dphi, pt)]
    assert str(ak.type(jet[0]).content.content) == dtype
    images = jet_images(*jet, spec)
    reference = np.histogram2d(deta, dphi, bins=bins, range=[[-extent, extent]] * 2, weights=pt)
    np.testing.assert_array_equal(images[0, 0], reference[0].astype(np.float32))


def test_nan_and_infinite_constituents_are_dropped() -> None:
    values = np.array([np.nan, np.inf, -np.inf, 0.1, 5.0])
    images = jet_images(
        ak.Array([values]),
        ak.Array([np.zeros(5)]),
        ak.Array([np.ones(5)]),
        ImageSpec(normalise="none"),
    )
    assert images.sum() == 1.0
    assert np.isfinite(images).all()


def test_many_jets_in_many_blocks_and_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jets are imaged block by block within groups: tiny ones give the same images."""
    jets = _random_jets(seed=12)
    masks = [jets.charge != 0, jets.charge == 0]
    cases = [
        ({"normalise": "none"}, None),
        ({"normalise": "max", "flip": True, "centre": "leading"}, None),
        ({"normalise": "sum", "channels": ("charged", "neutral")}, masks),
    ]
    expected = [
        jet_images(jets.deta, jets.dphi, jets.pt, ImageSpec(**options), channel_masks)
        for options, channel_masks in cases
    ]
    monkeypatch.setattr(images_module, "_BLOCK_PIXELS", 3 * 40 * 40)  # 3 (or 1) jets a block
    monkeypatch.setattr(images_module, "_GROUP_CONSTITUENTS", 100)
    for (options, channel_masks), reference in zip(cases, expected, strict=True):
        images = jet_images(jets.deta, jets.dphi, jets.pt, ImageSpec(**options), channel_masks)
        np.testing.assert_array_equal(images, reference)
    raw = jet_images(jets.deta, jets.dphi, jets.pt, ImageSpec(normalise="none"))
    np.testing.assert_allclose(raw, _reference(jets, ImageSpec()), rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "weights",
    [
        [1.0, 2.0**-24, 2.0**-24, 3.0],  # too small to change a float32 sum one at a time
        [1e8, 1.0, -1.0, 7.0],  # cancelling
        [0.0, 5.0, 0.0, 0.0],  # weights of zero
        [0.1, 0.2, 0.3, 0.4],
        [3e-46, 3e-46, 3e-46, 0.5],  # zero in float32, not in float64
    ],
)
@pytest.mark.parametrize("normalise", ["none", "sum", "max"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shared_pixels_hold_the_float64_sum(
    weights: list[float], normalise: str, dtype: str
) -> None:
    """Constituents in one pixel: its float64 sum, rounded once to float32, as numpy's."""
    jets = _random_jets(seed=9, n_jets=50)
    # three constituents of the first jets in one pixel, the fourth elsewhere
    deta = ak.concatenate([ak.Array([[0.11, 0.111, 0.112, -0.5]] * 5), jets.deta[5:]])
    dphi = ak.concatenate([ak.Array([[0.2, 0.201, 0.202, 0.3]] * 5), jets.dphi[5:]])
    pt = ak.concatenate([ak.Array([weights] * 5), jets.pt[5:]])
    typed = [ak.values_astype(values, dtype) for values in (deta, dphi, pt)]
    images = jet_images(*typed, ImageSpec(normalise=normalise))
    window = [[-0.8, 0.8]] * 2
    for index in range(len(pt)):
        eta, phi, weight = (ak.to_numpy(values[index]) for values in typed)
        reference = np.histogram2d(eta, phi, bins=40, range=window, weights=weight)[0]
        scale = {"none": 1.0, "sum": reference.sum(), "max": reference.max()}[normalise]
        if scale <= 0:
            scale = 1.0
        np.testing.assert_array_equal(
            images[index, 0], (reference * (1.0 / scale)).astype(np.float32)
        )


def test_nan_weights_stay_in_their_own_channel() -> None:
    """A NaN weight spoils its own pixel, as in numpy.histogram2d, and nothing else."""
    deta = ak.Array([[0.1, 0.1, 0.5, 2.0]])
    pt = ak.Array([[1.0, np.nan, 2.0, np.nan]])  # the last constituent is outside the image
    charged = ak.Array([[True, False, True, True]])
    spec = ImageSpec(normalise="none", channels=("charged", "neutral"))
    images = jet_images(deta, deta, pt, spec, [charged, ~charged])
    assert np.isnan(images[0, 1]).sum() == 1  # the neutral NaN
    assert np.isfinite(images[0, 0]).all()
    assert images[0, 0].sum() == 3.0
    kept = [0, 2, 3]
    single = jet_images(deta[:, kept], deta[:, kept], pt[:, kept], ImageSpec(normalise="none"))
    assert single[0, 0].sum() == 3.0  # the NaN outside the image is dropped


# --- 2. centring and φ wrap-around -------------------------------------------------------


def _compact_jets(seed: int, n_jets: int = 60, width: float = 0.1) -> ak.Array:
    """float64 jets of 1-60 constituents, all well inside the default image."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 60, n_jets)
    total = counts.sum()
    flat = {
        "deta": rng.normal(0, width, total),
        "dphi": rng.normal(0, width, total),
        "pt": rng.exponential(20.0, total),
    }
    return ak.Array({name: ak.unflatten(values, counts) for name, values in flat.items()})


def _shifted(jets: ak.Array, d_eta: float | np.ndarray, d_phi: float | np.ndarray) -> ak.Array:
    """The jets moved by (d_eta, d_phi), one value or one per jet, with Δφ wrapped again."""
    return ak.zip(
        {"deta": jets.deta + d_eta, "dphi": _wrap(jets.dphi + d_phi), "pt": jets.pt},
        depth_limit=1,
    )


def _leading(jets: ak.Array, field: str) -> np.ndarray:
    leading = ak.argmax(jets.pt, axis=1, keepdims=True)
    return ak.to_numpy(ak.flatten(jets[field][leading]))


def test_leading_centre_is_translation_invariant() -> None:
    jets = _compact_jets(1)
    images = _images(jets, centre="leading", normalise="none")
    moved = _images(_shifted(jets, 0.31, -0.47), centre="leading", normalise="none")
    np.testing.assert_allclose(moved, images, rtol=1e-6, atol=1e-6)
    # (0, 0) is the lower corner of pixel (20, 20): the leading constituent is there
    assert (images[:, 0, 20, 20] >= ak.to_numpy(ak.max(jets.pt, axis=1)) * (1 - 1e-6)).all()


def test_leading_centre_across_phi_pi() -> None:
    """A jet whose constituents straddle φ = ±π gives the image of the unshifted jet."""
    jets = _compact_jets(2, width=0.2)
    # put each leading constituent just below φ = π, so that its neighbours wrap round to -π
    straddling = _shifted(jets, 0.0, np.pi - 0.02 - _leading(jets, "dphi"))
    both_sides = ak.any(straddling.dphi > 3.0, axis=1) & ak.any(straddling.dphi < -3.0, axis=1)
    assert ak.sum(both_sides) > 0.8 * len(jets)

    expected = _images(jets, centre="leading", normalise="none")
    images = _images(straddling, centre="leading", normalise="none")
    np.testing.assert_allclose(images, expected, rtol=1e-6, atol=1e-6)
    # centred on the axis instead, the straddling jets fall off the edge of the image
    assert _images(straddling, normalise="none").sum() < 0.5 * expected.sum()


def test_centroid_centre() -> None:
    jets = _compact_jets(3)
    rng = np.random.default_rng(4)
    moved = _shifted(jets, rng.uniform(-0.5, 0.5, len(jets)), rng.uniform(-0.5, 0.5, len(jets)))
    images = _images(moved, centre="centroid", normalise="none")
    np.testing.assert_allclose(images, _images(jets, centre="centroid", normalise="none"), 1e-6)
    # every constituent is in the image, so its pixel centroid is within half a pixel of the
    # centre (the pT centroid is at the centre; each constituent is off by half a pixel or less)
    total = images.sum(axis=(1, 2, 3), dtype=np.float64)
    np.testing.assert_allclose(total, ak.to_numpy(ak.sum(jets.pt, axis=1)), rtol=1e-6)
    centres = (np.arange(40) + 0.5) * (1.6 / 40) - 0.8
    mean_eta = (images[:, 0].sum(axis=2) * centres).sum(axis=1) / total
    mean_phi = (images[:, 0].sum(axis=1) * centres).sum(axis=1) / total
    half_pixel = 0.8 / 40
    assert np.abs(mean_eta).max() <= half_pixel * 1.0001
    assert np.abs(mean_phi).max() <= half_pixel * 1.0001
    # the jets themselves were off centre
    assert (
        np.abs(_images(moved, normalise="none")[:, 0, 18:22, 18:22]).sum()
        < images[:, 0, 18:22, 18:22].sum()
    )


# --- 3. rotation and flip ----------------------------------------------------------------


def _line_jets(angles_deg: list[float], seed: int = 5, n: int = 300) -> ak.Array:
    """One jet per angle, elongated along a line at that angle from the η axis (towards +φ)."""
    rng = np.random.default_rng(seed)
    jets = []
    for angle in np.radians(angles_deg):
        along = np.clip(rng.normal(0, 0.25, n), -0.6, 0.6)
        across = rng.normal(0, 0.03, n)
        jets.append(
            {
                "deta": along * np.cos(angle) - across * np.sin(angle) + 0.05,
                "dphi": along * np.sin(angle) + across * np.cos(angle) - 0.03,
                "pt": rng.exponential(10.0, n),
            }
        )
    return ak.Array(jets)


def _pixel_covariance(images: np.ndarray, extent: float) -> tuple[np.ndarray, ...]:
    """Intensity-weighted (var η, var φ, cov η φ) of the pixel centres of each image."""
    bins = images.shape[-1]
    centres = (np.arange(bins) + 0.5) * (2 * extent / bins) - extent
    eta, phi = np.meshgrid(centres, centres, indexing="ij")
    weights = images.sum(axis=1)
    weights = weights / weights.sum(axis=(1, 2), keepdims=True)

    def mean(values: np.ndarray) -> np.ndarray:
        return (weights * values).sum(axis=(1, 2))

    return (
        mean(eta * eta) - mean(eta) ** 2,
        mean(phi * phi) - mean(phi) ** 2,
        mean(eta * phi) - mean(eta) * mean(phi),
    )


@pytest.mark.parametrize("centre", ["axis", "centroid"])
def test_rotation_makes_the_principal_axis_vertical(centre: str) -> None:
    """After rotation the principal axis lies along η (axis 2, the rows: "vertical")."""
    jets = _line_jets([30.0, -60.0, 120.0, 90.0, 5.0])
    spec = {"bins": 64, "extent": 0.8, "centre": centre, "normalise": "none"}
    _, _, tilt = _pixel_covariance(_images(jets, **spec), 0.8)
    assert np.abs(tilt[:3]).min() > 0.01  # the first three are clearly tilted before
    var_eta, var_phi, cov = _pixel_covariance(_images(jets, rotate=True, **spec), 0.8)
    assert np.abs(cov).max() < 0.02 * var_eta.min()
    assert (var_eta > 20 * var_phi).all()


def _quadrants(images: np.ndarray) -> np.ndarray:
    """Quadrant sums over channels: (+η +φ), (+η -φ), (-η +φ), (-η -φ)."""
    bins_eta, bins_phi = images.shape[-2:]
    pos_eta, pos_phi = slice((bins_eta + 1) // 2, None), slice((bins_phi + 1) // 2, None)
    neg_eta, neg_phi = slice(None, bins_eta // 2), slice(None, bins_phi // 2)
    quadrants = ((pos_eta, pos_phi), (pos_eta, neg_phi), (neg_eta, pos_phi), (neg_eta, neg_phi))
    return np.stack([images[:, :, e, p].sum(axis=(1, 2, 3)) for e, p in quadrants], axis=1)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("rotate", [False, True])
def test_flip_puts_the_brightest_quadrant_at_positive_eta_and_phi(
    shape: dict[str, float], rotate: bool
) -> None:
    jets = _random_jets(seed=11)
    options = {"centre": "leading", "rotate": rotate, "normalise": "none", **shape}
    plain = _images(jets, **options)
    flipped = _images(jets, flip=True, **options)
    quadrants = _quadrants(flipped)
    assert (quadrants[:, 0] >= quadrants.max(axis=1)).all()
    # each image is a mirror image of the unflipped one, pixel for pixel
    mirrors = [(), (1,), (2,), (1, 2)]
    for image, original in zip(flipped, plain, strict=True):
        assert any(np.array_equal(image, np.flip(original, axis=axes)) for axes in mirrors)
    assert not np.array_equal(flipped, plain)


# --- 4. channels -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"normalise": "none"},
        {"normalise": "sum", "centre": "leading", "flip": True},
        {"normalise": "none", "centre": "centroid", "rotate": True, "bins": 15, "bins_phi": 24},
    ],
)
def test_channels_sum_to_the_single_channel_image(options: dict[str, object]) -> None:
    jets = _random_jets(seed=3)
    single = _images(jets, **options)
    split = jet_images(
        jets.deta,
        jets.dphi,
        jets.pt,
        ImageSpec(channels=("charged", "neutral"), **options),
        channel_masks=[jets.charge != 0, jets.charge == 0],
    )
    assert split.shape == (len(jets), 2, *single.shape[2:])
    np.testing.assert_allclose(split.sum(axis=1, keepdims=True), single, rtol=1e-5, atol=1e-6)
    assert (split[:, 0].sum(axis=(1, 2)) > 0).any()
    assert (split[:, 1].sum(axis=(1, 2)) > 0).any()


def test_max_normalisation_spans_all_channels() -> None:
    jets = _random_jets(seed=3)
    spec = {"channels": ("charged", "neutral")}
    masks = [jets.charge != 0, jets.charge == 0]
    raw = jet_images(jets.deta, jets.dphi, jets.pt, ImageSpec(normalise="none", **spec), masks)
    scaled = jet_images(jets.deta, jets.dphi, jets.pt, ImageSpec(normalise="max", **spec), masks)
    filled = raw.max(axis=(1, 2, 3)) > 0
    np.testing.assert_allclose(
        scaled[filled], raw[filled] / raw[filled].max(axis=(1, 2, 3), keepdims=True), rtol=1e-6
    )
    np.testing.assert_array_equal(scaled[filled].max(axis=(1, 2, 3)), 1.0)


def test_channel_masks_must_match_the_spec() -> None:
    jets = _random_jets(seed=3, n_jets=10)
    named = ImageSpec(channels=("charged", "neutral"))
    charged = jets.charge != 0
    with pytest.raises(ConfigError, match="2 channels"):
        jet_images(jets.deta, jets.dphi, jets.pt, named)
    with pytest.raises(ConfigError, match="but 1 channel masks"):
        jet_images(jets.deta, jets.dphi, jets.pt, named, channel_masks=[charged])
    with pytest.raises(ConfigError, match=r"spec\.channels is empty"):
        jet_images(jets.deta, jets.dphi, jets.pt, ImageSpec(), channel_masks=[charged])
    with pytest.raises(InputError, match="must be boolean"):
        jet_images(jets.deta, jets.dphi, jets.pt, named, channel_masks=[jets.charge, charged])
    with pytest.raises(InputError, match="the mask of channel 'neutral'"):
        jet_images(jets.deta, jets.dphi, jets.pt, named, channel_masks=[charged, charged[1:]])
    with pytest.raises(InputError, match="weight does not have"):
        jet_images(jets.deta, jets.dphi, jets.pt[:, :1], ImageSpec())


# --- 5. output type, shape, empty jets and the spec --------------------------------------


@pytest.mark.parametrize("centre", ["axis", "leading", "centroid"])
@pytest.mark.parametrize("normalise", ["none", "sum", "max"])
def test_empty_jets_give_zero_images(centre: str, normalise: str) -> None:
    deta = ak.Array([[], [0.1, -0.2], [], [0.3]])
    pt = ak.Array([[], [0.0, 0.0], [], [5.0]])  # the second jet has no weight at all
    spec = ImageSpec(bins=8, bins_phi=6, centre=centre, rotate=True, flip=True, normalise=normalise)
    images = jet_images(deta, deta, pt, spec)
    assert images.dtype == np.float32
    assert images.shape == (4, 1, 8, 6)
    assert np.isfinite(images).all()
    np.testing.assert_array_equal(images[:3], 0.0)
    assert images[3].sum() > 0

    nothing = jet_images(deta[:0], deta[:0], pt[:0], spec)
    assert nothing.shape == (0, 1, 8, 6)
    assert nothing.dtype == np.float32


def test_spec_is_validated_and_frozen() -> None:
    spec = ImageSpec()
    assert spec.shape == (1, 40, 40)
    assert ImageSpec(bins=10, bins_phi=12, channels=("a", "b", "c")).shape == (3, 10, 12)
    with pytest.raises(pydantic.ValidationError):
        spec.bins = 20  # type: ignore[misc]
    for bad in (
        {"bins": 0},
        {"extent": 0.0},
        {"extent": 4.0},
        {"centre": "middle"},
        {"normalise": "l2"},
        {"channels": ("a", "a")},
        {"channels": ("",)},
        {"colour": True},
    ):
        with pytest.raises(pydantic.ValidationError):
            ImageSpec(**bad)
