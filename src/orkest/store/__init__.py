"""Implementations of the storage ports: open_store() picks one by URL.

    memory://                                MemoryRunStore (this process only)
    sqlite:///path/orkest.db                 SqlRunStore (the default, under ORKEST_HOME)
    postgresql+psycopg://user@host/db        SqlRunStore

Stores are cached per (process id, URL): a forked child opens its own connections instead
of sharing its parent's sockets. SQLAlchemy is imported only when a SQL store is opened.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from orkest import settings
from orkest.core.ports import RunStore
from orkest.errors import ConfigurationError
from orkest.store.memory import MemoryRunStore
from orkest.store.results import FileResultFiles

__all__ = [
    "FileResultFiles",
    "MemoryRunStore",
    "open_store",
    "reset_stores",
    "result_files",
    "upgrade",
]

MEMORY_URL = "memory://"
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres")

_lock = threading.Lock()
_stores: dict[tuple[int, str], RunStore] = {}


def open_store(url: str | None = None) -> RunStore:
    """The run store for `url` (default: settings' database URL), opened once per process."""
    url = url or settings.current().database_url
    key = (os.getpid(), url)
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = _open(url)
        return store


def reset_stores() -> None:
    """Close and forget every store this process opened (tests; after changing settings).

    Stores inherited from a parent process are only forgotten: closing them would close
    sockets the parent still uses.
    """
    pid = os.getpid()
    with _lock:
        stores = list(_stores.items())
        _stores.clear()
    for (owner, _url), store in stores:
        if owner == pid:
            store.close()


def result_files(root: Path | None = None) -> FileResultFiles:
    """Large results under `root` (default: ORKEST_HOME/results)."""
    return FileResultFiles(root if root is not None else settings.current().results_dir)


def upgrade(url: str | None = None) -> tuple[str | None, str | None]:
    """`orkest db upgrade`: migrate the database to the newest schema.

    Returns the schema revision before and after; (None, None) for memory://.
    """
    url = url or settings.current().database_url
    if _scheme(url) == "memory":
        return None, None
    _check_sql_url(url)
    from orkest.store.sql import migrate

    return migrate.upgrade(url)


def _open(url: str) -> RunStore:
    if _scheme(url) == "memory":
        return MemoryRunStore()
    _check_sql_url(url)
    from orkest.store.sql.store import SqlRunStore

    return SqlRunStore(url)


def _scheme(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0].lower()


def _check_sql_url(url: str) -> None:
    if _scheme(url) not in _SQL_SCHEMES:
        raise ConfigurationError(
            f"Unsupported database URL {url.split('@')[-1]!r} (ORKEST_DATABASE_URL): use "
            f"sqlite:///path/to/orkest.db, postgresql+psycopg://user:password@host/db "
            f"or {MEMORY_URL}."
        )
