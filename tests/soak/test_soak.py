"""Many workers, one database, a worker killed twice: no run lost, doubled or half-recorded.

A real `orkest server start` (API, scheduler, reaper) and four `orkest worker start`
processes share one database. Flow runs of a 20-task flow are triggered through the API
in bursts, and an interval schedule fires meanwhile; during two bursts one worker is
killed with SIGKILL while it runs flows, and started again. When every run is final the
database and the flow's own journal are checked (soak/checks.py): every run COMPLETED
(the killed attempts rerun), no run ran twice at once, every history a whole path of the
state machine, and every completed run has its 20 completed task runs.

PostgreSQL: 500 runs, two workers through the server (ORKEST_API_URL) and two on the
database. SQLite: 100 runs, four workers on the database file. ORKEST_SOAK_RUNS and
ORKEST_SOAK_SQLITE_RUNS change the sizes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from soak.checks import Snapshot, all_problems
from soak.cluster import Cluster
from soak.driver import Plan, Soak
from soak.flow_source import WIDTH

PG_RUNS = int(os.environ.get("ORKEST_SOAK_RUNS") or 500)
SQLITE_RUNS = int(os.environ.get("ORKEST_SOAK_SQLITE_RUNS") or 100)


def soak(tmp_path: Path, database_url: str | None, plan: Plan, record_figure) -> None:
    cluster = Cluster(tmp_path, database_url)
    url = database_url or f"sqlite:///{tmp_path / 'server-home' / 'orkest.db'}"
    try:
        cluster.create_schema()
        driver = Soak(cluster, url, plan)
        try:
            bursts, ticks = driver.deploy(tmp_path)  # before the scheduler's first tick
            cluster.start_server()
            workers = driver.start_workers()
            outcome = driver.run(bursts, ticks, victim=workers[0])
        finally:
            driver.close()
    finally:
        cluster.close()
    snap = Snapshot.read(url, tmp_path / "journal.txt")
    backend = "PostgreSQL" if database_url else "SQLite"
    total = len(snap.runs)
    task_runs = sum(len(t) for t in snap.tasks_of.values())
    record_figure(
        f"soak on {backend}: {total} flow runs ({outcome.triggered} in {plan.bursts} bursts, "
        f"{outcome.scheduled} by the schedule) x {WIDTH} tasks = {task_runs} task runs, "
        f"{plan.workers} workers ({plan.remote_workers} through the server) x "
        f"{plan.concurrency}: {outcome.seconds:.1f} s, {total / outcome.seconds:.1f} runs/s, "
        f"{task_runs / outcome.seconds:.0f} task runs/s; {cluster.kills} kills "
        f"(running at kill: {outcome.running_at_kill}), {snap.reruns()} runs rerun, "
        f"{snap.attempts()} attempts")
    for pattern, count in snap.patterns().most_common():
        record_figure(f"  {count:5d} x {pattern}")
    problems = all_problems(snap, outcome.killed_worker_ids, WIDTH)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])
    assert cluster.kills == len(plan.kill_in_bursts)
    assert snap.reruns() >= 1, "no run was rerun: the kills hit no running flow"


@pytest.mark.timeout(400)
def test_soak_on_postgresql(tmp_path: Path, postgres_url: str, record_figure) -> None:
    plan = Plan(runs=PG_RUNS, bursts=5, workers=4, remote_workers=2)
    soak(tmp_path, postgres_url, plan, record_figure)


@pytest.mark.timeout(300)
def test_soak_on_sqlite(tmp_path: Path, record_figure) -> None:
    plan = Plan(runs=SQLITE_RUNS, bursts=5, workers=4, remote_workers=0)
    soak(tmp_path, None, plan, record_figure)
