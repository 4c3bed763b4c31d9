"""How fast is this machine? Three reference costs the issue's targets were set against.

The targets in bench/README.md were chosen on a machine where a bare Python call took
~0.1 µs, a batched SQLite row ~1.6 µs and a ThreadPoolExecutor submit+result ~17 µs.
Machines of the "same kind" differ by 2-3x (shared cores, throttling), so the benchmark
prints these next to its figures: a reader can tell a slow machine from a regression.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REFERENCE_US = {"python call": 0.1, "sqlite row (batched)": 1.6, "thread pool submit+result": 17.0}


def _noop(x: int) -> int:
    return x


def _call_us(n: int = 200_000) -> float:
    start = time.perf_counter()
    for i in range(n):
        _noop(i)
    return (time.perf_counter() - start) / n * 1e6


def _sqlite_row_us(n: int = 50_000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "calibration.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, value REAL)")
        rows = [(i, f"row-{i}", i * 0.5) for i in range(n)]
        start = time.perf_counter()
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.close()
    return elapsed / n * 1e6


def _thread_pool_us(n: int = 10_000) -> float:
    with ThreadPoolExecutor(max_workers=4) as pool:
        start = time.perf_counter()
        futures = [pool.submit(_noop, i) for i in range(n)]
        for future in futures:
            future.result()
        return (time.perf_counter() - start) / n * 1e6


def measure(repeat: int = 3) -> dict[str, float]:
    """Median of `repeat` runs of each reference cost, in µs."""
    probes = {
        "python call": _call_us,
        "sqlite row (batched)": _sqlite_row_us,
        "thread pool submit+result": _thread_pool_us,
    }
    return {name: statistics.median(p() for _ in range(repeat)) for name, p in probes.items()}


def describe(figures: dict[str, float]) -> str:
    parts = [
        f"{name} {value:.2f} µs (reference {REFERENCE_US[name]:g} µs, "
        f"{value / REFERENCE_US[name]:.1f}x)"
        for name, value in figures.items()
    ]
    return "machine calibration: " + "; ".join(parts)
