"""The few places where SQLite and PostgreSQL differ, so that store.py has none.

SQLite: every connection runs in WAL mode with synchronous=NORMAL and a 30 s busy
timeout, and pysqlite's own transaction handling is switched off so that we emit BEGIN
ourselves: `BEGIN IMMEDIATE` for writes (take the write lock first, wait for it with the
busy timeout, never fail half-way on a lock upgrade) and a plain deferred `BEGIN` for reads.
This is the recipe from SQLAlchemy's pysqlite documentation, extended with the mode.
PostgreSQL: row locks with SELECT ... FOR UPDATE and an advisory lock around migrations.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, Table, event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_SECONDS = 30.0
# Execution option that makes a connection's transactions begin as writes.
WRITE_OPTION = "orkest_write"
# Any constant shared by every orkest process; pg_advisory_xact_lock takes a bigint.
_MIGRATION_LOCK_KEY = 0x6F726B657374  # "orkest"
# PostgreSQL SQLSTATEs that mean "run the transaction again": serialization, deadlock.
_PG_RETRY_STATES = frozenset({"40001", "40P01"})


def normalize_url(url: str) -> URL:
    """Parse a URL; a bare postgresql:// means psycopg 3, the driver orkest ships with."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def is_sqlite_memory(url: URL) -> bool:
    return is_sqlite(url) and (url.database in (None, "", ":memory:")
                               or url.query.get("mode") == "memory")


def engine_options(url: URL) -> dict[str, Any]:
    if is_sqlite_memory(url):
        # One shared connection, or every checkout would see its own empty database.
        return {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    if is_sqlite(url):
        return {"connect_args": {"timeout": BUSY_TIMEOUT_SECONDS}}
    return {"pool_pre_ping": True}


def install_hooks(engine: Engine) -> None:
    """Connection setup per dialect (only SQLite needs any)."""
    if engine.dialect.name != "sqlite":
        return
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch to WAL once per database file. Switching needs an exclusive lock, and SQLite
    answers "database is locked" at once, without waiting the busy timeout, while another
    process creates the same fresh file: so wait and try again ourselves."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    delay = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def insert(table: Table, dialect: str) -> Any:
    if dialect == "postgresql":
        # Imported here: the PostgreSQL dialect package pulls in asyncio (~25 ms) that a
        # SQLite-only CLI call should not pay for.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(table: Table, dialect: str, key: str, keep: tuple[str, ...] = ()) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE every column except the key and `keep`."""
    stmt = insert(table, dialect)
    return stmt.on_conflict_do_update(
        index_elements=[key],
        set_={c.name: stmt.excluded[c.name] for c in table.columns
              if c.name != key and c.name not in keep},
    )


def for_update(stmt: Select, dialect: str) -> Select:
    """Lock the selected rows until commit; SQLite's BEGIN IMMEDIATE already holds the lock."""
    return stmt.with_for_update() if dialect == "postgresql" else stmt


def id_prefix(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`, in a form the dialect's index can serve."""
    if dialect == "sqlite":
        # Binary collation: a half-open range is exactly "starts with" and uses the key.
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return (column >= prefix) & (column < upper)
    return column.startswith(prefix, autoescape=True)


def lock_for_migration(conn: Connection) -> None:
    """Serialize migrations across processes (SQLite: the BEGIN IMMEDIATE lock does it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})


def is_transient(exc: DBAPIError) -> bool:
    """Worth running the whole transaction again: it was rolled back for a lock we could
    not get, a deadlock or a serialization conflict. (Not a dropped connection: the commit
    may have happened, and running it again would store states and logs twice.)"""
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    return getattr(orig, "sqlstate", None) in _PG_RETRY_STATES
