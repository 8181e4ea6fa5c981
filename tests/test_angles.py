"""The one azimuth wrap, for numpy, awkward and torch."""

import math

import awkward as ak
import numpy as np
import pytest
import torch

from heplearn.angles import wrap_phi, wrap_phi_tensor

# angle -> wrapped angle, at and around the boundaries of [-π, π)
CASES = [
    (0.0, 0.0),
    (math.pi, -math.pi),
    (-math.pi, -math.pi),
    (math.pi - 1e-6, math.pi - 1e-6),
    (-math.pi + 1e-6, -math.pi + 1e-6),
    (math.pi + 1e-6, -math.pi + 1e-6),
    (-math.pi - 1e-6, math.pi - 1e-6),
    (3 * math.pi, -math.pi),
    (2 * math.pi, 0.0),
    (-2 * math.pi, 0.0),
    (7.0, 7.0 - 2 * math.pi),
    (-7.0, -7.0 + 2 * math.pi),
    (5 * math.pi + 0.25, -math.pi + 0.25),
]


def test_numpy_wrap_at_the_boundaries() -> None:
    angles, expected = (np.array(column) for column in zip(*CASES, strict=True))
    wrapped = wrap_phi(angles)
    np.testing.assert_allclose(wrapped, expected, rtol=0, atol=1e-12)
    assert ((wrapped >= -math.pi) & (wrapped < math.pi)).all()


def test_torch_wrap_equals_numpy_and_keeps_gradients() -> None:
    angles = torch.tensor([angle for angle, _ in CASES], dtype=torch.float64, requires_grad=True)
    wrapped = wrap_phi_tensor(angles)
    np.testing.assert_allclose(
        wrapped.detach().numpy(), [expected for _, expected in CASES], rtol=0, atol=1e-12
    )
    wrapped.sum().backward()
    assert angles.grad is not None
    np.testing.assert_array_equal(angles.grad.numpy(), np.ones(len(CASES)))


def test_float32_stays_float32_in_range() -> None:
    angles = np.linspace(-20, 20, 10_001, dtype=np.float32)
    wrapped = wrap_phi(angles)
    assert wrapped.dtype == np.float32
    assert (np.abs(wrapped) <= np.float32(math.pi)).all()
    np.testing.assert_allclose(np.cos(wrapped), np.cos(angles), atol=2e-5)
    tensor = wrap_phi_tensor(torch.from_numpy(angles))
    assert tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.numpy(), wrapped, atol=1e-6)


def test_jagged_arrays_keep_their_structure() -> None:
    phi = ak.Array([[3.0, -3.5], [], [7.0]])
    wrapped = wrap_phi(phi)
    assert ak.num(wrapped).tolist() == [2, 0, 1]
    assert ak.flatten(wrapped).to_numpy() == pytest.approx(
        [3.0, -3.5 + 2 * math.pi, 7.0 - 2 * math.pi]
    )


def test_a_float_is_wrapped() -> None:
    assert wrap_phi(-math.pi - 0.5) == pytest.approx(math.pi - 0.5)
