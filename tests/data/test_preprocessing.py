"""Preprocessing's standardisation and its inverse (one implementation for training,
sampling and export)."""

import numpy as np

from heplearn.data.preprocessing import Preprocessing


def _preprocessing() -> Preprocessing:
    return Preprocessing(
        class_scales={"0": 1.0},
        standardisation={
            "jet": {"mean": [100.0, 0.5], "std": [20.0, 0.25]},
            "image": {"mean": [[[1.0, 2.0], [3.0, 4.0]]], "std": [[[2.0, 2.0], [4.0, 0.5]]]},
        },
    )


def test_destandardise_inverts_standardise_input() -> None:
    preprocessing = _preprocessing()
    rng = np.random.default_rng(3)
    physical = rng.normal([100.0, 0.5], [20.0, 0.25], size=(50, 2)).astype(np.float32)
    standardised = preprocessing.standardise_input("jet", physical)
    assert standardised.dtype == np.float32
    np.testing.assert_allclose(standardised.mean(axis=0), [0.0, 0.0], atol=0.4)
    np.testing.assert_allclose(
        preprocessing.standardise_input("jet", physical)[0],
        (physical[0] - [100.0, 0.5]) / [20.0, 0.25],
        rtol=1e-6,
    )
    back = preprocessing.destandardise("jet", standardised)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, physical, rtol=1e-6)


def test_images_use_one_mean_and_spread_per_pixel() -> None:
    preprocessing = _preprocessing()
    pixels = np.ones((3, 1, 2, 2), np.float32)
    standardised = preprocessing.standardise_input("image", pixels)
    np.testing.assert_allclose(standardised[0, 0], [[0.0, -0.5], [-0.5, -6.0]])
    np.testing.assert_allclose(preprocessing.destandardise("image", standardised), pixels)


def test_the_arithmetic_follows_the_dtype_asked_for() -> None:
    preprocessing = Preprocessing(
        class_scales={"0": 1.0}, standardisation={"x": {"mean": [0.1], "std": [3.0]}}
    )
    values = np.array([[1e-3], [7.7]], np.float32)
    in_float64 = preprocessing.destandardise("x", values, np.float64)
    assert in_float64.dtype == np.float32
    np.testing.assert_array_equal(
        in_float64, (values.astype(np.float64) * 3.0 + 0.1).astype(np.float32)
    )
    in_float32 = preprocessing.destandardise("x", values)
    np.testing.assert_array_equal(in_float32, values * np.float32(3.0) + np.float32(0.1))


def test_an_input_without_standardisation_is_returned_as_float32() -> None:
    values = np.arange(4.0).reshape(2, 2)
    for transform in (_preprocessing().standardise_input, _preprocessing().destandardise):
        result = transform("other", values)
        assert result.dtype == np.float32
        np.testing.assert_array_equal(result, values)
