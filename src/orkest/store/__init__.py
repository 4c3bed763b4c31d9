"""Implementations of the storage ports: open_store() picks one by URL.

    memory://                                MemoryRunStore (this process only)
    sqlite:///path/orkest.db                 SqlRunStore (the default, under ORKEST_HOME)
    postgresql+psycopg://user@host/db        SqlRunStore
    http(s)://host:4200/api                  RemoteRunStore (orkest.client), registered by
                                             `orkest/__init__.py` through register_scheme()

Remote mode: with ORKEST_API_URL set, the configured store is the API server: open_store()
without a URL gives the server's RemoteRunStore, and such a process never opens the
database itself. An explicit URL still opens that store directly, and so does `direct=True`
(the server itself, which serves its database whatever ORKEST_API_URL says).

Stores are cached per (process id, URL): a forked child opens its own connections instead
of sharing its parent's sockets. SQLAlchemy is imported only when a SQL store is opened, and
this package imports little itself, so `import orkest` can register the HTTP scheme cheaply.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orkest import settings
from orkest._internal import store_schemes
from orkest.errors import ConfigurationError, StoreUnavailable

if TYPE_CHECKING:
    from orkest.core.ports import RunStore
    from orkest.store.memory import MemoryRunStore
    from orkest.store.results import FileResultFiles

__all__ = [
    "FileResultFiles",
    "MemoryRunStore",
    "StoreUnavailable",
    "open_store",
    "register_scheme",
    "reset_stores",
    "result_files",
    "upgrade",
]

MEMORY_URL = "memory://"
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres")

StoreFactory = Callable[[str], "RunStore"]

_lock = threading.Lock()
_stores: dict[tuple[int, str], RunStore] = {}


def register_scheme(scheme: str, factory: StoreFactory) -> None:
    """Open URLs of `scheme` with `factory(url)`: how a higher layer adds a backend."""
    store_schemes.register(scheme, factory)


def open_store(url: str | None = None, *, direct: bool = False) -> RunStore:
    """The run store for `url` (default: the configured one), opened once per process.

    direct: open the database itself even when ORKEST_API_URL names a server.
    """
    url = (url or settings.current().database_url) if direct else _resolve(url)
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
    from orkest.store.results import FileResultFiles

    return FileResultFiles(root if root is not None else settings.current().results_dir)


def upgrade(url: str | None = None) -> tuple[str | None, str | None]:
    """`orkest db upgrade`: migrate the database to the newest schema.

    Returns the schema revision before and after; (None, None) for memory://.
    """
    url = url or settings.current().database_url
    if _scheme(url) == "memory":
        return None, None
    if store_schemes.factory_for(_scheme(url)) is not None:
        raise ConfigurationError(
            f"{url} is an API server, not a database: run `orkest db upgrade` where the "
            "server runs (its ORKEST_DATABASE_URL), without ORKEST_API_URL."
        )
    _check_sql_url(url)
    from orkest.store.sql import migrate

    return migrate.upgrade(url)


def _resolve(url: str | None) -> str:
    """The URL to open: the API server stands in for the configured database."""
    current = settings.current()
    if url is None:
        return current.api_url or current.database_url
    return url


def _open(url: str) -> RunStore:
    scheme = _scheme(url)
    if scheme == "memory":
        from orkest.store.memory import MemoryRunStore

        return MemoryRunStore()
    factory = store_schemes.factory_for(scheme)
    if factory is not None:
        return factory(url)
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


def __getattr__(name: str) -> Any:
    """MemoryRunStore and FileResultFiles load on first use (keeps this package light)."""
    if name == "MemoryRunStore":
        from orkest.store.memory import MemoryRunStore

        return MemoryRunStore
    if name == "FileResultFiles":
        from orkest.store.results import FileResultFiles

        return FileResultFiles
    raise AttributeError(f"module 'orkest.store' has no attribute {name!r}")
