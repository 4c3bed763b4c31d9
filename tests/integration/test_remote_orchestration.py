"""Deployments, the scheduler and workers through the API server (ORKEST_API_URL): the
server's own scheduler creates the runs, a worker that only knows the server runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import free_port, wait_for

COMMAND = [sys.executable, "-m", "orkest.cli.main"]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`orkest server start` on its own home, and the environment of a client of it."""
    port = free_port()
    server_env = {**os.environ, "ORKEST_HOME": str(tmp_path / "server-home")}
    server_env.pop("ORKEST_API_URL", None)
    server = subprocess.Popen([*COMMAND, "server", "start", "--port", str(port)],
                              env=server_env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        assert server.poll() is None, server.communicate()[0]
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    client_env = {**os.environ, "ORKEST_API_URL": url,
                  "ORKEST_HOME": str(tmp_path / "client-home")}
    try:
        wait_for(healthy, what="the server")
        yield url, client_env
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def test_server_schedules_and_a_remote_worker_runs(api, tmp_path: Path) -> None:
    url, env = api
    flows = tmp_path / "jobs.py"
    flows.write_text(textwrap.dedent("""
        import orkest

        @orkest.flow
        def every_second(word: str = "tick") -> str:
            orkest.get_run_logger().info(word)
            return word
    """))
    deployed = subprocess.run([*COMMAND, "deploy", f"{flows}:every_second", "--name", "s",
                               "--interval", "1", "--param", "word=tock"], env=env,
                              capture_output=True, text=True, timeout=60)
    assert deployed.returncode == 0, deployed.stderr
    worker = subprocess.Popen([*COMMAND, "worker", "start", "--pool", "default"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def completed() -> list:
            page = httpx.get(f"{url}/flow_runs", params={"state": "COMPLETED"}).json()
            return page["items"] if len(page["items"]) >= 2 else []

        runs = wait_for(completed, timeout=60, what="two scheduled runs to complete")
    finally:
        worker.send_signal(signal.SIGINT)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out
    assert "RemoteRunStore" in out  # the worker never opened the database itself
    assert not (tmp_path / "client-home" / "orkest.db").exists()
    logical = [r["logical_ts"] for r in runs]
    assert len(set(logical)) == len(logical)
    assert all(r["parameters"]["word"] == "tock" and r["code_hash"] for r in runs)
    deployment = httpx.get(f"{url}/deployments/every-second/s").json()
    assert deployment["schedule_descriptions"] == ["Every second"]
    workers = httpx.get(f"{url}/workers").json()["items"]
    assert [w["status"] for w in workers] == ["stopped"]
    logs = httpx.get(f"{url}/flow_runs/{runs[0]['id']}/logs").json()["items"]
    assert any(line["message"] == "tock" for line in logs), json.dumps(logs)[:500]
