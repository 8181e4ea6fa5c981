"""The kernel's peak resident memory of this process (Linux ``VmHWM``), for memory benchmarks."""

from pathlib import Path


def reset_high_water_mark() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return high_water_mark() is not None


def high_water_mark() -> int | None:
    """The process's peak resident memory in bytes since the last reset (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
