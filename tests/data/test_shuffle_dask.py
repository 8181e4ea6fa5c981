"""The shuffle on dask workers: the same files as one process, a dead worker's file retried."""

import os
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from helpers import assert_unreachable_scheduler_writes_nothing, run_heplearn
from heplearn.data.shuffle import shuffle_files
from heplearn.io import write_events

# Four files of 400 events (about 27 kB each in memory): 17 kB buckets, two per output.
FILES = 4
ENTRIES = 400
MEMORY = 50_000


def _write_inputs(directory: Path) -> list[Path]:
    directory.mkdir()
    paths = []
    for index in range(FILES):
        rng = np.random.default_rng(index)
        counts = rng.poisson(6.0, ENTRIES)
        columns = {
            "event": np.arange(index * ENTRIES, (index + 1) * ENTRIES, dtype=np.int64),
            "x": rng.normal(size=ENTRIES).astype(np.float32),
            "part_pt": ak.unflatten(rng.exponential(10.0, int(counts.sum())), counts),
        }
        paths.append(directory / f"input_{index}.root")
        write_events(columns, paths[-1], "root", "Events")
    return paths


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[dict]]:
    """The inputs and what one process writes from them: each output's arrays, in order."""
    directory = tmp_path_factory.mktemp("shuffle-dask")
    inputs = _write_inputs(directory / "inputs")
    report = shuffle_files(inputs, directory / "one", max_memory=MEMORY, seed=5)
    assert report.buckets > len(report.output_files)  # several tasks, several buckets each
    return inputs, [_arrays(path) for path in report.output_files]


def _arrays(path: Path) -> dict:
    with uproot.open(path) as file:
        return file["Events"].arrays(library="np")


def _assert_same_files(out: Path, expected: list[dict]) -> None:
    names = [f"shuffled_{index:04d}.root" for index in range(len(expected))]
    assert sorted(path.name for path in out.iterdir()) == names  # no buckets, no temporaries
    for name, arrays in zip(names, expected, strict=True):
        found = _arrays(out / name)
        assert found.keys() == arrays.keys()
        for branch, values in arrays.items():
            if values.dtype == object:  # jagged: one array per entry
                assert len(found[branch]) == len(values)
                for got, want in zip(found[branch], values, strict=True):
                    np.testing.assert_array_equal(got, want)
            else:
                np.testing.assert_array_equal(found[branch], values)


def _die_once(markers: Path) -> None:
    """On a worker: the first scatter of a chunk and the first output file kill the process."""
    from heplearn.data import shuffle
    from heplearn.io import TreeWriter

    scatter, create = shuffle._Buckets.scatter, TreeWriter._create

    def die_first(name: str) -> None:
        marker = markers / name
        if not marker.exists():
            marker.touch()
            os._exit(1)  # no exception, no clean-up: a temporary is left half-written

    def dying_scatter(self: object, *arguments: object) -> None:
        scatter(self, *arguments)  # type: ignore[arg-type]
        die_first("pass1")

    def dying_create(writer: TreeWriter, branches: object) -> object:
        tree = create(writer, branches)  # type: ignore[arg-type]
        die_first("pass2")
        return tree

    shuffle._Buckets.scatter = dying_scatter  # type: ignore[method-assign]
    TreeWriter._create = dying_create  # type: ignore[method-assign]


@pytest.mark.slow
def test_local_workers_and_a_scheduler_write_the_same_files_as_one_process(
    one_process: tuple[list[Path], list[dict]], tmp_path: Path
) -> None:
    import cloudpickle
    from distributed import Client, LocalCluster

    inputs, expected = one_process
    result = run_heplearn(
        "shuffle",
        *map(str, inputs),
        "--out",
        str(tmp_path / "two"),
        "--max-memory",
        str(MEMORY),
        "--seed",
        "5",
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert f"into {FILES} file(s)" in result.stdout
    _assert_same_files(tmp_path / "two", expected)

    # A worker killed in each pass (mid-input, mid-output) is replaced and its task retried.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    markers = tmp_path / "markers"
    markers.mkdir()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_die_once, markers)
        shuffle_files(
            inputs,
            tmp_path / "killed",
            max_memory=MEMORY,
            seed=5,
            scheduler=cluster.scheduler_address,
        )
    assert sorted(path.name for path in markers.iterdir()) == ["pass1", "pass2"]
    _assert_same_files(tmp_path / "killed", expected)


def test_an_unreachable_scheduler_writes_nothing(
    one_process: tuple[list[Path], list[dict]], tmp_path: Path
) -> None:
    inputs, _ = one_process
    assert_unreachable_scheduler_writes_nothing("shuffle", *map(str, inputs), out=tmp_path / "out")
