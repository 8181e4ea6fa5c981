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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import awkward as ak
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from heplearn.errors import ConfigError, InputError

# Jets are imaged in blocks whose float64 sums take about 2 MiB, so that every temporary
# array stays in the CPU cache and memory stays bounded however many jets there are.
_BLOCK_PIXELS = 2**18


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
    counts = ak.to_numpy(ak.num(deta, axis=1))
    offsets = np.concatenate(([0], np.cumsum(counts)))
    eta = _flat(deta, "deta", counts)
    phi = _flat(dphi, "dphi", counts)
    pt = _flat(weight, "weight", counts)
    masks = _masks(channel_masks, spec, counts)
    leading = _leading(weight, offsets) if spec.centre == "leading" else None

    grid = _Grid.of(spec)
    block = max(1, _BLOCK_PIXELS // math.prod(spec.shape))
    images = np.empty((len(counts), *spec.shape), dtype=np.float32)
    for start in range(0, len(counts), block):
        jets = slice(start, start + block)
        parts = slice(offsets[start], offsets[min(start + block, len(counts))])
        _block_images(
            images[jets],
            eta[parts],
            phi[parts],
            pt[parts],
            None if masks is None else masks[:, parts],
            None if leading is None else leading[parts],
            counts[jets],
            grid,
            spec,
        )
    return images


def _flat(values: ak.Array, name: str, counts: np.ndarray) -> np.ndarray:
    """The constituents of all jets, one after another, checked against ``deta``'s counts."""
    if not np.array_equal(ak.to_numpy(ak.num(values, axis=1)), counts):
        raise InputError(f"{name} does not have the same number of constituents per jet as deta")
    return ak.to_numpy(ak.flatten(values, axis=1))


def _masks(
    masks: Sequence[ak.Array] | None, spec: ImageSpec, counts: np.ndarray
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
        selected = _flat(mask, f"the mask of channel {name!r}", counts)
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
class _Grid:
    """Lookup tables for one image layout, made once per call.

    Each constituent first gets a *padded pixel*, ``row * (bins_phi + 2) + col``, where
    ``row`` and ``col`` are its η and φ bins plus one: 0 below the image, ``bins + 1`` above.

    Attributes
    ----------
    upper_eta, upper_phi : numpy.ndarray
        Upper bound of each padded η (φ) bin, as :func:`numpy.histogram2d` places values:
        the last pixel also holds ``+extent`` (hence ``nextafter``) and the bound above the
        image is NaN, which no value reaches (NaN compares false).
    slots : numpy.ndarray
        (channels, padded pixels): where a padded pixel goes among a jet's sums, which hold
        its images channel after channel and then one overflow slot for every constituent
        outside the image, so that the images are one contiguous run.
    quadrant : numpy.ndarray
        Quadrant of each padded pixel: 0 (+η +φ), 1 (+η -φ), 2 (-η +φ), 3 (-η -φ), or 4 for
        the middle row or column of an odd number of bins and outside the image.
    mirrored : numpy.ndarray
        (4, padded pixels): each padded pixel after mirroring φ (bit 0 of the first index)
        and/or η (bit 1), so that quadrant ``q`` mirrored by ``q`` lands in quadrant 0.
    """

    upper_eta: np.ndarray
    upper_phi: np.ndarray
    slots: np.ndarray
    quadrant: np.ndarray
    mirrored: np.ndarray

    @classmethod
    def of(cls, spec: ImageSpec) -> "_Grid":
        """The tables for ``spec``'s image size and channels."""
        n_channels, bins_eta, bins_phi = spec.shape
        rows = np.arange(bins_eta + 2)[:, np.newaxis]
        cols = np.arange(bins_phi + 2)[np.newaxis, :]
        pixels = bins_eta * bins_phi
        inside = (rows >= 1) & (rows <= bins_eta) & (cols >= 1) & (cols <= bins_phi)
        pixel = (rows - 1) * bins_phi + cols - 1
        channel_start = np.arange(n_channels)[:, np.newaxis, np.newaxis] * pixels
        half_eta, half_phi = _halves(rows, bins_eta), _halves(cols, bins_phi)
        mirror_rows, mirror_cols = (rows, bins_eta + 1 - rows), (cols, bins_phi + 1 - cols)
        return cls(
            upper_eta=_upper_bounds(bins_eta, spec.extent),
            upper_phi=_upper_bounds(bins_phi, spec.extent),
            slots=np.where(inside, pixel + channel_start, n_channels * pixels).reshape(
                n_channels, -1
            ),
            quadrant=np.where((half_eta < 2) & (half_phi < 2), 2 * half_eta + half_phi, 4).ravel(),
            mirrored=np.stack(
                [
                    (mirror_rows[flip >> 1] * (bins_phi + 2) + mirror_cols[flip & 1]).ravel()
                    for flip in range(4)
                ]
            ),
        )


def _upper_bounds(bins: int, extent: float) -> np.ndarray:
    """Upper bound of each padded bin: below the image, its ``bins`` pixels, above it."""
    edges = np.linspace(-extent, extent, bins + 1)
    return np.concatenate((edges[:-1], [np.nextafter(extent, np.inf), np.nan]))


def _halves(index: np.ndarray, bins: int) -> np.ndarray:
    """Half of the image of each padded bin: 0 positive, 1 negative, 2 neither.

    Neither is the middle bin of an odd number of bins, or outside the image.
    """
    positive = (index > (bins + 1) // 2) & (index <= bins)
    negative = (index >= 1) & (index <= bins // 2)
    return np.where(positive, 0, np.where(negative, 1, 2))


def _block_images(
    out: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    pt: np.ndarray,
    masks: np.ndarray | None,
    leading: np.ndarray | None,
    counts: np.ndarray,
    grid: _Grid,
    spec: ImageSpec,
) -> None:
    """Write the images of a block of jets into ``out``, given only their constituents."""
    n_jets = len(counts)
    jet = np.repeat(np.arange(n_jets), counts)
    if spec.centre != "axis" or spec.rotate:
        eta, phi, pt = (values.astype(np.float64) for values in (eta, phi, pt))
    if spec.centre != "axis":
        if leading is None:
            centre_eta, centre_phi = _centroids(eta, phi, pt, jet, n_jets)
        else:
            centre_eta, centre_phi = np.zeros(n_jets), np.zeros(n_jets)
            centre_eta[counts > 0], centre_phi[counts > 0] = eta[leading], phi[leading]
        eta = eta - centre_eta[jet]
        phi = _wrap(phi - centre_phi[jet])
    if spec.rotate:
        eta, phi = _rotated(eta, phi, pt, jet, n_jets)
    pixel = _padded_bins(eta, grid.upper_eta) * (spec.shape[2] + 2)
    pixel += _padded_bins(phi, grid.upper_phi)
    weights = pt[np.newaxis] if masks is None else pt * masks
    if spec.flip:
        pixel = _flipped(pixel, weights.sum(axis=0), jet, n_jets, grid)
    per_jet = math.prod(spec.shape) + 1  # the images, then the overflow slot
    keys = grid.slots[:, pixel]
    keys += jet * per_jet
    sums = np.bincount(keys.ravel(), weights.ravel(), minlength=n_jets * per_jet)
    images = sums.reshape(n_jets, per_jet)[:, :-1]
    if spec.normalise == "none":
        out.reshape(n_jets, -1)[...] = images
        return
    scale = images.sum(axis=1) if spec.normalise == "sum" else images.max(axis=1)
    # Images whose total (maximum) is not positive, such as empty ones, are left as they are.
    factor = 1.0 / np.where(scale > 0, scale, 1.0)
    np.multiply(images, factor[:, np.newaxis], out=out.reshape(n_jets, -1), casting="same_kind")


def _wrap(phi: np.ndarray) -> np.ndarray:
    """Wrap angles into [-π, π) (floor is much faster than numpy's float modulo)."""
    return phi - (2 * np.pi) * np.floor((phi + np.pi) * (0.5 / np.pi))


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


def _padded_bins(values: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Bin index of each value plus one: 0 below the image, ``bins + 1`` above it or NaN.

    The same bins as :func:`numpy.histogram2d`, computed arithmetically: the first guess is
    biased down by 1e-6 bin, far more than any rounding error, so it is either right or one
    bin low, which the comparison with the guessed bin's upper bound corrects.
    """
    bins = len(upper) - 2
    guess = np.multiply(values, bins / (2 * -upper[0]), dtype=np.float64)
    guess += 1 + bins / 2 - 1e-6
    np.fmin(guess, bins + 1, out=guess)  # fmin also sends NaN above the image
    np.fmax(guess, 0, out=guess)
    index = guess.astype(np.intp)
    index += values >= upper[index]
    return index


def _flipped(
    pixel: np.ndarray, intensity: np.ndarray, jet: np.ndarray, n_jets: int, grid: _Grid
) -> np.ndarray:
    """Mirror the padded pixels so each jet's brightest quadrant has Δη > 0 and Δφ > 0."""
    quadrants = np.bincount(jet * 5 + grid.quadrant[pixel], intensity, minlength=5 * n_jets)
    # The brightest quadrant's number is the mirroring that brings it to quadrant 0; argmax
    # takes the first of equals, so ties keep the image as it is.
    brightest = quadrants.reshape(n_jets, 5)[:, :4].argmax(axis=1)
    return grid.mirrored[brightest[jet], pixel]
