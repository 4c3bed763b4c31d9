"""Scale-out overhead (issue #7): orkest on ProcessPool, Dask and Ray vs bare Dask and Ray.

    python bench/scale.py                  # both workloads, every runner (~5 min)
    python bench/scale.py --quick          # a tenth of the tasks
    python bench/scale.py --only dask --json out.json
    python bench/scale.py --peer prefect   # and Prefect 3.9.1 on prefect-dask / prefect-ray

Workloads (the issue's): (1) 10,000 independent tasks of 10 ms each (`time.sleep(0.01)`);
(2) a 1,000-wide map of 100 ms tasks. The same work runs as an orkest flow (`task.map`,
then `.result()` on every future) on each runner, and as bare Dask (`client.map` +
`client.gather`) and bare Ray (`ray.get([f.remote(i) ...])`) on a cluster of the same shape:
SLOTS concurrent tasks (Dask: 2 worker processes x SLOTS/2 threads; Ray: SLOTS CPUs;
ProcessPool: SLOTS processes). Wall time covers submitting, running and collecting every
result, not the cluster's start-up (started once per side and warmed up with a few tasks).
orkest tracks every task run in its SQLite store (a fresh ORKEST_HOME per side), as it
always does. Target: orkest ≤ 1.3x the bare framework's wall time.

`--peer prefect` also runs the workloads as Prefect flows on prefect-dask's DaskTaskRunner
and prefect-ray's RayTaskRunner (clusters of the same shape, the same Dask and Ray
versions, in a virtualenv made once, as bench/overhead.py does), at fewer tasks
(PEER_WORKLOADS: Prefect tracks each task run through its API server), next to orkest and
the bare frameworks at that same size, and prints each one's ratio to bare.
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
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _calibration import describe, measure  # noqa: E402

SLOTS = 8
TARGET = 1.3
WORKLOADS = {"10k x 10 ms": (10_000, 0.01), "1k-wide map x 100 ms": (1_000, 0.1)}
QUICK = {"10k x 10 ms": (1_000, 0.01), "1k-wide map x 100 ms": (200, 0.1)}

SIDE = r'''
import json, os, sys, time
side, n, seconds, slots = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])

def work(i, seconds=seconds):
    time.sleep(seconds)
    return i

def timed(run):
    run(8)  # warm-up: workers started, code shipped
    start = time.perf_counter()
    total = run(n)
    elapsed = time.perf_counter() - start
    assert total == n * (n - 1) // 2, total
    return elapsed

if side == "bare-dask":
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=slots // 2, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        result = timed(lambda k: sum(client.gather(client.map(work, range(k), pure=False))))
elif side == "bare-ray":
    import ray
    ray.init(num_cpus=slots, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(work)
    result = timed(lambda k: sum(ray.get([remote.remote(i) for i in range(k)])))
    ray.shutdown()
elif side.startswith("prefect-"):
    from prefect import flow, task
    if side == "prefect-dask":
        from prefect_dask import DaskTaskRunner
        runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": slots // 2,
                                                "processes": True, "dashboard_address": None})
    else:
        from prefect_ray import RayTaskRunner
        runner = RayTaskRunner(init_kwargs={"num_cpus": slots, "include_dashboard": False,
                                            "log_to_driver": False})
    step = task(work, persist_result=True)  # orkest tracks and persists results by default
else:
    from orkest import flow, task
    import orkest.runners as runners
    if side == "orkest-dask":
        runner = runners.DaskRunner(cluster_kwargs={"n_workers": 2,
                                                    "threads_per_worker": slots // 2})
    elif side == "orkest-ray":
        # The same ray.init() as the bare side: worker output is not streamed to the driver.
        runner = runners.RayRunner(init_kwargs={"num_cpus": slots, "include_dashboard": False,
                                                "log_to_driver": False})
    else:
        runner = runners.ProcessPoolRunner(max_workers=slots)
    step = task(work)

if side.startswith(("orkest-", "prefect-")):
    # One flow run keeps the cluster for warm-up and the timed part alike.
    @flow(task_runner=runner)
    def measured(k: int) -> float:
        sum(f.result() for f in step.map(list(range(8))))
        start = time.perf_counter()
        total = sum(f.result() for f in step.map(list(range(k))))
        assert total == k * (k - 1) // 2, total
        return time.perf_counter() - start

    result = measured(n)
print(json.dumps({"seconds": result}))
'''

SIDES = ("orkest-process", "orkest-dask", "bare-dask", "orkest-ray", "bare-ray")
PEER_SIDES = ("orkest-dask", "prefect-dask", "bare-dask", "orkest-ray", "prefect-ray",
              "bare-ray")
PEER_WORKLOADS = {"10k x 10 ms": (500, 0.01), "1k-wide map x 100 ms": (200, 0.1)}
PEER_QUICK = {"10k x 10 ms": (100, 0.01), "1k-wide map x 100 ms": (40, 0.1)}
SERVER_START_SECONDS = 180
PREFECT_VERSION = "3.9.1"


def peer_python(venv: Path | None) -> str:
    """The peer virtualenv's python: Prefect and its Dask/Ray integrations, on the same
    Dask and Ray versions as this interpreter's (made once, as bench/overhead.py does)."""
    from importlib.metadata import version

    from overhead import default_peer_venv, ensure_peer_venv

    extras = ("prefect-dask==0.3.7", "prefect-ray==0.6.0",
              f"distributed=={version('distributed')}", f"ray=={version('ray')}")
    return ensure_peer_venv("prefect", PREFECT_VERSION,
                            venv or default_peer_venv("prefect-scale", PREFECT_VERSION), extras)


@contextmanager
def prefect_server(python: str, home: str, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`prefect server start` on a free loopback port, SQLite in `home`; the variables that
    point a flow and its Dask/Ray workers at it. (Prefect's default ephemeral server does
    not serve a cluster: each worker process would start its own.) Stopped, with its
    process group, on the way out."""
    from overhead import FRAMEWORKS

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefect_env = {k: v.format(home=home) for k, v in FRAMEWORKS["prefect"].env.items()}
    prefect_env.update(PREFECT_SERVER_EPHEMERAL_ENABLED="false", PREFECT_UI_ENABLED="false",
                       PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
    log_path = Path(home) / "prefect-server.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [python, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
             str(port)], env={**env, **prefect_env}, stdout=log_file,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"prefect server did not start; see {log_path}:\n"
                                       + log_path.read_text()[-1500:]) from None
                time.sleep(0.5)
        yield prefect_env
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def run_side(side: str, n: int, seconds: float, timeout: float,
             python: str = sys.executable) -> float | None:
    with tempfile.TemporaryDirectory(prefix="orkest-bench-scale-") as home:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ORKEST_", "PREFECT_")) and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(ORKEST_HOME=home, RAY_USAGE_STATS_ENABLED="0")
        with ExitStack() as stack:
            if side.startswith("prefect-"):
                env.update(stack.enter_context(prefect_server(python, home, env)))
            try:
                done = subprocess.run([python, "-c", SIDE, side, str(n), str(seconds),
                                       str(SLOTS)], env=env, capture_output=True, text=True,
                                      timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"    {side}: timed out after {timeout:.0f} s")
                return None
    if done.returncode != 0:
        print(f"    {side}: failed:\n{done.stderr[-1500:]}")
        return None
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", default="process,dask,ray",
                        help="comma list of process, dask, ray")
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--peer", choices=["prefect"],
                        help="also run Prefect on prefect-dask / prefect-ray (fewer tasks)")
    parser.add_argument("--peer-venv", type=Path, help="where the peer virtualenv lives")
    args = parser.parse_args()
    families = set(args.only.split(","))
    sides = [s for s in SIDES if s.split("-")[1] in families]
    print(describe(measure()))
    print(f"{SLOTS} task slots on every side; wall time of submit + run + collect, median of "
          f"{args.repeat}")
    results: dict[str, dict[str, float | None]] = {}
    failed = False
    for name, (n, seconds) in (QUICK if args.quick else WORKLOADS).items():
        ideal = n * seconds / SLOTS
        print(f"\n{name}: {n} tasks of {seconds * 1000:g} ms (ideal {ideal:.1f} s on "
              f"{SLOTS} slots)")
        row: dict[str, float | None] = {}
        for side in sides:
            times = [run_side(side, n, seconds, timeout=ideal * 6 + 120)
                     for _ in range(args.repeat)]
            ok = [t for t in times if t is not None]
            row[side] = statistics.median(ok) if ok else None
            failed |= not ok
            shown = f"{row[side]:8.2f} s" if row[side] is not None else "  failed"
            print(f"  {side:15s} {shown}")
        for family in ("dask", "ray"):
            ours, bare = row.get(f"orkest-{family}"), row.get(f"bare-{family}")
            if ours and bare:
                ratio = ours / bare
                verdict = "meets" if ratio <= TARGET else "misses"
                print(f"  orkest/bare {family}: {ratio:.2f}x ({verdict} the {TARGET}x target)")
        results[name] = row
    if args.peer:
        failed |= run_peer(args, families, results)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


def run_peer(args: argparse.Namespace, families: set[str],
             results: dict[str, dict[str, float | None]]) -> bool:
    """Prefect next to orkest and the bare frameworks, at PEER_WORKLOADS' sizes; True if a
    side failed."""
    python = peer_python(args.peer_venv)
    sides = [s for s in PEER_SIDES if s.split("-")[1] in families]
    failed = False
    for name, (n, seconds) in (PEER_QUICK if args.quick else PEER_WORKLOADS).items():
        ideal = n * seconds / SLOTS
        print(f"\n{name}, with Prefect {PREFECT_VERSION}: {n} tasks of {seconds * 1000:g} ms"
              f" (ideal {ideal:.1f} s on {SLOTS} slots)")
        row: dict[str, float | None] = {}
        for side in sides:
            use = python if side.startswith("prefect-") else sys.executable
            times = [run_side(side, n, seconds, timeout=ideal * 30 + 300, python=use)
                     for _ in range(args.repeat)]
            ok = [t for t in times if t is not None]
            row[side] = statistics.median(ok) if ok else None
            failed |= not ok
            shown = f"{row[side]:8.2f} s" if row[side] is not None else "  failed"
            print(f"  {side:15s} {shown}")
        for family in ("dask", "ray"):
            bare = row.get(f"bare-{family}")
            ours, theirs = row.get(f"orkest-{family}"), row.get(f"prefect-{family}")
            if bare and ours and theirs:
                print(f"  {family}: orkest {ours / bare:.2f}x bare, Prefect {theirs / bare:.2f}x"
                      f" bare; orkest is {theirs / ours:.1f}x faster than Prefect")
        results[f"{name} (peer)"] = row
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
