"""Races between reapers, workers and claims that the soak test (tests/soak) ran into.

Several reapers tick at once (one per worker and one in the server), each from a list of
active runs that may be old by the time it acts, and with a `now` taken before it read
anything. A real SQLite store; "an old list" is that store seen through `StaleList`, which
answers list_flow_runs with the records as they were.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from orkest._internal.ids import friendly_name, new_id
from orkest.core.deployments import Worker
from orkest.core.records import FlowRun, StateRecord, WriteBatch
from orkest.core.states import StateType
from orkest.services.reaper import HOSTNAME, reap_orphans, release_lost_claims
from orkest.store import open_store

DEAD_PID, LIVE_PID = 4_000_100, 4_000_200


def alive(pid: int) -> bool:
    return pid == LIVE_PID


class StaleList:
    """The store, except that it lists flow runs as they were when it was made."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.listed = store.list_flow_runs(limit=500)

    def list_flow_runs(self, *, state_types: Any = None, limit: int = 50,
                       offset: int = 0, **_: Any) -> list[FlowRun]:
        found = [r for r in self.listed if state_types is None or r.state_type in state_types]
        return found[offset:offset + limit]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def claimed_run(store: Any, *, worker: str = "worker-1", now: float | None = None) -> FlowRun:
    now = time.time() if now is None else now
    run = FlowRun(id=new_id(), flow_name="f", name=friendly_name(),
                  state_type=StateType.SCHEDULED, state_name="Scheduled", state_ts=now,
                  created_ts=now, retries=2, work_pool="pool", scheduled_ts=now - 1)
    store.create_flow_runs([run])
    (claimed,) = store.claim_flow_runs("pool", worker, limit=1, now=now)
    return claimed


def start(store: Any, run: FlowRun, pid: int, run_count: int) -> None:
    """As a child's engine writes it: RUNNING in process `pid` on this machine."""
    now = time.time()
    store.write(WriteBatch(flow_runs={run.id: dataclasses.replace(
        run, state_type=StateType.RUNNING, state_name="Running", state_ts=now,
        hostname=HOSTNAME, pid=pid, heartbeat_ts=now, run_count=run_count)},
        states=[StateRecord(run.id, "flow", StateType.RUNNING, "Running", now, None)]))


def types(store: Any, run_id: str) -> list[str]:
    return [s.type.value for s in store.read_states(run_id)]


def test_a_run_another_reaper_rescheduled_is_not_crashed_again() -> None:
    store = open_store()
    run = claimed_run(store)
    start(store, run, DEAD_PID, run_count=1)
    late = StaleList(store)  # a second reaper listed the run RUNNING...
    assert reap_orphans(store, time.time(), is_alive=alive) == [run.id]  # ...the first acts
    assert reap_orphans(late, time.time(), is_alive=alive) == []
    assert types(store, run.id) == ["SCHEDULED", "PENDING", "RUNNING", "CRASHED",
                                    "SCHEDULED"]
    assert store.read_flow_run(run.id).state_name == "AwaitingRetry"


def test_a_new_attempt_is_not_crashed_for_the_old_attempts_dead_process() -> None:
    store = open_store()
    run = claimed_run(store)
    start(store, run, DEAD_PID, run_count=1)
    late = StaleList(store)  # listed while attempt 1 (dead process) was RUNNING
    reap_orphans(store, time.time(), is_alive=alive)
    (again,) = store.claim_flow_runs("pool", "worker-2", limit=1, now=time.time())
    start(store, again, LIVE_PID, run_count=2)  # attempt 2 is running, alive
    assert reap_orphans(late, time.time(), is_alive=alive) == []
    assert store.read_flow_run(run.id).state_type is StateType.RUNNING


def stamps(store: Any, run_id: str) -> list[float]:
    return [s.ts for s in store.read_states(run_id)]


def test_a_reaper_with_a_late_now_does_not_stamp_states_older_than_the_last() -> None:
    store = open_store()
    earlier = time.time() - 5  # the `now` a slow tick took before it read the runs
    run = claimed_run(store)
    start(store, run, DEAD_PID, run_count=1)
    reap_orphans(store, earlier, is_alive=alive)
    assert types(store, run.id)[-2:] == ["CRASHED", "SCHEDULED"]
    assert stamps(store, run.id) == sorted(stamps(store, run.id))

    store.worker_heartbeat(Worker(id="worker-9", name="w", work_pool="pool",
                                  hostname=HOSTNAME, pid=DEAD_PID, started_ts=earlier,
                                  heartbeat_ts=earlier, status="online"))
    lost = claimed_run(store, worker="worker-9")
    assert release_lost_claims(store, earlier, is_alive=alive) == [lost.id]
    assert types(store, lost.id) == ["SCHEDULED", "PENDING", "SCHEDULED"]
    assert stamps(store, lost.id) == sorted(stamps(store, lost.id))


def test_a_claim_is_not_stamped_older_than_the_hand_back_it_follows() -> None:
    store = open_store()
    earlier = time.time() - 5
    run = claimed_run(store, now=earlier)
    assert store.release_flow_run(run.id, "worker-1", time.time())
    # A claim whose `now` was taken before it waited for the pool's lock:
    (again,) = store.claim_flow_runs("pool", "worker-2", limit=1, now=earlier + 1)
    assert types(store, run.id) == ["SCHEDULED", "PENDING", "SCHEDULED", "PENDING"]
    assert stamps(store, run.id) == sorted(stamps(store, run.id))
    assert again.state_ts == stamps(store, run.id)[-1] == store.read_flow_run(run.id).state_ts


def test_a_reaper_acting_on_an_old_view_cannot_crash_a_rescheduled_run() -> None:
    """The re-read narrows the window; the policy closes it for a run back in its pool,
    in the store's own transaction (and on the server, which uses the same policy)."""
    from orkest.core.states import Crashed
    from orkest.errors import InvalidStateTransition
    from orkest.services.reaper import REAPER_POLICY

    store = open_store()
    run = claimed_run(store)
    start(store, run, DEAD_PID, run_count=1)
    reap_orphans(store, time.time(), is_alive=alive)  # CRASHED, then SCHEDULED again
    with pytest.raises(InvalidStateTransition):
        store.set_state(run.id, "flow", Crashed(message="late"), REAPER_POLICY)
    assert types(store, run.id)[-2:] == ["CRASHED", "SCHEDULED"]


class ClaimedAfterReading:
    """The store, except that right after the reaper re-reads the run (seeing the dead
    attempt), another reaper reschedules it and a worker claims it: the last window."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.raced = False

    def read_flow_run(self, run_id: str) -> FlowRun:
        seen = self.store.read_flow_run(run_id)
        if not self.raced:
            self.raced = True
            reap_orphans(self.store, time.time(), is_alive=alive)  # CRASHED, SCHEDULED
            time.sleep(0.01)  # the claim comes later than the view the reaper acts on
            self.store.claim_flow_runs("pool", "worker-2", limit=1, now=time.time())
        return seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_run_claimed_after_the_reaper_read_it_is_not_crashed() -> None:
    store = open_store()
    run = claimed_run(store)
    start(store, run, DEAD_PID, run_count=1)
    racing = ClaimedAfterReading(store)
    assert reap_orphans(racing, time.time() - 1, is_alive=alive) == []
    assert racing.raced
    assert types(store, run.id) == ["SCHEDULED", "PENDING", "RUNNING", "CRASHED",
                                    "SCHEDULED", "PENDING"]
    assert store.read_flow_run(run.id).state_type is StateType.PENDING  # worker-2's attempt


def test_a_stale_crash_is_refused_by_every_store(tmp_path: Any) -> None:
    """The policy travels by name: the server rebuilds the same one for a remote reaper."""
    from orkest.core.states import Crashed
    from orkest.errors import InvalidStateTransition
    from orkest.server.routes.writes import policy_named
    from orkest.services.reaper import REAPER_POLICY

    assert policy_named("reap-orphan") is REAPER_POLICY
    store = open_store()
    run = claimed_run(store)
    start(store, run, DEAD_PID, run_count=1)
    current = store.read_flow_run(run.id).state_ts
    with pytest.raises(InvalidStateTransition, match="changed since it was read"):
        store.set_state(run.id, "flow", Crashed(message="old view", ts=current - 1),
                        REAPER_POLICY)
    store.set_state(run.id, "flow", Crashed(message="same view", ts=current), REAPER_POLICY)
    assert types(store, run.id)[-1] == "CRASHED"
