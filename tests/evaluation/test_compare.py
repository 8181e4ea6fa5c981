"""Comparing runs: the rejection plot with its ratio panel, and the tables."""

import csv
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.compare import compare_runs
from heplearn.evaluation.metrics import auc, background_rejection, roc_curve
from heplearn.evaluation.predictions import Predictions

Factory = Callable[..., Predictions]


def test_compare_runs_writes_plot_and_tables(binary_predictions: Factory, tmp_path: Path) -> None:
    baseline = binary_predictions(seed=1, separation=1.0)
    better = binary_predictions(seed=2, separation=2.5)
    better_roc = roc_curve(better.scores, better.labels == 1, better.weights)
    comparison = compare_runs(
        [("MLP", baseline), ("CNN", better), ("CNN (curve)", better_roc)],
        tmp_path / "comparison",
        bootstrap_resamples=10,
    )
    rows = {row["run"]: row for row in comparison.rows}
    assert rows["CNN"]["auc"] == pytest.approx(auc(better_roc))
    assert rows["CNN"]["rejection_0.5"] == pytest.approx(background_rejection(better_roc, [0.5])[0])
    assert rows["CNN (curve)"]["auc"] == rows["CNN"]["auc"]
    assert rows["CNN"]["rejection_0.5"] > rows["MLP"]["rejection_0.5"]
    assert 0 < rows["MLP"]["auc_uncertainty"] < 0.05
    assert math.isnan(rows["CNN (curve)"]["auc_uncertainty"])

    assert comparison.plot.png.stat().st_size > 0
    assert comparison.plot.pdf.stat().st_size > 0
    markdown = comparison.markdown.read_text().splitlines()
    assert markdown[0] == (
        "| Run | AUC | 1/ε_B at ε_S = 0.3 | 1/ε_B at ε_S = 0.5 | 1/ε_B at ε_S = 0.8 |"
    )
    assert markdown[2].startswith("| MLP | 0.")
    assert " ± " in markdown[2]
    with comparison.csv.open() as stream:
        table = list(csv.DictReader(stream))
    assert [row["run"] for row in table] == ["MLP", "CNN", "CNN (curve)"]
    assert float(table[1]["auc"]) == pytest.approx(rows["CNN"]["auc"])
    html = comparison.html.read_text(encoding="utf-8")
    assert len(re.findall("data:image/png;base64,", html)) == 1
    assert "CNN (curve)" in html
    assert '<figure class="wide"' in html  # (the rejection plot spans the page)
    assert "Bands: the 68 % range of 10 bootstrap replicas" in comparison.plot.caption
    assert "<th>1/ε_B at ε_S = 0.3</th>" in html


def test_a_single_curve_is_compared_without_ratio(
    binary_predictions: Factory, tmp_path: Path
) -> None:
    predictions = binary_predictions(seed=3)
    roc = roc_curve(predictions.scores, predictions.labels == 1, predictions.weights)
    comparison = compare_runs([("only", roc)], tmp_path)
    assert [row["run"] for row in comparison.rows] == ["only"]
    assert "auc_uncertainty" not in comparison.rows[0]
    assert comparison.plot.png.exists()


def test_compare_runs_refuses_bad_input(binary_predictions: Factory, tmp_path: Path) -> None:
    predictions = binary_predictions(n=200)
    with pytest.raises(ConfigError, match="at least one"):
        compare_runs([], tmp_path)
    with pytest.raises(ConfigError, match="differ"):
        compare_runs([("a", predictions), ("a", predictions)], tmp_path)
    multiclass = Predictions(np.full((4, 3), 1 / 3), [0, 1, 2, 0], np.ones(4))
    with pytest.raises(InputError, match="run 'm'"):
        compare_runs([("m", multiclass)], tmp_path)
