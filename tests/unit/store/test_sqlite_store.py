"""SQLite specifics of SqlRunStore: pragmas, how transactions begin, atomicity, retries."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import event

from orkest.core.records import FlowRun, ResultBlob, StateRecord, WriteBatch
from orkest.core.states import StateType
from orkest.errors import StoreError
from orkest.store.sql import dialects
from orkest.store.sql.store import SqlRunStore


@pytest.fixture
def db(tmp_path):
    return tmp_path / "orkest.db"


@pytest.fixture
def store(db):
    s = SqlRunStore(f"sqlite:///{db}")
    yield s
    s.close()


def flow_run(id: str) -> FlowRun:
    return FlowRun(id, "f", id, StateType.PENDING, "Pending", 1.0, 1.0)


def test_database_is_in_wal_mode(store, db):
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_connections_use_normal_sync_and_a_30s_busy_timeout(store):
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_writes_begin_immediate_and_reads_deferred(store):
    statements: list[str] = []

    @event.listens_for(store._engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            statements.append(statement)

    store.write(WriteBatch(flow_runs={"a": flow_run("a")}))
    assert statements == ["BEGIN IMMEDIATE"]
    statements.clear()
    store.read_flow_run("a")
    store.list_task_runs()
    assert statements == ["BEGIN", "BEGIN"]
    statements.clear()
    store.take_requests(["a"])  # nothing pending: answered by a read alone
    assert statements == ["BEGIN"]


def test_a_failing_batch_writes_nothing(store):
    bad = WriteBatch(
        flow_runs={"a": flow_run("a")},
        states=[StateRecord("a", "flow", StateType.PENDING, "Pending", 1.0)],
        results=[ResultBlob("k", "pickle", None, 1.0)],  # type: ignore[arg-type]  # NOT NULL
    )
    with pytest.raises(StoreError, match="Cannot write to the run store"):
        store.write(bad)
    assert store.list_flow_runs() == []
    assert store.read_states("a") == []


def test_a_locked_database_is_retried_until_the_lock_is_gone(db, monkeypatch):
    # A tiny busy timeout makes SQLite give up at once, so the store's own retry must cope.
    monkeypatch.setattr(dialects, "BUSY_TIMEOUT_SECONDS", 0.01)
    store = SqlRunStore(f"sqlite:///{db}")
    try:
        holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, holder.execute, ("COMMIT",))
        release.start()
        started = time.monotonic()
        store.write(WriteBatch(flow_runs={"a": flow_run("a")}))
        assert time.monotonic() - started >= 0.25
        assert store.read_flow_run("a").id == "a"
        release.join()
        holder.close()
    finally:
        store.close()


def test_a_lock_that_never_goes_away_becomes_a_store_error(db, monkeypatch):
    monkeypatch.setattr(dialects, "BUSY_TIMEOUT_SECONDS", 0.01)
    monkeypatch.setattr("orkest.store.sql.store._BACKOFF_SECONDS", 0.001)
    store = SqlRunStore(f"sqlite:///{db}")
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="locked"):
            store.write(WriteBatch(flow_runs={"a": flow_run("a")}))
    finally:
        holder.close()
        store.close()


def test_in_memory_sqlite_url_works(tmp_path):
    store = SqlRunStore("sqlite://")
    try:
        store.write(WriteBatch(flow_runs={"a": flow_run("a")}))
        assert store.read_flow_run("a").id == "a"
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []
