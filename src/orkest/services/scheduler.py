"""The scheduler: creates the runs of scheduled deployments ahead of time.

One tick reads the unpaused deployments that have schedules, lists each one's slots from
its cursor (`last_slot_ts`) to a short horizon ahead, and creates one SCHEDULED run per slot
with the slot as its `logical_date`. Every run's idempotency key is (deployment, slot), and
the store creates a key once: two schedulers ticking at once, or a tick that died half way
and runs again, never create a slot twice. Workers claim a run when its slot is due.

Catchup: a deployment with `catchup=True` gets a run for every slot it missed since its
cursor (the scheduler was down); without it, missed slots are skipped and scheduling
resumes from now. Runs still SCHEDULED long past their slot are named Late.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from orkest.core.deployments import Deployment
from orkest.schedules import Schedule
from orkest.services.deployments import new_run, orchestration_store, slot_key

logger = logging.getLogger("orkest.scheduler")

# How far ahead runs are created: workers then start them on time without asking the
# scheduler, and a scheduler restart within this window loses nothing.
HORIZON_SECONDS = 120.0
# At most this many new runs per deployment per tick (a one-second interval, a long catchup).
MAX_RUNS_PER_TICK = 100
TICK_SECONDS = 5.0
_PAGE = 500
_TICK = dt.timedelta(microseconds=1)


@dataclass
class TickReport:
    deployments: int = 0
    created: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Scheduler:
    """Ticks every `interval` seconds in `run()` (or one `tick()` at a time, for tests)."""

    def __init__(self, store: Any = None, *, horizon: float = HORIZON_SECONDS,
                 interval: float = TICK_SECONDS) -> None:
        self.store = orchestration_store(store)
        self.horizon = horizon
        self.interval = interval
        self._parsed: dict[str, tuple[list[dict[str, Any]], list[Schedule]]] = {}

    def tick(self, now: float | None = None) -> TickReport:
        started = time.perf_counter()
        now = time.time() if now is None else now
        report = TickReport()
        runs = []
        cursors: dict[str, float] = {}
        for deployment in self._scheduled_deployments():
            report.deployments += 1
            new, cursor = self._runs_for(deployment, now)
            runs.extend(new)
            if cursor is not None and cursor != deployment.last_slot_ts:
                cursors[deployment.id] = cursor
        if runs:
            report.created = [r.id for r in self.store.create_flow_runs(runs)]
        if cursors:
            self.store.set_deployment_cursors(cursors)
        report.late = self.store.mark_late_runs(now)
        report.seconds = time.perf_counter() - started
        return report

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set; a failing tick is logged and tried again next time."""
        while not stop.is_set():
            try:
                report = self.tick()
                if report.created:
                    logger.info("Scheduled %d run(s) of %d deployment(s) in %.0f ms",
                                len(report.created), report.deployments,
                                report.seconds * 1000)
            except Exception:  # noqa: BLE001 - the service outlives a bad tick
                logger.exception("Scheduler tick failed; trying again in %.0f s",
                                 self.interval)
            stop.wait(self.interval)

    # -- one deployment -------------------------------------------------------------------

    def _scheduled_deployments(self) -> list[Deployment]:
        found: list[Deployment] = []
        while True:
            page = self.store.list_deployments(paused=False, limit=_PAGE, offset=len(found))
            found.extend(page)
            if len(page) < _PAGE:
                return [d for d in found if d.schedules]

    def _schedules(self, deployment: Deployment) -> list[Schedule]:
        cached = self._parsed.get(deployment.id)
        if cached is None or cached[0] != deployment.schedules:
            cached = (deployment.schedules,
                      [Schedule.from_dict(s) for s in deployment.schedules])
            self._parsed[deployment.id] = cached
        return cached[1]

    def _runs_for(self, deployment: Deployment, now: float) -> tuple[list[Any], float | None]:
        """The runs of the slots after the cursor up to the horizon, and the new cursor
        (the last slot created; it moves only when a slot is created)."""
        cursor = deployment.last_slot_ts
        if cursor is not None and (deployment.catchup or cursor >= now):
            after = cursor  # slots strictly after the last one created
        else:
            after = now  # new, or slots missed while no scheduler ran are skipped
        start = dt.datetime.fromtimestamp(after, dt.UTC) + _TICK
        end = dt.datetime.fromtimestamp(now + self.horizon, dt.UTC)
        slots: set[dt.datetime] = set()
        for schedule in self._schedules(deployment):
            slots.update(schedule.slots_between(start, end)[:MAX_RUNS_PER_TICK])
        chosen = sorted(slots)[:MAX_RUNS_PER_TICK]
        runs = [new_run(deployment, scheduled_ts=s.timestamp(), now=now,
                        idempotency_key=slot_key(deployment.id, s))
                for s in chosen]
        return runs, (chosen[-1].timestamp() if chosen else cursor)


def backfill(store: Any, ref: str, start: dt.datetime, end: dt.datetime, *,
             now: float | None = None) -> tuple[list[Any], int]:
    """One run per slot of the deployment's schedules in [start, end), due now, each with
    its slot as logical_date; slots that have a run already are skipped. (created, skipped)
    """
    store = orchestration_store(store)
    deployment = store.read_deployment(ref)
    if end <= start:
        from orkest.errors import DeploymentError

        raise DeploymentError(f"backfill: --end ({end.isoformat()}) must be after --start "
                              f"({start.isoformat()})")
    now = time.time() if now is None else now
    slots: set[dt.datetime] = set()
    for schedule in [Schedule.from_dict(s) for s in deployment.schedules]:
        slots.update(schedule.slots_between(start, end))
    if not deployment.schedules:
        from orkest.errors import DeploymentError

        raise DeploymentError(f"Deployment {deployment.full_name} has no schedule to "
                              "backfill")
    runs = [new_run(deployment, scheduled_ts=now, now=now, logical_ts=s.timestamp(),
                    idempotency_key=slot_key(deployment.id, s),
                    message=f"Backfill of {s.isoformat()}")
            for s in sorted(slots)]
    created = store.create_flow_runs(runs) if runs else []
    return created, len(runs) - len(created)
