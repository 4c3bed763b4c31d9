"""Orchestration latency and throughput (issue #5): deployments, scheduler, workers.

    python bench/orchestration.py               # all four figures (~1 min)
    python bench/orchestration.py --quick       # smaller N
    python bench/orchestration.py --only a,c --json out.json

(a) start latency: from `orkest deployment run` creating a run to the first line of the
    flow's code, in a worker started beforehand. Measured two ways: from the moment the run
    is committed (what the API and the scheduler do), and from the start of a fresh
    `orkest deployment run` CLI process (which adds the CLI's own start-up). Target ≤ 300 ms.
(b) schedule latency: from a slot's due time to the flow run starting (its RUNNING time), with
    `orkest scheduler start` and a worker running; an interval schedule of 1 s fires every
    second, so a few seconds give many slots (a cron slot follows the same path, once a
    minute). Target ≤ 1 s.
(c) one scheduler tick with 1,000 deployments on minute schedules (`* * * * *`), in
    process on SQLite: the median tick, and the ticks that create a run for every
    deployment at once (all minute schedules share their slots). Target ≤ 200 ms.
(d) runs per second that 4 workers (concurrency 1 each) complete for a trivial flow.
    Target ≥ 20 runs/s.

Everything runs on a fresh ORKEST_HOME (embedded SQLite) under a temporary folder. Peers:
Airflow's and Prefect's equivalents need their scheduler/API server and a worker fleet
running, with poll intervals of seconds by default (Prefect's runner polls every 10 s,
Airflow's scheduler loop and executor heartbeats are seconds); this script does not start
them, so it prints no ratio (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _calibration import describe, measure  # noqa: E402

TARGETS = {"a": 0.300, "b": 1.0, "c": 0.200, "d": 20.0}
ORKEST = [sys.executable, "-m", "orkest.cli.main"]

FLOWS = textwrap.dedent("""
    import time
    import orkest

    @orkest.flow
    def probe(out: str = "") -> None:
        if out:
            with open(out, "w") as handle:
                handle.write(repr(time.time()))

    @orkest.flow
    def trivial() -> int:
        return 1
""")


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORKEST_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["ORKEST_HOME"] = str(home)
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*ORKEST, *args], env=env, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"orkest {' '.join(args)} failed:\n{done.stderr}")
    return done


def start(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen([*ORKEST, *args], env=env, stdout=handle, stderr=handle,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def open_store(home: Path) -> Any:
    from orkest.store.sql.store import SqlRunStore

    return SqlRunStore(f"sqlite:///{home / 'orkest.db'}")


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise SystemExit(f"timed out waiting for {what}")


def wait_worker(store: Any, pool: str, count: int = 1) -> None:
    wait_for(lambda: len([w for w in store.list_workers(work_pool=pool)
                          if w.status == "online"]) >= count, 30, f"{count} worker(s) of {pool}")


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p90": ordered[int(0.9 * (len(ordered) - 1))],
            "min": ordered[0], "max": ordered[-1], "n": len(ordered)}


# -- (a) --------------------------------------------------------------------------------

def bench_a(root: Path, n: int) -> dict[str, Any]:
    home, env = root / "a", env_for(root / "a")
    flows = root / "flows.py"
    cli(env, "deploy", f"{flows}:probe", "--name", "a", "--pool", "bench-a")
    store = open_store(home)
    worker = start(env, "worker", "start", "--pool", "bench-a", "--concurrency", "2",
                   log=root / "worker-a.log")
    from orkest.services.deployments import run_deployment

    committed, from_cli, cli_wall = [], [], []
    try:
        wait_worker(store, "bench-a")
        for i in range(n + 2):  # two warm-up runs
            out = root / f"a-{i}.txt"
            if i % 2 == 0:
                run_deployment(store, "probe/a", {"out": str(out)})
                created = time.time()  # committed when run_deployment returns
                origin, series = created, committed
            else:
                origin = time.time()
                cli(env, "deployment", "run", "probe/a", "--param", f"out={out}")
                cli_wall.append(time.time() - origin)
                series = from_cli
            first_line = wait_for(lambda out=out: out.exists() and out.read_text(), 30,
                                  "the flow's first line")
            if i >= 2:
                series.append(float(first_line) - origin)
            wait_for(lambda: all(r.state_type.value == "COMPLETED"
                                 for r in store.list_flow_runs(limit=2)), 30, "completion")
    finally:
        stop(worker)
        store.close()
    return {"from_commit_s": stats(committed), "from_cli_start_s": stats(from_cli),
            "cli_process_s": stats(cli_wall)}


# -- (b) --------------------------------------------------------------------------------

def bench_b(root: Path, seconds: float) -> dict[str, Any]:
    home, env = root / "b", env_for(root / "b")
    flows = root / "flows.py"
    cli(env, "deploy", f"{flows}:trivial", "--name", "b", "--pool", "bench-b",
        "--interval", "1")
    store = open_store(home)
    worker = start(env, "worker", "start", "--pool", "bench-b", "--concurrency", "4",
                   log=root / "worker-b.log")
    scheduler = start(env, "scheduler", "start", "--interval", "0.5", "--no-triggers",
                      log=root / "scheduler-b.log")
    try:
        wait_worker(store, "bench-b")
        began = time.time()
        time.sleep(seconds)
    finally:
        stop(scheduler)
        stop(worker)
    runs = [r for r in store.list_flow_runs(limit=10_000)
            if r.start_ts and r.scheduled_ts and r.scheduled_ts >= began + 1]
    store.close()
    if not runs:
        raise SystemExit("(b): no scheduled run started; see worker-b.log / scheduler-b.log")
    return {"due_to_running_s": stats([r.start_ts - r.scheduled_ts for r in runs])}


# -- (c) --------------------------------------------------------------------------------

def bench_c(root: Path, deployments: int, ticks: int) -> dict[str, Any]:
    sys.path.insert(0, str(root))
    import flows  # type: ignore[import-not-found]

    from orkest.schedules import Cron
    from orkest.services.deployments import build_deployment
    from orkest.services.scheduler import Scheduler

    (root / "c").mkdir()
    store = open_store(root / "c")
    now0 = (int(time.time()) // 60 + 1) * 60 + 0.5
    for i in range(deployments):
        store.save_deployment(build_deployment(flows.trivial, f"d{i}",
                                               schedules=[Cron("* * * * *")], now=now0))
    scheduler = Scheduler(store)
    all_ticks, creating = [], []
    for k in range(ticks):
        report = scheduler.tick(now0 + k * 5)
        all_ticks.append(report.seconds)
        if report.created:
            creating.append(report.seconds)
    runs = store.count_flow_runs()
    store.close()
    return {"tick_s": stats(all_ticks), "creating_tick_s": stats(creating),
            "runs_created": runs, "deployments": deployments}


# -- (d) --------------------------------------------------------------------------------

def bench_d(root: Path, runs: int, workers: int) -> dict[str, Any]:
    home, env = root / "d", env_for(root / "d")
    cli(env, "deploy", f"{root / 'flows.py'}:trivial", "--name", "d", "--pool", "bench-d")
    store = open_store(home)
    procs = [start(env, "worker", "start", "--pool", "bench-d", "--concurrency", "1",
                   log=root / f"worker-d{i}.log") for i in range(workers)]
    from orkest.services.deployments import run_deployment

    try:
        wait_worker(store, "bench-d", workers)
        began = time.perf_counter()
        for _ in range(runs):
            run_deployment(store, "trivial/d")
        wait_for(lambda: store.count_flow_runs(state_types=["COMPLETED"]) >= runs, 600,
                 f"{runs} completed runs")
        elapsed = time.perf_counter() - began
    finally:
        for proc in procs:
            stop(proc)
    failed = runs - store.count_flow_runs(state_types=["COMPLETED"])
    store.close()
    return {"runs": runs, "workers": workers, "seconds": elapsed,
            "runs_per_s": runs / elapsed, "not_completed": failed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="a,b,c,d")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    quick = args.quick
    only = set(args.only.split(","))
    results: dict[str, Any] = {"calibration_us": measure()}
    print(describe(results["calibration_us"]))
    with tempfile.TemporaryDirectory(prefix="orkest-bench-orch-") as tmp:
        root = Path(tmp)
        (root / "flows.py").write_text(FLOWS)
        if "a" in only:
            results["a"] = bench_a(root, 6 if quick else 20)
            a = results["a"]
            print(f"(a) deployment run -> first line of flow code, worker already started "
                  f"(median of {a['from_commit_s']['n']} each):")
            print(f"    from the run's commit      {a['from_commit_s']['median'] * 1000:7.0f} ms"
                  f"  (p90 {a['from_commit_s']['p90'] * 1000:.0f} ms)  target ≤ 300 ms")
            print(f"    from `orkest deployment run` start "
                  f"{a['from_cli_start_s']['median'] * 1000:7.0f} ms  (the CLI process alone: "
                  f"{a['cli_process_s']['median'] * 1000:.0f} ms)")
        if "b" in only:
            results["b"] = bench_b(root, 5 if quick else 12)
            b = results["b"]["due_to_running_s"]
            print(f"(b) slot due -> flow run RUNNING: median {b['median'] * 1000:.0f} ms, "
                  f"p90 {b['p90'] * 1000:.0f} ms, max {b['max'] * 1000:.0f} ms over {b['n']} "
                  f"slots  target ≤ 1000 ms")
        if "c" in only:
            results["c"] = bench_c(root, 200 if quick else 1000, 13 if quick else 37)
            c = results["c"]
            print(f"(c) scheduler tick, {c['deployments']} deployments on `* * * * *`: median "
                  f"{c['tick_s']['median'] * 1000:.0f} ms over {c['tick_s']['n']} ticks; ticks "
                  f"creating {c['deployments']} runs: median "
                  f"{c['creating_tick_s']['median'] * 1000:.0f} ms, max "
                  f"{c['creating_tick_s']['max'] * 1000:.0f} ms  target ≤ 200 ms")
        if "d" in only:
            results["d"] = bench_d(root, 60 if quick else 200, 4)
            d = results["d"]
            print(f"(d) {d['workers']} workers complete {d['runs']} trivial runs in "
                  f"{d['seconds']:.1f} s: {d['runs_per_s']:.1f} runs/s  target ≥ 20 runs/s"
                  + (f"  ({d['not_completed']} not completed!)" if d["not_completed"] else ""))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
