"""What the server reads from the environment (ORKEST_API_*), checked once at start-up.

The server is the API: it always serves its own database (ORKEST_DATABASE_URL, or the
SQLite file under ORKEST_HOME) and never follows ORKEST_API_URL, which is for its clients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orkest import settings
from orkest.errors import ConfigurationError

DEFAULT_MAX_BODY_BYTES = 16 * 2**20
MIN_BODY_BYTES = 1024
# One log line in a batch may hold at most this many bytes (UTF-8) of message.
MAX_LOG_MESSAGE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    database_url: str
    home: Path
    api_key: str | None
    cors_origins: tuple[str, ...]
    max_body_bytes: int

    @property
    def database_kind(self) -> str:
        """"sqlite", "postgresql" or "memory": what /api/health reports."""
        scheme = self.database_url.split(":", 1)[0].split("+", 1)[0].lower()
        return "postgresql" if scheme == "postgres" else scheme


def load_config(
    *,
    database_url: str | None = None,
    api_key: str | None = None,
    cors_origins: list[str] | tuple[str, ...] | None = None,
    max_body_bytes: int | None = None,
) -> ServerConfig:
    """Arguments win over the environment; `api_key=""` means "no key" even if one is set."""
    current = settings.current()
    key = current.api_key if api_key is None else (api_key or None)
    origins = (_origins(os.environ.get("ORKEST_API_CORS_ORIGINS", ""))
               if cors_origins is None else tuple(cors_origins))
    for origin in origins:
        _check_origin(origin)
    limit = (_body_limit(os.environ.get("ORKEST_API_MAX_BODY_BYTES"))
             if max_body_bytes is None else max_body_bytes)
    if limit < MIN_BODY_BYTES:
        raise ConfigurationError(f"The request body limit must be at least {MIN_BODY_BYTES} "
                                 f"bytes, not {limit}.")
    return ServerConfig(database_url=database_url or current.database_url, home=current.home,
                        api_key=key, cors_origins=origins, max_body_bytes=limit)


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def _check_origin(origin: str) -> None:
    if "*" in origin:
        raise ConfigurationError(
            f"ORKEST_API_CORS_ORIGINS may not contain a wildcard ({origin!r}): list each "
            "origin that may call the API, e.g. https://ops.example.com"
        )
    if not origin.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"ORKEST_API_CORS_ORIGINS entry {origin!r} is not an origin like "
            "https://ops.example.com"
        )


def _body_limit(raw: str | None) -> int:
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(
            f"ORKEST_API_MAX_BODY_BYTES={raw!r} must be a whole number of bytes."
        ) from None
