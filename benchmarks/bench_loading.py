"""Streaming loader throughput and memory against plain ``uproot.iterate``.

Both read the same jagged constituent branches from the same ROOT files in chunks of the
same number of entries. The baseline only reads (the limit); the streaming loader also
selects, pads to a fixed length, standardises, assigns splits, shuffles within a buffer
and yields batches of torch tensors. Each measurement runs in a fresh process so that its
peak resident memory is its own. Two dataset sizes show that memory follows the chunk and
shuffle buffer, not the number of jets.
"""

import multiprocessing
import tempfile
import threading
import time
from pathlib import Path

import awkward as ak
import numpy as np
import psutil
import uproot

from benchmarks.memory import high_water_mark, reset_high_water_mark
from benchmarks.report import Section
from heplearn.config import parse_spec
from heplearn.data.loaders import (
    StreamingDataset,
    fit_streaming_preprocessing,
    plan_chunks,
    streaming_loader,
)
from heplearn.data.preprocessing import Preprocessing
from heplearn.data.spec import DatasetSpec
from heplearn.io import BASKET_ENTRIES

BRANCHES = ["part_deta", "part_dphi", "part_pt", "part_energy"]


def _write_jets(directory: Path, n_files: int, jets_per_file: int) -> list[Path]:
    """Synthetic jets with ~50 constituents each, in the generator's branch layout."""
    rng = np.random.default_rng(1)
    paths = []
    for index in range(n_files):
        counts = rng.poisson(50, jets_per_file)
        total = int(counts.sum())
        # stored pT-ordered, as the generator's and JetClass files are
        pt = ak.unflatten(rng.exponential(10.0, total).astype(np.float32), counts)
        pt = ak.sort(pt, axis=1, ascending=False)
        parts = ak.zip(
            {
                "deta": ak.unflatten(rng.normal(0, 0.3, total).astype(np.float32), counts),
                "dphi": ak.unflatten(rng.normal(0, 0.3, total).astype(np.float32), counts),
                "pt": pt,
                "energy": pt * np.float32(2.0),
            }
        )
        path = directory / f"jets_{index}.root"
        with uproot.recreate(path) as file:
            tree = file.mktree(
                "Events",
                {"is_signal": np.int32, "event": np.int64, "part": parts.type},
            )
            labels = rng.integers(0, 2, jets_per_file).astype(np.int32)
            for start in range(0, jets_per_file, BASKET_ENTRIES):  # baskets as generated files
                stop = start + BASKET_ENTRIES
                tree.extend(
                    {
                        "is_signal": labels[start:stop],
                        "event": np.arange(start, min(stop, jets_per_file), dtype=np.int64),
                        "part": parts[start:stop],
                    }
                )
        paths.append(path)
    return paths


class _PeakGrowth:
    """Peak growth of the resident memory over the ``with`` block, in MB (``mb``).

    The larger of psutil samples every 5 ms and, on Linux, the kernel's high-water mark
    (``VmHWM``, reset on entry), so that short peaks between samples count too.
    """

    def __enter__(self) -> "_PeakGrowth":
        self._process = psutil.Process()
        self._baseline = self._peak = self._process.memory_info().rss
        reset_high_water_mark()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while self._running:
            self._peak = max(self._peak, self._process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc_info: object) -> None:
        self._running = False
        self._thread.join()
        peak = max(self._peak, high_water_mark() or 0)
        self.mb = (peak - self._baseline) / 1e6


def _plain_iterate(paths: list[str], chunk_entries: int) -> tuple[int, float, float]:
    with _PeakGrowth() as memory:
        started = time.perf_counter()
        jets = 0
        files = [f"{p}:Events" for p in paths]
        for arrays in uproot.iterate(files, BRANCHES, step_size=chunk_entries):
            jets += len(arrays)
        seconds = time.perf_counter() - started
    return jets, seconds, memory.mb


def _spec(paths: list[str]) -> DatasetSpec:
    return parse_spec(
        DatasetSpec,
        {
            "sources": [{"files": paths}],
            "label": "is_signal",
            "inputs": {
                "particles": {
                    "kind": "particles",
                    "columns": ["part_deta", "part_dphi", "log(part_pt)", "log(part_energy)"],
                    "length": 64,
                    "sort_by": "part_pt",
                }
            },
            "split": {"train": 1.0, "validation": 0.0, "test": 0.0},
        },
    )


def _streaming(
    paths: list[str], chunk_entries: int, preprocessing: Preprocessing
) -> tuple[int, float, float]:
    spec = _spec(paths)
    with _PeakGrowth() as memory:
        started = time.perf_counter()
        stream = StreamingDataset(
            spec,
            preprocessing,
            "train",
            512,
            seed=1,
            chunk_entries=chunk_entries,
            shuffle_buffer=chunk_entries,
        )
        jets = sum(len(batch["label"]) for batch in streaming_loader(stream))
        seconds = time.perf_counter() - started
    return jets, seconds, memory.mb


def _in_child(function, *arguments):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, arguments)


LENGTH, FEATURES = 64, 4
ROUNDS = 2
# Bytes per buffered event: padded particles, their mask, label (int64), weight (float32).
EVENT_BYTES = LENGTH * FEATURES * 4 + LENGTH + 8 + 4


def run(quick: bool = False) -> list[Section]:
    """Throughput ratio streaming / plain reading, and memory growth per chunk size, for
    two dataset sizes."""
    jets_per_file = 10_000 if quick else 50_000
    file_counts = (2, 8)
    section = Section(
        "Streaming loader vs plain uproot.iterate",
        "Synthetic jets (Poisson mean 50 constituents, 4 jagged float32 branches, stored "
        f"pT-ordered like generated and JetClass files) in ROOT files of {jets_per_file} "
        f"jets, {file_counts[0]} and {file_counts[1]} files. *streaming* delivers padded "
        f"({LENGTH} × {FEATURES}) standardised tensors in batches of 512 with an in-buffer "
        "shuffle (shuffle buffer = chunk); *ratio* = streaming / plain throughput (target "
        f"≥ 0.7). Each runs {ROUNDS} times, in alternation, each time in a fresh process: "
        "the best time counts, and the largest memory peak. Memory: peak growth of the "
        "resident memory during the loop (psutil samples every 5 ms and the kernel's "
        "high-water mark). Reading a "
        "chunk takes what *plain* takes, and the loader reads the next chunk while it "
        "prepares the current one (two chunks as read); on top of them it holds its shuffle "
        f"buffer, chunk + buffer events padded ({EVENT_BYTES} bytes each with mask, label "
        "and weight): *bound* = 2 × plain peak + padded chunk + buffer. Neither depends on "
        "the number of jets.",
        [
            "jets",
            "chunk [jets]",
            "plain [jets/s]",
            "streaming [jets/s]",
            "ratio",
            "plain peak +RSS [MB]",
            "streaming peak +RSS [MB]",
            "padded chunk + buffer [MB]",
            "bound [MB]",
        ],
    )
    with tempfile.TemporaryDirectory() as directory:
        all_paths = [str(p) for p in _write_jets(Path(directory), max(file_counts), jets_per_file)]
        for n_files in file_counts:
            paths = all_paths[:n_files]
            # the fit does not depend on the chunking
            preprocessing = fit_streaming_preprocessing(_spec(paths), seed=1, chunk_entries=20_000)
            for chunk in (5_000, 20_000):
                # plain and streaming runs alternate; the best time and the largest peak count
                plain_seconds = seconds = float("inf")
                plain_rss = stream_rss = 0.0
                for _ in range(ROUNDS):
                    jets, plain_time, plain_peak = _in_child(_plain_iterate, paths, chunk)
                    streamed, time_, peak = _in_child(_streaming, paths, chunk, preprocessing)
                    assert streamed == jets, (streamed, jets)
                    plain_seconds, seconds = min(plain_seconds, plain_time), min(seconds, time_)
                    plain_rss, stream_rss = max(plain_rss, plain_peak), max(stream_rss, peak)
                # the largest chunk read (chunks follow basket clusters) + the shuffle buffer
                chunks = plan_chunks(_spec(paths), chunk)
                largest = max(piece.entry_stop - piece.entry_start for piece in chunks)
                buffered = (largest + chunk) * EVENT_BYTES / 1e6
                section.rows.append(
                    [
                        f"{jets:,}",
                        f"{chunk}",
                        f"{jets / plain_seconds:,.0f}",
                        f"{jets / seconds:,.0f}",
                        f"**{plain_seconds / seconds:.2f}**",
                        f"{plain_rss:.0f}",
                        f"**{stream_rss:.0f}**",
                        f"{buffered:.0f}",
                        f"{2 * plain_rss + buffered:.0f}",
                    ]
                )
    return [section]
