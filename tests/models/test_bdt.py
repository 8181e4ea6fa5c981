"""Tests of the boosted-decision-tree estimator."""

import sys

import numpy as np
import pytest

from heplearn.errors import ConfigError, InputError
from heplearn.models.bdt import BDTParams, BoostedDecisionTrees
from heplearn.models.estimators import tabular_matrix
from heplearn.models.registry import build_model, model_params
from heplearn.models.schema import InputInfo

FAST = BDTParams(max_iter=20)


def _separable(events: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, events)
    features = rng.normal(size=(events, 3)) + labels[:, None]
    return features, labels


def test_defaults_are_regularised_and_stop_early() -> None:
    params = model_params({"name": "bdt"})
    assert params == BDTParams(
        max_iter=1000,
        learning_rate=0.1,
        max_depth=None,
        max_leaf_nodes=4,
        min_leaf_fraction=0.025,
        l2_regularization=1.0,
        early_stopping=True,
        n_iter_no_change=10,
        validation_fraction=0.1,
        backend="sklearn",
    )
    assert model_params({"name": "bdt", "early_stopping": False}).early_stopping is False


def test_build_gives_an_unfitted_estimator() -> None:
    schema = {"jet": InputInfo("jet", "tabular", ("a", "b"), (2,))}
    model = build_model(model_params({"name": "bdt"}), schema, 1)
    assert isinstance(model, BoostedDecisionTrees)
    assert not hasattr(model, "estimator_")
    with pytest.raises(ConfigError, match="call fit before predict_proba"):
        model.predict_proba(np.zeros((1, 2)))


def test_binary_classification() -> None:
    features, labels = _separable()
    model = BoostedDecisionTrees(FAST, n_outputs=1)
    assert model.fit(features, labels) is model
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (600, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    assert (model.predict(features) == labels).mean() > 0.8
    assert model.task_ == "classification"
    assert model.n_features_in_ == 3
    np.testing.assert_array_equal(model.classes_, [0, 1])


def test_multiclass_keeps_a_column_per_class() -> None:
    features, labels = _separable()
    labels = 2 * labels  # class 1 never seen in training
    model = BoostedDecisionTrees(FAST, n_outputs=3).fit(features, labels)
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (600, 3)
    assert np.all(probabilities[:, 1] == 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)


def test_float_targets_mean_regression() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(500, 2))
    target = (features[:, 0] - 2 * features[:, 1]).astype(np.float32)
    model = BoostedDecisionTrees(FAST).fit(features, target)
    assert model.task_ == "regression"
    prediction = model.predict(features)
    assert prediction.shape == (500,)
    residual = np.sum((prediction - target) ** 2) / np.sum((target - target.mean()) ** 2)
    assert residual < 0.2
    with pytest.raises(ConfigError, match="predict_proba needs a classification"):
        model.predict_proba(features)


def test_explicit_task_overrides_the_dtype() -> None:
    features, labels = _separable()
    model = BoostedDecisionTrees(FAST, task="classification").fit(features, labels.astype(float))
    assert model.task_ == "classification"


def test_weights_that_flip_the_majority_flip_the_predictions() -> None:
    rng = np.random.default_rng(2)
    features = rng.normal(size=(800, 2))  # carries no information about the labels
    labels = rng.integers(0, 2, 800)
    signal_heavy = np.where(labels == 1, 3.0, 1.0)
    background_heavy = np.where(labels == 1, 1.0, 3.0)
    params = BDTParams(max_iter=5)
    up = BoostedDecisionTrees(params).fit(features, labels, sample_weight=signal_heavy)
    down = BoostedDecisionTrees(params).fit(features, labels, sample_weight=background_heavy)
    assert up.predict_proba(features)[:, 1].mean() > 0.65
    assert down.predict_proba(features)[:, 1].mean() < 0.35
    assert np.all(up.predict(features) == 1)
    assert np.all(down.predict(features) == 0)


def test_negative_weights_are_accepted_and_used() -> None:
    rng = np.random.default_rng(3)
    features = rng.uniform(size=(1000, 1))
    labels = rng.integers(0, 2, 1000)
    weights = np.where((labels == 1) & (features[:, 0] > 0.5), -0.5, 1.0)
    params = BDTParams(max_iter=10, max_leaf_nodes=4)
    signed = BoostedDecisionTrees(params).fit(features, labels, sample_weight=weights)
    absolute = BoostedDecisionTrees(params).fit(features, labels, sample_weight=np.abs(weights))
    high = features[:, 0] > 0.5
    p_signed = signed.predict_proba(features)[:, 1]
    assert np.all(np.isfinite(p_signed))
    assert p_signed[high].mean() < absolute.predict_proba(features)[high, 1].mean() - 0.1


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (-np.ones(600), "total event weight is -600"),
        (np.full(600, np.nan), "600 NaN or inf"),
        (np.ones(5), "5 entries for 600 events"),
    ],
)
def test_bad_weights(weights: np.ndarray, message: str) -> None:
    features, labels = _separable()
    with pytest.raises(InputError, match=message):
        BoostedDecisionTrees(FAST).fit(features, labels, sample_weight=weights)


def test_labels_must_fit_n_outputs() -> None:
    features, labels = _separable()
    with pytest.raises(InputError, match=r"labels must be integers 0\.\.1.*from 0 to 3"):
        BoostedDecisionTrees(FAST, n_outputs=1).fit(features, labels * 3)


def test_tabular_matrix_joins_inputs_in_schema_order() -> None:
    schema = {
        "jet": InputInfo("jet", "tabular", ("a", "b"), (2,)),
        "event": InputInfo("event", "tabular", ("c",), (1,)),
    }
    arrays = {
        "event": np.array([[5.0], [6.0]], dtype=np.float32),
        "jet": np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32),
        "label": np.array([0, 1]),
    }
    matrix = tabular_matrix(arrays, schema)
    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, [[1, 2, 5], [3, 4, 6]])
    with pytest.raises(InputError, match="input 'event' is missing"):
        tabular_matrix({"jet": arrays["jet"]}, schema)
    with pytest.raises(InputError, match=r"shape \(2, 1\); expected \(events, 2\)"):
        tabular_matrix({"jet": arrays["event"], "event": arrays["event"]}, schema)
    image = {"image": InputInfo("image", "image", ("c",), (1, 4, 4))}
    with pytest.raises(ConfigError, match=r"tabular inputs only, not image \(image\)"):
        tabular_matrix({}, image)


def test_save_and_load(tmp_path) -> None:
    features, labels = _separable()
    model = BoostedDecisionTrees(FAST).fit(features, labels)
    path = tmp_path / "model.joblib"
    hooks = BoostedDecisionTrees.hooks()
    hooks.save(model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.joblib"]  # no temporary left
    loaded = hooks.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
    with pytest.raises(InputError, match="no saved bdt"):
        hooks.load(tmp_path / "missing.joblib")


def test_xgboost_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost now fails
    schema = {"jet": InputInfo("jet", "tabular", ("a",), (1,))}
    expected = r"^model\.backend: xgboost .*; pip install 'heplearn\[xgboost\]'$"
    with pytest.raises(ConfigError, match=expected):
        build_model(model_params({"name": "bdt", "backend": "xgboost"}), schema, 1)


def test_xgboost_refuses_negative_weights() -> None:
    features, labels = _separable()
    weights = np.ones(600)
    weights[:3] = -1
    model = BoostedDecisionTrees(BDTParams(backend="xgboost"))
    with pytest.raises(InputError, match=r"3 events have negative weights.*backend: sklearn"):
        model.fit(features, labels, sample_weight=weights)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_xgboost_backend(early_stopping: bool) -> None:
    """The real xgboost (heplearn[xgboost]): options reach it, early stopping holds out
    validation_fraction of the events, and the trees separate the two classes."""
    pytest.importorskip("xgboost", reason="the xgboost backend needs heplearn[xgboost]")
    features, labels = _separable()
    params = BDTParams(
        backend="xgboost",
        early_stopping=early_stopping,
        max_iter=60,
        max_depth=4,
        max_leaf_nodes=31,
        learning_rate=0.3,
    )
    model = BoostedDecisionTrees(params).fit(features, labels, sample_weight=np.ones(600))
    options = model.estimator_.get_params()
    assert options["n_estimators"] == 60
    assert (options["max_depth"], options["max_leaves"]) == (4, 31)
    assert options["grow_policy"] == "lossguide"
    assert options["early_stopping_rounds"] == (10 if early_stopping else None)
    booster = model.estimator_.get_booster()
    if early_stopping:  # stopped before the ceiling, watching 60 held-out events
        assert model.estimator_.best_iteration < 60 - 10
        assert booster.num_boosted_rounds() < 60
    else:
        assert booster.num_boosted_rounds() == 60
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (600, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    # the classes are one standard deviation apart in each of three features
    accuracy = np.mean(np.argmax(probabilities, axis=1) == labels)
    assert 0.8 < accuracy <= 1


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_staged_predictions_end_at_the_fitted_model(task: str) -> None:
    features, labels = _separable()
    target = labels if task == "classification" else features[:, 0] + labels.astype(float)
    model = BoostedDecisionTrees(FAST, n_outputs=1).fit(features, target)
    stages = list(model.staged_predictions(features))
    assert len(stages) == model.estimator_.n_iter_ == 20
    final = model.predict_proba(features) if task == "classification" else model.predict(features)
    np.testing.assert_allclose(stages[-1], final)
    assert not np.allclose(stages[0], stages[-1])
