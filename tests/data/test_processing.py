"""ChunkProcessor, the core of both loaders: selection, derived variables, inputs, labels,
weights and splits of one chunk of raw columns, checked number by number."""

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from heplearn.config import parse_spec
from heplearn.data.preprocessing import Preprocessing
from heplearn.data.processing import ChunkProcessor, Processed
from heplearn.data.spec import DatasetSpec
from heplearn.data.splits import assign_splits
from heplearn.errors import ConfigError, InputError


def _spec(**changes: object) -> DatasetSpec:
    settings: dict[str, object] = {
        "sources": [
            {"files": ["signal.root"], "label": "sig"},
            {"files": ["background.root"], "label": "bkg", "selection": "x > 0"},
        ],
        "classes": ["bkg", "sig"],
        "variables": {"ht": "x + y", "ht2": "2 * ht"},
        "selection": "y < 10",
        "inputs": {
            "jet": {"kind": "tabular", "columns": ["x", "ht2"]},
            "parts": {
                "kind": "particles",
                "columns": ["pt", "pt * 10"],
                "length": 3,
                "sort_by": "pt",
                "pad_value": -1.0,
            },
        },
        "weights": {"product": ["w", "2"]},
    }
    settings.update(changes)
    return parse_spec(DatasetSpec, settings)


def _columns() -> dict[str, np.ndarray | ak.Array]:
    return {
        "x": np.array([1.0, -2.0, 3.0, 4.0, 5.0]),
        "y": np.array([0.5, 1.0, 20.0, 2.0, 3.0]),
        "w": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        "pt": ak.Array([[1.0, 3.0], [2.0], [5.0, 6.0], [], [4.0, 1.0, 2.0, 8.0]]),
        "other": np.zeros(5),  # not read
    }


def test_required_columns_are_the_branches_behind_every_expression() -> None:
    processor = ChunkProcessor(_spec(), seed=0)
    assert processor.required_columns == {"x", "y", "w", "pt"}
    assert processor.input_branches == {"x", "y", "pt"}  # ht2 -> ht -> x, y
    assert processor.input_columns("jet") == ["x", "ht2"]


def test_a_chunk_selects_events_and_computes_inputs_labels_weights() -> None:
    processor = ChunkProcessor(_spec(), seed=0)
    processed = processor.process(_columns(), source_index=1, file_index=1, entry_start=100)
    # y < 10 drops entry 2; the source's x > 0 drops entry 1
    assert len(processed) == 3
    np.testing.assert_array_equal(processed.inputs["jet"], [[1, 3], [4, 12], [5, 16]])
    assert processed.inputs["jet"].dtype == np.float32
    np.testing.assert_array_equal(processed.label, [0, 0, 0])  # "bkg" is class 0
    assert processed.label.dtype == np.int64
    np.testing.assert_array_equal(processed.weight, [2.0, 8.0, 10.0])  # w * 2
    assert processed.weight.dtype == np.float64
    np.testing.assert_array_equal(processed.source_index, [1, 1, 1])
    # particles sorted by pt (descending), padded to 3 with the pad value, masked
    np.testing.assert_array_equal(
        processed.inputs["parts"][:, :, 0], [[3, 1, -1], [-1, -1, -1], [8, 4, 2]]
    )
    np.testing.assert_array_equal(processed.inputs["parts"][2, :, 1], [80, 40, 20])
    np.testing.assert_array_equal(
        processed.masks["parts"], [[True, True, False], [False] * 3, [True] * 3]
    )
    # splits follow the entries' numbers in their file (entry_start + position)
    expected = assign_splits(_spec().split, 0, 1, np.arange(100, 105), None)
    np.testing.assert_array_equal(processed.split, expected[[0, 3, 4]])


def test_one_split_only_and_the_same_events_as_all_splits() -> None:
    processor = ChunkProcessor(_spec(), seed=3)
    everything = processor.process(_columns(), 0, 0, 0)
    for split in (0, 1, 2):
        part = processor.process(_columns(), 0, 0, 0, split=split)
        chosen = everything.split == split
        assert (part.split == split).all()
        np.testing.assert_array_equal(part.inputs["jet"], everything.inputs["jet"][chosen])
        np.testing.assert_array_equal(part.weight, everything.weight[chosen])


def test_scaling_standardises_as_preprocessing_does_and_padding_keeps_its_value() -> None:
    processor = ChunkProcessor(_spec(), seed=0)
    scaling = {
        "jet": (np.array([1.0, 2.0], np.float32), np.array([2.0, 4.0], np.float32)),
        "parts": (np.array([1.0, 0.0], np.float32), np.array([2.0, 10.0], np.float32)),
    }
    processed = processor.process(_columns(), 0, 0, 0, scaling=scaling)
    # entry 0: x = 1, ht2 = 3 -> ((1 - 1) / 2, (3 - 2) / 4)
    np.testing.assert_allclose(processed.inputs["jet"][0], [0.0, 0.25])
    np.testing.assert_allclose(processed.inputs["parts"][0, :, 0], [1.0, 0.0, -1.0])
    np.testing.assert_allclose(processed.inputs["parts"][0, :2, 1], [3.0, 1.0])


def test_model_inputs_standardised_while_padded_equal_standardising_them_after() -> None:
    """Prediction standardises particle inputs while it pads them: the same float32 values,
    bit for bit, as Preprocessing.standardise on the padded inputs (sorted, truncated,
    float64 and integer branches included)."""
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 7, 200)
    total = int(counts.sum())
    columns = {
        "x": rng.normal(size=200),
        "y": rng.normal(size=200),
        "pt": ak.unflatten(rng.exponential(10.0, total), counts),  # float64
        "charge": ak.unflatten(rng.integers(-1, 2, total), counts),
    }
    spec = _spec(
        inputs={
            "jet": {"kind": "tabular", "columns": ["x", "ht2"]},
            "parts": {
                "kind": "particles",
                "columns": ["log(pt)", "charge", "pt / 3"],
                "length": 4,
                "sort_by": "pt",
                "pad_value": -1.0,
            },
        }
    )
    processor = ChunkProcessor(spec, seed=0)
    preprocessing = Preprocessing(
        class_scales={},
        standardisation={
            "parts": {"mean": [2.1, 0.03, 3.3], "std": [0.7, 0.81, 3.1]},
            "jet": {"mean": [0.1, -0.2], "std": [1.1, 2.3]},
        },
    )
    inputs, masks = processor.model_inputs(columns)
    expected = preprocessing.standardise(spec, inputs, masks)
    scaling = {"parts": preprocessing.scaling()["parts"]}
    fused, fused_masks = processor.model_inputs(columns, scaling)
    np.testing.assert_array_equal(fused_masks["parts"], masks["parts"])
    assert fused["parts"].dtype == np.float32
    assert (counts > 4).any() and not masks["parts"].all()  # truncated and padded events
    np.testing.assert_array_equal(fused["parts"], expected["parts"])
    assert (fused["parts"][~masks["parts"]] == -1.0).all()


def test_labels_from_an_expression_and_regression_targets() -> None:
    columns = _columns() | {"is_signal": np.array([1, 0, 1, 1, 0])}
    labelled = _spec(label="is_signal", sources=[{"files": ["all.root"]}])
    processed = ChunkProcessor(labelled, 0).process(columns, 0, 0, 0)
    np.testing.assert_array_equal(processed.label, [1, 0, 1, 0])
    regression = _spec(target="x * 2", classes=None, sources=[{"files": ["all.root"]}])
    processed = ChunkProcessor(regression, 0).process(columns, 0, 0, 0)
    np.testing.assert_array_equal(processed.label, [2.0, -4.0, 8.0, 10.0])
    assert processed.label.dtype == np.float32


def test_model_inputs_of_new_files_skip_selection_and_need_only_input_branches() -> None:
    processor = ChunkProcessor(_spec(), seed=0)
    columns = {name: _columns()[name] for name in processor.input_branches}
    inputs, masks = processor.model_inputs(columns)
    assert len(inputs["jet"]) == len(masks["parts"]) == 5  # no selection
    np.testing.assert_array_equal(inputs["jet"][:, 1], [3, -2, 46, 12, 16])


def test_take_and_concatenate_keep_events_aligned() -> None:
    processed = ChunkProcessor(_spec(), seed=0).process(_columns(), 0, 0, 0)
    halves = [processed.take(slice(0, 2)), processed.take(np.array([False, False, True, True]))]
    joined = Processed.concatenate(halves)
    np.testing.assert_array_equal(joined.inputs["parts"], processed.inputs["parts"])
    np.testing.assert_array_equal(joined.masks["parts"], processed.masks["parts"])
    np.testing.assert_array_equal(joined.weight, processed.weight)
    np.testing.assert_array_equal(joined.split, processed.split)


def test_bad_expressions_name_what_is_wrong() -> None:
    jagged_weight = _spec(weights={"product": ["pt"]})
    with pytest.raises(InputError, match=r"weight 'pt' gives a list per event"):
        ChunkProcessor(jagged_weight, 0).process(_columns(), 0, 0, 0)
    flat_particles = _spec(inputs={"parts": {"kind": "particles", "columns": ["x"]}})
    with pytest.raises(ConfigError, match=r"input 'parts': 'x' gives one number per event"):
        ChunkProcessor(flat_particles, 0).process(_columns(), 0, 0, 0)


def test_nonfinite_weights_are_refused_with_file_and_entries(tmp_path: Path) -> None:
    files = [tmp_path / "signal.root", tmp_path / "background.root"]
    for path in files:
        path.touch()  # the message names the file; it is not read
    sources = [
        {"files": [str(path)], "label": label}
        for path, label in zip(files, ["sig", "bkg"], strict=True)
    ]
    columns = _columns() | {"w": np.array([1.0, np.nan, 1.0, np.inf, 1.0])}
    expected = r"background\.root \(weight w \* 2\).* entries 1, 3 \(2 of 4 events\)"
    with pytest.raises(InputError, match=expected):
        ChunkProcessor(_spec(sources=sources), 0).process(columns, 1, 1, 0)
    dropped = ChunkProcessor(_spec(nonfinite="drop"), 0).process(columns, 0, 0, 0)
    assert len(dropped) == 4  # the loader drops them later; processing keeps every event
