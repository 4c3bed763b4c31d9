"""SqlRunStore: the RunStore on SQLite or PostgreSQL, through SQLAlchemy Core.

Every write is one transaction, run again a few times with backoff when the database
says it is locked, busy or deadlocked (nothing of a failed attempt is kept). Reads use
plain transactions, which in SQLite's WAL mode never wait for a writer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, func, or_, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from orkest.core.records import (
    CacheEntry,
    FlowRun,
    FlowSummary,
    LogLine,
    ResultBlob,
    StateCount,
    StateRecord,
    TaskRun,
    TaskStat,
    WriteBatch,
)
from orkest.core.states import State, StateType
from orkest.core.transitions import Policy, check_transition
from orkest.errors import StoreError
from orkest.store import semantics
from orkest.store.sql import bulk, connect, dialects, migrate, queries, rows
from orkest.store.sql.config import SqlConfig
from orkest.store.sql.fleet import SqlFleet
from orkest.store.sql.orchestration import SqlOrchestration
from orkest.store.sql.tables import (
    REQUEST_COLUMNS,
    cache_entries,
    flow_runs,
    logs,
    results,
    state_history,
    task_runs,
)

T = TypeVar("T")

_WRITE_ATTEMPTS = 6
_BACKOFF_SECONDS = 0.05
_IN_CHUNK = 500  # ids per IN (...) list; far below every dialect's parameter limit


def _without_nul(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The row with NUL characters in its text replaced by U+FFFD (PostgreSQL refuses them;
    JSON columns hold them escaped, as \\u0000, so only plain strings are touched)."""
    if not any(type(v) is str and "\x00" in v for v in row):
        return row
    return tuple(v.replace("\x00", "\ufffd") if type(v) is str else v for v in row)


class SqlRunStore(SqlOrchestration, SqlFleet, SqlConfig):
    """RunStore over a SQLAlchemy URL (sqlite:///path or postgresql+psycopg://...).

    Opening creates the SQLite file's directory and migrates the schema if needed.
    """

    def __init__(self, url: str) -> None:
        self._engine = connect.open_engine(url)
        self._writer = self._engine.execution_options(**{dialects.WRITE_OPTION: True})
        self._dialect = self._engine.dialect.name
        self.url = connect.display(self._engine.url)
        try:
            migrate.ensure_schema(self._engine)
        except BaseException:
            self._engine.dispose()
            raise
        d, dialect = self._dialect, self._engine.dialect
        self._flow_runs = bulk.BulkStatement(
            dialects.upsert(flow_runs, d, "id",
                            keep=(*REQUEST_COLUMNS, "graph", "idempotency_key")),
            rows.FLOW_RUN_COLUMNS, dialect)
        self._task_runs = bulk.BulkStatement(
            dialects.upsert(task_runs, d, "id"), rows.TASK_RUN_COLUMNS, dialect)
        self._states = bulk.BulkStatement(
            dialects.insert(state_history, d), rows.STATE_COLUMNS, dialect)
        self._logs = bulk.BulkStatement(dialects.insert(logs, d), rows.LOG_COLUMNS, dialect)
        self._results = bulk.BulkStatement(
            dialects.upsert(results, d, "key"), rows.RESULT_COLUMNS, dialect)
        self._cache = bulk.BulkStatement(
            dialects.insert(cache_entries, d), rows.CACHE_COLUMNS, dialect)

    def __repr__(self) -> str:
        return f"SqlRunStore({self.url!r})"

    # -- writes ---------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> None:
        flows, tasks = batch.flow_runs.values(), batch.task_runs.values()
        if self._dialect == "postgresql":  # same lock order in every transaction: no deadlock
            flows = [batch.flow_runs[k] for k in sorted(batch.flow_runs)]
            tasks = [batch.task_runs[k] for k in sorted(batch.task_runs)]
        work = [
            (self._flow_runs, [rows.flow_run_values(r) for r in flows]),
            (self._task_runs, [rows.task_run_values(r) for r in tasks]),
            (self._states, [rows.state_values(r) for r in batch.states]),
            (self._logs, [rows.log_values(r) for r in batch.logs]),
            (self._results, [rows.result_values(r) for r in batch.results]),
            (self._cache, [rows.cache_values(r) for r in batch.cache]),
        ]
        work = [(stmt, values) for stmt, values in work if values]
        if not work:
            return
        if self._dialect == "postgresql":  # its text columns cannot hold NUL at all
            work = [(stmt, [_without_nul(row) for row in values]) for stmt, values in work]

        def run(conn: Connection) -> None:
            for stmt, values in work:
                stmt.execute(conn, values)

        self._write(run)

    def set_state(
        self, run_id: str, run_kind: str, state: State, policy: Policy
    ) -> FlowRun | TaskRun:
        label = semantics.run_kind_label(run_kind)
        table, to_record = (flow_runs, rows.to_flow_run) if run_kind == "flow" else (
            task_runs, rows.to_task_run)

        def run(conn: Connection) -> FlowRun | TaskRun:
            record = to_record(self._find(conn, table, run_id, label, lock=True))
            check_transition(record.state_type, state, policy, record.state_ts)
            changes = semantics.state_changes(record.state_type, state)
            changes["state_type"] = str(state.type)
            conn.execute(update(table).where(table.c.id == record.id).values(**changes))
            self._states.execute(conn, [rows.state_values(StateRecord.of(record.id, run_kind,
                                                                          state))])
            return to_record(self._find(conn, table, record.id, label))

        return self._write(run)

    def request_action(self, flow_run_id: str, action: str, payload: object = None) -> None:
        def run(conn: Connection) -> None:
            row = self._find(conn, flow_runs, flow_run_id, "flow run", lock=True)
            conn.execute(update(flow_runs).where(flow_runs.c.id == row["id"]).values(
                requested_action=action,
                requested_payload=None if payload is None else semantics.json_copy(payload)))

        self._write(run)

    def take_requests(self, flow_run_ids: Iterable[str]) -> dict[str, tuple[str, object]]:
        ids = list(flow_run_ids)
        pending_filter = flow_runs.c.requested_action.is_not(None)
        # The usual answer is "nothing": find that out without taking the write lock.
        with self._read() as conn:
            pending = [run_id for chunk in _chunks(ids) for run_id in conn.execute(
                select(flow_runs.c.id).where(flow_runs.c.id.in_(chunk), pending_filter)
            ).scalars()]
        if not pending:
            return {}

        def run(conn: Connection) -> dict[str, tuple[str, object]]:
            c = flow_runs.c
            found = conn.execute(dialects.for_update(
                select(c.id, c.requested_action, c.requested_payload)
                .where(c.id.in_(pending), pending_filter), self._dialect)).all()
            if found:
                conn.execute(update(flow_runs).where(c.id.in_([r.id for r in found]))
                             .values(requested_action=None, requested_payload=None))
            return {r.id: (r.requested_action, r.requested_payload) for r in found}

        return self._write(run)

    def heartbeat(self, flow_run_ids: Iterable[str], now: float) -> None:
        ids = list(flow_run_ids)
        if not ids:
            return

        def run(conn: Connection) -> None:
            for chunk in _chunks(ids):
                conn.execute(update(flow_runs).where(flow_runs.c.id.in_(chunk))
                             .values(heartbeat_ts=now))

        self._write(run)

    # -- reads ----------------------------------------------------------------------------

    def read_flow_run(self, flow_run_id: str) -> FlowRun:
        with self._read() as conn:
            return rows.to_flow_run(self._find(conn, flow_runs, flow_run_id, "flow run"))

    def read_task_run(self, task_run_id: str) -> TaskRun:
        with self._read() as conn:
            return rows.to_task_run(self._find(conn, task_runs, task_run_id, "task run"))

    def list_flow_runs(
        self,
        *,
        flow_name: str | None = None,
        state_types: Sequence[StateType] | None = None,
        parent_flow_run_id: str | None = None,
        deployment_id: str | None = None,
        tag: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[FlowRun]:
        c = flow_runs.c
        where = queries.flow_run_conditions(flow_name, state_types,
                                            parent_flow_run_id, tag, created_after,
                                            created_before, deployment_id)
        stmt = (select(flow_runs).where(*where).order_by(c.created_ts.desc(), c.id.desc())
                .limit(limit).offset(offset))
        return [rows.to_flow_run(r) for r in self._all(stmt)]

    def count_flow_runs(
        self,
        *,
        flow_name: str | None = None,
        state_types: Sequence[StateType] | None = None,
        parent_flow_run_id: str | None = None,
        deployment_id: str | None = None,
        tag: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> int:
        where = queries.flow_run_conditions(flow_name, state_types,
                                            parent_flow_run_id, tag, created_after,
                                            created_before, deployment_id)
        return self._scalar(queries.count(flow_runs, where))

    def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[FlowSummary]:
        with self._read() as conn:
            found = conn.execute(queries.flows(limit, offset)).all()
        return [FlowSummary(name, int(n), last) for name, n, last in found]

    def flow_run_counts(self, *, since: float, bucket_seconds: float) -> list[StateCount]:
        if bucket_seconds <= 0:
            raise ValueError(f"bucket_seconds must be > 0, not {bucket_seconds!r}")
        with self._read() as conn:
            found = conn.execute(queries.flow_run_counts(self._dialect, since,
                                                         bucket_seconds)).all()
        return [StateCount(float(b), StateType(t), int(n)) for b, t, n in found]

    def slowest_tasks(self, *, since: float, limit: int = 10) -> list[TaskStat]:
        with self._read() as conn:
            found = conn.execute(queries.slowest_tasks(since, limit)).all()
        return [TaskStat(name, int(n), float(mean), float(top)) for name, n, mean, top in found]

    def list_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        state_types: Sequence[StateType] | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[TaskRun]:
        c = task_runs.c
        stmt = select(task_runs).where(*queries.task_run_conditions(flow_run_id, state_types))
        if flow_run_id is not None:
            stmt = stmt.order_by(c.created_ts, c.id)
        else:
            stmt = stmt.order_by(c.created_ts.desc(), c.id.desc())
        return [rows.to_task_run(r) for r in self._all(stmt.limit(limit).offset(offset))]

    def count_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        state_types: Sequence[StateType] | None = None,
    ) -> int:
        return self._scalar(queries.count(task_runs,
                                          queries.task_run_conditions(flow_run_id,
                                                                      state_types)))

    def read_states(self, run_id: str) -> list[StateRecord]:
        c = state_history.c
        stmt = select(state_history).where(c.run_id == run_id).order_by(c.id)
        return [rows.to_state(r) for r in self._all(stmt)]

    def read_logs(
        self,
        flow_run_id: str | None,
        *,
        task_run_id: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[LogLine]:
        c = logs.c
        if flow_run_id is None and task_run_id is None:
            raise ValueError("read_logs needs a flow_run_id or a task_run_id")
        stmt = select(logs).where(c.id > after_id)
        if flow_run_id is not None or task_run_id is None:
            stmt = stmt.where(c.flow_run_id == flow_run_id)
        if task_run_id is not None:
            stmt = stmt.where(c.task_run_id == task_run_id)
        return [rows.to_log(r) for r in self._all(stmt.order_by(c.id).limit(limit))]

    def read_result(self, key: str) -> ResultBlob | None:
        found = self._all(select(results).where(results.c.key == key))
        return rows.to_result(found[0]) if found else None

    def lookup_cache(self, key: str, now: float) -> CacheEntry | None:
        c = cache_entries.c
        stmt = (select(cache_entries)
                .where(c.key == key, or_(c.expires_ts.is_(None), c.expires_ts > now))
                .order_by(c.created_ts.desc(), c.id.desc()).limit(1))
        found = self._all(stmt)
        return rows.to_cache(found[0]) if found else None

    def close(self) -> None:
        self._engine.dispose()

    # -- plumbing -------------------------------------------------------------------------

    def _find(self, conn: Connection, table: Table, ident: str, label: str,
              lock: bool = False) -> Mapping[str, Any]:
        """The row with id `ident`, else the one row whose id starts with it."""
        def first(where: Any, limit: int) -> list[Mapping[str, Any]]:
            stmt = select(table).where(where).limit(limit)
            if lock:
                stmt = dialects.for_update(stmt, self._dialect)
            return list(conn.execute(stmt).mappings())

        exact = first(table.c.id == ident, 1)
        if exact:
            return exact[0]
        if len(ident) < semantics.MIN_ID_PREFIX:
            raise semantics.not_found(label, ident)
        prefix = dialects.id_prefix(table.c.id, ident, self._dialect)
        matches = first(prefix, 2)
        if not matches:
            raise semantics.not_found(label, ident)
        if len(matches) > 1:
            count = conn.execute(select(func.count()).select_from(table).where(prefix)).scalar()
            raise semantics.ambiguous(label, ident, int(count or 0))
        return matches[0]

    def _scalar(self, stmt: Any) -> int:
        with self._read() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def _all(self, stmt: Any) -> list[Mapping[str, Any]]:
        with self._read() as conn:
            return list(conn.execute(stmt).mappings())

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._error("read from", exc) from exc

    def _write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one write transaction, again from scratch if the lock was busy."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self._writer.begin() as conn:
                    return work(conn)
            except DBAPIError as exc:
                if attempt + 1 == _WRITE_ATTEMPTS or not dialects.is_transient(exc):
                    raise self._error("write to", exc) from exc
            except SQLAlchemyError as exc:
                raise self._error("write to", exc) from exc
            time.sleep(_BACKOFF_SECONDS * 2**attempt * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _error(self, verb: str, exc: SQLAlchemyError) -> StoreError:
        detail = exc.orig if isinstance(exc, DBAPIError) else exc
        return StoreError(f"Cannot {verb} the run store at {self.url}: {detail}")


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start:start + _IN_CHUNK]
