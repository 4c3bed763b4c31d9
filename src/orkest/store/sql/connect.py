"""Turn a database URL into a ready SQLAlchemy engine, or a clear ConfigurationError.

For a SQLite file this is where ORKEST_HOME gets created, and where the usual ways a
home can be unusable (not creatable, read-only, a corrupt orkest.db) become a message
naming the path and what to do. Nothing here ever deletes or rewrites an existing file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from orkest.errors import ConfigurationError, StoreError
from orkest.store.sql import dialects

_WHERE = "set ORKEST_HOME (or ORKEST_DATABASE_URL) to a location you can write"


def display(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def open_engine(raw_url: str) -> Engine:
    """An engine whose first connection has been made (so bad paths fail here)."""
    url = dialects.normalize_url(raw_url)
    path = None
    if dialects.is_sqlite(url) and not dialects.is_sqlite_memory(url):
        path = Path(str(url.database)).expanduser().absolute()
        _check_sqlite_path(path)
        url = url.set(database=str(path))
    engine = create_engine(url, **dialects.engine_options(url))
    dialects.install_hooks(engine)
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        raise translate(exc, url) from exc
    return engine


def _check_sqlite_path(path: Path) -> None:
    home = path.parent
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot create the directory {home} for the orkest database: "
            f"{exc.strerror or exc}. Create it by hand, or {_WHERE}."
        ) from exc
    if not home.is_dir():
        raise ConfigurationError(f"{home} is not a directory, so it cannot hold {path.name}. "
                                 f"Move it aside, or {_WHERE}.")
    if path.exists() and not path.is_file():
        raise ConfigurationError(f"{path} exists but is not a file; move it aside, or {_WHERE}.")
    # SQLite in WAL mode creates orkest.db-wal and orkest.db-shm next to the database,
    # so the directory itself must be writable even when the file already exists.
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"The directory {home} is read-only: orkest needs to write {path.name} and its "
            f"-wal/-shm files there. Make it writable, or {_WHERE}."
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise ConfigurationError(
            f"The orkest database {path} is not readable and writable by this user. "
            f"Fix its permissions, or {_WHERE}."
        )


def translate(exc: DBAPIError, url: URL) -> Exception:
    """The error to raise for a failure of the database itself (not of one statement)."""
    orig = exc.orig
    if isinstance(orig, sqlite3.DatabaseError) and dialects.is_sqlite(url):
        message = str(orig)
        lowered = message.lower()
        if "not a database" in lowered or "malformed" in lowered:
            return ConfigurationError(
                f"{url.database} is not a usable SQLite database (sqlite: {message}). "
                f"orkest never deletes or overwrites it: move it aside (for example "
                f"`mv {url.database} {url.database}.broken`) to start a fresh database, "
                f"or {_WHERE}."
            )
        if "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
            return ConfigurationError(
                f"Cannot open the orkest database {url.database} for writing "
                f"(sqlite: {message}). Check its permissions, or {_WHERE}."
            )
    return StoreError(f"Cannot use the database at {display(url)}: {orig}")
