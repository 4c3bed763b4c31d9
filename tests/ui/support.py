"""What the browser tests share besides fixtures: the server process, waiting for runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "orkest.cli.main"]
CHROMIUM = os.environ.get("ORKEST_CHROMIUM", "/usr/bin/chromium")
MISSING = f"no Chromium at {CHROMIUM}: install Debian packages chromium chromium-driver"


def artifacts_dir() -> Path:
    base = os.environ.get("ORKEST_TEST_ARTIFACTS")
    return Path(base) if base else ROOT / "test-artifacts" / "screenshots"


# -- the server -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    home: Path
    process: subprocess.Popen
    log: IO[str] = field(repr=False)
    api_key: str | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)


def clean_env(home: Path) -> dict[str, str]:
    """This environment without ORKEST_* settings, with its own ORKEST_HOME (SQLite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORKEST_")}
    env["ORKEST_HOME"] = str(home)
    return env


def start_server(home: Path, api_key: str | None = None) -> Server:
    port = free_port()
    env = clean_env(home)
    if api_key:
        env["ORKEST_API_KEY"] = api_key
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [*COMMAND, "server", "start", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    server = Server(f"http://127.0.0.1:{port}", home, process, log, api_key, env)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            log.close()
            raise RuntimeError(f"`orkest server start` exited {process.returncode}:\n"
                               + (home / "server.log").read_text())
        try:
            with urllib.request.urlopen(server.url + "/api/health", timeout=1) as response:
                response.read()
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                stop_server(server)
                raise RuntimeError("the server did not answer /api/health within 30 s:\n"
                                   + (home / "server.log").read_text()) from None
            time.sleep(0.1)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    server.log.close()


def wait_for_flow_run(flow_name: str, timeout: float = 30.0):
    """The newest flow run of a flow, once the engine has recorded it."""
    from orkest.store import open_store

    store = open_store()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = store.list_flow_runs(flow_name=flow_name, limit=1)
        if runs:
            return runs[0]
        time.sleep(0.1)
    raise AssertionError(f"no flow run of {flow_name!r} within {timeout} s")
