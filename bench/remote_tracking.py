"""Remote-tracking throughput: one flow of N trivial tasks, tracked directly or via the server.

    python bench/remote_tracking.py                # N=10,000, median of 3 runs per mode
    python bench/remote_tracking.py --n 2000 --repeat 1 --mode remote
    python bench/remote_tracking.py --json out.json

"direct": the engine writes to SQLite under a fresh ORKEST_HOME (ORKEST_API_URL unset).
"remote": the same flow with ORKEST_API_URL pointing at `orkest.server.create_app()` under
uvicorn in a subprocess on a free loopback port, backed by its own SQLite file.

Each run is a fresh process with a fresh home (and, remote, an emptied server database):
`@flow(task_runner=ThreadPoolRunner())` maps a no-op task over N items and sums the
results. The clock covers the whole flow call, including the top-level flow's final flush,
so every task run is in the store when it stops; the harness then counts them there (a run
that lost records fails the benchmark). A warm-up flow of 3 tasks runs first, untimed.
Target: >= 5,000 task runs/s remote (issue #4).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 5000.0

WORKER = """
import json, sys, time
from orkest import flow, task
from orkest.runners import ThreadPoolRunner
from orkest.store import open_store

@task
def noop(x):
    return x

@flow(task_runner=ThreadPoolRunner())
def tracked(n):
    return sum(f.result() for f in noop.map(list(range(n))))

n = int(sys.argv[1])
tracked(3)
start, cpu = time.perf_counter(), time.process_time()
total = tracked(n)
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
assert total == n * (n - 1) // 2, total
run = open_store().list_flow_runs(limit=1)[0]
recorded = open_store().count_task_runs(flow_run_id=run.id)
print(json.dumps({"seconds": elapsed, "cpu": cpu, "recorded": recorded,
                  "state": run.state_type.value}))
"""

SERVE = """
import sys, uvicorn
from orkest.server import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORKEST_")}
    env.update(extra)
    return env


class Server:
    """The API server in a subprocess, with a SQLite database under `home`."""

    def __init__(self, home: Path) -> None:
        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        home.mkdir(parents=True, exist_ok=True)
        self.log = (home / "server.log").open("wb")
        env = clean_env(ORKEST_HOME=str(home),
                        ORKEST_DATABASE_URL=f"sqlite:///{home / 'server.db'}")
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(self.port)], env=env,
                                     stdout=self.log, stderr=self.log, start_new_session=True)
        self._wait()

    def _wait(self) -> None:
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: {(self.home / 'server.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise SystemExit("server did not start within 30 s")

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)
        self.log.close()


def run_once(n: int, home: Path, server: Server | None, timeout: float) -> dict:
    env = clean_env(ORKEST_HOME=str(home))
    if server is not None:
        env["ORKEST_API_URL"] = server.url
        server_cpu = server.cpu_seconds()
    out = subprocess.run([sys.executable, "-c", WORKER, str(n)], env=env, capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"worker failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if server is not None:  # includes the warm-up flow and the counting query: a bit high
        result["server_cpu"] = server.cpu_seconds() - server_cpu
    # n tasks + the 3 of the warm-up flow live in another flow run; count is per flow run
    if result["recorded"] != n or result["state"] != "COMPLETED":
        raise SystemExit(f"lost records: {result} (expected {n} task runs, COMPLETED)")
    return result


def measure(mode: str, n: int, repeat: int, root: Path, timeout: float) -> list[float]:
    seconds = []
    for i in range(repeat):
        server = Server(root / f"server-{mode}-{i}") if mode == "remote" else None
        try:
            result = run_once(n, root / f"home-{mode}-{i}", server, timeout)
        finally:
            if server is not None:
                server.stop()
        seconds.append(result["seconds"])
        server_cpu = f", server CPU {result['server_cpu']:.2f} s" if server else ""
        print(f"  {mode:6} run {i + 1}: {result['seconds']:.3f} s "
              f"({n / result['seconds']:,.0f} task runs/s; flow process CPU "
              f"{result['cpu']:.2f} s{server_cpu})", flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="tasks in the flow")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode (median)")
    parser.add_argument("--mode", choices=("both", "direct", "remote"), default="both")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", dest="json_path", help="also write the figures here")
    args = parser.parse_args()
    modes = ["direct", "remote"] if args.mode == "both" else [args.mode]
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="orkest-remote-bench-") as tmp:
        for mode in modes:
            seconds = measure(mode, args.n, args.repeat, Path(tmp), args.timeout)
            median = statistics.median(seconds)
            figures[mode] = {"median_s": median, "task_runs_per_s": args.n / median,
                             "runs_s": seconds}  # type: ignore[dict-item]
    print(f"\n{args.n:,} trivial tasks (thread runner, .map()), end to end incl. final flush,"
          f" median of {args.repeat}:")
    for mode, fig in figures.items():
        print(f"  {mode:6}  {fig['median_s']:7.3f} s  {fig['task_runs_per_s']:9,.0f} task runs/s")
    if len(figures) == 2:
        ratio = figures["remote"]["task_runs_per_s"] / figures["direct"]["task_runs_per_s"]
        print(f"  remote/direct: {ratio:.2f}")
    if "remote" in figures:
        rate = figures["remote"]["task_runs_per_s"]
        verdict = "meets" if rate >= TARGET else "MISSES"
        print(f"  remote {verdict} the target of {TARGET:,.0f} task runs/s")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"n": args.n, "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
