"""heplearn and weaver-core side by side: ParticleNet-Lite on the same generated jets.

Run by ``make bench-peers`` (``python -m benchmarks.bench_peers [--events N]``); not part
of ``make test`` or ``make bench``. It builds its own virtual environment,
``benchmarks/.venv-weaver`` (git-ignored): ``torch==2.13.0`` first, so that weaver-core
cannot pull another (CUDA) torch, then ``weaver-core==0.5.3``.

The sample is generated once (``heplearn generate top-vs-qcd``) and cut by entry into a
training file (80 %: both tools use 75 % of it to train, 25 % to validate) and a test
file (20 %), so both tools see the same jets. weaver-core gets a data config and a
network file written here, following its documented interface (a YAML of inputs and
labels; ``get_model``/``get_loss``), whose model is weaver-core's own ParticleNet class
in the ParticleNet-Lite configuration of heplearn's ``configs/top-vs-qcd``: k = 7,
EdgeConv blocks (32, 32, 32) and (64, 64, 64), no fusion, a dense layer of 128, the same
8 particle features, 100 particles. Both train for the same epochs with the same batch
size (those of ``configs/top-vs-qcd/particlenet-lite.yaml``, early stopping off so the
epochs are equal), then score the test file; AUC and 1/ε_B at ε_S = 0.3 are computed
from each tool's test scores by the same code, with bootstrap uncertainties and the
number of background jets behind the rejection. Scoring speed is measured on a larger
file (the test jets repeated, in baskets of 5,000 jets) by each tool's scoring command:
``heplearn predict`` (with the PyTorch engine, and with ``--engine onnx`` loading the
graph an earlier call kept in the run) and ``weaver --predict``. Times are wall-clock
times of the whole commands; peak RSS is the kernel's high-water mark of each command's
process (its VmHWM, read every 0.1 s while it runs).
"""

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from benchmarks.report import Section, write_report
from benchmarks.samples import CONFIGS, top_vs_qcd_sample

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "benchmarks" / ".venv-weaver"
WORK = ROOT / "data" / "bench" / "peers"
TORCH = "torch==2.13.0"
WEAVER = "weaver-core==0.5.3"
LENGTH = 100
SPEED_JETS = 40_000  # the file size: the scoring loop, not start-up, dominates
BASKET = 5_000  # jets per basket of speed.root, as a generator writes its events in chunks

# the 8 particle features of configs/top-vs-qcd/data.yaml, as weaver-core variables
DATA_CONFIG = """\
# written by heplearn's benchmarks/bench_peers.py: the inputs of configs/top-vs-qcd
treename: Events
selection: null
new_variables:
  # packed (offsets from 0): weaver-core 0.5.3 stacks the raw contents of jagged arrays
  p_deta: ak.to_packed(part_deta)
  p_dphi: ak.to_packed(part_dphi)
  p_logpt: ak.to_packed(np.log(part_pt))
  p_logenergy: ak.to_packed(np.log(part_energy))
  p_logptrel: ak.to_packed(np.log(part_pt / jet_pt))
  p_logerel: ak.to_packed(np.log(part_energy / jet_energy))
  p_deltar: ak.to_packed(np.hypot(part_deta, part_dphi))
  p_charge: ak.to_packed(part_charge * 1.0)
  p_mask: ak.to_packed(ak.ones_like(part_deta))
  label_qcd: is_signal == 0
  label_top: is_signal == 1
preprocess:
  method: auto
  data_fraction: 1.0
inputs:
  pf_points:
    length: {length}
    pad_mode: constant
    vars: [[p_deta, null], [p_dphi, null]]
  pf_features:
    length: {length}
    pad_mode: constant
    vars:
      - [p_deta, null]
      - [p_dphi, null]
      - [p_logpt, null]
      - [p_logenergy, null]
      - [p_logptrel, null]
      - [p_logerel, null]
      - [p_deltar, null]
      - [p_charge, null]
  pf_mask:
    length: {length}
    pad_mode: constant
    vars: [[p_mask, null]]
labels:
  type: simple
  value: [label_qcd, label_top]
observers: [event, is_signal]
"""

NETWORK = """\
# written by heplearn's benchmarks/bench_peers.py: weaver-core's ParticleNet class in the
# ParticleNet-Lite configuration of heplearn's configs/top-vs-qcd/particlenet-lite.yaml
import torch
from weaver.nn.model.ParticleNet import ParticleNet


class TopTagger(torch.nn.Module):
    def __init__(self, features, classes):
        super().__init__()
        self.network = ParticleNet(
            input_dims=features,
            num_classes=classes,
            conv_params=[(7, (32, 32, 32)), (7, (64, 64, 64))],
            fc_params=[(128, 0.1)],
            use_fusion=False,
            use_fts_bn=True,
            use_counts=True,
        )

    def forward(self, points, features, mask):
        return self.network(points, features, mask)


def get_model(data_config, **kwargs):
    features = len(data_config.input_dicts["pf_features"])
    model = TopTagger(features, len(data_config.label_value))
    info = {
        "input_names": list(data_config.input_names),
        "input_shapes": {k: ((1,) + s[1:]) for k, s in data_config.input_shapes.items()},
        "output_names": ["softmax"],
        "dynamic_axes": {
            **{k: {0: "N", 2: "n_" + k.split("_")[0]} for k in data_config.input_names},
            "softmax": {0: "N"},
        },
    }
    return model, info


def get_loss(data_config, **kwargs):
    return torch.nn.CrossEntropyLoss()
"""


@dataclass
class Measured:
    """One command: wall seconds and peak resident memory (bytes)."""

    seconds: float
    peak: int
    output: str


def run_measured(command: list[str], log: Path, env: dict[str, str] | None = None) -> Measured:
    """Run a command, keeping its output in ``log``; its wall time and peak RSS."""
    started = time.perf_counter()
    peak = 0
    with log.open("w") as stream:
        process = subprocess.Popen(
            command, stdout=stream, stderr=subprocess.STDOUT, cwd=ROOT, env=env
        )
        # The command's own VmHWM (its address space's high-water mark), read until it
        # exits: wait4's ru_maxrss would start from this process's peak, which the kernel
        # carries over into the child at exec.
        while process.poll() is None:
            peak = max(peak, _high_water_mark(process.pid))
            time.sleep(0.1)
    seconds = time.perf_counter() - started
    text = log.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed; see {log}:\n{text[-2000:]}")
    return Measured(seconds, peak, text)


def _high_water_mark(pid: int) -> int:
    """VmHWM of a running process in bytes (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def weaver_environment() -> Path:
    """benchmarks/.venv-weaver with torch (CPU, from local disk) and then weaver-core."""
    python = VENV / "bin" / "python"
    weaver = VENV / "bin" / "weaver"
    if weaver.exists():
        return weaver
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, TORCH], check=True)  # first: weaver-core must not bring another
    subprocess.run([*pip, WEAVER], check=True)
    return weaver


def split_sample(folder: Path, work: Path, speed_jets: int) -> tuple[Path, Path, Path]:
    """train.root (80 % of each file), test.root (the rest) and speed.root (test repeated)."""
    trains, tests = [], []
    for path in sorted(folder.glob("*.root")):
        events = uproot.open(path)["Events"].arrays()
        cut = int(0.8 * len(events))
        trains.append(events[:cut])
        tests.append(events[cut:])
    train, test = ak.concatenate(trains), ak.concatenate(tests)
    repeats = -(-speed_jets // len(test))
    speed = ak.concatenate([test] * repeats)[:speed_jets]
    paths = []
    for name, events in (("train", train), ("test", test), ("speed", speed)):
        path = work / f"{name}.root"
        with uproot.recreate(path) as file:
            for start in range(0, len(events), BASKET):
                block = {field: events[field][start : start + BASKET] for field in events.fields}
                if start == 0:
                    file["Events"] = block
                else:
                    file["Events"].extend(block)
        paths.append(path)
    return paths[0], paths[1], paths[2]


def heplearn_side(
    train: Path, test: Path, speed: Path, work: Path, epochs: int
) -> dict[str, object]:
    """Train configs/top-vs-qcd/particlenet-lite.yaml on train.root, score test and speed."""
    heplearn = [sys.executable, "-m", "heplearn"]
    run = work / "heplearn-run"
    source = f"{{files: ['{train}'], tree: Events}}"
    overrides = [
        f"data.sources=[{source}]",
        "data.split={train: 0.75, validation: 0.25, test: 0.0}",
        "training.early_stopping=null",
        f"training.epochs={epochs}",
        "training.progress_bar=false",
    ]
    setting = [item for override in overrides for item in ("--set", override)]
    config = CONFIGS / "particlenet-lite.yaml"
    trained = run_measured(
        [*heplearn, "train", str(config), "--out", str(run), "--overwrite", *setting],
        work / "heplearn-train.log",
    )
    scored = run_measured(
        [
            *heplearn,
            "predict",
            str(run),
            str(test),
            "--out",
            str(work / "heplearn-test"),
            "--keep",
            "is_signal",
            "--overwrite",
            "--quiet",
        ],
        work / "heplearn-test.log",
    )
    speed_runs = {}
    for engine in ("torch", "onnx"):
        if engine == "onnx":  # the first --engine onnx call exports the graph into the run
            shutil.rmtree(run / "export", ignore_errors=True)
            out = ["--out", str(work / "heplearn-onnx-test"), "--overwrite"]
            speed_runs["export"] = run_measured(
                [*heplearn, "predict", str(run), str(test), "--engine", "onnx", "--quiet", *out],
                work / "heplearn-export.log",
            )
        out = ["--out", str(work / f"heplearn-speed-{engine}"), "--overwrite"]
        speed_runs[engine] = run_measured(
            [*heplearn, "predict", str(run), str(speed), "--engine", engine, "--quiet", *out],
            work / f"heplearn-speed-{engine}.log",
        )
    scores = uproot.open(work / "heplearn-test" / "test_scores.root")["Scores"].arrays(library="np")
    onnx_test = work / "heplearn-onnx-test" / "test_scores.root"
    onnx_scores = uproot.open(onnx_test)["Scores"].arrays(library="np")["score_top"]
    return {
        "onnx_difference": float(np.abs(onnx_scores - scores["score_top"]).max()),
        "train": trained,
        "test": scored,
        "speed": speed_runs["torch"],
        "speed_onnx": speed_runs["onnx"],
        "export": speed_runs["export"],
        "scores": scores["score_top"],
        "labels": scores["is_signal"],
    }


def weaver_side(
    weaver: Path, train: Path, test: Path, speed: Path, work: Path, epochs: int, batch: int
) -> dict[str, object]:
    """weaver-core's training with its test pass, and its scoring command on speed.root."""
    (work / "weaver-data.yaml").write_text(DATA_CONFIG.format(length=LENGTH))
    (work / "weaver-network.py").write_text(NETWORK)
    prefix = work / "weaver-model" / "particlenet_lite"
    common = [
        "--data-config",
        str(work / "weaver-data.yaml"),
        "--network-config",
        str(work / "weaver-network.py"),
        "--gpus",
        "",
        "--batch-size",
        str(batch),
        "--num-workers",
        "0",
        "--fetch-step",
        "1",
    ]
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    trained = run_measured(
        [
            str(weaver),
            "--data-train",
            str(train),
            "--data-test",
            str(test),
            *common,
            "--train-val-split",
            "0.75",
            "--num-epochs",
            str(epochs),
            "--steps-per-epoch",  # (one-cycle needs it) one pass over the training jets
            str(math.ceil(0.75 * uproot.open(train)["Events"].num_entries / batch)),
            "--start-lr",
            "3e-3",
            "--optimizer",
            "adamw",
            "--lr-scheduler",
            "one-cycle",
            "--model-prefix",
            str(prefix),
            "--predict-output",
            str(work / "weaver-test.root"),
        ],
        work / "weaver-train.log",
        env,
    )
    best = prefix.with_name(prefix.name + "_best_epoch_state.pt")
    speed_run = run_measured(
        [
            str(weaver),
            "--predict",
            "--data-test",
            str(speed),
            *common,
            "--model-prefix",
            str(best),
            "--predict-output",
            str(work / "weaver-speed.root"),
        ],
        work / "weaver-speed.log",
        env,
    )
    outputs = uproot.open(work / "weaver-test.root")["Events"].arrays(library="np")
    rates = [float(m) for m in re.findall(r"avg\. speed ([0-9.]+) entries/s", trained.output)]
    return {
        "train": trained,
        "speed": speed_run,
        "scores": outputs["score_label_top"],
        "labels": outputs["is_signal"],
        "loop_rates": rates,
    }


def physics(scores: np.ndarray, labels: np.ndarray) -> tuple[str, str]:
    """AUC and 1/ε_B at ε_S = 0.3 with bootstrap uncertainties, and the background count.

    A rejection resting on fewer than ten background jets is quoted as its 95 % CL lower
    limit (``> N``), as heplearn's own tables do.
    """
    from heplearn.evaluation.limits import MIN_BACKGROUND_EVENTS, limit_text, passing_background
    from heplearn.evaluation.metrics import roc_curve, roc_summary, roc_summary_uncertainty

    is_signal = np.asarray(labels).astype(bool)
    roc = roc_curve(scores, is_signal)
    summary = roc_summary(roc, [0.3])
    spread = roc_summary_uncertainty(scores, is_signal, None, resamples=200, seed=0)
    (passing,) = passing_background(scores, is_signal, None, roc, [0.3])
    background = int((~is_signal).sum())
    if passing.events < MIN_BACKGROUND_EVENTS:
        bound = limit_text(passing.rejection_limit, passing.events).split(" (")[0]
        rejection = f"{bound} at 95 % CL"
    else:
        # a bootstrap replica with no background jet passing has an infinite rejection
        rejection_spread = f" ± {spread[1]:.1f}" if np.isfinite(spread[1]) else ""
        rejection = f"{summary[1]:.1f}{rejection_spread}"
    return (
        f"{summary[0]:.4f} ± {spread[0]:.4f}",
        f"{rejection} ({passing.events} of {background} background jets pass)",
    )


def main() -> None:
    """Generate, train and score with both tools; write the section into docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--events", type=int, default=500, help="generated jets per class")
    parser.add_argument("--epochs", type=int, default=None, help="default: the config's")
    parser.add_argument(
        "--speed-jets", type=int, default=SPEED_JETS, help="jets of the scoring-speed file"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    arguments = parser.parse_args()
    from heplearn.training.config import load_run_config

    config = load_run_config(CONFIGS / "particlenet-lite.yaml")
    epochs = arguments.epochs or config.training.epochs
    batch = config.training.batch_size
    weaver = weaver_environment()
    started = time.perf_counter()
    folder = top_vs_qcd_sample(arguments.events)
    generation = time.perf_counter() - started
    work = WORK / f"{arguments.events}"
    work.mkdir(parents=True, exist_ok=True)
    speed_jets = arguments.speed_jets
    train, test, speed = split_sample(folder, work, speed_jets)
    ours = heplearn_side(train, test, speed, work, epochs)
    theirs = weaver_side(weaver, train, test, speed, work, epochs, batch)
    train_jets = int(0.75 * uproot.open(train)["Events"].num_entries)
    rows = []
    for name, side in (("heplearn", ours), ("weaver-core 0.5.3", theirs)):
        auc_text, rejection = physics(side["scores"], side["labels"])
        trained, scored = side["train"], side["speed"]
        rows.append(
            [
                name,
                f"{train_jets * epochs / trained.seconds:,.0f}",
                f"{speed_jets / scored.seconds:,.0f}",
                f"{trained.seconds:.0f} + {scored.seconds:.0f}",
                f"{trained.peak / 2**20:,.0f} / {scored.peak / 2**20:,.0f}",
                auc_text,
                rejection,
            ]
        )
    onnx, export, weaver_scoring = ours["speed_onnx"], ours["export"], theirs["speed"]
    assert isinstance(onnx, Measured) and isinstance(export, Measured)
    assert isinstance(weaver_scoring, Measured)
    rows.insert(
        1,
        [
            "heplearn, `predict --engine onnx`",
            "(the same run)",
            f"{speed_jets / onnx.seconds:,.0f}",
            f"— + {onnx.seconds:.0f}",
            f"— / {onnx.peak / 2**20:,.0f}",
            f"max |Δ score| vs torch: {ours['onnx_difference']:.1e}",
            "",
        ],
    )
    against = (
        f"`heplearn predict --engine onnx` vs `weaver --predict`: "
        f"{weaver_scoring.seconds / onnx.seconds:.2f}× the jets/s at "
        f"{onnx.peak / weaver_scoring.peak:.2f}× the peak RSS (targets: ≥ 1.5× at ≤ 0.5×); "
        f"its graph was exported and kept in the run by the first `--engine onnx` call "
        f"(on the test file: {export.seconds:.0f} s, peak {export.peak / 2**20:,.0f} MiB), "
        "which the speed run loaded without importing PyTorch."
    )
    loop = theirs["loop_rates"]
    section = Section(
        "Peers: heplearn vs weaver-core, ParticleNet-Lite on the same jets",
        f"{__doc__.split(chr(10) + chr(10), 1)[1].strip()}\n\n"
        f"Sample: {arguments.events} generated jets per class (generated in "
        f"{generation:.0f} s, or cached), {train_jets} training jets, "
        f"{len(ours['labels'])} test jets, {epochs} epochs of batch {batch}; speed file "
        f"{speed_jets:,} jets. Training jets/s are training jets × epochs over the whole "
        "training command (loading, validation and, for weaver-core, its test pass "
        "included); weaver-core's own loop speeds (training, then evaluation) were "
        f"{', '.join(f'{r:,.0f}' for r in loop[-3:])} jets/s. weaver-core does not fix "
        "its seeds: its test AUC changes from run to run, and on a few hundred test "
        "jets so do both tools' rejections; at the default size the table shows that "
        f"both run on the same files, `--events 5000` or more ranks them. {against}",
        [
            "tool",
            "training jets/s",
            "scoring jets/s",
            "wall s (train + score)",
            "peak RSS MiB (train / score)",
            "test AUC",
            "1/ε_B at ε_S = 0.3",
        ],
        rows,
    )
    write_report([section], arguments.out, keep_others=True)
    print(section.markdown())


if __name__ == "__main__":
    main()
