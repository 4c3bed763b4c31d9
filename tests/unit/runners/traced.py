"""A value that writes down in which process it is unpickled: tells where data travelled."""

from __future__ import annotations

import os


class Traced:
    """Pickles small (its size, not its bytes, travels) and notes each unpickling's pid."""

    def __init__(self, log: str, size: int) -> None:
        self.log, self.payload = log, b"v" * size

    def __reduce__(self) -> tuple:
        return (_rebuild, (self.log, len(self.payload)))


def _rebuild(log: str, size: int) -> Traced:
    with open(log, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    return Traced(log, size)


def unpickled_in(log: str) -> list[str]:
    """The pids, in order, that unpickled a Traced writing to `log`."""
    try:
        with open(log) as handle:
            return handle.read().split()
    except FileNotFoundError:
        return []
