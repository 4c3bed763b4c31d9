"""Work pools, workers, events and tag concurrency limits on SQL (a SqlRunStore mixin).

The orchestration port's bookkeeping beside deployments and runs (orchestration.py): plain
upserts and lists, and the slots of tag concurrency limits. A slot is held by one task run
until released or until its lease runs out: the owning process renews the lease with its
heartbeat, so a killed holder frees its slots within one lease.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from orkest.core.deployments import ConcurrencyLimit, Event, Worker, WorkPool
from orkest.errors import ObjectNotFound
from orkest.store.sql import dialects
from orkest.store.sql.rows import record_from_row, record_values
from orkest.store.sql.tables import (
    concurrency_limits,
    concurrency_slots,
    events,
    work_pools,
    workers,
)


class SqlFleet:
    """Methods SqlRunStore gains for pools, workers, events and concurrency limits."""

    _dialect: str
    _write: Callable[..., Any]
    _all: Callable[..., list[Mapping[str, Any]]]

    # -- work pools and workers -----------------------------------------------------------

    def save_work_pool(self, pool: WorkPool) -> WorkPool:
        def run(conn: Connection) -> WorkPool:
            upsert = dialects.upsert(work_pools, self._dialect, "name", keep=("created_ts",))
            conn.execute(upsert.values(**record_values(pool)))
            row = conn.execute(select(work_pools).where(work_pools.c.name == pool.name)
                               ).mappings().one()
            return record_from_row(WorkPool, row)

        return self._write(run)

    def read_work_pool(self, name: str) -> WorkPool:
        found = self._all(select(work_pools).where(work_pools.c.name == name))
        if not found:
            raise ObjectNotFound(f"No work pool {name!r} (see `orkest work-pool ls`)")
        return record_from_row(WorkPool, found[0])

    def list_work_pools(self) -> list[WorkPool]:
        return [record_from_row(WorkPool, r) for r in
                self._all(select(work_pools).order_by(work_pools.c.name))]

    def worker_heartbeat(self, worker: Worker) -> None:
        """Insert or refresh a worker's record (its heartbeat, load and status)."""
        upsert = dialects.upsert(workers, self._dialect, "id", keep=("started_ts",))
        self._write(lambda conn: conn.execute(upsert.values(**record_values(worker))))

    def list_workers(self, *, work_pool: str | None = None, limit: int = 200) -> list[Worker]:
        """Newest heartbeat first."""
        stmt = select(workers)
        if work_pool is not None:
            stmt = stmt.where(workers.c.work_pool == work_pool)
        stmt = stmt.order_by(workers.c.heartbeat_ts.desc()).limit(limit)
        return [record_from_row(Worker, r) for r in self._all(stmt)]

    # -- events ---------------------------------------------------------------------------

    def save_event(self, event: Event) -> Event:
        upsert = dialects.upsert(events, self._dialect, "id")
        self._write(lambda conn: conn.execute(upsert.values(**record_values(event))))
        return event

    def read_event(self, event_id: str) -> Event:
        found = self._all(select(events).where(events.c.id == event_id))
        if not found:
            raise ObjectNotFound(f"No event {event_id!r}")
        return record_from_row(Event, found[0])

    def list_events(self, *, name: str | None = None, since: float | None = None,
                    limit: int = 50, offset: int = 0) -> list[Event]:
        """Newest first."""
        stmt = select(events)
        if name is not None:
            stmt = stmt.where(events.c.name == name)
        if since is not None:
            stmt = stmt.where(events.c.ts >= since)
        stmt = stmt.order_by(events.c.ts.desc(), events.c.id.desc()).limit(limit).offset(offset)
        return [record_from_row(Event, r) for r in self._all(stmt)]

    # -- concurrency limits ---------------------------------------------------------------

    def set_concurrency_limit(self, tag: str, limit: int, now: float) -> ConcurrencyLimit:
        upsert = dialects.upsert(concurrency_limits, self._dialect, "tag", keep=("created_ts",))
        self._write(lambda conn: conn.execute(upsert.values(tag=tag, limit=limit,
                                                            created_ts=now)))
        return next(x for x in self.list_concurrency_limits(now) if x.tag == tag)

    def list_concurrency_limits(self, now: float) -> list[ConcurrencyLimit]:
        """Every limit with the slots taken now (expired leases do not count)."""
        s = concurrency_slots.c
        taken = {row["tag"]: int(row["n"]) for row in self._all(
            select(s.tag, func.count().label("n")).where(s.lease_until > now).group_by(s.tag))}
        return [ConcurrencyLimit(r["tag"], r["limit"], r["created_ts"], taken.get(r["tag"], 0))
                for r in self._all(select(concurrency_limits).order_by(concurrency_limits.c.tag))]

    def delete_concurrency_limit(self, tag: str) -> None:
        def run(conn: Connection) -> None:
            result = conn.execute(delete(concurrency_limits).where(
                concurrency_limits.c.tag == tag))
            if not result.rowcount:
                raise ObjectNotFound(f"No concurrency limit for tag {tag!r} "
                                     "(see `orkest concurrency-limit ls`)")
            conn.execute(delete(concurrency_slots).where(concurrency_slots.c.tag == tag))

        self._write(run)

    def acquire_concurrency_slots(self, tags: Sequence[str], holder: str,
                                  flow_run_id: str | None, now: float,
                                  lease_seconds: float) -> bool:
        """Take one slot of every limited tag in `tags` for `holder`, or none (False) when
        any of them is full. Tags without a limit need no slot."""
        def run(conn: Connection) -> bool:
            lim = concurrency_limits.c
            # Lock the limits' rows (in tag order, so two acquirers never deadlock): on
            # PostgreSQL this serializes acquirers of a tag; SQLite's BEGIN IMMEDIATE does.
            limits = dict(conn.execute(dialects.for_update(select(lim.tag, lim.limit).where(
                lim.tag.in_(list(tags))).order_by(lim.tag), self._dialect)).all())
            if not limits:
                return True
            s = concurrency_slots.c
            conn.execute(delete(concurrency_slots).where(s.tag.in_(list(limits)),
                                                         s.lease_until <= now))
            taken = dict(conn.execute(select(s.tag, func.count()).where(
                s.tag.in_(list(limits)), s.holder != holder).group_by(s.tag)).all())
            if any(int(taken.get(tag, 0)) >= limit for tag, limit in limits.items()):
                return False
            upsert = dialects.insert(concurrency_slots, self._dialect)
            conn.execute(upsert.on_conflict_do_update(
                index_elements=["tag", "holder"],
                set_={"lease_until": now + lease_seconds}), [
                {"tag": tag, "holder": holder, "flow_run_id": flow_run_id,
                 "acquired_ts": now, "lease_until": now + lease_seconds} for tag in limits])
            return True

        return bool(self._write(run))

    def release_concurrency_slots(self, holder: str) -> None:
        self._write(lambda conn: conn.execute(delete(concurrency_slots).where(
            concurrency_slots.c.holder == holder)))

    def renew_concurrency_slots(self, flow_run_ids: Iterable[str], now: float,
                                lease_seconds: float) -> None:
        """Extend the leases of slots held by task runs of these (live) flow runs."""
        ids = list(flow_run_ids)
        if not ids:
            return
        self._write(lambda conn: conn.execute(update(concurrency_slots).where(
            concurrency_slots.c.flow_run_id.in_(ids)).values(lease_until=now + lease_seconds)))
