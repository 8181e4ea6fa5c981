"""Two CPU processes (gloo): the same parameters everywhere, disjoint shards, one result."""

import numpy as np
import pytest
import yaml

from helpers import RecordSteps, run_config, run_heplearn
from heplearn.run_directory import RunDirectory
from heplearn.training.fit import train

MLP = {"name": "mlp", "inputs": ["jet"], "widths": [16, 16]}


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def test_two_processes_match_one_process_on_the_union_of_their_shards(top, tmp_path):
    (tmp_path / "single").mkdir()
    (tmp_path / "ddp").mkdir()
    single = run_config(top, MLP, epochs=1, batch_size=32, shuffle=False, accelerator="cpu")
    train(single, tmp_path / "single-run", callbacks=[RecordSteps(tmp_path / "single", "jet")])
    ddp = run_config(
        top,
        MLP,
        epochs=1,
        batch_size=16,
        shuffle=False,
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
    )
    train(ddp, tmp_path / "ddp-run", callbacks=[RecordSteps(tmp_path / "ddp", "jet")])

    one = np.load(tmp_path / "single" / "rank0.npz")
    rank0, rank1 = (np.load(tmp_path / "ddp" / f"rank{r}.npz") for r in (0, 1))
    # the ranks hold identical parameters after every step
    np.testing.assert_array_equal(rank0["parameters"], rank1["parameters"])
    # each step of the pair equals a step of one process over the union of their batches
    # (the last, partial batch aside: the shards drop the odd event out)
    steps = len(rank0["parameters"]) - 1
    np.testing.assert_allclose(
        rank0["parameters"][:steps], one["parameters"][:steps], rtol=0, atol=2e-6
    )
    # the shards are disjoint and cover the training events
    seen0, seen1 = ({row.tobytes() for row in r["events"]} for r in (rank0, rank1))
    everything = {row.tobytes() for row in one["events"]}
    assert not seen0 & seen1
    assert len(everything - (seen0 | seen1)) == len(one["events"]) % 2
    assert len(seen0) == len(seen1) == len(one["events"]) // 2


def test_the_cli_trains_with_two_ddp_processes_to_single_process_quality(top, tmp_path):
    config = run_config(top, MLP, epochs=6, batch_size=16, accelerator="cpu")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    single = train(config, tmp_path / "single")
    result = run_heplearn(
        "train", str(path), "--out", str(tmp_path / "ddp"), "--devices", "2", "--strategy", "ddp"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("trained mlp into") == 1  # rank 0 reports, not each process
    ddp = RunDirectory(tmp_path / "ddp")
    assert ddp.info()["status"] == "finished"
    assert ddp.load_model() is not None
    # half the steps per epoch on twice the events each: the same quality
    assert ddp.history()[-1]["val_auc"] == pytest.approx(single.history()[-1]["val_auc"], abs=0.03)
