"""Bring a database's schema to the head revision: cheaply when it is already there.

Opening a store calls `ensure_schema`. The fast path is one SELECT of alembic_version
compared with HEAD_REVISION (a constant, checked against the migration tree by a test),
so opening an up-to-date database costs a millisecond and never imports Alembic. Only a
database that is behind takes the slow path: a write lock (SQLite's BEGIN IMMEDIATE, a
PostgreSQL advisory lock), a second look at the revision under that lock, and then
`alembic upgrade head` in that same transaction. Two processes opening a fresh database
at once therefore migrate it once, and both succeed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from orkest.errors import ConfigurationError
from orkest.store.sql import connect, dialects

if TYPE_CHECKING:
    from alembic.config import Config

HEAD_REVISION = "0006"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_VERSION_TABLE = "alembic_version"


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or None when it has no schema yet (the fast check)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise connect.translate(exc, engine.url) from exc
        return None  # no version table yet


def ensure_schema(engine: Engine) -> tuple[str | None, str]:
    """Upgrade to head if needed; returns (revision before, revision after)."""
    before = current_revision(engine)
    if before == HEAD_REVISION:
        return before, before
    for attempt in range(2):
        try:
            return _upgrade_locked(engine)
        except DBAPIError as exc:
            # "already exists": someone migrated without our lock (an older orkest?), so
            # look again once; anything else is the database's problem to report.
            if attempt or "already exists" not in str(exc.orig).lower():
                raise connect.translate(exc, engine.url) from exc
    raise AssertionError("unreachable")


def upgrade(url: str) -> tuple[str | None, str]:
    """`orkest db upgrade`: migrate the database at `url` to head, by hand."""
    engine = connect.open_engine(url)
    try:
        return ensure_schema(engine)
    finally:
        engine.dispose()


def _upgrade_locked(engine: Engine) -> tuple[str | None, str]:
    from alembic import command  # only a database that is behind pays for Alembic
    from alembic.util import CommandError

    with engine.execution_options(**{dialects.WRITE_OPTION: True}).begin() as conn:
        dialects.lock_for_migration(conn)
        before = _locked_revision(conn)
        if before == HEAD_REVISION:
            return before, before
        try:
            command.upgrade(_alembic_config(conn), "head")
        except CommandError as exc:
            raise ConfigurationError(
                f"The database at {connect.display(engine.url)} is at schema revision "
                f"{before!r}, which this version of orkest does not know (head is "
                f"{HEAD_REVISION!r}); it was probably written by a newer orkest. "
                f"Upgrade orkest, or use another database. ({exc})"
            ) from exc
    return before, HEAD_REVISION


def _locked_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table(_VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()


def _alembic_config(conn: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = conn
    return config
