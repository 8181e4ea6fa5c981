"""ONNX export: raw inputs in, the run's scores out, dynamic axes, metadata, clear errors."""

import dataclasses
import json
import shutil

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from helpers import EXPORTABLE_MODELS as MODELS
from helpers import FOUR_VECTORS as VECTORS
from helpers import TINY_DDPM, flow_config, run_config, run_heplearn
from heplearn.cli import USER_ERROR_EXIT_CODE
from heplearn.data.dataset import load_dataset
from heplearn.deploy import ExportReport, export_onnx, read_metadata
from heplearn.deploy import export as export_module
from heplearn.errors import ConfigError, InputError, OutputError
from heplearn.run_directory import RunDirectory
from heplearn.training.fit import train

PARTICLE_MODELS = ("pfn", "particlenet-lite", "part-small")


def config_of(sample, model, **training):
    config = run_config(sample, model, epochs=1, batch_size=128, **training)
    config["data"]["inputs"]["vectors"] = VECTORS
    config["data"]["inputs"]["particles"]["pad_value"] = -1.0  # kept through standardisation
    config["data"]["standardise"] = {"vectors": "none"}
    return config


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request, top, tmp_path_factory) -> tuple[str, RunDirectory, ExportReport]:
    run = train(config_of(top, MODELS[request.param]), tmp_path_factory.mktemp("runs") / "run")
    return request.param, run, export_onnx(run)


def split_arrays(run: RunDirectory, standardised: bool) -> dict[str, np.ndarray]:
    config = run.config()
    preprocessing = run.preprocessing()
    if not standardised:  # what a user feeds: the spec's expressions, padded, not standardised
        preprocessing = dataclasses.replace(preprocessing, standardisation={})
    return load_dataset(config.model_data(), config.seed, preprocessing).arrays("test")


def pytorch_scores(run: RunDirectory, arrays: dict[str, np.ndarray]) -> np.ndarray:
    model = run.load_model()
    inputs = {name: torch.from_numpy(values) for name, values in arrays.items()}
    with torch.no_grad():
        return torch.sigmoid(model(inputs)[:, 0]).numpy()


def onnx_scores(path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {value.name: arrays[value.name] for value in session.get_inputs()}
    return session.run(["scores"], feed)[0]


def padded(arrays: dict[str, np.ndarray], length: int, pad_value: float = 0.0):
    """Particles inputs padded (pad value, mask false) or cut to ``length``."""
    result = dict(arrays)
    for name in [key.removesuffix("_mask") for key in arrays if key.endswith("_mask")]:
        values, mask = arrays[name], arrays[f"{name}_mask"]
        if length <= values.shape[1]:
            result[name], result[f"{name}_mask"] = values[:, :length], mask[:, :length]
            continue
        extra = length - values.shape[1]
        pad = np.full((len(values), extra, values.shape[2]), pad_value, np.float32)
        result[name] = np.concatenate([values, pad], axis=1)
        result[f"{name}_mask"] = np.concatenate([mask, np.zeros((len(mask), extra), bool)], axis=1)
    return result


def test_onnx_runtime_on_raw_inputs_matches_pytorch_on_standardised_ones(exported):
    name, run, report = exported
    assert report.path == run.path / "model.onnx"
    assert report.size_bytes == report.path.stat().st_size > 0
    assert report.max_abs_difference is not None and report.max_abs_difference <= 1e-5
    assert report.max_abs_difference_logits is not None
    assert report.outputs == ("scores", "logits")

    raw = split_arrays(run, standardised=False)
    reference = pytorch_scores(run, split_arrays(run, standardised=True))
    assert report.events_compared == len(reference) > 20
    scores = onnx_scores(report.path, raw)
    assert scores.shape == reference.shape
    np.testing.assert_allclose(scores, reference, rtol=0, atol=1e-5)
    assert scores.min() > 0 and scores.max() < 1
    if name != "cnn":  # images are not standardised; the others are, inside the graph
        standardised = split_arrays(run, standardised=True)
        first = next(iter(run.schema()))
        assert not np.allclose(raw[first], standardised[first])


def test_batch_and_particle_axes_are_dynamic(exported):
    name, run, report = exported
    raw = split_arrays(run, standardised=False)
    everything = onnx_scores(report.path, raw)
    one = np.concatenate(
        [onnx_scores(report.path, {k: v[i : i + 1] for k, v in raw.items()}) for i in range(5)]
    )
    np.testing.assert_allclose(one, everything[:5], rtol=0, atol=1e-6)
    metadata = read_metadata(report.path)
    if name not in PARTICLE_MODELS:
        assert report.dynamic_particles is None
        return
    length = run.schema()["particles"].shape[0]
    longer = padded(raw, length + 13, pad_value=-1.0)
    # part-small too: its pairs come from torch.arange of the length, not tril_indices
    assert report.dynamic_particles is True
    assert metadata["dynamic_axes"]["particles"] is True
    assert report.lengths_checked[0] == length and len(report.lengths_checked) == 3
    # the same jets with more padding: the same scores
    np.testing.assert_allclose(onnx_scores(report.path, longer), everything, rtol=0, atol=1e-5)
    # fewer particles per jet: ONNX still agrees with PyTorch on the cut jets
    standardised = split_arrays(run, standardised=True)
    # (3 is fewer than ParticleNet's k = 4 neighbours)
    for length in (9, 3):
        cut = pytorch_scores(run, padded(standardised, length))
        onnx_cut = onnx_scores(report.path, padded(raw, length))
        np.testing.assert_allclose(onnx_cut, cut, rtol=0, atol=1e-5)
        assert np.abs(cut - everything).max() > 1e-4  # the cut mattered


def test_the_metadata_says_what_to_feed(exported):
    name, run, report = exported
    metadata = read_metadata(report.path)
    assert json.loads(report.metadata_path.read_text()) == metadata
    assert report.metadata_path == run.path / "model.onnx.json"
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    assert [entry["name"] for entry in metadata["inputs"]] == list(report.inputs)
    assert [value.name for value in session.get_inputs()] == list(report.inputs)
    assert [value.name for value in session.get_outputs()] == ["scores", "logits"]
    # what a C++ user reads with Ort::Session::GetModelMetadata
    assert json.loads(session.get_modelmeta().custom_metadata_map["heplearn"]) == metadata
    assert metadata["class_names"] == ["qcd", "top"]
    assert metadata["task"] == "binary"
    assert metadata["model"] == MODELS[name]["name"]
    assert metadata["heplearn_version"] and metadata["versions"]["torch"].startswith("2.")
    assert metadata["opset"] == report.opset
    entries = {entry["name"]: entry for entry in metadata["inputs"]}
    spec = run.config().data.inputs
    for input_name, info in run.schema().items():
        entry = entries[input_name]
        assert entry["kind"] == info.kind
        assert entry["columns"] == list(info.columns)
        assert entry["dtype"] == "float32"
        if info.kind == "particles":
            assert entry["pad_value"] == spec[input_name].pad_value
            assert entry["length"] == 30
            assert entries[f"{input_name}_mask"]["dtype"] == "bool"
            assert entry["standardised_in_graph"] is (input_name != "vectors")
    shapes = {value.name: value.shape for value in session.get_inputs()}
    assert all(shape[0] == "batch" for shape in shapes.values())
    assert shapes == {entry["name"]: entry["shape"] for entry in metadata["inputs"]}
    if report.dynamic_particles:
        assert shapes["particles"] == ["batch", "particles", 4]
        assert shapes["particles_mask"] == ["batch", "particles"]


def test_multiclass_and_regression_runs_export_their_scores(top, tmp_path):
    model = {"name": "mlp", "inputs": ["jet"], "widths": [8]}
    multiclass = config_of(top, model)
    # four classes from the label and the mass, to have a softmax to export
    multiclass["data"]["label"] = "2 * is_signal + (jet_mass > 150)"
    multiclass["data"]["classes"] = ["a", "b", "c", "d"]
    run = train(multiclass, tmp_path / "multiclass")
    report = export_onnx(run)
    assert report.max_abs_difference is not None and report.max_abs_difference <= 1e-5
    raw = split_arrays(run, standardised=False)
    scores = onnx_scores(report.path, raw)
    assert scores.shape == (len(raw["label"]), 4)
    np.testing.assert_allclose(scores.sum(axis=1), 1, atol=1e-6)

    regression = config_of(top, model)
    del regression["data"]["label"], regression["data"]["classes"]
    regression["data"]["target"] = "jet_pt"
    run = train(regression, tmp_path / "regression")
    report = export_onnx(run, tmp_path / "elsewhere" / "regression.onnx", opset=18)
    assert report.outputs == ("scores",) and report.max_abs_difference_logits is None
    assert report.opset == 18 == onnx.load(report.path).opset_import[0].version
    assert report.metadata_path == tmp_path / "elsewhere" / "regression.onnx.json"
    assert read_metadata(report.path)["task"] == "regression"
    assert not (run.path / "model.onnx").exists()


@pytest.mark.parametrize("model", ["autoencoder", "flow", "ddpm"])
def test_anomaly_and_generative_runs_export_their_score_per_event(top, tmp_path, model):
    if model == "flow":
        config = flow_config(top, epochs=1)
    else:
        autoencoder = {"name": "autoencoder", "inputs": ["jet"], "widths": [8], "latent_dim": 2}
        config = run_config(top, TINY_DDPM if model == "ddpm" else autoencoder, epochs=1)
    run = train(config, tmp_path / model)
    report = export_onnx(run)
    assert report.outputs == ("scores",)
    assert report.max_abs_difference is not None and report.max_abs_difference <= 1e-4
    raw = split_arrays(run, standardised=False)
    for events in (1, 7):  # (a diffusion model's fixed noise broadcasts over any batch)
        scores = onnx_scores(report.path, {name: values[:events] for name, values in raw.items()})
        assert scores.shape == (events,) and np.isfinite(scores).all()


def test_a_bdt_run_is_refused_with_a_clear_message(top, tmp_path):
    run = train(config_of(top, {"name": "bdt", "inputs": ["jet"], "max_iter": 5}), tmp_path / "b")
    with pytest.raises(InputError, match=r"scikit-learn estimator.*neural networks.*skl2onnx"):
        export_onnx(run)
    assert not (run.path / "model.onnx").exists()


def test_a_failed_check_or_a_wrong_directory_writes_nothing(top, tmp_path, monkeypatch):
    run = train(config_of(top, MODELS["mlp"]), tmp_path / "run")
    monkeypatch.setattr(export_module, "TOLERANCE", -1.0)  # no difference is small enough
    with pytest.raises(OutputError, match=r"disagree on the scores.*nothing was written"):
        export_onnx(run)
    assert sorted(p.name for p in run.path.iterdir() if "onnx" in p.name) == []
    monkeypatch.undo()

    unfinished = RunDirectory(tmp_path / "unfinished")
    shutil.copytree(run.path, unfinished.path)
    unfinished.update_info(status="running")
    with pytest.raises(InputError, match=r"unfinished run.*--resume"):
        export_onnx(unfinished)
    with pytest.raises(InputError, match="not a heplearn run directory"):
        export_onnx(tmp_path)
    with pytest.raises(ConfigError, match="opset 17 is too old"):
        export_onnx(run, opset=17)
    report = export_onnx(run, check=False)
    assert report.max_abs_difference is None and report.events_compared == 0
    assert report.path.is_file()
    with pytest.raises(InputError, match="not a readable ONNX model"):
        read_metadata(report.metadata_path)


def test_the_cli_exports_and_reports_the_check(top, tmp_path):
    run = train(config_of(top, MODELS["mlp"]), tmp_path / "run")
    result = run_heplearn("export", str(run.path), "--format", "onnx", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "max |Δ score|" in result.stdout
    assert (tmp_path / "model.onnx").is_file()
    wrong = run_heplearn("export", str(tmp_path / "nowhere"))
    assert wrong.returncode == USER_ERROR_EXIT_CODE
    assert wrong.stderr.count("\n") == 1 and "not a heplearn run directory" in wrong.stderr
