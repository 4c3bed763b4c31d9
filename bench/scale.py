"""Scale-out overhead (issue #7): orkest on ProcessPool, Dask and Ray vs bare Dask and Ray.

    python bench/scale.py                  # both workloads, every runner (~3-4 min)
    python bench/scale.py --quick          # a tenth of the tasks
    python bench/scale.py --only dask --json out.json

Workloads (the issue's): (1) 10,000 independent tasks of 10 ms each (`time.sleep(0.01)`);
(2) a 1,000-wide map of 100 ms tasks. The same work runs as an orkest flow (`task.map`,
then `.result()` on every future) on each runner, and as bare Dask (`client.map` +
`client.gather`) and bare Ray (`ray.get([f.remote(i) ...])`) on a cluster of the same shape:
SLOTS concurrent tasks (Dask: 2 worker processes x SLOTS/2 threads; Ray: SLOTS CPUs;
ProcessPool: SLOTS processes). Wall time covers submitting, running and collecting every
result, not the cluster's start-up (started once per side and warmed up with a few tasks).
orkest tracks every task run in its SQLite store (a fresh ORKEST_HOME per side), as it
always does. Target: orkest ≤ 1.3x the bare framework's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def run_side(side: str, n: int, seconds: float, timeout: float) -> float | None:
    with tempfile.TemporaryDirectory(prefix="orkest-bench-scale-") as home:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("ORKEST_") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(ORKEST_HOME=home, RAY_USAGE_STATS_ENABLED="0")
        try:
            done = subprocess.run([sys.executable, "-c", SIDE, side, str(n), str(seconds),
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
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
