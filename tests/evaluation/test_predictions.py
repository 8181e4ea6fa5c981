"""The data contract: construction checks, task checks and the data summary."""

import numpy as np
import pytest

from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.predictions import Predictions, check_predictions, data_summary


def test_arrays_are_converted_and_counted() -> None:
    predictions = Predictions([0.1, 0.9], [0, 1], [1, 2], observers={"pt": [10, 20]})
    assert predictions.scores.dtype == np.float64
    assert predictions.observers["pt"].dtype == np.float64
    assert len(predictions) == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"weights": [1.0]}, "weights"),
        ({"observers": {"jet_pt": [1.0]}}, "jet_pt"),
        ({"images": np.zeros((2, 4, 4))}, "images"),
        ({"scores": [0.1, np.nan]}, "NaN"),
        ({"weights": [1.0, np.inf]}, "weights"),
        ({"labels": ["a", "b"]}, "numeric"),
        ({"scores": np.zeros((2, 2, 2))}, "shape"),
    ],
)
def test_inconsistent_arrays_are_refused(arguments: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"scores": [0.1, 0.9], "labels": [0, 1], "weights": [1.0, 1.0]}
    with pytest.raises(InputError, match=message):
        Predictions(**(values | arguments))  # type: ignore[arg-type]


def test_binary_needs_one_dimensional_scores() -> None:
    predictions = Predictions(np.full((4, 2), 0.5), [0, 1, 0, 1], np.ones(4))
    with pytest.raises(InputError, match=r"scores\[:, 1\]"):
        check_predictions(predictions, "binary", ["b", "s"], "test")


def test_class_without_events_is_named() -> None:
    predictions = Predictions([0.1, 0.2], [0, 0], [1.0, 1.0])
    with pytest.raises(InputError, match="'signal' has no events in the test"):
        check_predictions(predictions, "binary", ["background", "signal"], "test")


def test_class_with_negative_total_weight_is_named() -> None:
    predictions = Predictions([0.1, 0.2, 0.3], [0, 1, 1], [1.0, 1.0, -2.0])
    with pytest.raises(InputError, match="'signal' has a total weight"):
        check_predictions(predictions, "binary", ["background", "signal"], "train")


def test_labels_must_be_class_indices() -> None:
    predictions = Predictions(np.full((2, 3), 1 / 3), [0, 3], [1.0, 1.0])
    with pytest.raises(InputError, match=r"class indices 0\.\.2"):
        check_predictions(predictions, "multiclass", ["a", "b", "c"], "test")


@pytest.mark.parametrize(
    ("task", "class_names"),
    [("ranking", ["a", "b"]), ("binary", ["a", "b", "c"]), ("regression", ["x", "y"])],
)
def test_task_and_class_names_must_fit(task: str, class_names: list[str]) -> None:
    predictions = Predictions([0.1, 0.9], [0, 1], [1.0, 1.0])
    with pytest.raises(ConfigError):
        check_predictions(predictions, task, class_names, "test")


def test_regression_accepts_float_targets() -> None:
    check_predictions(Predictions([1.5, 2.5], [1.2, 2.7], [1.0, 1.0]), "regression", [], "test")


def test_data_summary_counts_events_and_weights() -> None:
    train = Predictions([0.1, 0.2, 0.8], [0, 0, 1], [1.0, -0.5, 2.0])
    test = Predictions([0.3, 0.7], [0, 1], [1.0, 1.0])
    rows = data_summary({"train": train, "test": test}, "binary", ["background", "signal"])
    assert [(row["split"], row["class"], row["events"]) for row in rows] == [
        ("train", "background", 2),
        ("train", "signal", 1),
        ("test", "background", 1),
        ("test", "signal", 1),
    ]
    assert rows[0]["sum_weights"] == pytest.approx(0.5)
    assert rows[0]["effective_events"] == pytest.approx(0.5**2 / 1.25)
    assert rows[0]["negative_weight_fraction"] == pytest.approx(0.5)


def test_data_summary_of_a_regression_has_one_row_per_split() -> None:
    rows = data_summary({"test": Predictions([1.0, 2.0], [1.0, 2.0], [1.0, 1.0])}, "regression", [])
    assert [(row["class"], row["events"]) for row in rows] == [("all", 2)]
