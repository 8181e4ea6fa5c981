"""Padding ragged collections."""

import awkward as ak
import numpy as np

from heplearn.data.padding import pad_collection


def test_pad_truncate_sort_and_mask():
    pt = ak.Array([[1.0, 3.0, 2.0], [], [5.0, 4.0, 6.0, 7.0, 0.5]])
    eta = ak.Array([[0.1, 0.3, 0.2], [], [0.5, 0.4, 0.6, 0.7, 0.05]])
    values, mask = pad_collection([pt, eta], length=4, pad_value=-1.0, sort_key=pt)
    assert values.shape == (3, 4, 2)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    np.testing.assert_allclose(values[0, :, 0], [3, 2, 1, -1])
    np.testing.assert_allclose(values[0, :, 1], [0.3, 0.2, 0.1, -1], rtol=1e-6)
    np.testing.assert_allclose(values[2, :, 0], [7, 6, 5, 4])  # truncated after sorting
    np.testing.assert_array_equal(values[1], -1)


def test_without_sorting_keeps_file_order():
    values, mask = pad_collection([ak.Array([[3.0, 1.0]])], length=3)
    np.testing.assert_allclose(values[0, :, 0], [3, 1, 0])
    assert mask.tolist() == [[True, True, False]]


def test_already_sorted_input_gives_the_same_result():
    pt = ak.Array([[3.0, 2.0, 1.0], [], [9.0, 9.0, 4.0, 1.0]])
    sorted_values, _ = pad_collection([pt], length=3, sort_key=pt)
    unsorted = ak.Array([[1.0, 3.0, 2.0], [], [4.0, 9.0, 1.0, 9.0]])
    values, _ = pad_collection([unsorted], length=3, sort_key=unsorted)
    np.testing.assert_array_equal(sorted_values, values)
    np.testing.assert_allclose(values[2, :, 0], [9, 9, 4])
