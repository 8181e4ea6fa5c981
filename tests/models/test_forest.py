"""The random forest: a second estimator family, reached only through the family hooks."""

import numpy as np
import pytest

from helpers import run_config
from heplearn.errors import ConfigError, InputError
from heplearn.inference import Scorer
from heplearn.models.bdt import BDTParams, BoostedDecisionTrees
from heplearn.models.forest import ForestParams, RandomForest
from heplearn.models.registry import build_model, model_family, model_params
from heplearn.models.schema import InputInfo
from heplearn.training.fit import train

SMALL = ForestParams(n_estimators=25)


def _separable(events: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, events)
    features = rng.normal(size=(events, 3)) + labels[:, None]
    return features, labels


def test_the_forest_separates_two_classes_and_its_stages_end_at_the_forest() -> None:
    features, labels = _separable()
    model = RandomForest(SMALL).fit(features, labels)
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (600, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    test_features, test_labels = _separable(seed=1)
    # the classes are one standard deviation apart in each of three features: the best
    # possible accuracy is Phi(sqrt(3) / 2) = 0.807
    assert 0.75 < np.mean(model.predict(test_features) == test_labels) < 0.83
    stages = list(model.staged_predictions(features))
    assert len(stages) == 25
    np.testing.assert_allclose(stages[-1], probabilities, atol=1e-12)
    assert not np.allclose(stages[0], stages[-1])


def test_a_regression_forest_averages_its_trees() -> None:
    features, _ = _separable()
    target = 2 * features[:, 0] + 0.1 * np.random.default_rng(2).normal(size=600)
    model = RandomForest(SMALL).fit(features, target)
    stages = list(model.staged_predictions(features))
    np.testing.assert_allclose(stages[-1], model.predict(features), atol=1e-12)
    residual = np.mean((model.predict(features) - target) ** 2)
    assert residual < 0.1 * np.var(target)
    with pytest.raises(ConfigError, match="classification forest"):
        model.predict_proba(features)


def test_event_weights_move_the_probabilities_and_bad_ones_are_refused() -> None:
    features, labels = _separable()
    plain = RandomForest(SMALL).fit(features, labels).predict_proba(features)[:, 1]
    weights = np.where(labels == 1, 10.0, 1.0)
    weighted = RandomForest(SMALL).fit(features, labels, weights).predict_proba(features)[:, 1]
    assert weighted.mean() > plain.mean() + 0.1
    weights[:3] = -1
    with pytest.raises(InputError, match=r"3 events have negative weights.*model\.name: bdt"):
        RandomForest(SMALL).fit(features, labels, weights)
    with pytest.raises(InputError, match=r"labels must lie in 0\.\.1"):
        RandomForest(SMALL).fit(features, labels + 1)


def test_save_and_load_through_the_family_hooks(tmp_path) -> None:
    features, labels = _separable()
    hooks = model_family("forest").estimator
    assert hooks is not None
    schema = {"jet": InputInfo("jet", "tabular", ("a", "b", "c"), (3,))}
    model = build_model(model_params({"name": "forest", "n_estimators": 5}), schema, 1)
    model.fit(hooks.features({"jet": features}, schema), labels)
    hooks.save(model, tmp_path / "model.joblib")
    assert [path.name for path in tmp_path.iterdir()] == ["model.joblib"]  # no temporary
    loaded = hooks.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
    with pytest.raises(InputError, match="no saved forest"):
        hooks.load(tmp_path / "missing.joblib")
    bdt = BoostedDecisionTrees(BDTParams(max_iter=5)).fit(features, labels)
    bdt.save(tmp_path / "b")
    with pytest.raises(InputError, match="holds a BoostedDecisionTrees, not a forest"):
        hooks.load(tmp_path / "b")


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def test_a_forest_run_trains_records_its_trees_and_scores(top, tmp_path) -> None:
    model = {"name": "forest", "inputs": ["jet"], "n_estimators": 12}
    run = train(run_config(top, model), tmp_path / "forest")
    history = run.history()
    assert [row["iteration"] for row in history] == list(range(1, 13))
    assert 0.6 < history[-1]["val_auc"] <= 1
    forest = run.load_model()
    assert isinstance(forest, RandomForest)
    assert len(forest.estimator_.estimators_) == 12
    arrays = {"jet": np.random.default_rng(0).normal(size=(7, run.schema()["jet"].features))}
    expected = forest.predict_proba(arrays["jet"])[:, 1]
    np.testing.assert_allclose(Scorer(run).scores(arrays), expected, rtol=1e-6)
