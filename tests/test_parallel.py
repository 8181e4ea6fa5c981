"""File-parallel jobs on dask: results in order, a dead worker's file retried, never partial."""

import os
import socket
import sys
from functools import partial
from pathlib import Path

import cloudpickle
import pytest

from heplearn.errors import ConfigError
from heplearn.files import atomic_path, remove_stale_temporaries
from heplearn.parallel import file_workers, map_files


def write_dying_once(markers: Path, path: Path) -> str:
    """Write ``path``; the first attempt kills its worker process in the middle of the file."""
    remove_stale_temporaries(path)
    with atomic_path(path) as temporary:
        temporary.write_text("the first half")
        marker = markers / f"{path.name}.died"
        if not marker.exists():
            marker.touch()
            os._exit(1)  # the worker dies mid-file: no exception, no clean-up
        temporary.write_text("the whole file")
    return path.name


@pytest.mark.slow
def test_a_worker_that_dies_mid_file_is_replaced_and_leaves_no_partial_file(tmp_path, monkeypatch):
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    (tmp_path / "out").mkdir()
    (tmp_path / "markers").mkdir()
    paths = [tmp_path / "out" / f"file_{index}.txt" for index in range(4)]
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    environment = dict(os.environ)
    with file_workers(2, None) as client:
        names = map_files(partial(write_dying_once, tmp_path / "markers"), paths, client=client)
    # dask's nanny puts OMP_NUM_THREADS=1 (and more) into this process's environment while
    # the cluster runs; it must not stay there for a later training or scoring
    assert dict(os.environ) == environment
    assert names == [path.name for path in paths]  # in the order of the files
    assert all(path.read_text() == "the whole file" for path in paths)
    assert len(list((tmp_path / "markers").iterdir())) == 4  # every file's worker died once
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in paths]


def test_one_worker_runs_in_this_process_in_order():
    seen = []
    with file_workers(1, None) as client:
        assert client is None
        assert map_files(str.upper, ["a", "b"], client=client, on_result=seen.append) == ["A", "B"]
    assert seen == ["A", "B"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch):
    import dask

    address = f"tcp://127.0.0.1:{closed_port()}"
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(ConfigError, match=r"cannot reach the dask scheduler at .*127\.0\.0\.1"),
        file_workers(1, address),
    ):
        pass
    with pytest.raises(ConfigError, match="--workers must be at least 1"), file_workers(0, None):
        pass


def test_processes_on_one_machine_share_its_cores(monkeypatch):
    import heplearn.parallel as parallel

    monkeypatch.setattr(parallel, "available_cores", lambda: 16)
    # several processes: cores / processes each, at least one
    assert parallel.process_threads(None, 4, environment={}) == 4
    assert parallel.process_threads(None, 3, environment={}) == 5
    assert parallel.process_threads(None, 32, environment={}) == 1
    # one process keeps PyTorch's default
    assert parallel.process_threads(None, 1, environment={}) is None
    # what a launcher (Lightning's, torchrun, dask's nanny) or the user put in the environment
    assert parallel.process_threads(None, 4, environment={"OMP_NUM_THREADS": "2"}) == 2
    assert parallel.process_threads(None, 1, environment={"OMP_NUM_THREADS": "3"}) == 3
    assert parallel.process_threads(None, 4, environment={"OMP_NUM_THREADS": "lots"}) == 4
    # an explicit training.threads wins over both
    assert parallel.process_threads(6, 4, environment={"OMP_NUM_THREADS": "2"}) == 6
    # a local dask cluster's workers split the cores whatever this process's environment
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert parallel.local_threads(4, None) == 4
    assert parallel.local_threads(1, None) is None
    assert parallel.local_threads(4, "tcp://127.0.0.1:8786") is None
