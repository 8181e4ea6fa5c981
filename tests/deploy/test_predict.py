"""Scoring new files: friend trees in entry order, bounded chunks, atomic, clear errors."""

import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml
from sklearn.metrics import roc_auc_score

from helpers import (
    assert_unreachable_scheduler_writes_nothing,
    run_config,
    run_heplearn,
    split_into_files,
)
from heplearn.cli import USER_ERROR_EXIT_CODE
from heplearn.deploy import predict as predict_module
from heplearn.deploy.predict import FilePredictor, PredictSettings, predict_files
from heplearn.errors import InputError
from heplearn.inference import ScoringOptions
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


def _without_sdmass(path):
    """A file that lacks the mlp run's input ``jet_sdmass``."""
    with uproot.recreate(path) as file:
        file["Events"] = {"jet_mass": np.ones(5, np.float32), "jet_tau32": np.ones(5, np.float32)}
    return path


def test_missing_branches_are_named_and_nothing_is_written(mlp_run, tmp_path):
    bad = _without_sdmass(tmp_path / "bad.root")
    with pytest.raises(InputError, match="jet_sdmass"):
        predict_files(mlp_run, [bad], tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_client_of_a_dask_job_checks_the_files_without_loading_the_model(
    top, mlp_run, tmp_path
):
    predictor = FilePredictor(mlp_run)
    predictor.open(sample_file(top), plan=False)
    assert "scorer" not in vars(predictor)  # loaded by the workers, where the files are scored
    with pytest.raises(InputError, match=r"bad\.root.*jet_sdmass"):
        predictor.open(_without_sdmass(tmp_path / "bad.root"), plan=False)


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


@pytest.fixture(scope="module")
def particlenet_run(top, tmp_path_factory):
    model = {"name": "particlenet-lite", "inputs": ["particles"], "convs": [[16], [16]], "k": 7}
    return train(run_config(top, model, epochs=1), tmp_path_factory.mktemp("runs") / "pn")


@pytest.fixture(scope="module")
def five_thousand_jets(top, tmp_path_factory):
    """A 5000-entry file of the sample's jets repeated (every branch, real ROOT)."""
    events = uproot.open(sample_file(top))["Events"].arrays()
    repeats = -(-5000 // len(events))
    tiled = ak.concatenate([events] * repeats)[:5000]
    tiled["event"] = np.arange(5000, dtype=np.int64)
    path = tmp_path_factory.mktemp("big") / "jets5000.root"
    with uproot.recreate(path) as file:
        file["Events"] = {name: tiled[name] for name in tiled.fields}
    return path


def test_a_tight_budget_reads_in_smaller_chunks_and_scores_the_same(
    particlenet_run, five_thousand_jets, tmp_path
):
    tight = ScoringOptions(memory_budget=16 * 2**20)
    predictor = FilePredictor(particlenet_run, PredictSettings(scoring=tight))
    ranges = predictor.plan(predictor.open(five_thousand_jets))
    assert len(ranges) > 1 and max(stop - start for start, stop in ranges) < 5000
    assert [start for start, _ in ranges[1:]] == [stop for _, stop in ranges[:-1]]
    assert ranges[0][0] == 0 and ranges[-1][1] == 5000
    small = predict_files(particlenet_run, [five_thousand_jets], tmp_path / "tight", scoring=tight)
    whole = predict_files(particlenet_run, [five_thousand_jets], tmp_path / "roomy")
    assert small[0].entries == whole[0].entries == 5000
    np.testing.assert_allclose(
        uproot.open(small[0].output)["Scores"]["score_top"].array(library="np"),
        uproot.open(whole[0].output)["Scores"]["score_top"].array(library="np"),
        rtol=0,
        atol=1e-6,
    )


def test_predict_on_5000_jets_with_a_tight_budget_stays_small(
    particlenet_run, five_thousand_jets, tmp_path
):
    """The whole command, in its own process, under the 1.5 GB the docs promise."""
    code = (
        "import resource, sys\n"
        "from heplearn.cli import app\n"
        "try:\n    app(sys.argv[1:])\n"
        "except SystemExit as stop:\n    status = stop.code\n"
        "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, status)\n"
    )
    arguments = [str(particlenet_run.path), str(five_thousand_jets), "--out", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-c", code, "predict", *arguments, "--memory-budget", "64MB", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "(5000 entries, tree Scores)" in result.stdout, result.stderr
    peak_kib, status = result.stdout.split("peak_kib")[1].split()
    assert status in ("0", "None")
    assert int(peak_kib) * 1024 < 1.5e9
    assert "scoring" not in result.stderr  # --quiet: no progress bar


@pytest.mark.slow
def test_two_dask_workers_write_the_same_files_as_one_process(top, mlp_run, tmp_path):
    files = sorted(split_into_files(top, tmp_path / "files", 150).glob("*.root"))
    keep = ["event"]
    one = predict_files(mlp_run, files, tmp_path / "one", keep=keep, chunk_entries=64)
    two = predict_files(mlp_run, files, tmp_path / "two", keep=keep, chunk_entries=64, workers=2)
    assert [item.source for item in two] == files  # in the order of the inputs
    assert [item.entries for item in two] == [item.entries for item in one] == [150] * 4
    for first, second in zip(one, two, strict=True):
        expected = uproot.open(first.output)["Scores"].arrays(library="np")
        found = uproot.open(second.output)["Scores"].arrays(library="np")
        assert found.keys() == expected.keys()
        for name, values in expected.items():
            np.testing.assert_array_equal(found[name], values)
    assert sorted(path.name for path in (tmp_path / "two").iterdir()) == sorted(
        item.output.name for item in two
    )  # no temporaries left


def test_an_unreachable_scheduler_writes_nothing(top, mlp_run, tmp_path):
    assert_unreachable_scheduler_writes_nothing(
        "predict", str(mlp_run.path), str(sample_file(top)), out=tmp_path / "out"
    )


def test_the_tree_is_found_as_the_readers_find_it(top, mlp_run, tmp_path):
    """A --tree the file lacks is the readers' error; the run's tree is only a default."""
    needed = FilePredictor(mlp_run).needed
    with uproot.open(sample_file(top)) as file:
        columns = file["Events"].arrays(needed, library="np", entry_stop=20)
    assert all(values.ndim == 1 for values in columns.values())  # (flat: written as they are)
    renamed = tmp_path / "renamed.root"
    with uproot.recreate(renamed) as file:
        file.mktree("Jets", {name: values.dtype for name, values in columns.items()}).extend(
            columns
        )
    with pytest.raises(InputError, match=r"renamed\.root' has no tree 'Jet'.*'Jets' \(TTree\)"):
        predict_files(mlp_run, [renamed], tmp_path / "out", tree="Jet")
    assert not (tmp_path / "out").exists()
    (written,) = predict_files(mlp_run, [renamed], tmp_path / "out")  # the run's is Events
    assert written.entries == 20
