"""`orkest server start` as people run it: a real uvicorn on a free loopback port, real HTTP.

Flows run in `orkest run` subprocesses, recording into the server's database directly or
through the API (ORKEST_API_URL); the server's retry spawns `orkest flow-run retry`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

COMMAND = [sys.executable, "-m", "orkest.cli.main"]
KEY = "integration-key"

FLOWS = '''
import time
from pathlib import Path
from orkest import flow, task

WORK = Path({work!r})


@task
def first() -> int:
    with (WORK / "first.calls").open("a") as f:
        f.write("x")
    return 1


@task
def second(x: int) -> int:
    if (WORK / "fail").exists():
        raise RuntimeError("second is told to fail")
    return x + 1


@flow
def pipeline() -> int:
    return second(first())


@task
def nap(seconds: float) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return seconds


@flow
def sleepy(seconds: float = 60.0) -> float:
    return nap(seconds)
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Server:
    process: subprocess.Popen[str]
    base: str
    api: httpx.Client

    def output(self) -> str:
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=20)
        return out


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("ORKEST_POLL_SECONDS", "0.1")
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("ORKEST_API_KEY", raising=False)
    return os.environ.copy()


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(textwrap.dedent(FLOWS.format(work=str(tmp_path))))
    return path


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[Server]:
    """`orkest server start` with an API key, stopped with Ctrl-C (SIGINT) at the end."""
    port = free_port()
    process = subprocess.Popen([*COMMAND, "server", "start", "--port", str(port)],
                               env={**env, "ORKEST_API_KEY": KEY}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.communicate()[0]}")
        try:
            return httpx.get(f"{base}/api/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, what="the server to answer")
        yield Server(process, base, api)
    finally:
        api.close()
        if process.poll() is None:
            process.kill()
            process.communicate()


def run_flow(env: dict[str, str], target: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "run", target], capture_output=True, text=True,
                          timeout=120, env={**env, **extra})


def test_the_server_serves_the_ui_the_api_and_metrics_and_stops_on_ctrl_c(
        server: Server, env: dict[str, str], flows: Path, orkest_home: Path) -> None:
    # A flow tracked through the server (remote mode), with the key.
    done = run_flow(env, f"{flows}:pipeline", ORKEST_API_URL=f"{server.base}/api",
                    ORKEST_API_KEY=KEY)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = server.api.get("/api/flow_runs", params={"flow_name": "pipeline"}).json()
    assert runs["total"] == 1 and runs["items"][0]["state_type"] == "COMPLETED"
    tasks = server.api.get(f"/api/flow_runs/{runs['items'][0]['id']}/task_runs").json()
    assert [t["task_name"] for t in tasks["items"]] == ["first", "second"]
    assert httpx.get(f"{server.base}/api/flow_runs").status_code == 401
    assert httpx.get(f"{server.base}/api/health").json()["database"] == "sqlite"
    assert "<html" in httpx.get(f"{server.base}/").text.lower()
    assert 'orkest_flow_runs{state="COMPLETED"} 1' in server.api.get("/metrics").text

    out = server.output()
    assert server.process.returncode == 0, out
    assert f"{server.base}/" in out and f"{server.base}/api/docs" in out
    assert f"sqlite:///{orkest_home / 'orkest.db'}" in out
    assert "API key   required" in out
    assert "Server stopped." in out


def test_retry_from_the_api_reruns_the_flow_in_a_new_process(
        server: Server, env: dict[str, str], flows: Path, tmp_path: Path) -> None:
    (tmp_path / "fail").touch()
    failed = run_flow(env, f"{flows}:pipeline")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    run = server.api.get("/api/flow_runs", params={"state": "FAILED"}).json()["items"][0]
    (tmp_path / "fail").unlink()

    response = server.api.post(f"/api/flow_runs/{run['id'][:8]}/retry")
    assert response.status_code == 202, response.text
    assert response.json()["pid"] > 0 and response.json()["flow_run_id"] == run["id"]

    def finished() -> Any:  # again: it was FAILED before the retry began
        current = server.api.get(f"/api/flow_runs/{run['id']}").json()
        done = current["state_type"] in ("COMPLETED", "FAILED", "CRASHED")
        return current if done and current["state_ts"] > run["state_ts"] else None

    final = wait_for(finished, timeout=60, what="the retried run to finish")
    log = Path(response.json()["log"])
    assert (final["state_type"], final["state_name"]) == ("COMPLETED", "Recovered"), (
        log.read_text() if log.exists() else "")
    assert (tmp_path / "first.calls").read_text() == "x"  # its result was reused
    again = server.api.post(f"/api/flow_runs/{run['id']}/retry")
    assert again.status_code == 409


def test_cancel_from_the_api_stops_a_running_flow(server: Server, env: dict[str, str],
                                                  flows: Path) -> None:
    process = subprocess.Popen([*COMMAND, "run", f"{flows}:sleepy"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def running() -> Any:
            items = server.api.get("/api/flow_runs", params={"state": "RUNNING"}).json()
            return items["items"][0] if items["items"] else None

        run = wait_for(running, what="the flow to run")
        response = server.api.post(f"/api/flow_runs/{run['id']}/cancel",
                                   json={"message": "stopped from the UI"})
        assert response.status_code == 202 and response.json()["status"] == "requested"
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 1, out
        final = server.api.get(f"/api/flow_runs/{run['id']}").json()
        assert final["state_type"] == "CANCELLED"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_non_loopback_host_without_a_key_is_refused(env: dict[str, str]) -> None:
    port = free_port()
    refused = subprocess.run([*COMMAND, "server", "start", "--host", "0.0.0.0", "--port",
                              str(port)], capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode == 2
    assert "Refusing to serve on 0.0.0.0 without an API key" in refused.stderr
    assert "--insecure" in refused.stderr
    with socket.socket() as sock:  # nothing was bound
        sock.bind(("127.0.0.1", port))
