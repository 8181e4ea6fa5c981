"""Shared test fixtures: small generated samples, made once per test session."""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from heplearn.generate.run import generate_sample
from heplearn.generate.samples import GenerateOptions

SampleFactory = Callable[..., Path]


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Give every test the environment the one before it had.

    A test that starts a dask ``LocalCluster`` of its own gets the nanny's
    ``OMP_NUM_THREADS=1`` (and MKL's, OpenBLAS's) written into this process's environment;
    left there, it would change the thread counts of the tests after it.
    """
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


@pytest.fixture(scope="session")
def generated_sample(tmp_path_factory: pytest.TempPathFactory) -> SampleFactory:
    """Return a function that generates a sample once per session and returns its directory.

    Calls with the same arguments share one directory, so several tests can read the same
    small sample without paying for it twice.
    """
    cache: dict[tuple[str, int, str], Path] = {}

    def make(sample: str, *, workers: int = 1, **options: Any) -> Path:
        key = (sample, workers, json.dumps(options, sort_keys=True))
        if key not in cache:
            out = tmp_path_factory.mktemp(sample)
            generate_sample(sample, GenerateOptions(**options), out, workers=workers)
            cache[key] = out
        return cache[key]

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark slow every test that needs a generated sample (directly or through a fixture).

    Generating the session's Pythia samples and training on them take most of ``make
    test``; ``make test-fast`` (``-m "not slow"``) leaves these tests out.
    """
    for item in items:
        if "generated_sample" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
