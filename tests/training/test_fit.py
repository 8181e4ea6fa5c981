"""Training end to end on a small generated top-vs-qcd sample."""

import sys

import numpy as np
import pytest
import torch
import uproot
import yaml
from sklearn.metrics import roc_auc_score

from helpers import kill_after_first_checkpoint, run_config, run_heplearn
from heplearn.cli import USER_ERROR_EXIT_CODE
from heplearn.data.dataset import load_dataset
from heplearn.deploy.predict import predict_files
from heplearn.errors import ConfigError, InputError
from heplearn.run_directory import RunDirectory
from heplearn.training.data_module import RunDataModule
from heplearn.training.fit import train
from heplearn.training.module import TrainingDivergedError
from heplearn.training.task import Task

MLP = {"name": "mlp", "inputs": ["jet"], "widths": [32, 32]}


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def weights_of(run: RunDirectory) -> dict[str, torch.Tensor]:
    return torch.load(run.path / "model.pt", weights_only=True)


def test_a_run_directory_holds_everything_later_steps_need(top, tmp_path):
    run = train(run_config(top, MLP, epochs=3), tmp_path / "run")
    names = {p.name for p in run.path.iterdir()}
    assert {"config.yaml", "run.json", "preprocessing.json", "model.pt", "history.csv"} <= names
    assert {p.name for p in run.checkpoints.iterdir()} == {"last.ckpt", "best.ckpt"}
    info = run.info()
    assert info["status"] == "finished"
    assert info["class_names"] == ["qcd", "top"]
    assert [i["name"] for i in info["inputs"]] == ["jet"]  # only what the model reads
    assert info["versions"]["torch"].startswith("2.")
    history = run.history()
    assert [row["epoch"] for row in history] == [0, 1, 2]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert 0.5 < history[-1]["val_auc"] <= 1
    model = run.load_model()
    assert not model.training
    assert run.config().training.epochs == 3


def test_the_validation_loss_is_the_weighted_mean_over_all_validation_events(top, tmp_path):
    run = train(run_config(top, MLP, epochs=1, batch_size=64), tmp_path / "run")
    config = run.config()
    data = RunDataModule(config, run.preprocessing())
    arrays = data.arrays("validation")
    assert len(arrays["label"]) % 64 != 0  # a last, smaller batch counts by its events
    batch = {name: torch.from_numpy(values) for name, values in arrays.items()}
    task = Task.of(data.spec, data.n_classes)
    with torch.no_grad():
        losses = task.event_losses(run.load_model()(batch), batch["label"])
    expected = float((batch["weight"] * losses).mean())
    assert run.history()[0]["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_a_trained_tagger_beats_a_cut_on_the_jet_mass(top, tmp_path):
    run = train(run_config(top, MLP, epochs=15, batch_size=32), tmp_path / "run")
    config = run.config()
    inputs = {name: config.data.inputs[name] for name in ("jet", "mass")}
    spec = config.data.model_copy(update={"inputs": inputs})  # the raw mass beside the model's
    test = load_dataset(spec, config.seed, run.preprocessing()).arrays("test")
    model = run.load_model()
    with torch.no_grad():
        scores = torch.sigmoid(model({"jet": torch.from_numpy(test["jet"])})[:, 0]).numpy()
    labels, weights = test["label"], test["weight"]
    mass = test["mass"][:, 0]
    tagger_auc = roc_auc_score(labels, scores, sample_weight=weights)
    # a window on the mass around the top peak, as a one-sided cut would miss heavier QCD
    mass_auc = roc_auc_score(
        labels, -np.abs(mass - np.median(mass[labels == 1])), sample_weight=weights
    )
    # measured: 0.941 against 0.928 (120 test jets; the particle-level mass is a strong tagger)
    assert tagger_auc > mass_auc, (tagger_auc, mass_auc)
    assert tagger_auc > 0.9


def test_the_same_seed_gives_the_same_weights_and_metrics(top, tmp_path):
    first = train(run_config(top, MLP, epochs=2), tmp_path / "first")
    second = train(run_config(top, MLP, epochs=2), tmp_path / "second")

    def metrics(run):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in run.history()]

    assert metrics(first) == metrics(second)
    for name, tensor in weights_of(first).items():
        assert torch.equal(tensor, weights_of(second)[name]), name


def test_a_killed_run_resumes_to_the_same_weights(top, tmp_path):
    # dropout draws random numbers: the resumed run must draw the same ones
    config = run_config(top, {**MLP, "dropout": 0.2}, epochs=4, batch_size=8)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    reference = train(config, tmp_path / "reference")

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "heplearn", "train", str(path), "--out", str(out)]
    kill_after_first_checkpoint(command, out)
    killed = RunDirectory(out)
    assert killed.info()["status"] == "running"
    assert len(killed.history()) < 4, "the run finished before it was killed"

    result = run_heplearn("train", str(path), "--out", str(out), "--resume")
    assert result.returncode == 0, result.stderr
    resumed = RunDirectory(out)
    assert [row["epoch"] for row in resumed.history()] == [0, 1, 2, 3]
    for name, tensor in weights_of(reference).items():
        assert torch.equal(tensor, weights_of(resumed)[name]), name


def test_resume_refuses_a_different_config(top, tmp_path):
    train(run_config(top, MLP, epochs=1), tmp_path / "run")
    with pytest.raises(ConfigError, match="config differs"):
        train(run_config(top, MLP, epochs=1, batch_size=32), tmp_path / "run", resume=True)
    with pytest.raises(InputError, match=r"not empty.*--resume.*--overwrite"):
        train(run_config(top, MLP, epochs=1), tmp_path / "run")


def test_a_nan_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(top, tmp_path):
    # the learning rate jumps by 1e30 after the first epoch: the second one diverges
    schedule = {"name": "step", "step_epochs": 1, "gamma": 1e30}
    config = run_config(top, MLP, epochs=3, schedule=schedule)
    with pytest.raises(TrainingDivergedError, match=r"at epoch 1, step \d+.*checkpoints/last.ckpt"):
        train(config, tmp_path / "run")
    run = RunDirectory(tmp_path / "run")
    checkpoint = torch.load(run.last_checkpoint, weights_only=True)
    assert checkpoint["epoch"] == 0
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())
    with pytest.raises(InputError, match="unfinished run"):
        run.load_model()


def test_the_cli_reports_a_model_that_cannot_read_the_inputs(top, tmp_path):
    config = run_config(top, {"name": "cnn", "inputs": ["jet"]})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_heplearn("train", str(path), "--out", str(tmp_path / "run"))
    assert result.returncode == USER_ERROR_EXIT_CODE
    assert result.stderr.strip().count("\n") == 0
    assert "cnn" in result.stderr and "image" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_logger_whose_package_is_missing_says_what_to_install(top, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if heplearn[tracking] were not
    with pytest.raises(ConfigError, match=r"pip install 'heplearn\[tracking\]'$"):
        train(run_config(top, MLP, logger="tensorboard"), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # nothing left: the same command can run again


def test_streaming_training_reads_chunks_and_learns(top, tmp_path):
    streaming = {"chunk_entries": 100, "shuffle_buffer": 200}
    config = run_config(top, MLP, epochs=4, streaming=streaming, schedule={"name": "cosine"})
    run = train(config, tmp_path / "run")
    history = run.history()
    assert len(history) == 4
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["val_auc"] > 0.85


def test_bf16_mixed_precision_trains_and_predicts_end_to_end_on_cpu(top, tmp_path):
    config = run_config(
        top, MLP, epochs=2, batch_size=32, precision="bf16-mixed", accelerator="cpu"
    )
    run = train(config, tmp_path / "run")
    history = run.history()
    assert history[-1]["val_loss"] < history[0]["val_loss"]  # it learns in bfloat16
    assert history[-1]["val_auc"] > 0.8
    assert all(tensor.dtype == torch.float32 for tensor in weights_of(run).values())
    (written,) = predict_files(run, [next(top.glob("*.root"))], tmp_path / "scores")
    scores = uproot.open(written.output)["Scores"]["score_top"].array(library="np")
    assert len(scores) == written.entries and np.isfinite(scores).all()
