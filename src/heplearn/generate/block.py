"""Generating one block: a fresh Pythia, batches of events, the sample's selection."""

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from heplearn.errors import ConfigError
from heplearn.generate.plan import Block
from heplearn.generate.pythia import cross_section_pb, new_pythia, next_events
from heplearn.generate.registry import get_sample
from heplearn.generate.samples import (
    BlockContext,
    Column,
    GenerateOptions,
    concatenate_columns,
)

FIRST_BATCH = 50
MAX_BATCH = 1000
# A block that has generated this many events without accepting one is stopped.
MAX_EVENTS_WITHOUT_ACCEPTANCE = 20_000


@dataclass
class BlockResult:
    """The accepted events of a block and what is needed to weight them."""

    columns: dict[str, Column]
    generated: int
    cross_section_pb: float
    cross_section_error_pb: float


def _take(columns: dict[str, Column], count: int) -> dict[str, Column]:
    return {name: values[:count] for name, values in columns.items()}


def _next_batch_size(remaining: int, accepted: int, generated: int) -> int:
    """Enough events to finish the block at the acceptance seen so far, plus 10%."""
    if accepted == 0:
        return min(MAX_BATCH, max(FIRST_BATCH, 2 * generated))
    acceptance = accepted / generated
    return int(np.clip(math.ceil(1.1 * remaining / acceptance), 10, MAX_BATCH))


def generate_block(sample_name: str, options: GenerateOptions, block: Block) -> BlockResult:
    """Generate the accepted events of one block, on one thread.

    BLAS is limited to one thread: workers are the parallelism, and the small matrix
    products of the substructure code run several times slower with threads competing.

    Events are generated in batches sized to the acceptance seen so far. The count of
    generated events stops at the last event the block keeps, so that the cross-section
    weight does not depend on the batch sizes.

    Parameters
    ----------
    sample_name : str
        A registered sample.
    options : GenerateOptions
        Resolved options of the run.
    block : Block
        Which process, how many events and the seed.

    Returns
    -------
    BlockResult
        Columns of exactly ``block.n_events`` accepted events, in generation order.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _generate_block(sample_name, options, block)


def _generate_block(sample_name: str, options: GenerateOptions, block: Block) -> BlockResult:
    sample = get_sample(sample_name)
    process = sample.processes(options)[block.process_index]
    pythia = new_pythia(process.settings, block.seed, options.ecm_gev, options.pythia_settings)
    context = BlockContext(pythia, np.random.default_rng(block.seed), options)
    parts: list[dict[str, Column]] = []
    accepted = generated = 0
    batch = FIRST_BATCH
    while accepted < block.n_events:
        records = next_events(pythia, batch)
        selection = sample.select(records, process, context)
        positions = np.flatnonzero(selection.accepted)
        remaining = block.n_events - accepted
        if len(positions) >= remaining:
            parts.append(_take(selection.columns, remaining))
            generated += int(positions[remaining - 1]) + 1
            accepted += remaining
            break
        if len(positions):
            parts.append(selection.columns)
        accepted += len(positions)
        generated += len(records)
        if accepted == 0 and generated >= MAX_EVENTS_WITHOUT_ACCEPTANCE:
            raise ConfigError(
                f"{sample_name}: process {process.name!r} accepted no event in {generated} "
                "generated; widen the selection (e.g. the --pt-min/--pt-max window)"
            )
        batch = _next_batch_size(block.n_events - accepted, accepted, generated)
    cross_section, error = cross_section_pb(pythia)
    return BlockResult(concatenate_columns(parts), generated, cross_section, error)
