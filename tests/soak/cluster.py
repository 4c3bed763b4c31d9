"""The processes of a soak test: one `orkest server start` (API, scheduler, reaper) and
`orkest worker start` processes, some talking to the database directly, some only to the
server (ORKEST_API_URL), each with its output in a file under the test's directory.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from helpers import free_port, wait_for

COMMAND = [sys.executable, "-m", "orkest.cli.main"]
# Short waits so that a killed worker's runs are found and rerun within a second or two.
WORKER_FLAGS = ("--heartbeat-interval", "0.5", "--reap-interval", "0.5",
                "--poll-interval", "0.05")
_BANNER = re.compile(r"Worker \S+ \(([\w-]+)\) started")


def base_env(home: Path, database_url: str | None) -> dict[str, str]:
    """This environment without ORKEST_* settings, with its own home and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORKEST_")}
    env["ORKEST_HOME"] = str(home)
    if database_url:
        env["ORKEST_DATABASE_URL"] = database_url
    return env


@dataclass
class Server:
    """`orkest server start` on a free loopback port, with the scheduler and a reaper."""

    root: Path
    database_url: str | None
    process: subprocess.Popen | None = None
    url: str = ""

    @property
    def home(self) -> Path:
        return self.root / "server-home"

    def create_schema(self) -> None:
        """`orkest db upgrade`, so that the server and the workers do not race to do it."""
        self.home.mkdir(parents=True, exist_ok=True)
        subprocess.run([*COMMAND, "db", "upgrade"], env=base_env(self.home, self.database_url),
                       check=True, capture_output=True, timeout=120)

    def start(self) -> Server:
        env = base_env(self.home, self.database_url)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/api"
        with (self.root / "server.log").open("w") as log:
            self.process = subprocess.Popen(
                [*COMMAND, "server", "start", "--port", str(port), "--reap-interval", "1",
                 "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(self._healthy, timeout=60, what=f"the server on port {port}")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log()
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT)


@dataclass
class WorkerProcess:
    """One `orkest worker start` process; `ids` are the worker ids it had (one per start)."""

    slot: int
    pool: str
    concurrency: int
    env: dict[str, str]
    root: Path
    remote: bool
    process: subprocess.Popen | None = None
    ids: list[str] = field(default_factory=list)
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.root / f"worker-{self.slot}-{self.starts}.log"

    def start(self) -> WorkerProcess:
        self.starts += 1
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [*COMMAND, "worker", "start", "--pool", self.pool, "--concurrency",
                 str(self.concurrency), "--name", f"soak-{self.slot}-{self.starts}",
                 *WORKER_FLAGS],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        found = wait_for(self._banner, timeout=60, what=f"worker {self.slot} to start")
        self.ids.append(found)
        return self

    def _banner(self) -> str | None:
        assert self.process is not None and self.process.poll() is None, self.output()
        found = _BANNER.search(self.output())
        return found.group(1) if found else None

    @property
    def id(self) -> str:
        return self.ids[-1]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no goodbye, no hand-back; its children die with it (PDEATHSIG)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM)


def stop_process(process: subprocess.Popen | None, signum: int, timeout: float = 30) -> None:
    """Ask it to stop; kill it if it does not within `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@dataclass
class Cluster:
    """A server and its workers on one database; `close()` stops them all."""

    root: Path
    database_url: str | None
    server: Server | None = None
    workers: list[WorkerProcess] = field(default_factory=list)
    kills: int = 0

    def create_schema(self) -> None:
        self.server = Server(self.root, self.database_url)
        self.server.create_schema()

    def start_server(self) -> Server:
        assert self.server is not None, "create_schema() first"
        return self.server.start()

    def start_worker(self, pool: str, concurrency: int, *, remote: bool) -> WorkerProcess:
        slot = len(self.workers)
        home = self.root / f"worker-home-{slot}"
        home.mkdir(parents=True, exist_ok=True)
        if remote:
            assert self.server is not None, "a remote worker needs the server first"
            env = base_env(home, None)
            env["ORKEST_API_URL"] = self.server.url
        else:
            env = base_env(home, self.database_url or
                           f"sqlite:///{self.root / 'server-home' / 'orkest.db'}")
        worker = WorkerProcess(slot, pool, concurrency, env, self.root, remote)
        self.workers.append(worker)  # stopped by close() even if it fails to start
        return worker.start()

    def kill_and_restart(self, worker: WorkerProcess, pause: float = 0.5) -> None:
        worker.kill()
        self.kills += 1
        time.sleep(pause)  # the machine's view of a crashed host: gone for a moment
        worker.start()

    def worker_ids(self) -> dict[str, WorkerProcess]:
        return {worker_id: w for w in self.workers for worker_id in w.ids}

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.server is not None:
            self.server.stop()
