"""Records written straight into a store, for browser tests that need big or odd runs."""

from __future__ import annotations

import random
import time
import uuid

from orkest.core.records import FlowRun, LogLine, StateRecord, TaskRun, WriteBatch
from orkest.core.states import StateType


def big_flow_run(store, n_tasks: int = 10_000, *, seed: int = 7) -> str:
    """A finished flow run of `n_tasks` task runs, shaped like real work; returns its id.

    One `extract`, half the runs mapped over `transform` (one graph node once grouped),
    one `load` after all of them, and the rest distinct `check_<k>` tasks in 50 parallel
    chains: thousands of nodes and edges to lay out, not only one big group.
    """
    rng = random.Random(seed)
    now = time.time()
    t0 = now - 600
    flow_id = str(uuid.uuid4())
    runs: dict[str, TaskRun] = {}
    clock = [t0]

    def add(task_name: str, dynamic_key: int, upstream: list[str], span: float,
            state: StateType = StateType.COMPLETED) -> str:
        run_id = str(uuid.uuid4())
        start = clock[0] + rng.random() * 0.5
        end = start + span * (0.5 + rng.random())
        clock[0] += span / 40
        runs[run_id] = TaskRun(
            id=run_id, flow_run_id=flow_id, task_name=task_name, task_key=f"{task_name}-key",
            dynamic_key=str(dynamic_key), name=f"{task_name}-{dynamic_key}",
            state_type=state, state_name=state.value.title(), state_ts=end,
            created_ts=start - 0.01, upstream=upstream, start_ts=start, end_ts=end,
            run_count=1, cpu_seconds=round(span * 0.8, 3), peak_rss_bytes=80_000_000,
            resource_scope="thread", runner="threads",
            parameters={"item": dynamic_key},
            failure_type="ValueError" if state is StateType.FAILED else None,
            failure_traceback=("Traceback (most recent call last):\n  ...\nValueError: bad item"
                               if state is StateType.FAILED else None),
        )
        return run_id

    extract = add("extract", 0, [], 5.0)
    n_transform = n_tasks // 2
    transforms = [add("transform", i, [extract], 2.0,
                      StateType.FAILED if i % 997 == 13 else StateType.COMPLETED)
                  for i in range(n_transform)]
    load = add("load", 0, transforms, 3.0)
    remaining = n_tasks - len(runs)
    chains = 50
    last = [load] * chains
    for k in range(remaining):
        c = k % chains
        last[c] = add(f"check_{k}", 0, [last[c]], 0.5)
    end = max(r.end_ts for r in runs.values())
    flow = FlowRun(
        id=flow_id, flow_name="big-fanout", name="ten-thousand-tasks",
        state_type=StateType.FAILED, state_name="Failed", state_ts=end, created_ts=t0 - 1,
        start_ts=t0, end_ts=end, run_count=1, parameters={"tasks": n_tasks}, tags=["bench"],
        task_runner="threads", state_message="5 task runs failed",
    )
    batch = WriteBatch(flow_runs={flow_id: flow}, task_runs=runs)
    batch.states.append(StateRecord(flow_id, "flow", StateType.RUNNING, "Running", t0))
    batch.states.append(StateRecord(flow_id, "flow", StateType.FAILED, "Failed", end))
    batch.logs.extend(LogLine(flow_id, None, t0 + i, 20, "orkest.flow", f"progress {i}")
                      for i in range(50))
    store.write(batch)
    return flow_id


def flow_runs(store, flow_name: str, states: list[StateType], *, tags: list[str] | None = None,
              age: float = 60.0) -> list[str]:
    """Finished or running flow runs of one flow (no task runs), newest last; their ids."""
    now = time.time()
    batch = WriteBatch()
    ids = []
    for i, state in enumerate(states):
        created = now - age + i * 0.01
        run = FlowRun(
            id=str(uuid.uuid4()), flow_name=flow_name, name=f"{flow_name}-{i}",
            state_type=state, state_name=state.value.title(), state_ts=created + 1,
            created_ts=created, start_ts=created + 0.1,
            end_ts=created + 1 if state.value in ("COMPLETED", "FAILED", "CANCELLED") else None,
            tags=list(tags or []), run_count=1,
        )
        batch.flow_runs[run.id] = run
        ids.append(run.id)
    store.write(batch)
    return ids


def many_flow_runs(store, n: int, *, flows: int = 20, chunk: int = 10_000) -> None:
    """`n` flow runs over the last 30 days, spread over `flows` flow names and all states."""
    rng = random.Random(11)
    now = time.time()
    states = [StateType.COMPLETED] * 16 + [StateType.FAILED] * 2 + [
        StateType.CRASHED, StateType.CANCELLED, StateType.RUNNING, StateType.SCHEDULED]
    for start in range(0, n, chunk):
        batch = WriteBatch()
        for i in range(start, min(n, start + chunk)):
            created = now - 30 * 86400 * (1 - i / n)
            state = rng.choice(states)
            done = state not in (StateType.RUNNING, StateType.SCHEDULED)
            run = FlowRun(
                id=str(uuid.uuid4()), flow_name=f"bulk-flow-{i % flows:02d}", name=f"bulk-{i}",
                state_type=state, state_name=state.value.title(), state_ts=created + 30,
                created_ts=created, start_ts=created + 1, end_ts=created + 30 if done else None,
                tags=["bulk", f"shard-{i % 7}"], run_count=1,
            )
            batch.flow_runs[run.id] = run
        store.write(batch)
