"""Peak resident memory of a stretch of work in this process, from Linux's /proc: the high-water mark (VmHWM) is
reset by writing 5 to /proc/self/clear_refs before the work and read after it. Where that reset is refused, the
process's `ru_maxrss` (its peak since it started) stands in, and `method` says so."""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_mib(field: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def current_mib() -> float:
    """This process's resident memory now, MiB (its peak so far where /proc is missing)."""
    now = _status_mib("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> str:
    """Start a new peak here; returns how `peak_mib` will measure it, in words."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return "ru_maxrss (peak since the process started: the reset of VmHWM was refused)"
    return "VmHWM reset before the method"


def peak_mib() -> float:
    """The peak resident memory since `reset_peak` (or since the process started, see `reset_peak`), MiB."""
    peak = _status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
