"""k-fold training through the CLI: K models, every event scored by the one that did not see it."""

import json
from pathlib import Path

import numpy as np
import pytest
import uproot
import yaml

from helpers import run_config, run_heplearn
from heplearn.data.readers import expand_files
from heplearn.data.splits import event_folds
from heplearn.deploy.predict import predict_files
from heplearn.errors import ConfigError
from heplearn.evaluation.kfold import kfold_predictions
from heplearn.run_directory import RunDirectory
from heplearn.training.config import parse_run_config

FOLDS = 3


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module")
def kfold_run(top, tmp_path_factory):
    folder = tmp_path_factory.mktemp("kfold")
    model = {"name": "logistic", "inputs": ["jet"]}
    config = run_config(top, model, epochs=4, folds=FOLDS, optimizer={"lr": 0.05})
    path = folder / "kfold.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_heplearn("train", str(path), "--out", str(folder / "run"))
    assert result.returncode == 0, result.stderr
    return RunDirectory(folder / "run")


def _scores(folder):
    return {
        path.name: uproot.open(path)["Scores"]["score_top"].array(library="np")
        for path in sorted(folder.glob("*_scores.root"))
    }


def test_each_fold_model_is_tested_on_its_fold_and_validated_on_the_next(kfold_run):
    assert kfold_run.info()["fold_runs"] == ["fold_0", "fold_1", "fold_2"]
    for fold in range(FOLDS):
        split = RunDirectory(kfold_run.path / f"fold_{fold}").config().data.split
        assert (split.folds, split.fold) == (FOLDS, fold)
    folds = event_folds(FOLDS, 3, 0, np.arange(30_000))
    assert set(np.bincount(folds) // 1000) == {9, 10}  # about a third each


@pytest.fixture(scope="module")
def predicted(kfold_run, top, tmp_path_factory):
    """The training files and the scores ``heplearn predict`` writes for them."""
    files = [str(path) for path in expand_files([str(top / "*.root")])]
    out = tmp_path_factory.mktemp("kfold-scores")
    result = run_heplearn("predict", str(kfold_run.path), *files, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return files, _scores(out)


def test_predict_scores_every_event_with_the_model_of_its_fold(kfold_run, predicted, tmp_path):
    files, scores = predicted
    by_model = []
    for fold in range(FOLDS):
        model = RunDirectory(kfold_run.path / f"fold_{fold}")
        predict_files(model, [Path(f) for f in files], tmp_path / f"model_{fold}")
        by_model.append(_scores(tmp_path / f"model_{fold}"))
    for file_index, path in enumerate(files):
        name = f"{Path(path).stem}_scores.root"
        fold = event_folds(FOLDS, 3, file_index, np.arange(len(scores[name])))
        expected = np.choose(fold, [model_scores[name] for model_scores in by_model])
        # (equal up to float32 rounding: the models score batches of other compositions)
        np.testing.assert_allclose(scores[name], expected, rtol=1e-6, atol=1e-7)
        # the model of another fold (one that trained on the event) scores it differently
        wrong = np.choose((fold + 1) % FOLDS, [model_scores[name] for model_scores in by_model])
        assert np.mean(scores[name] != wrong) > 0.9


def test_evaluate_quotes_metrics_on_every_event_scored_out_of_fold(kfold_run, predicted):
    result = run_heplearn("evaluate", str(kfold_run.path))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((kfold_run.path / "metrics.json").read_text())
    files, scores = predicted
    total = sum(uproot.open(path)["Events"].num_entries for path in files)
    assert metrics["events"]["test"] == metrics["events"]["train"] == total
    assert 0.85 < metrics["auc"] < 1
    # the test scores are exactly the out-of-fold scores that predict writes
    written = np.sort(np.concatenate(list(scores.values())))
    test = kfold_predictions(kfold_run, splits=("test",))["test"]
    np.testing.assert_allclose(np.sort(test.scores), written, rtol=1e-6, atol=1e-7)


def test_folds_need_three_and_are_set_once(top):
    config = run_config(top, {"name": "logistic", "inputs": ["jet"]}, folds=2)
    with pytest.raises(ConfigError, match=r"training\.folds"):
        parse_run_config(config)
    config = run_config(top, {"name": "logistic", "inputs": ["jet"]}, folds=3)
    config["data"]["split"] = {"folds": 3}
    with pytest.raises(ConfigError, match=r"give training\.folds only"):
        parse_run_config(config)
