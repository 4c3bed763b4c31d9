"""Per-task overhead of ProcessPoolRunner against ThreadPoolRunner (not collected by pytest).

    ORKEST_HOME=$(mktemp -d) python tests/unit/runners/bench_processes.py [N]

Each flow run first completes one task (a worker is up), then maps N trivial tasks; the
figure is the map's wall time per task. The first run of each runner pays worker spawns.
"""

from __future__ import annotations

import sys
import time

from orkest import flow, task
from orkest.runners import ProcessPoolRunner, ThreadPoolRunner


@task
def noop(x: int) -> int:
    return x


def measure(runner: object, n: int) -> tuple[float, float]:
    @flow(task_runner=runner)
    def many(n: int) -> float:
        noop.submit(-1).result()
        started = time.perf_counter()
        assert noop.map(range(n)).result() == list(range(n))
        return time.perf_counter() - started

    started = time.perf_counter()
    mapped = many(n)
    return mapped, time.perf_counter() - started


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for label, runner in [("threads(2)", ThreadPoolRunner(max_workers=2)),
                          ("processes(2)", ProcessPoolRunner(max_workers=2)),
                          ("processes(1)", ProcessPoolRunner(max_workers=1))]:
        for _ in range(3):
            mapped, total = measure(runner, n)
            print(f"{label:13s} {n} tasks: {mapped * 1000 / n:.3f} ms/task in the map,"
                  f" whole flow run {total:.2f} s")
