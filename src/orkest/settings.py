"""ORKEST_* settings, read from the environment when asked (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orkest.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    api_url: str | None  # set: runs are stored through this API server, not the database
    api_key: str | None
    # How long the end of a top-level flow keeps retrying an unreachable server before it
    # saves the unsent records under home/unsent/ (ORKEST_API_FLUSH_TIMEOUT, seconds).
    api_flush_timeout: float = 10.0

    @property
    def results_dir(self) -> Path:
        return self.home / "results"

    @property
    def is_default_sqlite(self) -> bool:
        return self.database_url == default_database_url(self.home)


def default_database_url(home: Path) -> str:
    return f"sqlite:///{home / 'orkest.db'}"


def current() -> Settings:
    """The settings in force now; cheap enough to call per flow run."""
    raw_home = os.environ.get("ORKEST_HOME") or "~/.orkest"
    home = Path(raw_home).expanduser()
    if home.exists() and not home.is_dir():
        raise ConfigurationError(
            f"ORKEST_HOME={raw_home!r} is a file, not a directory; point it at a directory."
        )
    database_url = os.environ.get("ORKEST_DATABASE_URL") or default_database_url(home)
    return Settings(
        home=home,
        database_url=database_url,
        api_url=os.environ.get("ORKEST_API_URL") or None,
        api_key=os.environ.get("ORKEST_API_KEY") or None,
        api_flush_timeout=_seconds("ORKEST_API_FLUSH_TIMEOUT", 10.0),
    )


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise ConfigurationError(f"{name}={raw!r} must be a number of seconds >= 0.")
    return value
