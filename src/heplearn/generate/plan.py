"""Cutting a sample into blocks (units of work) and files, independently of the workers.

Each process's accepted events are numbered 0..N-1. Files take consecutive ranges of
every process of their group; inside a file, each process's range is cut into blocks of
at most :data:`BLOCK_EVENTS` events. A block's Pythia seed depends only on the run seed,
the process and the block's first event, so the events do not depend on how many
workers (or which dask cluster) generate them.
"""

from dataclasses import dataclass

import numpy as np

from heplearn.generate.pythia import MAX_PYTHIA_SEED
from heplearn.generate.samples import Process

BLOCK_EVENTS = 400


@dataclass(frozen=True)
class Block:
    """A unit of work: ``n_events`` accepted events of one process, with their own seed."""

    process_index: int
    first_event: int
    n_events: int
    seed: int


@dataclass(frozen=True)
class OutputFile:
    """One output file: the blocks it is made of, in order."""

    group: str
    index: int
    blocks: tuple[Block, ...]

    def name(self, extension: str) -> str:
        """File name, ``{group}_{index:04d}.{extension}``."""
        return f"{self.group}_{self.index:04d}.{extension}"


def block_seed(seed: int, process_index: int, first_event: int) -> int:
    """Derive a Pythia seed for a block from the run seed (independent streams)."""
    state = np.random.SeedSequence([seed, process_index, first_event]).generate_state(1)
    return int(state[0]) % MAX_PYTHIA_SEED + 1


def plan_files(
    processes: list[Process], events_per_process: int, events_per_file: int, seed: int
) -> list[OutputFile]:
    """Lay out the files of a sample and the blocks of each file.

    Parameters
    ----------
    processes : list[Process]
        The sample's processes; those sharing a ``group`` share files.
    events_per_process : int
        Accepted events to generate for each process.
    events_per_file : int
        Maximum entries per file (all processes of the group together).
    seed : int
        The run seed.
    """
    groups: dict[str, list[int]] = {}
    for index, process in enumerate(processes):
        groups.setdefault(process.group, []).append(index)
    files = []
    for group, members in groups.items():
        per_file = max(1, events_per_file // len(members))
        for file_index, start in enumerate(range(0, events_per_process, per_file)):
            stop = min(start + per_file, events_per_process)
            blocks = tuple(
                Block(
                    member, first, min(BLOCK_EVENTS, stop - first), block_seed(seed, member, first)
                )
                for member in members
                for first in range(start, stop, BLOCK_EVENTS)
            )
            files.append(OutputFile(group, file_index, blocks))
    return files


def blocks_per_process(files: list[OutputFile]) -> dict[int, int]:
    """Count the blocks of each process index."""
    counts: dict[int, int] = {}
    for output in files:
        for block in output.blocks:
            counts[block.process_index] = counts.get(block.process_index, 0) + 1
    return counts
