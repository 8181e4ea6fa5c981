"""Row and column names of metrics a physicist reads, not JSON keys."""

import pytest

from heplearn.evaluation.metric_names import column_name, metric_name


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (("auc",), "AUC"),
        (("rejection", "0.3"), "1/ε_B at ε_S = 0.3"),
        (("ks", "QCD", "p_value"), "KS p-value (QCD)"),
        (("ks", "p_value"), "KS p-value"),
        (("train", "rejection", "0.5"), "1/ε_B at ε_S = 0.5, training split"),
        (("one_vs_rest", "W", "auc"), "AUC, W vs rest"),
        (("events", "test"), "Events, test split"),
        (("background_passing", "0.8", "events"), "Background events passing at ε_S = 0.8"),
        (("working_point", "threshold"), "Working point: score threshold"),
        (("bootstrap", "resamples"), "Bootstrap replicas"),
        (("r2",), "R²"),
        (("something_new", "inner_key"), "something new / inner key"),
        (("rejection_limit", "0.3"), None),
        (("background_passing", "0.3", "weighted"), None),
    ],
)
def test_metric_names(path, name):
    assert metric_name(path) == name


@pytest.mark.parametrize(
    ("key", "header"),
    [
        ("run", "Run"),
        ("auc", "AUC"),
        ("rejection_0.5", "1/ε_B at ε_S = 0.5"),
        ("sum_weights", "Sum of weights"),
        ("effective_events", "Effective events"),
    ],
)
def test_column_names(key, header):
    assert column_name(key) == header
