"""Watching a query for DbChange triggers: poll it, fire once per change of its result.

The first poll records the result as a baseline and fires nothing; every later poll that
gives other rows fires once, with the new rows (the first MAX_ROWS of them) and the
previous ones. A poll that fails (the database is down) is logged and tried again next
time; the baseline is kept. On PostgreSQL a trigger with a `channel` also LISTENs there
on its own connection: a NOTIFY makes the next tick poll at once, not in poll_seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from orkest.core.params import to_jsonable
from orkest.triggers import DbChange

logger = logging.getLogger("orkest.triggers")

# Rows carried in an event's payload (the change is detected on the whole result).
MAX_ROWS = 100
_LISTEN_RETRY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Change:
    rows: list[list[Any]]
    previous_rows: list[list[Any]]
    row_count: int
    digest: str
    notification: str | None = None


class DbWatch:
    """One watched query (a url and query, whatever deployments share it)."""

    def __init__(self, trigger: DbChange) -> None:
        self.trigger = trigger
        self._engine: Any = None
        self._digest: str | None = None  # None: no baseline yet
        self._rows: list[list[Any]] = []
        self._next_poll = 0.0
        self._failing = False
        self._notified = threading.Event()
        self._notification: str | None = None
        self._stop = threading.Event()
        # Set while LISTEN is in force (a NOTIFY sent before it is not seen; tests wait).
        self.listening = threading.Event()
        self._listener: threading.Thread | None = None
        if trigger.channel:
            self._listener = threading.Thread(target=self._listen, daemon=True,
                                              name=f"orkest-listen-{trigger.channel}")
            self._listener.start()

    def due(self, now: float) -> bool:
        return now >= self._next_poll or self._notified.is_set()

    def poll(self, now: float | None = None) -> Change | None:
        """Run the query; the change since the last poll, or None (baseline, same, failed)."""
        now = time.monotonic() if now is None else now
        self._next_poll = now + self.trigger.poll_seconds
        notified = self._notified.is_set()
        self._notified.clear()
        try:
            rows = self._fetch()
        except Exception as exc:  # noqa: BLE001 - a database down now may be up next poll
            if not self._failing:
                logger.warning("DbChange query %r on %s failed (trying again every %g s): %s",
                               self.trigger.query, masked_url(self.trigger.url),
                               self.trigger.poll_seconds, exc)
            self._failing = True
            return None
        self._failing = False
        digest = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str)
                                .encode()).hexdigest()
        previous, self._rows = self._rows, rows[:MAX_ROWS]
        had_baseline = self._digest is not None
        changed = had_baseline and digest != self._digest
        self._digest = digest
        if not changed:
            return None
        return Change(rows=rows[:MAX_ROWS], previous_rows=previous, row_count=len(rows),
                      digest=digest, notification=self._notification if notified else None)

    def payload(self, change: Change) -> dict[str, Any]:
        return {"watch": self.trigger.watch_key, "url": masked_url(self.trigger.url),
                "query": self.trigger.query, "rows": change.rows,
                "previous_rows": change.previous_rows, "row_count": change.row_count,
                "notification": change.notification}

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _fetch(self) -> list[list[Any]]:
        from sqlalchemy import create_engine, text

        if self._engine is None:
            self._engine = create_engine(self.trigger.url, pool_pre_ping=True)
        with self._engine.connect() as conn:
            result = conn.execute(text(self.trigger.query))
            return [to_jsonable(list(row)) for row in result]

    def _listen(self) -> None:
        """LISTEN on the channel until closed; each NOTIFY asks for a poll at once."""
        import psycopg

        channel = self.trigger.channel
        while not self._stop.is_set():
            try:
                with psycopg.connect(libpq_url(self.trigger.url), autocommit=True) as conn:
                    conn.execute(f'LISTEN "{channel}"')  # channel is checked: an identifier
                    self._notified.set()  # notices missed while not listening: poll now
                    self.listening.set()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._notification = notice.payload
                            self._notified.set()
            except Exception as exc:  # noqa: BLE001 - reconnect after the database is back
                self.listening.clear()
                logger.warning("LISTEN %s on %s failed (retrying in %g s): %s", channel,
                               masked_url(self.trigger.url), _LISTEN_RETRY_SECONDS, exc)
                self._stop.wait(_LISTEN_RETRY_SECONDS)


def masked_url(url: str) -> str:
    """The url without its password, for logs and events."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: show its scheme only
        return url.split("://", 1)[0] + "://..."


def libpq_url(url: str) -> str:
    """An SQLAlchemy PostgreSQL URL (postgresql+psycopg://...) as psycopg takes it."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
