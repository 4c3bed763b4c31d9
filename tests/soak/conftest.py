"""Soak tests: a fresh PostgreSQL database per test, and the figures printed at the end.

PostgreSQL: ORKEST_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/
test) names a server to connect to; each test creates its own database there and drops it
afterwards. An unreachable server skips with the reason, unless ORKEST_REQUIRE_POSTGRES=1,
which makes it a failure (CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

_figures: list[str] = []


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test (dropped afterwards, connections and all)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

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
                      f"start it with: {START_HINT}")
            if os.environ.get("ORKEST_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"ORKEST_REQUIRE_POSTGRES=1 but {reason}")
            pytest.skip(reason)
        name = f"orkest_soak_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def record_figure() -> Callable[[str], None]:
    """Print a measured figure now (visible with -s) and again in the terminal summary."""
    def record(line: str) -> None:
        print(line)  # noqa: T201 - the soak's figures are its output
        _figures.append(line)

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _figures:
        terminalreporter.write_sep("-", "soak measurements")
        for line in _figures:
            terminalreporter.write_line(line)
