"""The reaper puts crashed runs of a work pool back while attempts remain, and hands back
runs claimed by a worker that is gone. A real SQLite store; liveness is passed in."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from orkest._internal.ids import friendly_name, new_id
from orkest.core.deployments import Worker
from orkest.core.records import FlowRun, WriteBatch
from orkest.core.states import StateType
from orkest.services.reaper import HOSTNAME, reap_orphans, release_lost_claims
from orkest.store import open_store


def dead(pid: int) -> bool:
    return False


def claimed_run(store: Any, *, retries: int, pool: str | None = "pool") -> FlowRun:
    now = time.time()
    run = FlowRun(id=new_id(), flow_name="f", name=friendly_name(),
                  state_type=StateType.SCHEDULED, state_name="Scheduled", state_ts=now,
                  created_ts=now, retries=retries, work_pool=pool, scheduled_ts=now - 1)
    store.create_flow_runs([run])
    if pool is None:
        return run
    (claimed,) = store.claim_flow_runs(pool, "worker-1", limit=1, now=now)
    return claimed


def running(store: Any, run: FlowRun, run_count: int) -> None:
    """As the child's engine writes it: RUNNING, owned by a (soon dead) process here."""
    now = time.time()
    snapshot = dataclasses.replace(run, state_type=StateType.RUNNING, state_name="Running",
                                   state_ts=now, hostname=HOSTNAME, pid=4_000_000,
                                   heartbeat_ts=now, run_count=run_count)
    store.write(WriteBatch(flow_runs={run.id: snapshot}))


def test_a_crashed_run_with_attempts_left_goes_back_to_its_pool() -> None:
    store = open_store()
    run = claimed_run(store, retries=1)
    running(store, run, run_count=1)
    assert reap_orphans(store, time.time(), is_alive=dead) == [run.id]
    after = store.read_flow_run(run.id)
    assert (after.state_type, after.state_name) == (StateType.SCHEDULED, "AwaitingRetry")
    assert after.worker_id is None and "attempt 2 of 2" in after.state_message
    assert [s.type for s in store.read_states(run.id)][-2:] == [StateType.CRASHED,
                                                                StateType.SCHEDULED]


def test_a_crashed_run_without_attempts_left_stays_crashed() -> None:
    store = open_store()
    run = claimed_run(store, retries=1)
    running(store, run, run_count=2)
    reap_orphans(store, time.time(), is_alive=dead)
    assert store.read_flow_run(run.id).state_type is StateType.CRASHED


def test_a_run_of_no_pool_is_never_rescheduled() -> None:
    store = open_store()
    run = claimed_run(store, retries=3, pool=None)
    running(store, run, run_count=1)
    reap_orphans(store, time.time(), is_alive=dead)
    assert store.read_flow_run(run.id).state_type is StateType.CRASHED


def heartbeat(store: Any, worker_id: str, pid: int, status: str = "online") -> None:
    now = time.time()
    store.worker_heartbeat(Worker(id=worker_id, name="w", work_pool="pool", hostname=HOSTNAME,
                                  pid=pid, started_ts=now, heartbeat_ts=now, status=status))


def test_a_claim_of_a_dead_worker_is_handed_back() -> None:
    store = open_store()
    heartbeat(store, "worker-1", pid=4_000_001)
    run = claimed_run(store, retries=0)
    assert release_lost_claims(store, time.time(), is_alive=lambda pid: True) == []
    assert release_lost_claims(store, time.time(), is_alive=dead) == [run.id]
    after = store.read_flow_run(run.id)
    assert after.state_type is StateType.SCHEDULED and after.worker_id is None


def test_a_claim_of_a_live_worker_stays() -> None:
    store = open_store()
    heartbeat(store, "worker-1", pid=4_000_002)
    run = claimed_run(store, retries=0)
    reap_orphans(store, time.time(), is_alive=lambda pid: True)
    assert store.read_flow_run(run.id).state_type is StateType.PENDING
