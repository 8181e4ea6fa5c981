"""Weight diagnostics: Kish effective size, negative and largest weights, NaN/inf refused."""

import numpy as np
import pytest

from heplearn.config import parse_spec
from heplearn.data.dataset import load_dataset
from heplearn.data.spec import DatasetSpec
from heplearn.data.weight_diagnostics import (
    diagnostics_by_class,
    diagnostics_rows,
    refuse_nonfinite_weights,
    weight_diagnostics,
)
from heplearn.errors import InputError


def test_equal_weights_keep_every_event():
    result = weight_diagnostics(np.full(200, 0.37))
    assert result.events == 200
    assert result.effective_events == pytest.approx(200)
    assert result.effective_fraction == pytest.approx(1.0)
    assert result.sum_of_weights == pytest.approx(74.0)
    assert result.negative_fraction == 0 and result.negative_sum == 0
    assert result.largest_share == pytest.approx(5 / 200)


def test_one_dominant_weight_and_negative_weights_are_measured():
    weights = np.array([100.0, 1, 1, 1, -1, -1, 1, 1, 1, 1])
    result = weight_diagnostics(weights)
    total, squares = weights.sum(), np.sum(weights**2)
    assert result.effective_events == pytest.approx(total**2 / squares)
    assert result.effective_events < 1.3  # one event stands for the whole sample
    assert result.negative_fraction == pytest.approx(0.2)
    assert result.negative_sum == pytest.approx(-2.0)
    assert result.negative_share == pytest.approx(2 / 109)
    assert result.largest_weights[0] == 100.0
    assert result.largest_share == pytest.approx((100 + 4) / 109)
    assert result.as_dict()["largest_weights"][0] == 100.0


def test_the_effective_size_does_not_depend_on_the_scale():
    weights = np.random.default_rng(1).exponential(1.0, 1000)
    assert weight_diagnostics(weights).effective_events == pytest.approx(
        weight_diagnostics(1e-6 * weights).effective_events
    )


def test_per_class_diagnostics_and_their_table_rows():
    groups = diagnostics_by_class(np.array([1.0, 2, 3, 4]), np.array([0, 1, 0, 1]), ["b", "s"])
    assert groups["b"].sum_of_weights == 4 and groups["s"].sum_of_weights == 6
    rows = diagnostics_rows(groups)
    assert [row["class"] for row in rows] == ["b", "s"]
    assert rows[1]["N_eff (Kish)"] == pytest.approx(36 / 20)


def test_nonfinite_weights_are_refused_with_their_entries():
    weights = np.array([1.0, np.nan, 1.0, np.inf])
    with pytest.raises(
        InputError, match=r"f.root: the event weight is NaN or inf at entries 11, 13 "
    ):
        refuse_nonfinite_weights(weights, np.array([10, 11, 12, 13]), "f.root")
    with pytest.raises(InputError, match="entry 1 "):
        weight_diagnostics(np.array([1.0, np.nan]))


def test_loading_names_the_file_and_entries_of_a_nan_weight(generated_sample):
    hww = generated_sample("hww-vs-dy", events=60)
    spec = {
        "sources": [
            {"files": [f"{hww}/hww_*.root"], "label": "hww"},
            {"files": [f"{hww}/dy_*.root"], "label": "drell-yan"},
        ],
        "classes": ["drell-yan", "hww"],
        "inputs": {"features": {"kind": "tabular", "columns": ["ptll", "mll"]}},
        "weights": {"product": ["XSWeight", "where(event == 7, log(mll - 1e9), 1)"]},
    }
    with pytest.raises(InputError, match=r"hww_0000.root \(weight XSWeight \* .*entry 7 "):
        load_dataset(parse_spec(DatasetSpec, spec), seed=1)
    dropped = load_dataset(parse_spec(DatasetSpec, {**spec, "nonfinite": "drop"}), seed=1)
    assert len(dropped.events) == 177  # (event 7 of each of the three processes)
