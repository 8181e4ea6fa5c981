"""Padding ragged collections."""

import awkward as ak
import numpy as np
import pytest

from heplearn.data.padding import jagged_parts, pad_collection, select_events


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


def test_sort_check_with_empty_events_at_either_end():
    """Events without entries at the start or the end do not hide an unsorted event."""
    unsorted = ak.Array([[], [], [1.0, 2.0], []])
    values, _ = pad_collection([unsorted], length=2, sort_key=unsorted)
    np.testing.assert_allclose(values[2, :, 0], [2, 1])
    in_order = ak.Array([[], [2.0, 1.0], [5.0], []])
    values, _ = pad_collection([in_order], length=2, sort_key=in_order)
    np.testing.assert_allclose(values[1:3, :, 0], [[2, 1], [5, 0]])


@pytest.mark.parametrize("sort", [False, True])
def test_scale_standardises_like_the_padded_array(sort):
    """Standardising while padding gives exactly the padded array standardised afterwards."""
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 9, 50)
    pt = ak.unflatten(rng.exponential(5.0, counts.sum()).astype(np.float32), counts)
    eta = ak.unflatten(rng.normal(0.0, 1.0, counts.sum()), counts)  # float64
    key = pt if sort else None
    mean, std = np.array([5.0, 0.1], np.float32), np.array([4.0, 0.9], np.float32)
    plain, mask = pad_collection([pt, eta], length=6, pad_value=-2.0, sort_key=key)
    expected = (plain - mean) / std
    expected[~mask] = -2.0
    values, same_mask = pad_collection(
        [pt, eta], length=6, pad_value=-2.0, sort_key=key, scale=(mean, std)
    )
    np.testing.assert_array_equal(same_mask, mask)
    np.testing.assert_array_equal(values, expected)


def test_out_fills_the_first_rows_of_given_arrays():
    values = np.full((5, 3, 1), 9.0, dtype=np.float32)
    mask = np.ones((5, 3), dtype=bool)
    filled, filled_mask = pad_collection([ak.Array([[1.0], [2.0, 3.0]])], 3, out=(values, mask))
    assert filled.base is values and filled_mask.base is mask
    np.testing.assert_array_equal(values[:2, :, 0], [[1, 0, 0], [2, 3, 0]])
    assert mask[:2].tolist() == [[True, False, False], [True, True, False]]
    np.testing.assert_array_equal(values[2:], 9.0)  # rows beyond the events are untouched


def test_select_events_gives_offsets_and_entries_of_the_kept_events():
    # a sliced file column: its offsets do not start at 0
    values = ak.Array([[9.0], [1.0, 2.0], [], [3.0], [4.0, 5.0, 6.0]])[1:]
    keep = np.array([True, False, False, True])
    selected = select_events(values, keep)
    assert selected.to_list() == values[keep].to_list() == [[1.0, 2.0], [4.0, 5.0, 6.0]]
    assert isinstance(selected.layout, ak.contents.ListOffsetArray)
    offsets, flat = jagged_parts(selected)
    assert offsets.tolist() == [0, 2, 5] and flat.tolist() == [1, 2, 4, 5, 6]
    assert flat.dtype == ak.to_numpy(ak.flatten(values)).dtype
    # numpy columns and other layouts (records) are selected by awkward or numpy
    np.testing.assert_array_equal(select_events(np.arange(4), keep), [0, 3])
    records = ak.zip({"pt": values, "eta": values})
    assert select_events(records, keep).to_list() == records[keep].to_list()
