"""Scoring new files: friend trees in entry order, bounded chunks, atomic, clear errors."""

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml
from sklearn.metrics import roc_auc_score

from helpers import run_config, run_heplearn
from heplearn.cli import USER_ERROR_EXIT_CODE
from heplearn.deploy import predict as predict_module
from heplearn.deploy.predict import predict_files
from heplearn.errors import InputError
from heplearn.training.fit import train


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module")
def mlp_run(top, tmp_path_factory):
    model = {"name": "mlp", "inputs": ["jet"], "widths": [16]}
    return train(run_config(top, model, epochs=3), tmp_path_factory.mktemp("runs") / "mlp")


def sample_file(top):
    return next(top.glob("*.root"))


def test_scores_come_one_per_entry_in_file_order_whatever_the_chunking(top, mlp_run, tmp_path):
    source = sample_file(top)
    keep = ["event", "is_signal"]
    small = predict_files(mlp_run, [source], tmp_path / "small", keep=keep, chunk_entries=37)
    whole = predict_files(mlp_run, [source], tmp_path / "whole", keep=keep)
    events = uproot.open(source)["Events"].arrays(["event", "is_signal"], library="np")
    small_scores = uproot.open(small[0].output)["Scores"].arrays(library="np")
    whole_scores = uproot.open(whole[0].output)["Scores"].arrays(library="np")
    assert small[0].entries == len(events["event"])
    np.testing.assert_array_equal(small_scores["event"], events["event"])
    for name in ("score_qcd", "score_top"):
        np.testing.assert_allclose(small_scores[name], whole_scores[name], atol=1e-6)
    np.testing.assert_allclose(small_scores["score_qcd"] + small_scores["score_top"], 1, atol=1e-6)
    assert roc_auc_score(events["is_signal"], small_scores["score_top"]) > 0.85


def test_a_particle_model_scores_through_its_masks(top, tmp_path):
    model = {"name": "pfn", "inputs": ["particles"], "phi": [16, 16], "f": [16]}
    run = train(run_config(top, model, epochs=1), tmp_path / "pfn")
    written = predict_files(run, [sample_file(top)], tmp_path / "out", chunk_entries=100)
    scores = uproot.open(written[0].output)["Scores"]["score_top"].array(library="np")
    assert np.isfinite(scores).all()
    assert len(scores) == written[0].entries


def test_missing_branches_are_named_and_nothing_is_written(mlp_run, tmp_path):
    bad = tmp_path / "bad.root"
    with uproot.recreate(bad) as file:
        file["Events"] = {"jet_mass": np.ones(5, np.float32), "jet_tau32": np.ones(5, np.float32)}
    with pytest.raises(InputError, match="jet_sdmass"):
        predict_files(mlp_run, [bad], tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_interrupted_prediction_leaves_no_file(top, mlp_run, tmp_path, monkeypatch):
    calls = {"count": 0}
    original = predict_module.Scorer.scores

    def failing(self, arrays):
        calls["count"] += 1
        if calls["count"] == 2:
            raise KeyboardInterrupt
        return original(self, arrays)

    monkeypatch.setattr(predict_module.Scorer, "scores", failing)
    with pytest.raises(KeyboardInterrupt):
        predict_files(mlp_run, [sample_file(top)], tmp_path / "out", chunk_entries=50)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_cli_writes_friend_trees_and_refuses_to_overwrite(top, mlp_run, tmp_path):
    out = tmp_path / "out"
    result = run_heplearn("predict", str(mlp_run.path), str(top / "*.root"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "tree Scores" in result.stdout
    written = sorted(out.glob("*_scores.root"))
    assert len(written) == len(list(top.glob("*.root")))
    friend = uproot.open(written[0])["Scores"].arrays(library="ak")
    assert ak.fields(friend) == ["score_qcd", "score_top"]
    again = run_heplearn("predict", str(mlp_run.path), str(top / "*.root"), "--out", str(out))
    assert again.returncode == USER_ERROR_EXIT_CODE
    assert "--overwrite" in again.stderr


def test_a_bdt_run_predicts_too(top, tmp_path):
    config = run_config(top, {"name": "bdt", "inputs": ["jet"], "max_iter": 20})
    (tmp_path / "bdt.yaml").write_text(yaml.safe_dump(config))
    run = train(config, tmp_path / "bdt")
    written = predict_files(run, [sample_file(top)], tmp_path / "out")
    scores = uproot.open(written[0].output)["Scores"]["score_top"].array(library="np")
    assert ((scores >= 0) & (scores <= 1)).all()
