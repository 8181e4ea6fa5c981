"""The C library's allocator, set for PyTorch's large CPU tensors.

glibc's ``malloc`` serves large blocks by ``mmap`` and hands them back to the kernel when
they are freed; it raises that threshold only as it sees blocks come and go, up to
32 MiB. A forward pass on the CPU allocates and frees its activations (tens of MiB for a
batch of particles) every batch, so a fresh process pays page faults on every new block
until the thresholds have grown: a ``heplearn predict`` of 10,000 ParticleNet-Lite jets
ran at about two thirds of the speed a second pass over the same jets reached (one
process, 2 cores; docs/benchmarks.md). Setting the thresholds where glibc would end up
gives the later speed from the first batch: blocks up to 32 MiB come from the heap, and
up to 64 MiB of freed memory at its top stays there for the next batch.
"""

import ctypes
import functools
import sys

# mallopt's parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
LARGEST_HEAP_BLOCK = 32 << 20
"""Blocks up to this size come from the heap (glibc's largest ``mmap`` threshold on a
64-bit system)."""
KEPT_FREE = 64 << 20
"""Freed memory at the top of the heap that is kept for the next batch (twice the
``mmap`` threshold, glibc's own rule)."""


@functools.cache
def keep_large_blocks() -> bool:
    """Set glibc's ``mmap`` and trim thresholds for batch after batch of large tensors.

    Once per process; it changes nothing else. Elsewhere than on Linux with glibc, or
    where ``mallopt`` refuses a value, nothing is set.

    Returns
    -------
    bool
        Whether both thresholds are set.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a C library without mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGEST_HEAP_BLOCK)) and bool(
        mallopt(_M_TRIM_THRESHOLD, KEPT_FREE)
    )
