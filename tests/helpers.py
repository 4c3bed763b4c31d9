"""Small helpers shared by test modules (tests/ is on sys.path)."""

from __future__ import annotations

from pathlib import Path


def count_calls(marker: Path) -> int:
    return len(marker.read_text()) if marker.exists() else 0


def note_call(marker: Path) -> int:
    """Append one mark to a file and return how many there are (works across processes)."""
    with marker.open("a") as handle:
        handle.write("x")
    return count_calls(marker)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 30, what: str = "it", interval: float = 0.1):
    """Poll `predicate` until it returns something true (returned), or fail naming `what`."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def fresh_postgres_database(prefix: str):
    """A context manager giving the URL of a new PostgreSQL database, dropped (connections
    and all) on exit. The server is ORKEST_TEST_POSTGRES_URL (default the local `test`); an
    unreachable one skips with the reason and how to start it, unless
    ORKEST_REQUIRE_POSTGRES=1 makes that a failure (CI)."""
    import contextlib
    import os
    import uuid

    import pytest
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    @contextlib.contextmanager
    def database():
        base = make_url(os.environ.get("ORKEST_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
        if base.drivername in ("postgresql", "postgres"):
            base = base.set(drivername="postgresql+psycopg")
        admin = create_engine(base, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 5})
        try:
            try:
                with admin.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except OperationalError as exc:
                reason = (f"PostgreSQL server unreachable at "
                          f"{base.render_as_string(hide_password=True)} ({exc.orig}); "
                          f"start it with: {POSTGRES_START_HINT}")
                if os.environ.get("ORKEST_REQUIRE_POSTGRES") == "1":
                    pytest.fail(f"ORKEST_REQUIRE_POSTGRES=1 but {reason}")
                pytest.skip(reason)
            name = f"{prefix}_{uuid.uuid4().hex[:12]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                yield base.set(database=name).render_as_string(hide_password=False)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()

    return database()


DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
