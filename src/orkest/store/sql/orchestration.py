"""The OrchestrationStore port on SQL: deployments, their runs, and claims (pools, workers,
events and limits are in fleet.py).

A mixin of SqlRunStore (it uses the store's transaction plumbing: `_write` runs a
function in one write transaction, again from scratch when the database was busy).

Two guarantees live here, in SQL, rather than in the services above:
- a slot's run is created once: flow_runs.idempotency_key is unique and creation is
  INSERT ... ON CONFLICT DO NOTHING, so two schedulers racing create it once between them;
- a run is claimed once: on SQLite the claim runs under BEGIN IMMEDIATE (one writer at a
  time); on PostgreSQL a per-pool advisory lock serializes claims of one pool (so that
  limits hold) and candidate rows are read FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, func, select, text, update

from orkest.core.deployments import Deployment
from orkest.core.records import FlowRun, StateRecord
from orkest.core.states import ACTIVE_TYPES, StateType
from orkest.errors import ObjectNotFound
from orkest.store import semantics
from orkest.store.sql import dialects, rows
from orkest.store.sql.rows import record_from_row, record_values
from orkest.store.sql.tables import (
    deployments,
    flow_runs,
    state_history,
    work_pools,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# A claimed run holds a place in its pool's and deployment's limits until it finishes.
CLAIMED_TYPES = tuple(sorted(ACTIVE_TYPES | {StateType.PENDING}))
_DEPLOYMENT_FIELDS = tuple(f.name for f in fields(Deployment))
_UPDATABLE = frozenset(_DEPLOYMENT_FIELDS) - {"id", "flow_name", "name", "created_ts"}


def _pool_lock_key(pool: str) -> int:
    return zlib.crc32(f"orkest-pool:{pool}".encode()) - 2**31


class SqlOrchestration:
    """Methods SqlRunStore gains for deployments, pools, workers, events and limits."""

    _dialect: str
    _write: Callable[..., Any]
    _all: Callable[..., list[Mapping[str, Any]]]
    _scalar: Callable[..., int]
    _states: Any
    _insert_runs_statement: Any = None

    @property
    def _insert_runs(self) -> Any:
        """INSERT of whole FlowRun rows, skipping a taken idempotency key (bulk path)."""
        if self._insert_runs_statement is None:
            from orkest.store.sql import bulk

            engine = self._engine  # type: ignore[attr-defined]
            stmt = dialects.insert(flow_runs, self._dialect).on_conflict_do_nothing(
                index_elements=["idempotency_key"])
            self._insert_runs_statement = bulk.BulkStatement(stmt, rows.FLOW_RUN_COLUMNS,
                                                             engine.dialect)
        return self._insert_runs_statement

    # -- deployments ----------------------------------------------------------------------

    def save_deployment(self, deployment: Deployment) -> Deployment:
        """Create it, or update the one with the same flow and name (keeping its id, its
        creation time, whether it is paused and the scheduler's cursor)."""
        def run(conn: Connection) -> Deployment:
            c = deployments.c
            stmt = select(deployments).where(c.flow_name == deployment.flow_name,
                                             c.name == deployment.name)
            found = conn.execute(dialects.for_update(stmt, self._dialect)).mappings().first()
            values = record_values(deployment)
            if found is None:
                conn.execute(deployments.insert().values(**values))
                return deployment
            for keep in ("id", "created_ts", "paused", "last_slot_ts"):
                values[keep] = found[keep]
            conn.execute(update(deployments).where(c.id == found["id"]).values(**values))
            return Deployment(**values)

        return self._write(run)

    def read_deployment(self, ref: str) -> Deployment:
        """By id, unique id prefix, or FLOW_NAME/DEPLOYMENT_NAME."""
        c = deployments.c
        if "/" in ref:
            flow_name, _, name = ref.rpartition("/")
            found = self._all(select(deployments).where(c.flow_name == flow_name,
                                                        c.name == name))
            if found:
                return record_from_row(Deployment, found[0])
        found = self._all(select(deployments).where(c.id == ref))
        if found:
            return record_from_row(Deployment, found[0])
        if len(ref) >= semantics.MIN_ID_PREFIX and "/" not in ref:
            prefix = dialects.id_prefix(c.id, ref, self._dialect)
            found = self._all(select(deployments).where(prefix).limit(2))
            if len(found) == 1:
                return record_from_row(Deployment, found[0])
            if len(found) > 1:
                raise semantics.ambiguous("Deployment", ref, len(found))
        raise ObjectNotFound(f"No deployment {ref!r}: name one as FLOW_NAME/DEPLOYMENT_NAME "
                             "or by id (see `orkest deployment ls`)")

    def list_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                         paused: bool | None = None, limit: int = 100,
                         offset: int = 0) -> list[Deployment]:
        """By flow name, then deployment name."""
        stmt = self._deployment_filter(select(deployments), flow_name, work_pool, paused)
        stmt = stmt.order_by(deployments.c.flow_name, deployments.c.name)
        found = self._all(stmt.limit(limit).offset(offset))
        return [record_from_row(Deployment, r) for r in found]

    def count_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                          paused: bool | None = None) -> int:
        stmt = select(func.count()).select_from(deployments)
        return self._scalar(self._deployment_filter(stmt, flow_name, work_pool, paused))

    @staticmethod
    def _deployment_filter(stmt: Any, flow_name: str | None, work_pool: str | None,
                           paused: bool | None) -> Any:
        c = deployments.c
        if flow_name is not None:
            stmt = stmt.where(c.flow_name == flow_name)
        if work_pool is not None:
            stmt = stmt.where(c.work_pool == work_pool)
        if paused is not None:
            stmt = stmt.where(c.paused == paused)
        return stmt

    def update_deployment(self, deployment_id: str, **changes: Any) -> Deployment:
        """Change some fields of a deployment (paused, last_slot_ts, schedules...)."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"Deployment fields that cannot change: {sorted(unknown)}")

        def run(conn: Connection) -> Deployment:
            c = deployments.c
            found = conn.execute(select(deployments).where(c.id == deployment_id)
                                 ).mappings().first()
            if found is None:
                raise ObjectNotFound(f"No deployment {deployment_id!r}")
            if changes:
                conn.execute(update(deployments).where(c.id == deployment_id).values(**changes))
            return Deployment(**{**dict(found), **changes})

        return self._write(run)

    def set_deployment_cursors(self, cursors: Mapping[str, float]) -> None:
        """The scheduler's cursors of many deployments, in one transaction."""
        if not cursors:
            return
        c = deployments.c

        stmt = (update(deployments).where(c.id == bindparam("cursor_id"))
                .values(last_slot_ts=bindparam("cursor_ts")))
        params = [{"cursor_id": k, "cursor_ts": v} for k, v in cursors.items()]

        def run(conn: Connection) -> None:
            conn.execute(stmt, params)  # one executemany

        self._write(run)

    def delete_deployment(self, deployment_id: str) -> None:
        """Forget it and the runs it had scheduled that have not started."""
        def run(conn: Connection) -> None:
            self._delete_scheduled(conn, deployment_id, keep=())
            conn.execute(delete(deployments).where(deployments.c.id == deployment_id))

        self._write(run)

    # -- runs of deployments --------------------------------------------------------------

    def create_flow_runs(self, runs: Sequence[FlowRun]) -> list[FlowRun]:
        """Insert new runs with their first state; one whose idempotency_key is taken is
        skipped (it exists already). The runs actually created, in the order given."""
        if not runs:
            return []

        def run(conn: Connection) -> list[FlowRun]:
            c = flow_runs.c
            keyed = [r.idempotency_key for r in runs if r.idempotency_key is not None]
            taken: set[str] = set()
            for start in range(0, len(keyed), 500):
                taken.update(conn.execute(select(c.idempotency_key).where(
                    c.idempotency_key.in_(keyed[start:start + 500]))).scalars())
            fresh: list[FlowRun] = []
            seen: set[str] = set()
            for record in runs:
                key = record.idempotency_key
                if key is not None and (key in taken or key in seen):
                    continue
                if key is not None:
                    seen.add(key)
                fresh.append(record)
            if not fresh:
                return []
            # ON CONFLICT DO NOTHING: a concurrent scheduler may insert a key since the
            # check above; then its row stands and ours is not created.
            self._insert_runs.execute(conn, [rows.flow_run_values(r) for r in fresh])
            ids = [r.id for r in fresh]
            inserted: set[str] = set()
            for start in range(0, len(ids), 500):
                inserted.update(conn.execute(select(c.id).where(
                    c.id.in_(ids[start:start + 500]))).scalars())
            created = [r for r in fresh if r.id in inserted]
            if created:
                self._states.execute(conn, [rows.state_values(StateRecord(
                    r.id, "flow", r.state_type, r.state_name, r.state_ts, r.state_message))
                    for r in created])
            return created

        return self._write(run)

    def delete_scheduled_runs(self, deployment_id: str, *,
                              keep: Iterable[str] = ()) -> int:
        """Drop the deployment's schedule-slot runs still SCHEDULED and unclaimed, except
        those whose idempotency key is in `keep` (a schedule changed, or the deployment was
        paused); runs asked for by hand or by triggers stay. How many were dropped."""
        keep_keys = frozenset(keep)
        return int(self._write(lambda conn: self._delete_scheduled(conn, deployment_id,
                                                                   keep_keys)))

    def _delete_scheduled(self, conn: Connection, deployment_id: str,
                          keep: Iterable[str]) -> int:
        c = flow_runs.c
        found = conn.execute(select(c.id, c.idempotency_key).where(
            c.deployment_id == deployment_id, c.state_type == str(StateType.SCHEDULED),
            c.worker_id.is_(None))).all()
        keep_keys = set(keep)
        slot_prefix = f"{deployment_id}@"  # runs of schedule slots; asked-for runs stay
        doomed = [row.id for row in found if row.idempotency_key is not None
                  and row.idempotency_key.startswith(slot_prefix)
                  and row.idempotency_key not in keep_keys]
        for start in range(0, len(doomed), 500):
            chunk = doomed[start:start + 500]
            conn.execute(delete(state_history).where(state_history.c.run_id.in_(chunk)))
            conn.execute(delete(flow_runs).where(c.id.in_(chunk)))
        return len(doomed)

    def claim_flow_runs(self, work_pool: str, worker_id: str, *, limit: int,
                        now: float) -> list[FlowRun]:
        """Move up to `limit` due SCHEDULED runs of the pool to PENDING for this worker:
        highest priority first, then earliest due; pool and deployment limits hold."""
        if limit <= 0:
            return []
        c = flow_runs.c
        due = (select(c.id).where(c.work_pool == work_pool,
                                  c.state_type == str(StateType.SCHEDULED),
                                  c.scheduled_ts <= now).limit(1))
        if not self._all(due):
            # Nothing is due: answered by a read (never waits for, nor blocks, a writer), so
            # idle workers may poll often without taking SQLite's write lock each time.
            return []

        def run(conn: Connection) -> list[FlowRun]:
            if self._dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": _pool_lock_key(work_pool)})
            pool = conn.execute(select(work_pools).where(work_pools.c.name == work_pool)
                                ).mappings().first()
            if pool is not None and pool["paused"]:
                return []
            c = flow_runs.c
            room = limit
            if pool is not None and pool["concurrency_limit"] is not None:
                active = conn.execute(select(func.count()).select_from(flow_runs).where(
                    c.work_pool == work_pool, c.state_type.in_(CLAIMED_TYPES))).scalar() or 0
                room = min(room, pool["concurrency_limit"] - int(active))
            if room <= 0:
                return []
            stmt = (select(flow_runs)
                    .where(c.work_pool == work_pool, c.state_type == str(StateType.SCHEDULED),
                           c.scheduled_ts <= now)
                    .order_by(c.priority.desc(), c.scheduled_ts, c.id)
                    .limit(max(room * 4, 16)))
            if self._dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            candidates = [rows.to_flow_run(r) for r in conn.execute(stmt).mappings()]
            room_of = self._deployment_room(conn, {r.deployment_id for r in candidates
                                                   if r.deployment_id})
            claimed: list[FlowRun] = []
            for record in candidates:
                if len(claimed) == room:
                    break
                dep = record.deployment_id
                if dep in room_of:
                    if room_of[dep] <= 0:
                        continue
                    room_of[dep] -= 1
                claimed.append(record)
            for record in claimed:
                # `now` was taken before this transaction waited for its lock: never stamp
                # the claim older than the state it follows (a hand-back, a reschedule).
                claimed_ts = max(now, record.state_ts)
                record.state_type, record.state_name = StateType.PENDING, "Pending"
                record.state_message = f"Claimed by worker {worker_id}"
                record.state_ts, record.worker_id = claimed_ts, worker_id
                conn.execute(update(flow_runs).where(c.id == record.id).values(
                    state_type=str(StateType.PENDING), state_name="Pending",
                    state_message=record.state_message, state_ts=claimed_ts,
                    worker_id=worker_id))
            if claimed:
                conn.execute(state_history.insert(), [
                    {"run_id": r.id, "run_kind": "flow", "type": str(StateType.PENDING),
                     "name": "Pending", "ts": r.state_ts, "message": r.state_message}
                    for r in claimed])
            return claimed

        return self._write(run)

    def _deployment_room(self, conn: Connection, deployment_ids: set[str]) -> dict[str, int]:
        """Free places of the deployments (among these) that have a concurrency limit."""
        if not deployment_ids:
            return {}
        d = deployments.c
        limits = {row.id: row.concurrency_limit for row in conn.execute(
            select(d.id, d.concurrency_limit).where(d.id.in_(deployment_ids),
                                                    d.concurrency_limit.is_not(None)))}
        if not limits:
            return {}
        c = flow_runs.c
        active = dict(conn.execute(
            select(c.deployment_id, func.count()).where(
                c.deployment_id.in_(list(limits)), c.state_type.in_(CLAIMED_TYPES))
            .group_by(c.deployment_id)).all())
        return {dep: limit - int(active.get(dep, 0)) for dep, limit in limits.items()}

    def release_flow_run(self, flow_run_id: str, worker_id: str, now: float) -> bool:
        """Hand a claimed run that has not started back to its pool (a worker stopping)."""
        def run(conn: Connection) -> bool:
            c = flow_runs.c
            result = conn.execute(update(flow_runs).where(
                c.id == flow_run_id, c.worker_id == worker_id,
                c.state_type == str(StateType.PENDING)).values(
                state_type=str(StateType.SCHEDULED), state_name="Scheduled",
                state_message=f"Handed back by worker {worker_id}", state_ts=now,
                worker_id=None))
            if result.rowcount:
                conn.execute(state_history.insert().values(
                    run_id=flow_run_id, run_kind="flow", type=str(StateType.SCHEDULED),
                    name="Scheduled", ts=now, message=f"Handed back by worker {worker_id}"))
            return bool(result.rowcount)

        return bool(self._write(run))

    def reschedule_flow_run(self, flow_run_id: str, now: float, message: str) -> bool:
        """A CRASHED run of a deployment goes back to its pool (AwaitingRetry) for another
        worker; False when it is no longer CRASHED."""
        def run(conn: Connection) -> bool:
            c = flow_runs.c
            result = conn.execute(update(flow_runs).where(
                c.id == flow_run_id, c.state_type == str(StateType.CRASHED)).values(
                state_type=str(StateType.SCHEDULED), state_name="AwaitingRetry",
                state_message=message, state_ts=now, scheduled_ts=now, worker_id=None,
                end_ts=None))
            if result.rowcount:
                conn.execute(state_history.insert().values(
                    run_id=flow_run_id, run_kind="flow", type=str(StateType.SCHEDULED),
                    name="AwaitingRetry", ts=now, message=message))
            return bool(result.rowcount)

        return bool(self._write(run))

    def mark_late_runs(self, now: float) -> list[str]:
        """Name "Late" the SCHEDULED runs whose slot is past their deployment's grace."""
        def run(conn: Connection) -> list[str]:
            c, d = flow_runs.c, deployments.c
            grace = (select(d.grace_seconds).where(d.id == c.deployment_id)
                     .scalar_subquery())
            late = [row.id for row in conn.execute(select(c.id).where(
                c.state_type == str(StateType.SCHEDULED), c.state_name == "Scheduled",
                c.scheduled_ts.is_not(None), c.deployment_id.is_not(None),
                c.scheduled_ts < now - func.coalesce(grace, 60.0)))]
            for start in range(0, len(late), 500):
                chunk = late[start:start + 500]
                conn.execute(update(flow_runs).where(c.id.in_(chunk)).values(
                    state_name="Late", state_ts=now))
                conn.execute(state_history.insert(), [
                    {"run_id": i, "run_kind": "flow", "type": str(StateType.SCHEDULED),
                     "name": "Late", "ts": now, "message": "Not started within its grace "
                                                          "period"} for i in chunk])
            return late

        return self._write(run)
