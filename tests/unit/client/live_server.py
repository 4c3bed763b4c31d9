"""A real API server in a subprocess for the remote-mode tests (contract, engine, outage).

`orkest.server.create_app()` under uvicorn on a free loopback port, backed by a SQLite file
of its own, with its own environment (never ORKEST_API_URL: it would talk to itself). One
server serves a whole test session; `truncate()` empties its database between tests by
opening the same SQLite file directly, which is much cheaper than a server per test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SERVE = """
import sys, uvicorn
from orkest.server import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""
TABLES = ("flow_runs", "task_runs", "state_history", "logs", "results", "cache_entries")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """One server process on a fixed port and database; stop() and start() it at will."""

    def __init__(self, home: Path, *, api_key: str | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.database_url = f"sqlite:///{home / 'server.db'}"
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.api_key = api_key
        self.process: subprocess.Popen[bytes] | None = None
        self._direct = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORKEST_")}
        env.update(ORKEST_HOME=str(self.home), ORKEST_DATABASE_URL=self.database_url)
        if self.api_key:
            env["ORKEST_API_KEY"] = self.api_key
        return env

    def start(self, timeout: float = 30.0) -> LiveServer:
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "server.log").open("ab")
        self.process = subprocess.Popen([sys.executable, "-c", SERVE, str(self.port)],
                                        env=self.env(), stdout=log, stderr=log,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout} s: {self.log_tail()}")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (SIGKILL when `kill`: it goes away without a word)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def truncate(self) -> None:
        """Empty the server's database (every test starts from nothing)."""
        from sqlalchemy import text

        from orkest.store.sql.store import SqlRunStore

        if self._direct is None:
            self._direct = SqlRunStore(self.database_url)
        with self._direct._engine.begin() as conn:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))

    def close(self) -> None:
        self.stop()
        if self._direct is not None:
            self._direct.close()
            self._direct = None

    def log_tail(self) -> str:
        path = self.home / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""
