"""DbChange: run a deployment when the result of a polled query changes."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from orkest.errors import InvalidTrigger
from orkest.triggers.base import Trigger, require_text

# The event a changed result gives; its payload has "watch" (the trigger's key), "rows"...
DB_EVENT = "db/changed"
_CHANNEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class DbChange(Trigger):
    """When the rows of `query` on the database at `url` (an SQLAlchemy URL) differ from
    the last poll, every `poll_seconds`. The first poll only records the result. On
    PostgreSQL, `channel` also LISTENs there: a NOTIFY polls at once. Templates get
    `{{ event.rows }}` (the new result) and `{{ event.previous_rows }}`."""

    type_name = "db_change"

    def __init__(self, url: str, query: str, poll_seconds: float = 10,
                 channel: str | None = None,
                 parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        self.url = require_text(url, self.type_name, "url")
        if "://" not in self.url:
            raise InvalidTrigger(f"Trigger 'db_change' field 'url' is {url!r}: give an "
                                 "SQLAlchemy URL such as sqlite:////data/app.db or "
                                 "postgresql+psycopg://user@host/db")
        self.query = require_text(query, self.type_name, "query")
        if (isinstance(poll_seconds, bool) or not isinstance(poll_seconds, int | float)
                or not math.isfinite(poll_seconds) or poll_seconds <= 0):
            raise InvalidTrigger(f"Trigger 'db_change' field 'poll_seconds' must be a number "
                                 f"of seconds > 0, not {poll_seconds!r}")
        self.poll_seconds = poll_seconds
        if channel is not None:
            if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
                raise InvalidTrigger(f"Trigger 'db_change' field 'channel' is {channel!r}: "
                                     "use a PostgreSQL identifier (letters, digits, '_')")
            if not self.url.startswith("postgres"):
                raise InvalidTrigger(f"Trigger 'db_change' field 'channel' needs a PostgreSQL "
                                     f"url (LISTEN/NOTIFY), not {self.url.split(':')[0]!r}")
        self.channel = channel

    @property
    def watch_key(self) -> str:
        """What names this watch in its events: the same url and query, the same key."""
        digest = hashlib.sha256(f"{self.url}\n{self.query}".encode()).hexdigest()
        return digest[:16]

    def fields(self) -> dict[str, Any]:
        return {"url": self.url, "query": self.query, "poll_seconds": self.poll_seconds,
                "channel": self.channel}

    def matches(self, name: str, payload: Any) -> bool:
        return (name == DB_EVENT and isinstance(payload, Mapping)
                and payload.get("watch") == self.watch_key)

    def describe(self) -> str:
        listen = f", and on NOTIFY {self.channel}" if self.channel else ""
        return (f"When the result of {self.query!r} changes (polled every "
                f"{self.poll_seconds:g} s{listen})")
