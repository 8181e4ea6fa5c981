"""Jet images: pT-weighted η×φ histograms of jet constituents, built for all jets at once.

:func:`jet_images` bins the constituents of many jets at a time with numpy operations (no
Python loop over jets or constituents) and returns ``float32`` images of shape
``(n_jets, n_channels, bins, bins_phi)``: axis 2 is Δη, axis 3 is Δφ, both increasing
with the index. Shown with ``matplotlib.pyplot.imshow`` (default ``origin="upper"``), η
runs down the rows ("vertical") and φ to the right along the columns ("horizontal").

Binning follows :func:`numpy.histogram2d` exactly: the edges are
``np.linspace(-extent, extent, bins + 1)``, each bin holds its lower edge, the last bin
also holds ``+extent``, and constituents outside the image (or NaN) are dropped. Weights
are summed in float64 and stored as float32. The preprocessing steps run in this order:

1. centre: ``"axis"`` uses ``deta``/``dphi`` as given (offsets from the jet axis);
   ``"leading"`` subtracts the position of the constituent with the largest ``weight``;
   ``"centroid"`` subtracts the ``weight``-weighted mean (Δη, Δφ). After re-centring Δφ is
   wrapped into [-π, π) again, so a jet straddling φ = ±π stays compact.
2. rotate: the principal axis of the jet (the major axis of the ``weight``-weighted
   covariance of its constituents) is turned onto the η axis ("vertical"): if it makes the
   angle θ with +η, towards +φ (|θ| ≤ 90°), the jet is rotated by -θ about the image
   centre. Which end of the axis points to +η is left to the flip.
3. flip: each image is mirrored in η and/or φ so that its brightest quadrant (summed over
   channels) is the one of positive Δη and positive Δφ,
   ``image[:, (bins + 1) // 2:, (bins_phi + 1) // 2:]`` (bottom right in ``imshow``).
   With an odd number of bins the middle row or column belongs to no quadrant. Ties keep
   the image as it is.
4. normalise, per jet over all channels together: ``"sum"`` divides by the total of the
   image, ``"max"`` by its brightest pixel; ``"none"`` keeps the summed weights. Images
   whose total (or maximum) is not positive, such as those of empty jets, are left as they
   are, so empty jets give all-zero images.

Centring and rotation use every constituent with its ``weight``, also those outside the
image; they describe the jet and are the same for every channel. A constituent may belong
to several channels, or to none.
"""

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import awkward as ak
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from heplearn.angles import wrap_phi
from heplearn.data.padding import jagged_parts
from heplearn.errors import ConfigError, InputError

# Jets are imaged in blocks of about this many pixels: the float64 sums of the pixels that
# several constituents share are made in a block-sized space (2 MiB, which stays in the CPU
# cache). The work per constituent is done for groups of whole blocks with about
# _GROUP_CONSTITUENTS constituents, in fewer, larger numpy calls. The memory used besides
# the images stays bounded however many jets there are.
_BLOCK_PIXELS = 2**18
_GROUP_CONSTITUENTS = 2**16
# float32 coordinates are binned in float32 (half the memory traffic) up to this many
# bins; the first guess of a bin is then biased down by _BIAS_32 of a bin, far more than
# any float32 rounding error (below bins * 3e-7 of a bin).
_MAX_BINS_32 = 10_000
_BIAS_32 = 0.01


class ImageSpec(BaseModel):
    """How to turn jet constituents into images; see the module docstring for each step.

    Attributes
    ----------
    bins : int
        Pixels along η (and along φ unless ``bins_phi`` is given).
    bins_phi : int or None
        Pixels along φ; ``None`` uses ``bins``.
    extent : float
        Half-width of the image in η and in φ around its centre.
    centre : {"axis", "leading", "centroid"}
        The point put at the image centre.
    rotate : bool
        Turn the principal axis of each jet onto the η axis.
    flip : bool
        Mirror each image so its brightest quadrant has positive Δη and positive Δφ.
    normalise : {"none", "sum", "max"}
        Per-jet scaling over all channels: unit sum, unit maximum, or none.
    channels : tuple of str
        Names of the channels, one per mask passed to :func:`jet_images`; empty for a
        single channel holding every constituent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bins: int = Field(40, ge=1)
    bins_phi: int | None = Field(None, ge=1)
    extent: float = Field(0.8, gt=0, le=math.pi)
    centre: Literal["axis", "leading", "centroid"] = "axis"
    rotate: bool = False
    flip: bool = False
    normalise: Literal["none", "sum", "max"] = "sum"
    channels: tuple[str, ...] = ()

    @field_validator("channels")
    @classmethod
    def _channels_are_named_once(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if any(not name for name in names) or len(set(names)) != len(names):
            raise ValueError(f"channel names must be non-empty and distinct, not {names}")
        return names

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one jet's image: (channels, η bins, φ bins)."""
        return max(len(self.channels), 1), self.bins, self.bins_phi or self.bins


def jet_images(
    deta: ak.Array,
    dphi: ak.Array,
    weight: ak.Array,
    spec: ImageSpec,
    channel_masks: Sequence[ak.Array] | None = None,
) -> np.ndarray:
    """Build one image per jet from its constituents.

    Parameters
    ----------
    deta, dphi : ak.Array
        Constituents' Δη and Δφ from the jet axis, one jet per row (Δφ wrapped into
        [-π, π), as ``part_deta`` and ``part_dphi``).
    weight : ak.Array
        Constituents' pixel weights, usually ``part_pt``.
    spec : ImageSpec
        Image size, centring, rotation, flip, normalisation and channel names.
    channel_masks : sequence of ak.Array, optional
        One boolean array per channel in ``spec.channels`` (for instance
        ``part_charge != 0`` and ``part_charge == 0``) selecting the constituents that
        channel holds. Required exactly when ``spec.channels`` is not empty.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(n_jets, *spec.shape)``; axis 2 is η, axis 3 is φ.

    Raises
    ------
    ConfigError
        If the masks do not match ``spec.channels``.
    InputError
        If an array does not have the constituents of ``deta``, or a mask is not boolean.
    """
    offsets, eta = jagged_parts(deta)
    phi = _flat(dphi, "dphi", offsets)
    pt = _flat(weight, "weight", offsets)
    masks = _masks(channel_masks, spec, offsets)
    counts = np.diff(offsets)
    leading = _leading(weight, offsets) if spec.centre == "leading" else None

    grid = _Grid.of(spec)
    per_jet = math.prod(spec.shape)
    block = max(1, _BLOCK_PIXELS // per_jet)
    # A jet has far fewer constituents than pixels: only the pixels that constituents hit
    # are written, into zeroed memory (which the system hands out zeroed as it is touched).
    images = np.zeros((len(counts), *spec.shape), dtype=np.float32)
    pixels = images.reshape(len(counts), per_jet)
    sums = np.zeros(min(block, len(counts)) * per_jet)  # all zero between blocks
    # Zero weights of constituents outside the image by multiplying, unless 0 * weight
    # could be NaN.
    finite = bool(np.isfinite(pt).all())
    for start, stop in _groups(offsets, block):
        parts = slice(offsets[start], offsets[stop])
        _group_images(
            pixels[start:stop],
            sums,
            block,
            _Constituents(
                eta[parts],
                phi[parts],
                pt[parts],
                None if masks is None else masks[:, parts],
                None if leading is None else leading[parts],
                offsets[start : stop + 1] - offsets[start],
                finite,
            ),
            grid,
            spec,
        )
    return images


def _flat(values: ak.Array, name: str, offsets: np.ndarray) -> np.ndarray:
    """The constituents of all jets, one after another, checked against ``deta``'s offsets."""
    own, flat = jagged_parts(values)
    if not np.array_equal(own, offsets):
        raise InputError(f"{name} does not have the same number of constituents per jet as deta")
    return flat


def _masks(
    masks: Sequence[ak.Array] | None, spec: ImageSpec, offsets: np.ndarray
) -> np.ndarray | None:
    """The channel masks as one boolean array of shape (channels, constituents)."""
    if masks is None and not spec.channels:
        return None
    if not spec.channels:
        raise ConfigError(
            "channel masks were given but spec.channels is empty; name one channel per mask, "
            "as in ImageSpec(channels=('charged', 'neutral'))"
        )
    if masks is None or len(masks) != len(spec.channels):
        given = "no" if masks is None else len(masks)
        raise ConfigError(
            f"spec.channels names {len(spec.channels)} channels {spec.channels} but {given} "
            "channel masks were given; pass one boolean mask per channel"
        )
    rows = []
    for name, mask in zip(spec.channels, masks, strict=True):
        selected = _flat(mask, f"the mask of channel {name!r}", offsets)
        if selected.dtype != np.bool_:
            raise InputError(f"the mask of channel {name!r} must be boolean, not {selected.dtype}")
        rows.append(selected)
    return np.stack(rows)


def _leading(weight: ak.Array, offsets: np.ndarray) -> np.ndarray:
    """True for the constituent of largest weight in each jet (the first of equals)."""
    counts = np.diff(offsets)
    local = ak.to_numpy(ak.fill_none(ak.argmax(weight, axis=1), 0))
    leading = np.zeros(offsets[-1], dtype=bool)
    leading[(offsets[:-1] + local)[counts > 0]] = True
    return leading


@dataclass(frozen=True)
class _Axis:
    """The bins of one image axis, as :func:`numpy.histogram2d` places values.

    A value is in the image when ``low <= value <= high``; its bin ``k`` then has
    ``edges[k] <= value < upper[k]``.

    Attributes
    ----------
    bins : int
        Pixels along the axis.
    extent : float
        Half-width of the image.
    low, high : numpy.float64
        ``-extent`` and ``extent``.
    upper : numpy.ndarray
        The upper edge of each bin; NaN, which no value reaches (NaN compares false), for
        the last bin, which also holds ``+extent``.
    low_32, high_32, upper_32 : numpy.float32, numpy.float32, numpy.ndarray
        The same rounded inwards to float32 (``low`` and ``upper`` up, ``high`` down): a
        float32 value compares with them exactly as with the float64 bounds.
    """

    bins: int
    extent: float
    low: np.float64
    high: np.float64
    upper: np.ndarray
    low_32: np.float32
    high_32: np.float32
    upper_32: np.ndarray

    @classmethod
    def of(cls, bins: int, extent: float) -> "_Axis":
        """The bins of an axis of ``bins`` pixels over ``[-extent, extent]``."""
        edges = np.linspace(-extent, extent, bins + 1)
        upper = np.append(edges[1:-1], np.nan)
        bounds = np.concatenate(([-extent], upper))
        rounded = bounds.astype(np.float32)
        below = rounded < bounds  # NaN stays NaN
        rounded[below] = np.nextafter(rounded[below], np.float32(np.inf))
        high_32 = np.float32(extent)
        if float(high_32) > extent:  # (compared exactly, not in float32)
            high_32 = np.nextafter(high_32, np.float32(-np.inf))
        low, high = np.float64(-extent), np.float64(extent)
        return cls(bins, extent, low, high, upper, rounded[0], high_32, rounded[1:])


@dataclass(frozen=True)
class _Grid:
    """Lookup tables for one image layout, made once per call.

    A constituent's *pixel* is ``row * bins_phi + col`` for its η bin ``row`` and φ bin
    ``col``; a jet's images hold its pixels channel after channel.

    Attributes
    ----------
    eta, phi : _Axis
        Binning of each axis.
    index : type
        Integer type of pixel numbers: int32 (half the memory traffic of int64) when a
        block's pixels fit.
    quadrant : numpy.ndarray
        Quadrant of each pixel: 0 (+η +φ), 1 (+η -φ), 2 (-η +φ), 3 (-η -φ), or 4 for the
        middle row or column of an odd number of bins.
    mirrored : numpy.ndarray
        (4, pixels): each pixel after mirroring φ (bit 0 of the first index) and/or η
        (bit 1), so that quadrant ``q`` mirrored by ``q`` lands in quadrant 0.
    """

    eta: _Axis
    phi: _Axis
    index: type
    quadrant: np.ndarray
    mirrored: np.ndarray

    @classmethod
    def of(cls, spec: ImageSpec) -> "_Grid":
        """The tables for ``spec``'s image size and channels."""
        n_channels, bins_eta, bins_phi = spec.shape
        rows = np.arange(bins_eta)[:, np.newaxis]
        cols = np.arange(bins_phi)[np.newaxis, :]
        half_eta, half_phi = _halves(rows, bins_eta), _halves(cols, bins_phi)
        mirror_rows, mirror_cols = (rows, bins_eta - 1 - rows), (cols, bins_phi - 1 - cols)
        largest = max(_BLOCK_PIXELS, n_channels * bins_eta * bins_phi)
        index = np.int32 if largest < 2**31 - 1 else np.intp
        return cls(
            eta=_Axis.of(bins_eta, spec.extent),
            phi=_Axis.of(bins_phi, spec.extent),
            index=index,
            quadrant=np.where((half_eta < 2) & (half_phi < 2), 2 * half_eta + half_phi, 4).ravel(),
            mirrored=np.stack(
                [
                    (mirror_rows[flip >> 1] * bins_phi + mirror_cols[flip & 1]).ravel()
                    for flip in range(4)
                ]
            ).astype(index),
        )


def _halves(index: np.ndarray, bins: int) -> np.ndarray:
    """Half of the image of each bin: 0 positive, 1 negative, 2 the middle of an odd number."""
    return np.where(index >= (bins + 1) // 2, 0, np.where(index < bins // 2, 1, 2))


@dataclass
class _Constituents:
    """The constituents of a group of jets, one jet after another.

    ``offsets`` are those of the jets within the group (from 0); ``finite`` says whether
    every weight is finite (then ``0 * weight`` is 0).
    """

    eta: np.ndarray
    phi: np.ndarray
    pt: np.ndarray
    masks: np.ndarray | None
    leading: np.ndarray | None
    offsets: np.ndarray
    finite: bool


@dataclass
class _Entries:
    """What one channel adds to the images: one entry per constituent it holds.

    ``key`` is the pixel among the sums of the entry's block of jets, ``weight`` the
    constituent's weight (float32 or float64, as given; pixels are summed in float64, as
    numpy.histogram2d sums), ``owner`` its jet in the group and ``bounds`` the first entry
    of each block (and the number of entries).
    """

    key: np.ndarray
    weight: np.ndarray
    owner: np.ndarray
    bounds: np.ndarray


def _groups(offsets: np.ndarray, block: int) -> Iterator[tuple[int, int]]:
    """First and last-plus-one jet of groups of whole blocks of about _GROUP_CONSTITUENTS."""
    n_jets = len(offsets) - 1
    start = 0
    while start < n_jets:
        stop = min(start + block, n_jets)
        while stop < n_jets and offsets[min(stop + block, n_jets)] - offsets[start] <= (
            _GROUP_CONSTITUENTS
        ):
            stop = min(stop + block, n_jets)
        yield start, stop
        start = stop


def _group_images(
    out: np.ndarray,
    sums: np.ndarray,
    block: int,
    parts: _Constituents,
    grid: _Grid,
    spec: ImageSpec,
) -> None:
    """Write the images of a group of jets into ``out``, which holds zeros.

    ``out`` is (jets, pixels of all channels). ``sums`` is float64 space for the pixels
    of ``block`` jets, all zero, and left all zero.
    """
    n_jets, per_jet = out.shape
    counts = np.diff(parts.offsets)
    eta, phi, pt, masks = parts.eta, parts.phi, parts.pt, parts.masks
    # The jet of each constituent, unless nothing needs it.
    per_jet_work = spec.centre != "axis" or spec.rotate or spec.flip or spec.normalise != "none"
    jet: np.ndarray = (
        np.repeat(np.arange(n_jets, dtype=grid.index), counts)
        if per_jet_work or masks is not None
        else np.empty(0, dtype=grid.index)
    )
    if spec.centre != "axis" or spec.rotate:
        eta, phi, pt = (values.astype(np.float64) for values in (eta, phi, pt))
    if spec.centre != "axis":
        if parts.leading is None:
            centre_eta, centre_phi = _centroids(eta, phi, pt, jet, n_jets)
        else:
            centre_eta, centre_phi = np.zeros(n_jets), np.zeros(n_jets)
            filled = counts > 0
            centre_eta[filled], centre_phi[filled] = eta[parts.leading], phi[parts.leading]
        eta = eta - centre_eta[jet]
        phi = wrap_phi(phi - centre_phi[jet])
    if spec.rotate:
        eta, phi = _rotated(eta, phi, pt, jet, n_jets)
    pixel, inside = _pixels(eta, phi, grid)
    if masks is None:  # constituents outside the image keep an entry with no weight
        if parts.finite:  # (float32 weights stay float32: exact, and half the traffic)
            weight = np.multiply(pt, inside, dtype=pt.dtype)
        else:
            weight = np.where(inside, pt, 0.0)
    if spec.flip:
        intensity = weight if masks is None else np.where(inside, (pt * masks).sum(axis=0), 0.0)
        pixel = _flipped(pixel, intensity, jet, n_jets, grid)
    # Where each jet's pixels start among the sums of its block.
    first = np.repeat((np.arange(n_jets) % block) * per_jet, counts)
    bounds = np.append(parts.offsets[::block], parts.offsets[-1])
    runs = []
    if masks is None:
        key = first
        key += pixel
        runs.append(_Entries(key, weight, jet, bounds))
    else:
        pixels = grid.eta.bins * grid.phi.bins
        for channel, mask in enumerate(masks):
            picked = np.flatnonzero(mask & inside)
            key = first.take(picked)
            key += pixel.take(picked)
            key += channel * pixels
            weight = pt.take(picked)
            runs.append(_Entries(key, weight, jet.take(picked), np.searchsorted(picked, bounds)))
    normalising = spec.normalise != "none"
    values = [_sum_pixels(out, block, run, sums, normalising) for run in runs]
    if normalising:
        factor = _normalisation(runs, values, n_jets, spec.normalise)
        for run, run_values in zip(runs, values, strict=True):
            run_values *= factor.take(run.owner)
            single = run_values.astype(np.float32)
            # Every entry of a pixel writes the pixel's scaled sum, but for entries of no
            # weight, which change no pixel (and need not know its sum).
            weighty = run.weight != 0
            for index, start in enumerate(range(0, n_jets, block)):
                entries = slice(run.bounds[index], run.bounds[index + 1])
                key, value, some = run.key[entries], single[entries], weighty[entries]
                if not some.all():
                    key, value = key[some], value[some]
                out[start : start + block].reshape(-1)[key] = value


def _sum_pixels(
    out: np.ndarray, block: int, run: _Entries, sums: np.ndarray, values: bool
) -> np.ndarray:
    """Add a channel's entries to the images ``out``, block after block.

    A pixel must hold the float64 sum of its weights rounded once to float32. Most pixels
    have one entry, or none: the weights are added in float32 straight into the images,
    which is exact for them. Where an entry finds a sum other than its own weight, its
    pixel has several entries; all the entries of such pixels are added again in float64
    (in ``sums``: float64 space for the pixels of ``block`` jets, all zero, and left all
    zero) and the pixels get those sums.

    Returns the float64 sum of each entry's pixel when ``values`` is true (else nothing);
    for entries of no weight, it may be their weight (zero) instead.
    """
    single = run.weight.astype(np.float32, copy=False)
    pixel_sums = run.weight.astype(np.float64) if values else np.empty(0)
    # Weights that float32 does not hold exactly can hide in a float32 sum: then every
    # pixel gets its float64 sum.
    exact = single is run.weight or np.array_equal(single, run.weight)
    distinct = exact and _sums_differ(single)
    for index, start in enumerate(range(0, len(out), block)):
        first, last = run.bounds[index], run.bounds[index + 1]
        images = out[start : start + block].reshape(-1)
        key, weight = run.key[first:last], single[first:last]
        np.add.at(images, key, weight)
        shared = images.take(key) != weight  # (NaN differs from itself)
        if distinct:  # every entry of a shared pixel sees it, but for those of no weight
            members = np.flatnonzero(shared & (weight != 0))
        elif not exact:
            members = np.arange(len(key))
        elif shared.any():  # an entry may see its own weight in a shared pixel
            images[key[shared]] = np.nan  # marks the pixels, for all their entries to see
            members = np.flatnonzero(np.isnan(images.take(key)))
        else:
            continue
        key = key[members]
        np.add.at(sums, key, run.weight[first:last][members].astype(np.float64))
        pixel_sum = sums.take(key)
        sums[key] = 0.0
        images[key] = pixel_sum
        if values:
            pixel_sums[first + members] = pixel_sum
    return pixel_sums


def _sums_differ(weights: np.ndarray) -> bool:
    """Whether the float32 sum of two or more of the non-zero ``weights`` always differs
    from each of them.

    It does when they are all positive within a factor 2**22 of each other: each is then
    more than half a float32 unit (2**-24 relative) of any other, so every addition makes
    a sum grow past all the weights in it. Weights of zero change no sum.
    """
    if len(weights) == 0:
        return True
    if not weights.min() >= 0:  # negative or NaN weights
        return False
    largest = weights.max()
    if largest == 0:
        return True
    if not (np.isfinite(largest) and largest > 2.0**-100):  # (no underflow below)
        return False
    return bool(np.all((weights > largest * 2.0**-22) | (weights == 0)))


def _normalisation(
    runs: list[_Entries], values: list[np.ndarray], n_jets: int, normalise: str
) -> np.ndarray:
    """Per-jet factor: 1 / total (or maximum) of the image, 1 where that is not positive.

    ``values`` are the sums of the pixels the entries land in. The pixels without entries
    hold zero, which changes neither the total nor whether the maximum is positive.
    """
    scale = np.zeros(n_jets)
    for run, run_values in zip(runs, values, strict=True):
        if normalise == "sum":
            scale += np.bincount(run.owner, run.weight, minlength=n_jets)
        else:
            np.maximum.at(scale, run.owner, run_values)
    return 1.0 / np.where(scale > 0, scale, 1.0)


def _centroids(
    eta: np.ndarray, phi: np.ndarray, pt: np.ndarray, jet: np.ndarray, n_jets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-jet ``pt``-weighted mean (η, φ); (0, 0) for jets without positive total weight."""
    total = np.bincount(jet, pt, minlength=n_jets)

    def mean(values: np.ndarray) -> np.ndarray:
        sums = np.bincount(jet, pt * values, minlength=n_jets)
        return np.divide(sums, total, out=np.zeros(n_jets), where=total > 0)

    return mean(eta), mean(phi)


def _rotated(
    eta: np.ndarray, phi: np.ndarray, pt: np.ndarray, jet: np.ndarray, n_jets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate each jet about the origin so its principal axis lies along η.

    The principal axis makes the angle θ = ½ atan2(2 C_ηφ, C_ηη - C_φφ) with the η axis
    (towards +φ), where C is the ``pt``-weighted covariance; the rotation is by -θ. C is
    computed from raw moments, scaled by the total weight W (which leaves θ unchanged):
    W² C_ab = W Σ pt a b - Σ pt a Σ pt b.
    """

    def moment(values: np.ndarray) -> np.ndarray:
        return np.bincount(jet, pt * values, minlength=n_jets)

    total, sum_eta, sum_phi = np.bincount(jet, pt, minlength=n_jets), moment(eta), moment(phi)
    eta_eta = total * moment(eta * eta) - sum_eta * sum_eta
    phi_phi = total * moment(phi * phi) - sum_phi * sum_phi
    eta_phi = total * moment(eta * phi) - sum_eta * sum_phi
    theta = 0.5 * np.arctan2(2 * eta_phi, eta_eta - phi_phi)
    cos, sin = np.cos(theta)[jet], np.sin(theta)[jet]
    return eta * cos + phi * sin, phi * cos - eta * sin


def _pixels(eta: np.ndarray, phi: np.ndarray, grid: _Grid) -> tuple[np.ndarray, np.ndarray]:
    """Pixel of each constituent, ``row * bins_phi + col``, and whether it is in the image.

    Rows and columns are the bins of :func:`numpy.histogram2d`, computed arithmetically
    for both axes at once: the first guess is biased down by far more than any rounding
    error (1e-6 bin in float64, ``_BIAS_32`` in float32) and by less than a bin, so it is
    either right or one bin low, which the comparison with the guessed bin's upper bound
    corrects. Constituents outside the image (or NaN) get some pixel of the image.
    """
    axes = (grid.eta, grid.phi)
    single = (
        eta.dtype == phi.dtype == np.float32 and max(grid.eta.bins, grid.phi.bins) <= _MAX_BINS_32
    )
    dtype, bias = (np.float32, _BIAS_32) if single else (np.float64, 1e-6)
    guess = np.empty((2, len(eta)), dtype=dtype)
    inside = np.ones(len(eta), dtype=bool)
    for row, (values, axis) in enumerate(zip((eta, phi), axes, strict=True)):
        np.multiply(values, axis.bins / (2 * axis.extent), out=guess[row], dtype=dtype)
        # (numpy scalars: compared in their own precision, exactly)
        low, high = (axis.low_32, axis.high_32) if single else (axis.low, axis.high)
        inside &= values >= low
        inside &= values <= high
    guess += np.array([[axis.bins / 2 - bias] for axis in axes], dtype=dtype)
    nan = np.isnan(guess)  # (NaN would not become a bin number)
    if nan.any():
        guess[nan] = 0.0
    np.clip(guess, 0, np.array([[axis.bins - 1] for axis in axes], dtype=dtype), out=guess)
    bins: np.ndarray = guess.astype(grid.index)
    for row, (values, axis) in enumerate(zip((eta, phi), axes, strict=True)):
        upper = axis.upper_32 if single else axis.upper
        bins[row] += values >= upper.take(bins[row])
    pixel = bins[0]
    pixel *= grid.phi.bins
    pixel += bins[1]
    return pixel, inside


def _flipped(
    pixel: np.ndarray, intensity: np.ndarray, jet: np.ndarray, n_jets: int, grid: _Grid
) -> np.ndarray:
    """Mirror the pixels so each jet's brightest quadrant has Δη > 0 and Δφ > 0.

    ``intensity`` is zero for constituents outside the image.
    """
    quadrants = np.bincount(jet * 5 + grid.quadrant[pixel], intensity, minlength=5 * n_jets)
    # The brightest quadrant's number is the mirroring that brings it to quadrant 0; argmax
    # takes the first of equals, so ties keep the image as it is.
    brightest = quadrants.reshape(n_jets, 5)[:, :4].argmax(axis=1)
    return grid.mirrored[brightest[jet], pixel]
