"""Scoring: engines that agree, a batch chosen from the memory budget, devices that exist."""

import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import uproot
from typer.testing import CliRunner

from helpers import EXPORTABLE_MODELS as MODELS
from helpers import FOUR_VECTORS as VECTORS
from helpers import assert_one_line_error, run_config
from heplearn.cli import app
from heplearn.deploy.predict import predict_files
from heplearn.errors import ConfigError, InputError
from heplearn.inference import Scorer, ScoringOptions
from heplearn.inference.devices import scoring_device
from heplearn.inference.memory import CPU_WORKING_SET, MemoryCost
from heplearn.inference.memory_probe import peak_bytes
from heplearn.training.fit import train

runner = CliRunner()


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def trained(top, tmp_path_factory, model):
    config = run_config(top, MODELS[model], epochs=1, batch_size=128)
    config["data"]["inputs"]["vectors"] = VECTORS
    config["data"]["standardise"] = {"vectors": "none"}
    return train(config, tmp_path_factory.mktemp("runs") / model)


@pytest.fixture(scope="module")
def particlenet(top, tmp_path_factory):
    return trained(top, tmp_path_factory, "particlenet-lite")


@pytest.fixture(scope="module")
def runs(top, tmp_path_factory):
    """The run of a model of ``MODELS``, trained once for the module (its graph kept)."""
    done = {}

    def run_of(model):
        if model not in done:
            done[model] = trained(top, tmp_path_factory, model)
        return done[model]

    return run_of


def sample_file(top):
    return next(top.glob("*.root"))


def scores_of(path):
    return uproot.open(path)["Scores"].arrays(library="np")


@pytest.mark.parametrize("model", list(MODELS))
def test_the_onnx_engine_writes_the_friend_trees_of_the_torch_engine(
    top, tmp_path_factory, runs, model
):
    run = runs(model)
    out = tmp_path_factory.mktemp("scores")
    keep = ["event"]
    eager = predict_files(run, [sample_file(top)], out / "torch", keep=keep)
    onnx = predict_files(
        run, [sample_file(top)], out / "onnx", keep=keep, scoring=ScoringOptions(engine="onnx")
    )
    assert onnx[0].entries == eager[0].entries > 0
    assert onnx[0].output.name == eager[0].output.name
    expected, found = scores_of(eager[0].output), scores_of(onnx[0].output)
    assert sorted(found) == sorted(expected) == ["event", "score_qcd", "score_top"]
    np.testing.assert_array_equal(found["event"], expected["event"])
    np.testing.assert_allclose(found["score_top"], expected["score_top"], rtol=0, atol=1e-4)
    assert np.ptp(expected["score_top"]) > 1e-3  # (not a comparison of constants)


@pytest.mark.parametrize("model", list(MODELS))
def test_bf16_scores_are_the_float32_scores_to_bfloat16_precision(runs, model):
    # (on a CPU the batch is chosen from a probe under a dispatch mode, where autocast
    # leaves composite operations such as einsum to their parts: ParT's head merge failed)
    run = runs(model)
    arrays = _standardised_test_arrays(run)
    full = Scorer(run).scores(arrays)
    bf16 = Scorer(run, ScoringOptions(precision="bf16")).scores(arrays)
    assert bf16.dtype == np.float32 and np.isfinite(bf16).all()
    np.testing.assert_allclose(bf16, full, rtol=0, atol=0.02)  # (bfloat16: 8 bits of mantissa)
    assert np.ptp(full) > 1e-3


def test_a_small_budget_shrinks_the_batch_without_changing_the_scores(top, particlenet):
    arrays = _standardised_test_arrays(particlenet)
    roomy = Scorer(particlenet, ScoringOptions(memory_budget=2**30))
    cost = roomy.memory_cost()
    assert cost is not None and cost.per_event > 0
    budget = 2 * (cost.fixed + 20 * cost.per_event)  # half of it for the forward pass
    tight = Scorer(particlenet, ScoringOptions(memory_budget=budget))
    assert tight.batch_size == cost.events_within(budget // 2) == 20
    # a roomy budget: on a CPU, the batch whose activations fit the cache-sized working set
    working_set = MemoryCost(0, cost.per_event).events_within(CPU_WORKING_SET)
    assert roomy.batch_size == min(cost.events_within(2**29), working_set) > 20
    np.testing.assert_allclose(tight.scores(arrays), roomy.scores(arrays), rtol=0, atol=1e-6)
    assert "events per batch" in tight.summary()
    assert "CPU working set 48 MiB" in roomy.summary()


def test_batches_of_jets_of_similar_length_give_the_scores_in_the_events_order(particlenet):
    arrays = _standardised_test_arrays(particlenet)
    scorer = Scorer(particlenet, ScoringOptions(batch_size=7))
    assert scorer.padding_invariant  # (ParticleNet-Lite: batches trimmed, by length)
    inputs = {name: torch.from_numpy(arrays[name]) for name in scorer.input_names}
    with torch.no_grad():  # one untrimmed batch, in file order
        expected = scorer.task.scores(scorer.model(inputs)).numpy()
    np.testing.assert_allclose(scorer.scores(arrays), expected, rtol=0, atol=1e-6)
    assert len(expected) > 7 and np.ptp(expected) > 1e-3


def test_a_cpu_scorer_sets_the_allocator_for_large_tensors(particlenet, monkeypatch):
    import heplearn.inference.torch_engine as torch_engine

    calls = []
    monkeypatch.setattr(torch_engine, "keep_large_blocks", lambda: calls.append(True) or True)
    scorer = Scorer(particlenet, ScoringOptions(accelerator="cpu"))
    assert calls == [True]
    assert scorer.scores(_standardised_test_arrays(particlenet)).size > 0


def test_a_budget_too_small_for_one_event_is_refused(particlenet):
    scorer = Scorer(particlenet, ScoringOptions(memory_budget=1000))
    with pytest.raises(ConfigError, match="--memory-budget"):
        _ = scorer.batch_size


def test_the_measured_cost_predicts_the_peak_of_a_larger_batch(particlenet):
    scorer = Scorer(particlenet, ScoringOptions(batch_size=1))
    cost = scorer.memory_cost()
    assert isinstance(cost, MemoryCost)
    measured = peak_bytes(lambda: scorer.torch.probe(200), torch.device("cpu"))
    predicted = cost.fixed + cost.per_event * 200
    assert 0.8 * measured <= predicted <= 1.25 * measured


def test_measuring_the_forward_pass_does_not_start_the_compiler():
    """torch._dynamo (and sympy) would add a second and a half to every scoring process."""
    code = (
        "import sys, torch\n"
        "from heplearn.inference.memory_probe import peak_bytes\n"
        "peak = peak_bytes(lambda: torch.ones(1000) * 2, torch.device('cpu'))\n"
        "print(peak, 'torch._dynamo' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["8000", "False"], result.stderr


def test_a_bdt_cannot_use_the_onnx_engine_and_says_so(top, tmp_path):
    run = train(run_config(top, {"name": "bdt", "inputs": ["jet"]}), tmp_path / "bdt")
    with pytest.raises(InputError, match="--engine torch"):
        Scorer(run, ScoringOptions(engine="onnx"))


def test_devices_that_are_not_there_are_refused():
    assert scoring_device("cpu", "1").type == "cpu"
    assert scoring_device("auto", "auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            scoring_device("gpu")
    with pytest.raises(ConfigError, match="one device per process"):
        scoring_device("cpu", "2")
    with pytest.raises(ConfigError, match="--accelerator must be one of"):
        scoring_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_gpu_request_without_a_gpu_is_one_line(particlenet, top, tmp_path, command):
    arguments = [command, str(particlenet.path)]
    if command == "predict":
        arguments += [str(sample_file(top)), "--out", str(tmp_path / "out")]
    result = runner.invoke(app, [*arguments, "--accelerator", "gpu"])
    assert_one_line_error(result, "--accelerator gpu", "no CUDA GPU")
    assert not (tmp_path / "out").exists()


@pytest.fixture
def scheduler_of_gpu_less_workers(monkeypatch):
    """A running cluster of one worker on this GPU-less machine, with the submitting
    process forbidden to look for a GPU (a login node needs none)."""
    distributed = pytest.importorskip("distributed")

    def on_the_login_node(*arguments):
        raise AssertionError("the GPU was looked for where the job was submitted")

    monkeypatch.setattr("heplearn.inference.devices.scoring_device", on_the_login_node)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_on_a_cluster_the_gpu_asked_for_is_the_workers(
    particlenet, top, tmp_path, scheduler_of_gpu_less_workers
):
    """The login node that submits need not have a GPU; a worker without one says so."""
    arguments = ["predict", str(particlenet.path), str(sample_file(top))]
    arguments += ["--out", str(tmp_path / "out"), "--scheduler", scheduler_of_gpu_less_workers]
    result = runner.invoke(app, [*arguments, "--accelerator", "gpu", "--quiet"])
    # (the worker's machine is named: the error is read where the job was submitted)
    assert_one_line_error(result, "--accelerator gpu", "no CUDA GPU", socket.gethostname())
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_an_evaluation_on_a_cluster_asks_the_workers_for_the_gpu(
    top, tmp_path, scheduler_of_gpu_less_workers
):
    streaming = {"chunk_entries": 100, "shuffle_buffer": 200}  # (dask scores streamed runs)
    run = train(run_config(top, MODELS["mlp"], epochs=1, streaming=streaming), tmp_path / "run")
    arguments = ["evaluate", str(run.path), "--scheduler", scheduler_of_gpu_less_workers]
    result = runner.invoke(app, [*arguments, "--accelerator", "gpu"])
    assert_one_line_error(result, "--accelerator gpu", "no CUDA GPU", socket.gethostname())
    assert not (run.path / "metrics.json").exists()


def _standardised_test_arrays(run):
    from heplearn.data.dataset import load_dataset

    config = run.config()
    return load_dataset(config.model_data(), config.seed, run.preprocessing()).arrays("test")


def test_evaluate_scores_with_the_onnx_engine_like_with_torch(particlenet):
    from heplearn.evaluation.run_data import run_predictions

    eager = run_predictions(particlenet, splits=("test",))["test"]
    options = ScoringOptions(engine="onnx")
    onnx = run_predictions(particlenet, splits=("test",), scoring=options)["test"]
    np.testing.assert_array_equal(onnx.labels, eager.labels)
    np.testing.assert_allclose(onnx.scores, eager.scores, rtol=0, atol=1e-4)


def test_the_onnx_engine_scores_part_in_length_buckets_like_torch(runs):
    """ParT's exported graph has a dynamic particle axis, so ONNX Runtime scores it in
    batches trimmed after their longest jet, as PyTorch does."""
    run = runs("part-small")
    arrays = _standardised_test_arrays(run)
    length = run.schema()["particles"].shape[0]
    real = np.arange(length) < 1 + np.arange(len(arrays["label"]))[:, None] % length
    for name in ("particles", "vectors"):  # jets of every length (these all fill the 30 slots)
        arrays[f"{name}_mask"] = arrays[f"{name}_mask"] & real
    scorer = Scorer(run, ScoringOptions(engine="onnx", batch_size=16))
    assert scorer.onnx is not None and scorer.onnx.info.dynamic_particles is True
    assert scorer.padding_invariant
    widths = []
    onnx_scores = scorer.onnx.scores

    def recording(batch):
        assert batch["vectors"].shape[1] == batch["particles"].shape[1]
        widths.append(batch["particles"].shape[1])
        return onnx_scores(batch)

    scorer.onnx.scores = recording
    found = scorer.scores(arrays)
    assert len(widths) > 1 and widths == sorted(widths) and widths[0] < length
    inputs = {name: torch.from_numpy(arrays[name]) for name in scorer.input_names}
    with torch.no_grad():  # PyTorch on one untrimmed batch, in file order
        expected = scorer.task.scores(scorer.model(inputs)).numpy()
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-5)
    assert np.ptp(expected) > 1e-3
