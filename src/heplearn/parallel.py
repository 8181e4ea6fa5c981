"""File-parallel jobs: one task per file, in this process or on a dask.distributed cluster.

``predict``, ``evaluate`` (its scoring) and ``shuffle`` (each of its two passes) run one
task per file through :func:`map_files`; ``generate`` connects to a scheduler the same way. With
``workers`` above 1 a local cluster of that many single-threaded worker processes starts;
with ``scheduler`` the tasks go to an existing cluster (``dask scheduler`` and
``dask worker`` on the machines, or dask-jobqueue on a batch system).

A worker that dies (killed, out of memory, its node gone) takes its task with it; the
scheduler runs the task again on another worker (up to dask's
``distributed.scheduler.allowed-failures``, 3 by default), and a task that raises is tried
:data:`RETRIES` more times. Every task writes its file under a temporary name renamed when
complete (:func:`heplearn.files.atomic_path`), so the final name never holds a partial
file; the next attempt removes the temporary a killed one left
(:func:`heplearn.files.remove_stale_temporaries`).
"""

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from heplearn.errors import ConfigError
from heplearn.extras import require

Item = TypeVar("Item")
Result = TypeVar("Result")

RETRIES = 2
# the threads of OpenMP and PyTorch's CPU kernels, read when torch starts
THREADS_VARIABLE = "OMP_NUM_THREADS"


@contextmanager
def file_workers(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A dask client of the scheduler at ``scheduler`` or of a local cluster of ``workers``
    processes; None for one worker (this process). Connect before writing anything.

    Raises
    ------
    ConfigError
        When ``workers`` is below 1 or the scheduler cannot be reached.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if scheduler is None and workers == 1:
        yield None
        return
    distributed = require("distributed", "dask", "--scheduler and --workers")
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler)  # (waits distributed.comm.timeouts.connect)
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"cannot reach the dask scheduler at {scheduler!r} ({error}); start one with "
                "`dask scheduler` (and workers with `dask worker ADDRESS`), or leave out "
                "--scheduler to use local processes"
            ) from None
        with client:
            yield client
        return
    with (
        _environment_kept(),
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@contextmanager
def _environment_kept() -> Iterator[None]:
    """This process's environment as it was before, afterwards: dask's nanny writes its
    ``distributed.nanny.pre-spawn-environ`` (``OMP_NUM_THREADS=1``, ...) into the
    environment of the process that starts a local cluster, where it would stay and give
    a later training or scoring in this process one thread."""
    before = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        os.environ.update({n: v for n, v in before.items() if os.environ.get(n) != v})


def local_threads(workers: int, scheduler: str | None) -> int | None:
    """CPU threads for each of ``workers`` local processes (None: a remote cluster's own)."""
    if scheduler is not None or workers <= 1:
        return None
    return process_threads(None, workers, environment={})


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def process_threads(
    requested: int | None, processes: int, environment: Mapping[str, str] | None = None
) -> int | None:
    """The CPU threads (PyTorch's, OpenMP's) of one of ``processes`` processes that share
    this machine's cores, e.g. the DDP ranks of one node.

    In order: ``requested`` when given (``training.threads``); else ``OMP_NUM_THREADS`` of
    the environment when set (by the user, or by the launcher: Lightning's, ``torchrun``
    and dask's nanny set it for the processes they start); else ``cores // processes``
    for several processes, so that together they use each core once; else None (one
    process: PyTorch's default, every core).

    Parameters
    ----------
    requested : int, optional
        Threads asked for explicitly.
    processes : int
        Processes on this machine (the local world size).
    environment : mapping, optional
        Where to look for ``OMP_NUM_THREADS`` (default: ``os.environ``).
    """
    if requested:
        return requested
    value = (os.environ if environment is None else environment).get(THREADS_VARIABLE, "")
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    if processes > 1:
        return max(1, available_cores() // processes)
    return None


def map_files(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    *,
    client: Any = None,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """``function(item)`` for every item (one file each), the results in the items' order.

    Parameters
    ----------
    function : callable
        Picklable (a module-level function or a ``functools.partial`` of one).
    items : sequence
        One per file.
    client : distributed.Client, optional
        Run the tasks on its cluster (see :func:`file_workers`); None: in this process.
    on_result : callable, optional
        Called with each result as it arrives (in order of completion).
    """
    if client is None:
        results = []
        for item in items:
            results.append(function(item))
            if on_result is not None:
                on_result(results[-1])
        return results
    from distributed import as_completed  # (installed: there is a client)

    futures = client.map(function, items, pure=False, retries=RETRIES)
    position = {future.key: index for index, future in enumerate(futures)}
    found: dict[int, Result] = {}
    for future, result in as_completed(futures, with_results=True):
        found[position[future.key]] = result
        if on_result is not None:
            on_result(result)
    return [found[index] for index in range(len(items))]
