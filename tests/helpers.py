"""Small helpers shared by test modules (tests/ is on sys.path)."""

from __future__ import annotations

from pathlib import Path


def count_calls(marker: Path) -> int:
    return len(marker.read_text()) if marker.exists() else 0


def note_call(marker: Path) -> int:
    """Append one mark to a file and return how many there are (works across processes)."""
    with marker.open("a") as handle:
        handle.write("x")
    return count_calls(marker)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 30, what: str = "it", interval: float = 0.1):
    """Poll `predicate` until it returns something true (returned), or fail naming `what`."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
