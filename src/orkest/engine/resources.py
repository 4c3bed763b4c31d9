"""CPU seconds and peak memory of a task run.

Exact where a process runs one task at a time (the process runner): the kernel's
high-water mark of resident memory is reset before the task (Linux /proc/self/clear_refs)
and read after it. In a shared process (sequential and thread runners) CPU is the task's
own thread's CPU time, and memory is the process's high-water mark so far: a task's own
peak cannot be told apart from its neighbours'. `TaskRun.resource_scope` says which.
"""

from __future__ import annotations

import resource
import sys
import time

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux


class ThreadMeter:
    """Cheap enough for the hot path: two clock reads and one getrusage."""

    __slots__ = ("_cpu0",)
    scope = "thread"

    def start(self) -> None:
        self._cpu0 = time.thread_time()

    def stop(self) -> tuple[float, int]:
        cpu = time.thread_time() - self._cpu0
        return cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


class ProcessMeter:
    """For a process that runs one task at a time."""

    __slots__ = ("_cpu0", "_can_reset")
    scope = "task"

    def start(self) -> None:
        self._can_reset = _reset_peak()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._cpu0 = usage.ru_utime + usage.ru_stime

    def stop(self) -> tuple[float, int]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - self._cpu0
        peak = _read_peak() if self._can_reset else None
        return cpu, peak if peak is not None else usage.ru_maxrss * _MAXRSS_UNIT


def _reset_peak() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _read_peak() -> int | None:
    try:
        with open(_STATUS) as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
