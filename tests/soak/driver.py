"""The soak itself: deploy, trigger runs in bursts while a worker is killed and restarted,
wait for every run to be final, and measure.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

from helpers import wait_for
from orkest.store.sql.tables import flow_runs
from soak.cluster import Cluster, WorkerProcess
from soak.flow_source import write_flow

POOL = "soak"
UNFINISHED = ("SCHEDULED", "PENDING", "RUNNING", "AWAITING_RETRY", "PAUSED", "CANCELLING")


@dataclass
class Plan:
    """How big the soak is and when the worker dies."""

    runs: int
    bursts: int
    workers: int = 4
    remote_workers: int = 0
    concurrency: int = 4
    kill_in_bursts: tuple[int, ...] = (1, 3)  # the bursts (0-based) during which it dies
    tick_seconds: float | None = 1.0  # an interval schedule that fires meanwhile
    finish_timeout: float = 240.0


@dataclass
class Outcome:
    seconds: float = 0.0
    triggered: int = 0
    scheduled: int = 0  # runs the server's scheduler created from the interval schedule
    killed_worker_ids: list[str] = field(default_factory=list)
    running_at_kill: list[int] = field(default_factory=list)


class Soak:
    """One soak against `cluster` (already holding its server)."""

    def __init__(self, cluster: Cluster, database_url: str, plan: Plan) -> None:
        self.cluster, self.plan = cluster, plan
        self.database_url = database_url
        self.engine = create_engine(database_url)
        self.outcome = Outcome()
        self.locks = Path()
        self._clients: dict[int, httpx.Client] = {}  # one per thread: they post at once

    @property
    def api(self) -> httpx.Client:
        """This thread's client of the server's API."""
        client = self._clients.get(threading.get_ident())
        if client is None:
            client = httpx.Client(base_url=self.cluster.server.url, timeout=30)
            self._clients[threading.get_ident()] = client
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self.engine.dispose()

    # -- setting up -----------------------------------------------------------------------

    def deploy(self, directory: Path) -> tuple[str, str | None]:
        """The burst deployment (no schedule) and, if planned, one on an interval."""
        from orkest._internal.loading import load_object
        from orkest.schedules import Interval
        from orkest.services.deployments import build_deployment, save
        from orkest.store import open_store

        self.locks = directory / "locks"
        flow = load_object(write_flow(directory))
        store = open_store(self.database_url, direct=True)
        bursts = save(store, build_deployment(flow, "bursts", work_pool=POOL))
        ticks = None
        if self.plan.tick_seconds:
            ticks = save(store, build_deployment(
                flow, "ticks", work_pool=POOL, schedules=[Interval(self.plan.tick_seconds)]))
        return bursts.id, ticks.id if ticks else None

    def start_workers(self) -> list[WorkerProcess]:
        return [self.cluster.start_worker(POOL, self.plan.concurrency,
                                          remote=slot < self.plan.remote_workers)
                for slot in range(self.plan.workers)]

    # -- running --------------------------------------------------------------------------

    def run(self, bursts_deployment: str, ticks_deployment: str | None,
            victim: WorkerProcess) -> Outcome:
        plan, out = self.plan, self.outcome
        started = time.monotonic()
        per_burst = [plan.runs // plan.bursts + (i < plan.runs % plan.bursts)
                     for i in range(plan.bursts)]
        with ThreadPoolExecutor(4) as pool:
            for number, size in enumerate(per_burst):
                posted = [pool.submit(self._trigger, bursts_deployment) for _ in range(size)]
                if number in plan.kill_in_bursts:  # while the burst is still coming in
                    self._kill_mid_run(victim)
                for future in posted:
                    future.result()
                out.triggered += size
                # The next burst comes once this one is mostly taken by the workers.
                wait_for(lambda: self._count("SCHEDULED", due=True) < 4 * plan.concurrency,
                         timeout=plan.finish_timeout, what="the workers to take the burst")
        if ticks_deployment:
            self.api.patch(f"/deployments/{ticks_deployment}",
                           json={"paused": True}).raise_for_status()
        wait_for(self._all_final, timeout=plan.finish_timeout, interval=0.25,
                 what="every flow run to be final")
        out.seconds = time.monotonic() - started
        if ticks_deployment:  # again: a scheduler tick that raced the first pause is undone
            self.api.patch(f"/deployments/{ticks_deployment}",
                           json={"paused": True}).raise_for_status()
        out.scheduled = self._count(deployment=ticks_deployment) if ticks_deployment else 0
        return out

    def _trigger(self, deployment_id: str) -> None:
        answer = self.api.post(f"/deployments/{deployment_id}/runs", json={})
        assert answer.status_code == 201, answer.text

    def _kill_mid_run(self, victim: WorkerProcess) -> None:
        """SIGKILL the victim while flows of its are inside their body (their lock
        directory exists: flow_source.py), then start it again."""
        def inside() -> list[str]:
            return [run_id for run_id in self._claimed_by(victim.id)
                    if (self.locks / run_id).exists()]

        running = wait_for(inside, timeout=60, interval=0.005,
                           what=f"worker {victim.id} to run flows")
        self.outcome.killed_worker_ids.append(victim.id)
        self.outcome.running_at_kill.append(len(running))
        self.cluster.kill_and_restart(victim)

    # -- reading the database -------------------------------------------------------------

    def _claimed_by(self, worker_id: str) -> list[str]:
        c = flow_runs.c
        stmt = select(c.id).where(c.worker_id == worker_id,
                                  c.state_type.in_(("PENDING", "RUNNING")))
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def _count(self, state: str | None = None, *, due: bool = False,
               worker: str | None = None, deployment: str | None = None) -> int:
        c = flow_runs.c
        stmt = select(func.count()).select_from(flow_runs)
        if state is not None:
            stmt = stmt.where(c.state_type == state)
        if due:
            stmt = stmt.where(c.scheduled_ts <= time.time())
        if worker is not None:
            stmt = stmt.where(c.worker_id == worker)
        if deployment is not None:
            stmt = stmt.where(c.deployment_id == deployment)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def _all_final(self) -> bool:
        """No run unfinished, and no CRASHED run still owed another attempt (runs of
        schedule slots still ahead are dropped by the pause after this)."""
        c = flow_runs.c
        owed = (c.state_type == "CRASHED") & (c.run_count <= c.retries)
        ahead = (c.state_type == "SCHEDULED") & (c.scheduled_ts > time.time())
        stmt = select(func.count()).select_from(flow_runs).where(
            (c.state_type.in_(UNFINISHED) | owed) & ~ahead)
        with self.engine.connect() as conn:
            return not conn.execute(stmt).scalar()
