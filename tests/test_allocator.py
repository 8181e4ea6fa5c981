"""The allocator setting of PyTorch's CPU scoring."""

import sys

import pytest

from heplearn.allocator import keep_large_blocks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_glibc_takes_both_thresholds() -> None:
    assert keep_large_blocks() is True
    assert keep_large_blocks() is True  # once per process, the same answer after
