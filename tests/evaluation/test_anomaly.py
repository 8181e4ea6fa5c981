"""Anomaly detection end to end: an autoencoder trained on QCD jets finds top jets."""

import json

import numpy as np
import pytest
import uproot

from helpers import run_config, run_heplearn
from heplearn.errors import ConfigError
from heplearn.evaluation.run_data import run_predictions
from heplearn.evaluation.runs import evaluate_run
from heplearn.sampling import sample_run
from heplearn.training.fit import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module")
def autoencoder_run(top, tmp_path_factory):
    model = {"name": "autoencoder", "inputs": ["jet"], "widths": [16, 8], "latent_dim": 2}
    config = run_config(top, model, epochs=25, batch_size=32, classes=["qcd"])
    config["training"]["optimizer"] = {"lr": 0.003, "weight_decay": 0.0}
    return train(config, tmp_path_factory.mktemp("runs") / "ae")


def test_the_autoencoder_trained_on_qcd_scores_top_jets_as_anomalies(autoencoder_run):
    result = evaluate_run(autoencoder_run)
    metrics = json.loads(result.metrics_path.read_text())
    assert metrics["task"] == "anomaly"
    assert metrics["background_classes"] == ["qcd"] and metrics["anomaly_classes"] == ["top"]
    detection = metrics["detection"]
    assert detection["auc"] > 0.6
    # null in JSON: no background event is left at that efficiency (infinite rejection)
    assert (detection["rejection"]["0.3"] or float("inf")) > 1
    clustering = metrics["clustering"]
    assert set(clustering["contingency"]) == {"qcd", "top"}
    assert -1 <= clustering["adjusted_rand_index"] <= 1 and 0.5 <= clustering["purity"] <= 1
    for plot in ("anomaly_scores", "embedding", "clusters", "roc", "rejection"):
        assert (autoencoder_run.path / "plots" / f"{plot}.png").is_file()
    assert "Latent coordinates of the test events" in result.report_path.read_text()


def test_dask_workers_are_refused_for_an_anomaly_run_not_ignored(autoencoder_run):
    with pytest.raises(ConfigError, match="run of task 'anomaly', scored in one process"):
        evaluate_run(autoencoder_run, workers=2)


def test_training_on_qcd_only_sees_no_top_jet(autoencoder_run):
    from heplearn.training.data_module import RunDataModule

    data = RunDataModule(autoencoder_run.config())
    assert set(data.arrays("train")["label"].tolist()) == {0}
    assert set(data.arrays("validation")["label"].tolist()) == {0}
    test = run_predictions(autoencoder_run, splits=("test",))["test"]
    assert set(test.labels.tolist()) == {0, 1}
    assert test.embeddings is not None and test.embeddings.shape == (len(test), 2)


def test_the_vae_report_compares_prior_samples_with_real_jets(top, tmp_path):
    model = {"name": "vae", "inputs": ["jet"], "widths": [16], "latent_dim": 2}
    run = train(run_config(top, model, epochs=3, classes=["qcd"]), tmp_path / "vae")
    metrics = json.loads(evaluate_run(run).metrics_path.read_text())
    prior = metrics["prior_samples"]["jet"]
    assert 0.4 <= prior["auc"] <= 1 and prior["events"] > 0
    assert (run.path / "plots" / "prior_samples_jet.png").is_file()
    # heplearn sample draws from the prior, in physical units
    drawn = sample_run(run.path, 50, tmp_path / "drawn.root", seed=1)
    columns = uproot.open(drawn.path)["Events"].arrays(library="np")
    assert sorted(columns) == ["jet_d2", "jet_mass", "jet_sdmass", "jet_tau21", "jet_tau32"]
    assert len(columns["jet_mass"]) == 50 and np.isfinite(columns["jet_mass"]).all()
    assert 20 < np.median(columns["jet_mass"]) < 400  # GeV, not standardised units


def test_unknown_training_classes_are_refused_before_anything_is_written(top, tmp_path):
    config = run_config(top, {"name": "autoencoder"}, classes=["gluon"])
    with pytest.raises(ConfigError, match=r"training.classes: \['gluon'\].*qcd, top|qcd', 'top"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_cli_trains_and_evaluates_the_shipped_autoencoder_config(top, tmp_path):
    sources = f'[{{files: ["{top}/*.root"], tree: Events}}]'
    trained = run_heplearn(
        "train",
        "configs/anomaly/autoencoder.yaml",
        "--out",
        str(tmp_path / "ae"),
        "--set",
        f"data.sources={sources}",
        "--set",
        "training.epochs=2",
        "--set",
        "training.progress_bar=false",
    )
    assert trained.returncode == 0, trained.stderr
    evaluated = run_heplearn("evaluate", str(tmp_path / "ae"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert (tmp_path / "ae" / "metrics.json").is_file()


def test_predict_and_export_carry_the_anomaly_score(autoencoder_run, top, tmp_path):
    from heplearn.deploy import export_onnx
    from heplearn.deploy.predict import predict_files

    (written,) = predict_files(autoencoder_run, sorted(top.glob("*.root")), tmp_path)
    scores = uproot.open(written.output)["Scores"].arrays(library="np")
    assert list(scores) == ["anomaly_score", "latent_0", "latent_1"]
    assert np.all(scores["anomaly_score"] >= 0)
    report = export_onnx(autoencoder_run, tmp_path / "ae.onnx")
    assert report.outputs == ("scores",)
    assert report.max_abs_difference < 1e-5
