"""Every test gets its own ORKEST_HOME, and no store or recorder leaks between tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def orkest_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from orkest.engine.recorder import reset_recorders
    from orkest.store import reset_stores

    home = tmp_path / "orkest-home"
    monkeypatch.setenv("ORKEST_HOME", str(home))
    monkeypatch.delenv("ORKEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("ORKEST_API_URL", raising=False)
    reset_recorders()
    reset_stores()
    yield home
    reset_recorders()
    reset_stores()
