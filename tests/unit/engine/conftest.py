"""The engine suite runs twice: against the database directly, and through the API server.

"remote": ORKEST_API_URL points at one real server subprocess for the whole session
(tests/unit/client/live_server.py), whose SQLite database is emptied before each test;
every test keeps its own ORKEST_HOME for what stays local (large result files). One server
per session instead of one per test keeps the second pass to about the first one's time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.client.live_server import LiveServer

# What cannot hold in remote mode, and why (declared, never skipped quietly).
DIRECT_ONLY = {
    "test_corrupt_home_database_is_a_clear_error":
        "the database lives with the server: ORKEST_HOME/orkest.db is not opened in remote mode",
}


@pytest.fixture(scope="session")
def engine_api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("engine-api-server"))
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture(params=["direct", "remote"], autouse=True)
def tracking(request: pytest.FixtureRequest, orkest_home: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Where the engine records runs: the database ("direct") or the API server ("remote")."""
    if request.param == "direct":
        yield "direct"
        return
    reason = DIRECT_ONLY.get(request.node.originalname)
    if reason:
        pytest.skip(f"remote mode: {reason}")
    from orkest.engine.recorder import reset_recorders
    from orkest.store import reset_stores

    server: LiveServer = request.getfixturevalue("engine_api_server")
    server.truncate()
    monkeypatch.setenv("ORKEST_API_URL", server.url)
    reset_recorders()
    reset_stores()
    yield "remote"
    reset_recorders()  # flush to the server while it is there, before the next truncate
    reset_stores()
    assert not (orkest_home / "orkest.db").exists(), "remote mode opened the local database"
