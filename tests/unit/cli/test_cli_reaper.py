"""services/reaper.py: who owns a run, and marking runs of dead processes CRASHED."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from orkest.core.records import FlowRun, TaskRun, WriteBatch
from orkest.core.states import StateType
from orkest.services import reaper
from orkest.store import MemoryRunStore

NOW = 1_800_000_000.0


def flow_run(run_id: str, state: StateType = StateType.RUNNING, *, host: str | None = "here",
             pid: int | None = 100, heartbeat: float | None = NOW - 5,
             state_ts: float = NOW - 600) -> FlowRun:
    return FlowRun(id=run_id, flow_name="f", name=f"run-{run_id}", state_type=state,
                   state_name=state.value.title(), state_ts=state_ts, created_ts=NOW - 700,
                   hostname=host, pid=pid, heartbeat_ts=heartbeat)


def task_run(run_id: str, flow_run_id: str, state: StateType) -> TaskRun:
    return TaskRun(id=run_id, flow_run_id=flow_run_id, task_name="t", task_key="t:t",
                   dynamic_key=run_id, name=f"t-{run_id}", state_type=state,
                   state_name=state.value.title(), state_ts=NOW - 600, created_ts=NOW - 600)


def alive_only(*pids: int):  # noqa: ANN201 - a tiny fake
    return lambda pid: pid in pids


class TestOwnerAlive:
    def test_same_host_asks_the_pid(self) -> None:
        run = flow_run("a", host="here", pid=100, heartbeat=None)
        assert reaper.owner_alive(run, NOW, hostname="here", is_alive=alive_only(100))
        assert not reaper.owner_alive(run, NOW, hostname="here", is_alive=alive_only(7))

    def test_same_host_ignores_a_fresh_heartbeat_of_a_dead_pid(self) -> None:
        run = flow_run("a", heartbeat=NOW)
        assert not reaper.owner_alive(run, NOW, hostname="here", is_alive=alive_only())

    def test_other_host_uses_the_heartbeat(self) -> None:
        fresh = flow_run("a", host="there", heartbeat=NOW - 30)
        stale = flow_run("b", host="there", heartbeat=NOW - 91)
        never = flow_run("c", host="there", heartbeat=None, state_ts=NOW - 3600)
        assert reaper.owner_alive(fresh, NOW, hostname="here", is_alive=alive_only())
        assert not reaper.owner_alive(stale, NOW, hostname="here", is_alive=alive_only(100))
        assert not reaper.owner_alive(never, NOW, hostname="here", is_alive=alive_only(100))

    def test_a_recent_state_change_counts_as_a_sign_of_life(self) -> None:
        # A run snapshot rewrites heartbeat_ts with the record's old value; state_ts is fresh.
        run = flow_run("a", host="there", heartbeat=NOW - 900, state_ts=NOW - 2)
        assert reaper.owner_alive(run, NOW, hostname="here")

    def test_unknown_host_and_pid(self) -> None:
        run = flow_run("a", host=None, pid=None, heartbeat=NOW - 1)
        assert reaper.owner_alive(run, NOW, hostname="here")
        assert reaper.owner_label(run) == "Process ? on ?"


class TestPidAlive:
    def test_this_process_is_alive(self) -> None:
        assert reaper.pid_alive(os.getpid())

    def test_nonsense_pids_are_dead(self) -> None:
        assert not reaper.pid_alive(0)
        assert not reaper.pid_alive(-5)

    def test_a_finished_process_is_dead(self) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()
        assert not reaper.pid_alive(proc.pid)

    @pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
    def test_a_zombie_is_dead(self) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        deadline = time.monotonic() + 10
        while not reaper._is_zombie(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            assert not reaper.pid_alive(proc.pid)
        finally:
            proc.wait()


class TestReapOrphans:
    def setup_method(self) -> None:
        self.store = MemoryRunStore()
        batch = WriteBatch()
        for run in (
            flow_run("dead-running", pid=1),
            flow_run("dead-paused", StateType.PAUSED, pid=2),
            flow_run("live-running", pid=3),
            flow_run("dead-pending", StateType.PENDING, pid=4),
            flow_run("dead-finished", StateType.COMPLETED, pid=5),
            flow_run("remote-stale", host="there", heartbeat=NOW - 300),
            flow_run("remote-fresh", host="there", heartbeat=NOW - 10),
        ):
            batch.flow_runs[run.id] = run
        for run in (
            task_run("t-running", "dead-running", StateType.RUNNING),
            task_run("t-retrying", "dead-running", StateType.AWAITING_RETRY),
            task_run("t-done", "dead-running", StateType.COMPLETED),
            task_run("t-live", "live-running", StateType.RUNNING),
        ):
            batch.task_runs[run.id] = run
        self.store.write(batch)

    def reap(self) -> list[str]:
        return reaper.reap_orphans(self.store, NOW, hostname="here", is_alive=alive_only(3))

    def state_of(self, run_id: str, kind: str = "flow") -> StateType:
        read = self.store.read_flow_run if kind == "flow" else self.store.read_task_run
        return read(run_id).state_type

    def test_active_runs_of_dead_owners_crash(self) -> None:
        assert sorted(self.reap()) == ["dead-paused", "dead-running", "remote-stale"]
        run = self.store.read_flow_run("dead-running")
        assert run.state_type is StateType.CRASHED
        assert run.state_message == "Process 1 on here is gone"
        assert run.end_ts == NOW
        assert self.store.read_states("dead-running")[-1].type is StateType.CRASHED

    def test_other_runs_are_left_alone(self) -> None:
        self.reap()
        assert self.state_of("live-running") is StateType.RUNNING
        assert self.state_of("dead-pending") is StateType.PENDING
        assert self.state_of("dead-finished") is StateType.COMPLETED
        assert self.state_of("remote-fresh") is StateType.RUNNING

    def test_unfinished_task_runs_crash_too(self) -> None:
        self.reap()
        assert self.state_of("t-running", "task") is StateType.CRASHED
        assert self.state_of("t-retrying", "task") is StateType.CRASHED
        assert self.state_of("t-done", "task") is StateType.COMPLETED
        assert self.state_of("t-live", "task") is StateType.RUNNING

    def test_a_second_tick_finds_nothing(self) -> None:
        self.reap()
        assert self.reap() == []

    def test_the_reaper_never_touches_a_finished_run(self) -> None:
        from orkest.core.states import Crashed
        from orkest.errors import InvalidStateTransition

        with pytest.raises(InvalidStateTransition):
            self.store.set_state("dead-finished", "flow", Crashed(), reaper.REAPER_POLICY)
