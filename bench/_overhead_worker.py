"""Worker for ``bench/overhead.py``: runs one workload once, in a fresh process.

``overhead.py`` starts ``python _overhead_worker.py SPEC`` with the interpreter
of the framework under test (orkest or the peer's virtualenv).  SPEC is JSON::

    {"module": "orkest", "thread_runner": "orkest.runners:ThreadPoolRunner",
     "task_kwargs": {}, "workload": "seq", "n": 1000, "warmup": 3,
     "result_path": "/tmp/....json"}

The same code serves every framework; only SPEC differs.  The worker imports
nothing but a few light standard-library modules, so the harness adds as
little as possible to the peak RSS it reports.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time

TYPE_CHECKING = False  # avoids importing ``typing`` (about 2 MB of RSS) at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _noop(x: object = None) -> object:
    return x


def _empty() -> None:
    return None


def _body_seq(noop: Any, n: int) -> int:
    return sum(noop(i) for i in range(n))


def _body_submit(noop: Any, n: int) -> int:
    futures = [noop.submit(i) for i in range(n)]
    return sum(f.result() for f in futures)


def _body_map(noop: Any, n: int) -> int:
    futures = noop.map(list(range(n)))
    return sum(f.result() for f in futures)


# workload -> (body run inside the flow, whether the flow uses the thread-pool runner)
TASK_BODIES: dict[str, tuple[Callable[[Any, int], int], bool]] = {
    "seq": (_body_seq, False),
    "submit": (_body_submit, True),
    "map": (_body_map, True),
}


def _load_attr(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def descendant_peak_rss_kb() -> int:
    """Sum of VmHWM over live descendant processes (e.g. Prefect's API server)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                parents[int(name)] = int(_read(f"/proc/{name}/stat").rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    todo, found = [os.getpid()], []
    while todo:
        pid = todo.pop()
        kids = [child for child, parent in parents.items() if parent == pid]
        found += kids
        todo += kids
    total = 0
    for pid in found:
        try:
            status = _read(f"/proc/{pid}/status")
        except OSError:
            continue
        total += sum(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM:"))
    return total


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Warm up, then time one run of the workload; return the raw figures."""
    workload: str = spec["workload"]
    n: int = spec["n"]
    warmup: int = spec["warmup"]

    mod = importlib.import_module(spec["module"])
    flow, task = mod.flow, mod.task
    out: dict[str, Any] = {"n": n, "warmup": warmup}

    if workload == "flow":
        empty_flow = flow(_empty)
        for _ in range(warmup):
            empty_flow()
        start = time.perf_counter()
        for _ in range(n):
            empty_flow()
        out["outer_s"] = out["inner_s"] = time.perf_counter() - start
    else:
        body, threaded = TASK_BODIES[workload]
        noop = task(**spec["task_kwargs"])(_noop)
        flow_deco = flow(task_runner=_load_attr(spec["thread_runner"])()) if threaded else flow
        inner: list[tuple[float, int]] = []

        def timed_flow(n: int) -> None:
            start = time.perf_counter()
            total = body(noop, n)
            inner.append((time.perf_counter() - start, total))

        bench_flow = flow_deco(timed_flow)
        bench_flow(warmup)
        start = time.perf_counter()
        bench_flow(n)
        out["outer_s"] = time.perf_counter() - start
        out["inner_s"], total = inner[-1]
        if total != n * (n - 1) // 2:
            raise RuntimeError(f"wrong task results: sum={total}, expected {n * (n - 1) // 2}")

    out["rss_peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["children_rss_peak_kb"] = descendant_peak_rss_kb()
    return out


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    result = run(spec)
    with open(spec["result_path"], "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
