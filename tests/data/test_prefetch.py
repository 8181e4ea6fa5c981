"""Reading ahead in a thread: order kept, errors raised where they happened, clean stops."""

import threading
import time

import pytest

from heplearn.data.prefetch import prefetched


def prefetch_threads() -> int:
    return sum(thread.name == "heplearn-prefetch" for thread in threading.enumerate())


def test_items_come_in_order_and_are_made_ahead():
    made = []

    def items():
        for value in range(5):
            made.append(value)
            yield value

    stream = prefetched(items())
    assert next(stream) == 0
    deadline = time.monotonic() + 5
    while len(made) < 2 and time.monotonic() < deadline:  # the next one is read meanwhile
        time.sleep(0.01)
    assert made[:2] == [0, 1]
    assert list(stream) == [1, 2, 3, 4]
    assert prefetch_threads() == 0


def test_an_error_in_the_thread_is_raised_after_the_items_before_it():
    def items():
        yield 1
        raise ValueError("bad chunk")

    stream = prefetched(items())
    assert next(stream) == 1
    with pytest.raises(ValueError, match="bad chunk"):
        next(stream)
    assert prefetch_threads() == 0


def test_stopping_early_stops_the_thread():
    def endless():
        value = 0
        while True:
            yield value
            value += 1

    stream = prefetched(endless())
    assert next(stream) == 0
    stream.close()
    assert prefetch_threads() == 0
