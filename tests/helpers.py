"""Helpers shared by tests: reading generated samples back, running the CLI, run configs."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import awkward as ak
import lightning as L
import numpy as np
import pytest
import torch
import uproot

REPOSITORY = Path(__file__).resolve().parents[1]


def docs_script(name: str) -> ModuleType:
    """A generator script of ``docs/`` (``docs/{name}.py``), imported as a module."""
    spec = importlib.util.spec_from_file_location(name, REPOSITORY / "docs" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_metadata(sample_dir: Path) -> dict[str, Any]:
    """The ``metadata.json`` of a generated sample."""
    return json.loads((sample_dir / "metadata.json").read_text())


def read_events(sample_dir: Path, group: str | None = None) -> ak.Array:
    """All events of a generated ROOT sample (optionally one file group), in file order."""
    metadata = read_metadata(sample_dir)
    paths = [
        f"{sample_dir / entry['name']}:{metadata['tree']}"
        for entry in metadata["files"]
        if group is None or entry["group"] == group
    ]
    return uproot.concatenate(paths, library="ak")


def split_into_files(sample_dir: Path, out: Path, entries_per_file: int) -> Path:
    """The events of a generated ROOT sample rewritten into files of ``entries_per_file``
    entries in ``out`` (several chunks to stream and share among ranks)."""
    from heplearn.io import write_events

    tree = read_metadata(sample_dir)["tree"]
    events = read_events(sample_dir)
    for index, start in enumerate(range(0, len(events), entries_per_file)):
        part = events[start : start + entries_per_file]
        columns = {name: part[name] for name in part.fields}
        write_events(columns, out / f"part_{index:03d}.root", "root", tree)
    return out


def kill_after_first_checkpoint(command: list[str], out: Path) -> None:
    """Start ``command`` (a ``heplearn train`` into ``out``) and SIGKILL it with all the
    processes it launched, just after its first checkpoint (early in the second epoch)."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    time.sleep(0.15)  # into the second epoch
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_heplearn(*arguments: str, **options: Any) -> subprocess.CompletedProcess:
    """Run ``python -m heplearn`` in a fresh process, as a user's shell would."""
    command = [sys.executable, "-m", "heplearn", *arguments]
    return subprocess.run(command, capture_output=True, text=True, check=False, **options)


def top_vs_qcd_data(sample_dir: Path) -> dict[str, Any]:
    """A dataset spec for a generated top-vs-qcd sample: jet features, particles and images."""
    return {
        "sources": [{"files": [str(sample_dir / "*.root")]}],
        "label": "is_signal",
        "classes": ["qcd", "top"],
        "inputs": {
            "jet": {
                "kind": "tabular",
                "columns": ["jet_mass", "jet_sdmass", "jet_tau21", "jet_tau32", "jet_d2"],
            },
            "mass": {"kind": "tabular", "columns": ["jet_mass"]},
            "particles": {
                "kind": "particles",
                "columns": ["part_deta", "part_dphi", "log(part_pt)", "part_charge"],
                "length": 30,
                "sort_by": "part_pt",
            },
            "image": {"kind": "image", "bins": 16, "extent": 0.8},
        },
    }


def run_config(sample_dir: Path, model: dict[str, Any], **training: Any) -> dict[str, Any]:
    """A small, quick run config on a generated top-vs-qcd sample."""
    settings = {"epochs": 2, "batch_size": 64, "progress_bar": False, **training}
    return {"seed": 3, "data": top_vs_qcd_data(sample_dir), "model": model, "training": settings}


class RecordSteps(L.Callback):
    """Saves, per rank, the parameters after every training step, the events it saw and
    its torch CPU threads.

    Defined here (not in a test module) so that processes started by ``ddp_spawn`` can
    import it.
    """

    def __init__(self, folder: Path, input_name: str) -> None:
        self.folder = folder
        self.input_name = input_name
        self.parameters: list[np.ndarray] = []
        self.events: list[np.ndarray] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.events.append(batch[self.input_name].numpy().copy())
        flat = torch.cat([p.detach().flatten() for p in module.parameters()])
        self.parameters.append(flat.numpy().copy())

    def on_train_end(self, trainer, module) -> None:
        np.savez(
            self.folder / f"rank{trainer.global_rank}.npz",
            parameters=np.stack(self.parameters),
            events=np.concatenate(self.events),
            threads=torch.get_num_threads(),
        )


def chromium_or_skip() -> str:
    """Debian's chromium, or a skip (a failure when HEPLEARN_REQUIRE_BROWSER is set)."""
    browser = shutil.which("chromium")
    if browser is None:
        if os.environ.get("HEPLEARN_REQUIRE_BROWSER"):
            pytest.fail("HEPLEARN_REQUIRE_BROWSER is set but chromium is not on PATH")
        pytest.skip("chromium is not installed (set HEPLEARN_REQUIRE_BROWSER to make this fail)")
    return browser


def run_chromium(browser: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run headless chromium with a fresh profile and no network chatter."""
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def assert_one_line_error(result: Any, *fragments: str) -> None:
    """A CLI result that failed with one ``error:`` line holding every fragment, no traceback."""
    from heplearn.cli import USER_ERROR_EXIT_CODE

    assert result.exit_code == USER_ERROR_EXIT_CODE, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


def assert_unreachable_scheduler_writes_nothing(*arguments: str, out: Path) -> None:
    """``heplearn ARGUMENTS --out OUT --scheduler <a closed port>``: one error, nothing in OUT."""
    from heplearn.cli import USER_ERROR_EXIT_CODE

    address = "tcp://127.0.0.1:9"
    result = run_heplearn(
        *arguments,
        "--out",
        str(out),
        "--scheduler",
        address,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"},
    )
    assert result.returncode == USER_ERROR_EXIT_CODE, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach the dask scheduler at '{address}'")
    assert not out.exists()


# A diffusion model small enough to train and sample in a second.
TINY_DDPM = {
    "name": "ddpm",
    "inputs": ["image"],
    "timesteps": 10,
    "sampling_steps": 2,
    "score_timesteps": 2,
    "channels": 4,
    "channel_multipliers": [1],
    "time_embedding": 8,
}


def flow_config(sample_dir: Path, **training: Any) -> dict[str, Any]:
    """A small conditional flow of the jet features given the jet pT."""
    model = {"name": "flow", "features": "jet", "condition": "conditions", "transforms": 2}
    config = run_config(sample_dir, {**model, "hidden": [32, 32]}, threads=1, **training)
    config["data"]["inputs"]["conditions"] = {"kind": "tabular", "columns": ["jet_pt"]}
    return config


# The constituents' four-vectors, as LorentzNet and ParT take them (not standardised).
FOUR_VECTORS = {
    "kind": "particles",
    "columns": ["part_px", "part_py", "part_pz", "part_energy"],
    "length": 30,
    "sort_by": "part_pt",
}
# One tiny network of each exportable kind (tabular, image, set, graph, transformer): one
# epoch each; export and scoring do not care whether they learned much.
EXPORTABLE_MODELS = {
    "mlp": {"name": "mlp", "inputs": ["jet"], "widths": [16]},
    "cnn": {"name": "cnn", "inputs": ["image", "mass"], "filters": [4], "dense": [8]},
    "pfn": {"name": "pfn", "inputs": ["particles", "jet"], "phi": [16, 16], "f": [16]},
    "particlenet-lite": {
        "name": "particlenet-lite",
        "inputs": ["particles"],
        "convs": [[8], [8]],  # two blocks: the second searches neighbours in learned features
        "fc": [8],
        "k": 4,
    },
    "part-small": {
        "name": "part-small",
        "inputs": ["particles", "vectors"],
        "vectors": "vectors",
        "embed": [8],
        "pair_embed": [8],
        "heads": 2,
        "particle_blocks": 1,
    },
}
