import numpy as np
import pytest

from heplearn.errors import InputError
from heplearn.evaluation.two_sample import two_sample_test


def _normal(seed: int, mean: float, size: int = 2000) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, 1.0, size=(size, 3))


@pytest.mark.slow  # trains the two-sample classifiers
def test_identical_distributions_give_an_auc_near_one_half():
    result = two_sample_test(_normal(1, 0.0), _normal(2, 0.0))
    assert result.auc == pytest.approx(0.5, abs=3 * result.auc_uncertainty + 0.01)
    assert 0 < result.auc_uncertainty < 0.05
    assert result.events == 2000


@pytest.mark.slow  # trains classifiers
def test_shifted_distributions_are_told_apart():
    # a shift of 0.5 sigma in each of three features: the optimal AUC is about 0.73
    result = two_sample_test(_normal(1, 0.0), _normal(2, 0.5))
    assert result.auc > 0.65


def test_weights_that_undo_the_shift_bring_the_auc_back_to_one_half():
    target, source = _normal(1, 0.0), _normal(2, 0.5)
    # the density ratio N(0,1)/N(0.5,1) per feature
    weights = np.exp(-0.5 * source.sum(axis=1))
    result = two_sample_test(target, source, second_weights=weights)
    assert abs(result.auc - 0.5) < 0.04


def test_images_are_flattened_per_event():
    images = np.random.default_rng(0).random((100, 2, 4, 4))
    assert two_sample_test(images, images[::-1] + 1).auc > 0.95


def test_bad_inputs_are_named():
    with pytest.raises(InputError, match="at least 20 events"):
        two_sample_test(np.zeros((5, 2)), np.zeros((50, 2)))
    with pytest.raises(InputError, match="same features"):
        two_sample_test(np.zeros((50, 2)), np.zeros((50, 3)))
    with pytest.raises(InputError, match="second weights"):
        two_sample_test(np.zeros((50, 2)), np.zeros((50, 2)), second_weights=np.ones(3))
