"""How fast the API's list pages answer with 100,000 flow runs in the database.

Run from the repository root::

    python bench/api_lists.py                  # 100,000 flow runs + one 10,000-task run
    python bench/api_lists.py --runs 20000     # a smaller database
    python bench/api_lists.py --db /tmp/x.db   # keep (and reuse) the seeded database

Seeds a fresh SQLite database through the store's own `write()` in batches (the way the
engine writes): flow runs of 40 flows over the last 30 days in every state, some tagged,
some children of others, and one flow run with 10,000 finished task runs. Then each list
page is requested through the FastAPI app (httpx TestClient, in process: the figure is
the server's time plus the client's JSON decoding) once ("first": cold caches) and then
`--repeat` times; the median is printed in ms with PASS/MISS against the 300 ms target
(issue #4). The task runs of a finished flow run are cached by the server once encoded,
so for that row "first" is the figure of a run opened for the first time. The exit
status is 1 if a page failed, 0 otherwise (a MISS does not change it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

TARGET_MS = 300.0
DAY = 86_400.0
FLOWS = 40
TAGS = (["daily"], ["etl", "daily"], ["hourly"], [], [], [])


def seed(db: Path, runs: int, tasks: int) -> tuple[str, str]:
    """Write the database; (the big run's id, a parent run's id)."""
    from orkest.core.records import FlowRun, TaskRun, WriteBatch
    from orkest.core.states import StateType
    from orkest.store.sql.store import SqlRunStore

    rng = random.Random(4)
    states = [StateType.COMPLETED] * 14 + [StateType.FAILED] * 3 + [
        StateType.RUNNING, StateType.CANCELLED, StateType.CRASHED, StateType.SCHEDULED,
        StateType.PENDING]
    now = time.time()
    store = SqlRunStore(f"sqlite:///{db}")
    parent = f"{0:032x}"
    started = time.perf_counter()
    batch = WriteBatch()
    for i in range(runs):
        created = now - rng.random() * 30 * DAY
        state = rng.choice(states)
        end = created + rng.random() * 600 if state is not StateType.RUNNING else None
        run = FlowRun(f"{i:032x}", f"flow-{i % FLOWS:02d}", f"run-{i}", state,
                      state.value.title(), end or created, created, tags=list(TAGS[i % 6]),
                      parameters={"i": i, "day": i % 30}, start_ts=created, end_ts=end,
                      parent_flow_run_id=parent if i % 1000 == 1 else None, run_count=1)
        batch.flow_runs[run.id] = run
        if len(batch.flow_runs) == 5000:
            store.write(batch)
            batch = WriteBatch()
    big = FlowRun("b" * 32, "big-flow", "big-run", StateType.COMPLETED, "Completed", now, now - 600,
                  start_ts=now - 600, end_ts=now)
    batch.flow_runs[big.id] = big
    for j in range(tasks):
        created = now - 600 + j * 0.05
        task = TaskRun(f"{j:08x}" + "c" * 24, big.id, f"step-{j % 20}", f"step-{j % 20}-1",
                       str(j), f"step-{j % 20}-{j}", StateType.COMPLETED, "Completed",
                       created + 0.04, created, parameters={"x": j}, start_ts=created,
                       end_ts=created + 0.04, run_count=1, cpu_seconds=0.01,
                       upstream=[f"{j - 1:08x}" + "c" * 24] if j else [])
        batch.task_runs[task.id] = task
        if len(batch.task_runs) == 5000:
            store.write(batch)
            batch = WriteBatch()
    store.write(batch)
    store.close()
    print(f"seeded {runs:,} flow runs and a {tasks:,}-task run into {db} "
          f"in {time.perf_counter() - started:.1f} s")
    return big.id, parent


def pages(big: str, parent: str) -> list[tuple[str, str, dict[str, Any]]]:
    now = time.time()
    return [
        ("flow runs, first page", "/api/flow_runs", {}),
        ("  state=FAILED", "/api/flow_runs", {"state": "FAILED"}),
        ("  state=RUNNING&state=CRASHED", "/api/flow_runs", {"state": ["RUNNING", "CRASHED"]}),
        ("  flow_name=flow-07", "/api/flow_runs", {"flow_name": "flow-07"}),
        ("  tag=daily", "/api/flow_runs", {"tag": "daily"}),
        ("  tag=hourly&state=FAILED", "/api/flow_runs", {"tag": "hourly", "state": "FAILED"}),
        ("  created in the last day", "/api/flow_runs",
         {"created_after": now - DAY, "created_before": now}),
        ("  parent_flow_run_id", "/api/flow_runs", {"parent_flow_run_id": parent}),
        ("  offset=1000", "/api/flow_runs", {"offset": 1000}),
        ("  offset=5000", "/api/flow_runs", {"offset": 5000}),
        ("  offset=50000 (deep)", "/api/flow_runs", {"offset": 50_000}),
        ("  offset=99950 (last page)", "/api/flow_runs", {"offset": 99_950}),
        ("  limit=500", "/api/flow_runs", {"limit": 500}),
        ("flows", "/api/flows", {"limit": 500}),
        ("dashboard (24 h)", "/api/stats/dashboard", {}),
        ("dashboard (7 days, 6 h buckets)", "/api/stats/dashboard",
         {"since": now - 7 * DAY, "bucket_seconds": DAY / 4}),
        ("dashboard (30 days, daily)", "/api/stats/dashboard",
         {"since": now - 30 * DAY, "bucket_seconds": DAY}),
        ("count, state=COMPLETED", "/api/counts/flow_runs", {"state": "COMPLETED"}),
        ("flow run detail", f"/api/flow_runs/{big[:8]}", {}),
        ("10k task runs of one run", f"/api/flow_runs/{big}/task_runs", {"limit": 20_000}),
        ("  first 1000", f"/api/flow_runs/{big}/task_runs", {}),
        ("task runs, newest first", "/api/task_runs", {}),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", type=Path, help="seed here (reused if it exists)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        if db.exists():
            big, parent = "b" * 32, f"{0:032x}"
            print(f"reusing {db}")
        else:
            big, parent = seed(db, args.runs, args.tasks)
        return measure(db, big, parent, args.repeat)


def measure(db: Path, big: str, parent: str, repeat: int) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's TestClient notice about httpx2
        from fastapi.testclient import TestClient

    from orkest.server import create_app

    failed = 0
    print(f"\n{'page':<34}{'first ms':>9}{'median ms':>10}{'min ms':>8}{'items':>7}"
          f"  median vs {TARGET_MS:.0f} ms")
    with TestClient(create_app(api_key="", database_url=f"sqlite:///{db}")) as client:
        for label, path, params in pages(big, parent):
            times = []
            started = time.perf_counter()
            response = client.get(path, params=params)  # the first request: cold caches
            response.json()
            first = (time.perf_counter() - started) * 1000
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path, params=params)
                body = response.json()
                times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failed += 1
                print(f"{label:<34}{'ERROR':>10}  {response.status_code} {response.text[:80]}")
                continue
            items = len(body.get("items", body.get("runs_by_state", [])))
            median = statistics.median(times)
            verdict = "PASS" if median <= TARGET_MS else "MISS"
            print(f"{label:<34}{first:>9.1f}{median:>10.1f}{min(times):>8.1f}{items:>7}"
                  f"  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
