"""A separate process that hammers one SQLite database (used by test_sqlite_concurrency).

    python sqlite_worker.py URL WORKER BATCHES GO_FILE

Waits until GO_FILE exists (so that every worker starts at once), opens the store
(migrating a fresh database if it gets there first), then writes BATCHES batches and,
every tenth batch, also exercises set_state, request_action, take_requests, heartbeat.
"""

from __future__ import annotations

import os
import sys
import time

from orkest.core.records import FlowRun, LogLine, ResultBlob, StateRecord, TaskRun, WriteBatch
from orkest.core.states import Running, StateType
from orkest.core.transitions import ENGINE_POLICY
from orkest.store.sql.store import SqlRunStore

TASKS_PER_BATCH = 3


def main() -> None:
    url, worker, batches, go_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    deadline = time.monotonic() + 60
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            sys.exit("the go file never appeared")
        time.sleep(0.001)
    store = SqlRunStore(url)
    try:
        for b in range(batches):
            fr_id = f"w{worker}-b{b}"
            batch = WriteBatch()
            batch.flow_runs[fr_id] = FlowRun(fr_id, "hammer", fr_id, StateType.PENDING,
                                             "Pending", time.time(), time.time())
            for t in range(TASKS_PER_BATCH):
                tid = f"{fr_id}-t{t}"
                batch.task_runs[tid] = TaskRun(tid, fr_id, "t", "t", str(t), tid,
                                               StateType.COMPLETED, "Completed", 1.0, 1.0)
                batch.states.append(StateRecord(tid, "task", StateType.PENDING, "Pending", 1.0))
                batch.states.append(StateRecord(tid, "task", StateType.COMPLETED, "Done", 2.0))
                batch.logs.append(LogLine(fr_id, tid, 1.0, 20, "w", f"{tid} done"))
            batch.results.append(ResultBlob(f"db:{fr_id}", "pickle", b"x" * 100, 1.0))
            store.write(batch)
            if b % 10 == 0:
                store.set_state(fr_id, "flow", Running(), ENGINE_POLICY)
                store.request_action(fr_id, "cancel")
                assert store.take_requests([fr_id]) == {fr_id: ("cancel", None)}
                store.heartbeat([fr_id], time.time())
    finally:
        store.close()


if __name__ == "__main__":
    main()
