"""Two CPU processes (gloo): the same parameters everywhere, disjoint shards, one result."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from helpers import (
    RecordSteps,
    kill_after_first_checkpoint,
    run_config,
    run_heplearn,
    split_into_files,
)
from heplearn.cli import USER_ERROR_EXIT_CODE
from heplearn.run_directory import RunDirectory
from heplearn.training.fit import train

MLP = {"name": "mlp", "inputs": ["jet"], "widths": [16, 16]}
# chunks of 50 entries in files of 100: 12 chunks to deal out
STREAMING = {"chunk_entries": 50, "shuffle_buffer": 64}


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module")
def top_files(top, tmp_path_factory):
    """The same 600 jets in six files."""
    return split_into_files(top, tmp_path_factory.mktemp("top-files"), 100)


def rows(events: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in events}


def assert_ranks_step_as_one_process_on_the_union(pair: Path, single: Path) -> None:
    """Two ranks' recorded steps (RecordSteps) against one process's on twice the batch."""
    one = np.load(single / "rank0.npz")
    rank0, rank1 = (np.load(pair / f"rank{r}.npz") for r in (0, 1))
    # the ranks hold identical parameters after every step
    np.testing.assert_array_equal(rank0["parameters"], rank1["parameters"])
    # each step of the pair equals a step of one process over the union of their batches
    # (the last, partial batch aside: the shards drop the odd event out)
    steps = len(rank0["parameters"]) - 1
    np.testing.assert_allclose(
        rank0["parameters"][:steps], one["parameters"][:steps], rtol=0, atol=2e-6
    )
    # the shards are disjoint and cover the training events
    seen0, seen1 = rows(rank0["events"]), rows(rank1["events"])
    everything = rows(one["events"])
    assert not seen0 & seen1
    assert len(everything - (seen0 | seen1)) == len(one["events"]) % 2
    assert len(seen0) == len(seen1) == len(one["events"]) // 2


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

    assert_ranks_step_as_one_process_on_the_union(tmp_path / "ddp", tmp_path / "single")


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


# a process that trains in a gloo group of its own (world size 1) and reports whether the
# group exists after the training and, from an exit handler registered before training
# (so it runs after those the training registers), at the exit
EXIT = """
import atexit, sys
from pathlib import Path
import torch.distributed as dist
import yaml
from heplearn.training.fit import train
atexit.register(lambda: print("group at exit:", dist.is_initialized(), flush=True))
train(yaml.safe_load(Path(sys.argv[1]).read_text()), sys.argv[2])
print("group after training:", dist.is_initialized(), flush=True)
"""


def test_a_rank_destroys_its_process_group_before_it_exits(top, tmp_path):
    # (left to the interpreter's finalization, a gloo group can abort the process:
    # "terminate called without an active exception", pytorch/pytorch#190489)
    config = run_config(top, MLP, epochs=1, accelerator="cpu", devices=1, strategy="ddp")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    environment = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-c", EXIT, str(path), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "group after training: True" in lines  # (kept for the next fold of a k-fold run)
    assert lines[-1] == "group at exit: False"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# One "node" of a multi-node run, as a batch system starts it on each machine.
NODE = """
import sys
from pathlib import Path

import yaml
from helpers import RecordSteps
from heplearn.training.fit import train

config = yaml.safe_load(Path(sys.argv[1]).read_text())
train(config, sys.argv[2], callbacks=[RecordSteps(Path(sys.argv[3]), "jet")])
"""


def node_command(launcher: str, rank: int, port: int, script: Path) -> list[str]:
    """How one node starts: by hand (MASTER_ADDR, NODE_RANK in the environment) or torchrun."""
    if launcher == "env":
        return [sys.executable, str(script)]
    elastic = ["--nnodes", "2", "--node-rank", str(rank), "--nproc-per-node", "1"]
    master = ["--master-addr", "127.0.0.1", "--master-port", str(port)]
    return [sys.executable, "-m", "torch.distributed.run", *elastic, *master, str(script)]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["env", "torchrun"])
def test_two_nodes_of_one_process_match_one_process_on_the_union(top, tmp_path, launcher):
    (tmp_path / "single").mkdir()
    (tmp_path / "nodes").mkdir()
    single = run_config(top, MLP, epochs=1, batch_size=32, shuffle=False, accelerator="cpu")
    train(single, tmp_path / "single-run", callbacks=[RecordSteps(tmp_path / "single", "jet")])
    config = run_config(
        top,
        MLP,
        epochs=1,
        batch_size=16,
        shuffle=False,
        accelerator="cpu",
        devices=1,
        num_nodes=2,
        strategy="ddp",
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    tests = str(Path(__file__).parents[1])
    port = free_port()
    shared = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    script = tmp_path / "node.py"
    script.write_text(NODE)
    arguments = [str(path), str(tmp_path / "run"), str(tmp_path / "nodes")]
    nodes = [
        subprocess.Popen(
            [*node_command(launcher, rank, port, script), *arguments],
            env={**os.environ, **shared, "NODE_RANK": str(rank), "PYTHONPATH": tests}
            if launcher == "env"
            else {**os.environ, "PYTHONPATH": tests},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    for node in nodes:
        output, _ = node.communicate(timeout=300)
        assert node.returncode == 0, output
    assert_ranks_step_as_one_process_on_the_union(tmp_path / "nodes", tmp_path / "single")
    assert RunDirectory(tmp_path / "run").info()["status"] == "finished"


def test_streamed_ranks_read_disjoint_shares_in_equal_steps(top_files, tmp_path):
    (tmp_path / "single").mkdir()
    (tmp_path / "ddp").mkdir()
    # an explicit thread count reaches every rank (Lightning alone gives each cores / 2)
    settings = {
        "epochs": 1,
        "batch_size": 16,
        "accelerator": "cpu",
        "streaming": STREAMING,
        "threads": 2,
    }
    single = run_config(top_files, MLP, **settings)
    train(single, tmp_path / "single-run", callbacks=[RecordSteps(tmp_path / "single", "jet")])
    ddp = run_config(top_files, MLP, **settings, devices=2, strategy="ddp_spawn")
    train(ddp, tmp_path / "ddp-run", callbacks=[RecordSteps(tmp_path / "ddp", "jet")])

    rank0, rank1 = (np.load(tmp_path / "ddp" / f"rank{r}.npz") for r in (0, 1))
    assert int(rank0["threads"]) == int(rank1["threads"]) == 2
    # the same number of steps, with identical parameters after every one
    np.testing.assert_array_equal(rank0["parameters"], rank1["parameters"])
    # disjoint shares of the training events one process streams, all but at most one
    # chunk's worth (the larger share's events beyond the common number of steps)
    seen0, seen1 = rows(rank0["events"]), rows(rank1["events"])
    everything = rows(np.load(tmp_path / "single" / "rank0.npz")["events"])
    assert not seen0 & seen1
    assert seen0 | seen1 <= everything
    assert len(everything) - len(seen0 | seen1) < STREAMING["chunk_entries"]
    assert min(len(seen0), len(seen1)) > 0.4 * len(everything)
    assert RunDirectory(tmp_path / "ddp-run").history()[0]["val_auc"] > 0.7


@pytest.mark.slow
@pytest.mark.parametrize("devices", [1, 2])
def test_a_killed_streamed_run_resumes_to_the_same_weights(top_files, tmp_path, devices):
    config = run_config(
        top_files,
        {**MLP, "dropout": 0.2},
        epochs=3,
        batch_size=8,
        accelerator="cpu",
        streaming=STREAMING,
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    launch = ["--devices", str(devices), "--strategy", "ddp" if devices > 1 else "auto"]

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "heplearn", "train", str(path), "--out", str(out), *launch]

    if devices == 1:
        train(config, tmp_path / "reference")
    else:
        reference = run_heplearn(*command(tmp_path / "reference")[3:])
        assert reference.returncode == 0, reference.stderr
    out = tmp_path / "killed"
    kill_after_first_checkpoint(command(out), out)
    assert RunDirectory(out).info()["status"] == "running"
    assert len(RunDirectory(out).history()) < 3, "the run finished before it was killed"

    resumed = run_heplearn(*command(out)[3:], "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert [row["epoch"] for row in RunDirectory(out).history()] == [0, 1, 2]
    expected = torch.load(tmp_path / "reference" / "model.pt", weights_only=True)
    found = torch.load(out / "model.pt", weights_only=True)
    for name, tensor in expected.items():
        assert torch.equal(tensor, found[name]), name


def test_streaming_on_more_processes_than_chunks_is_one_error_line(top, tmp_path):
    config = run_config(top, MLP, epochs=1, accelerator="cpu", streaming=STREAMING)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))  # one file of one basket cluster: one chunk
    result = run_heplearn(
        "train", str(path), "--out", str(tmp_path / "run"), "--devices", "2", "--strategy", "ddp"
    )
    assert result.returncode == USER_ERROR_EXIT_CODE, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "the train split has events in 1 chunk(s)" in line
    assert "2 ranks" in line
    assert "1 chunk(s) of 600 entries" in line  # (one basket cluster: it cannot be cut)
    assert "write the data in more files" in line
    assert not (tmp_path / "run").exists()
