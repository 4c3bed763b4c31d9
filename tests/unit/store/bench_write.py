"""Measure SqlRunStore.write: µs per row for an engine-sized batch (not a pytest test).

    /work/venv/bin/python tests/unit/store/bench_write.py [URL] [--batches N]

One batch = 1,000 task runs + 3,000 state records + 1,000 result blobs + 1,000 log lines
(6,000 rows). Default URL: a fresh SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from orkest.core.records import LogLine, ResultBlob, StateRecord, TaskRun, WriteBatch
from orkest.core.states import StateType
from orkest.store.sql.store import SqlRunStore


def make_batch(flow_run_id: str, n_tasks: int = 1000) -> WriteBatch:
    batch = WriteBatch()
    now = time.time()
    for i in range(n_tasks):
        tid = uuid.uuid4().hex
        batch.task_runs[tid] = TaskRun(
            tid, flow_run_id, "work", f"work-{i % 10}", str(i), f"work-{i}",
            StateType.COMPLETED, "Completed", now, now, tags=["bench"],
            parameters={"i": i, "name": "x" * 20}, upstream=[f"u{i - 1}"] if i else [],
            start_ts=now, end_ts=now, run_count=1, result_ref=f"db:{tid}",
            cpu_seconds=0.001, peak_rss_bytes=50_000_000, resource_scope="thread",
            runner="threads")
        for t, name in ((StateType.PENDING, "Pending"), (StateType.RUNNING, "Running"),
                        (StateType.COMPLETED, "Completed")):
            batch.states.append(StateRecord(tid, "task", t, name, now))
        batch.results.append(ResultBlob(f"db:{tid}", "pickle", b"\x80\x05" + b"r" * 64, now))
        batch.logs.append(LogLine(flow_run_id, tid, now, 20, "orkest.task",
                                  f"task {i} finished in 0.001s", "logger"))
    return batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?")
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = SqlRunStore(url)
        try:
            batches = [make_batch(uuid.uuid4().hex) for _ in range(args.batches + 1)]
            store.write(batches.pop())  # warm up: statement cache, first pages
            per_row = []
            for batch in batches:
                start = time.perf_counter()
                store.write(batch)
                per_row.append((time.perf_counter() - start) / len(batch) * 1e6)
        finally:
            store.close()
    print(f"{store.url}: {len(batch)} rows per batch, {args.batches} batches: "
          f"median {statistics.median(per_row):.2f} µs/row, best {min(per_row):.2f}, "
          f"worst {max(per_row):.2f}")


if __name__ == "__main__":
    main()
