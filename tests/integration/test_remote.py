"""Remote mode end to end: a real server subprocess, its API key, the CLI through it, and a
server that goes away in the middle of a run (killed, then started again)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orkest.client import RemoteRunStore, replay_unsent, unsent_files
from orkest.core.states import StateType
from orkest.errors import ConfigurationError, StoreError
from orkest.store import open_store, reset_stores
from unit.client.live_server import LiveServer

KEY = "correct-horse-battery-staple"

# Each task waits for a file, so the test decides when the run may finish.
FLOW_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from orkest import flow, task

    GO = Path(sys.argv[1])

    @task
    def step(i: int) -> int:
        while not GO.exists():
            time.sleep(0.02)
        return i * 2

    @flow(name="outage")
    def outage(n: int) -> int:
        futures = step.map(range(n))
        print("started", flush=True)
        return sum(f.result() for f in futures)

    print("result", outage(20), flush=True)
""")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "server", api_key=KEY)
    try:
        yield live.start()
    finally:
        live.close()


@pytest.fixture
def remote_env(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process and its children talk to `server` with the right key."""
    monkeypatch.setenv("ORKEST_API_URL", server.url)
    monkeypatch.setenv("ORKEST_API_KEY", KEY)
    reset_stores()
    return os.environ.copy()


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - the server may be starting
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_key_is_needed_and_checked(server: LiveServer) -> None:
    stores = [RemoteRunStore(server.url, api_key=key) for key in (None, "wrong", KEY)]
    try:
        with pytest.raises(ConfigurationError, match="ORKEST_API_KEY is not set here"):
            stores[0].list_flow_runs()
        with pytest.raises(ConfigurationError, match="not the server's key"):
            stores[1].count_flow_runs()
        assert stores[2].list_flow_runs() == []
    finally:
        for store in stores:
            store.close()


def test_a_flow_with_the_wrong_key_says_so(server: LiveServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from orkest import flow

    monkeypatch.setenv("ORKEST_API_URL", server.url)
    monkeypatch.setenv("ORKEST_API_KEY", "wrong")
    reset_stores()

    @flow
    def misconfigured() -> int:
        return 1

    with pytest.raises(StoreError, match="not the server's key. Set ORKEST_API_KEY"):
        misconfigured()


def test_engine_and_cli_go_through_the_server(remote_env: dict[str, str],
                                              orkest_home: Path) -> None:
    from orkest import flow, task

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow(name="remote-demo")
    def demo() -> int:
        return sum(f.result() for f in double.map(range(5)))

    assert demo() == 20
    assert not (orkest_home / "orkest.db").exists()
    out = subprocess.run([sys.executable, "-m", "orkest.cli.main", "flow-run", "ls", "--json"],
                         capture_output=True, text=True, env=remote_env, timeout=60)
    assert out.returncode == 0, out.stderr
    [run] = json.loads(out.stdout)
    assert (run["flow_name"], run["state_type"]) == ("remote-demo", "COMPLETED")
    assert open_store().count_task_runs(flow_run_id=run["id"]) == 5


def start_flow(tmp_path: Path, env: dict[str, str], flush_timeout: float
               ) -> tuple[subprocess.Popen[str], Path]:
    script, go = tmp_path / "outage.py", tmp_path / "go"
    script.write_text(FLOW_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(go)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**env, "ORKEST_API_FLUSH_TIMEOUT": str(flush_timeout)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    return proc, go


def test_a_server_killed_mid_run_does_not_crash_the_flow(
        server: LiveServer, remote_env: dict[str, str], tmp_path: Path,
        orkest_home: Path) -> None:
    proc, go = start_flow(tmp_path, remote_env, flush_timeout=1.0)
    store = open_store()
    wait_for(lambda: store.list_flow_runs(), what="the run to reach the server")
    server.stop(kill=True)
    go.touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "result 380"
    assert "could not be recorded" in err and "Cannot reach the orkest server" in err
    [spilled] = unsent_files()
    assert f"saved them to {spilled}" in err
    server.start()
    reset_stores()
    done = replay_unsent()
    assert done.files == 1 and done.records > 20
    [run] = open_store().list_flow_runs()
    assert f"of flow run '{run.name}' ({run.id})" in err  # the warning names the run
    assert run.state_type is StateType.COMPLETED
    tasks = open_store().list_task_runs(flow_run_id=run.id, limit=100)
    assert len(tasks) == 20 and {t.state_type for t in tasks} == {StateType.COMPLETED}
    assert [s.type for s in open_store().read_states(run.id)][-1] is StateType.COMPLETED
    assert unsent_files() == []


def test_a_server_back_within_the_flush_timeout_loses_nothing(
        server: LiveServer, remote_env: dict[str, str], tmp_path: Path) -> None:
    proc, go = start_flow(tmp_path, remote_env, flush_timeout=30.0)
    store = open_store()
    wait_for(lambda: store.list_flow_runs(), what="the run to reach the server")
    server.stop(kill=True)
    go.touch()
    time.sleep(1.0)  # the run ends meanwhile; its last batch waits for the server
    server.start()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "result 380"
    assert "could not be recorded" not in err
    assert unsent_files() == []
    reset_stores()
    [run] = open_store().list_flow_runs()
    assert run.state_type is StateType.COMPLETED
    assert open_store().count_task_runs(flow_run_id=run.id,
                                        state_types=[StateType.COMPLETED]) == 20
