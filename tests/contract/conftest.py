"""Backends for the RunStore contract suite: memory, SQLite (a temp file), PostgreSQL, and
remote (the HTTP client against a real API server over SQLite, tests/unit/client/
live_server.py: one server subprocess per session, its database emptied before each test).

PostgreSQL: ORKEST_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/
test) names a server and a database to connect to; the session creates its own uniquely
named database there and drops it at the end. An unreachable server skips the PostgreSQL
cases with the reason, unless ORKEST_REQUIRE_POSTGRES=1, which makes it a failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import fresh_postgres_database
from orkest.core.ports import RunStore
from orkest.store.memory import MemoryRunStore
from unit.client.live_server import LiveServer

BACKENDS = ["memory", "sqlite", "postgresql", "remote"]
SQL_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    with fresh_postgres_database("orkest_test") as url:
        yield url


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """An API server for the remote backend, started once per session."""
    server = LiveServer(tmp_path_factory.mktemp("api-server"))
    try:
        yield server.start()
    finally:
        server.close()


def _truncate_all(store: RunStore) -> None:
    from sqlalchemy import text

    with store._engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("TRUNCATE flow_runs, task_runs, state_history, logs, results, "
                          "cache_entries RESTART IDENTITY"))


def make_store(backend: str, request: pytest.FixtureRequest) -> RunStore:
    if backend == "memory":
        return MemoryRunStore()
    if backend == "remote":
        from orkest.client import RemoteRunStore

        server = request.getfixturevalue("live_server")
        server.truncate()
        return RemoteRunStore(server.url)
    from orkest.store.sql.store import SqlRunStore

    if backend == "sqlite":
        tmp = request.getfixturevalue("tmp_path")
        return SqlRunStore(f"sqlite:///{tmp / 'orkest.db'}")
    store = SqlRunStore(request.getfixturevalue("postgres_url"))
    _truncate_all(store)  # one database per session; every test starts empty
    return store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    s = make_store(request.param, request)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=SQL_BACKENDS)
def sql_store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    s = make_store(request.param, request)
    try:
        yield s
    finally:
        s.close()
