"""Task and flow behaviour, checked on the sequential, thread and process runners and on
the cluster runners (a cluster shared by the module)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import pytest

from helpers import count_calls, note_call, wait_for
from orkest import flow, get_run_logger, task, unmapped
from orkest.core.states import StateType
from orkest.store import open_store
from unit.conftest import RUNNERS
from unit.runners.dask_cluster import dask_address_fixture, dask_runner_fixture  # noqa: F401
from unit.runners.ray_cluster import ray_runner_fixture, ray_session_fixture  # noqa: F401
from unit.runners.traced import Traced, unpickled_in

# Cluster runners join the local ones here, each as the fixture that connects it to a
# cluster this module shares (one cluster start per module, not per test).
CLUSTER_RUNNERS = {
    "dask": "dask_runner",
    "ray": "ray_runner",
}


@pytest.fixture(params=[*RUNNERS, *CLUSTER_RUNNERS])
def runner(request: pytest.FixtureRequest) -> object:
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # see tests/unit/conftest.py
    if request.param in CLUSTER_RUNNERS:
        return request.getfixturevalue(CLUSTER_RUNNERS[request.param])
    return RUNNERS[request.param]()


@pytest.fixture(params=list(CLUSTER_RUNNERS))
def cluster_runner(request: pytest.FixtureRequest) -> object:
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return request.getfixturevalue(CLUSTER_RUNNERS[request.param])


def states_of(run_id: str) -> list[tuple[str, str]]:
    return [(r.type.value, r.name) for r in open_store().read_states(run_id)]


def task_runs(flow_run_id: str) -> dict[str, object]:
    return {t.name: t for t in open_store().list_task_runs(flow_run_id=flow_run_id)}


def test_call_submit_map_and_dependencies(runner) -> None:
    @task
    def add(x: int, y: int) -> int:
        return x + y

    @task
    def total(values: list[int], extra: dict[str, int]) -> int:
        return sum(values) + sum(extra.values())

    @flow(task_runner=runner)
    def pipeline(n: int) -> int:
        first = add(1, 2)  # a call runs now and returns the value
        second = add.submit(first, n)
        mapped = add.map([1, 2, 3], unmapped(second))
        return total.submit(list(mapped), {"s": second}).result()

    state = pipeline(10, return_state=True)
    assert state.is_completed()
    # add(1,2)=3; second=13; mapped=[14,15,16]; total=45 + 13
    assert state.result() == 58
    runs = task_runs(open_store().list_flow_runs()[0].id)
    assert set(runs) == {"add-0", "add-1", "add-2", "add-3", "add-4", "total-0"}
    second_id = runs["add-1"].id
    assert runs["add-2"].upstream == [second_id]
    assert set(runs["total-0"].upstream) == {runs["add-2"].id, runs["add-3"].id,
                                             runs["add-4"].id, second_id}
    assert runs["add-1"].parameters == {"x": 3, "y": 10}
    for run in runs.values():
        assert states_of(run.id) == [("PENDING", "Pending"), ("RUNNING", "Running"),
                                     ("COMPLETED", "Completed")]
        assert run.cpu_seconds is not None and run.peak_rss_bytes
        assert run.duration is not None and run.duration >= 0


def test_wait_for_orders_tasks_without_data(runner, tmp_path: Path) -> None:
    log = tmp_path / "order.txt"

    @task
    def write(word: str) -> None:
        time.sleep(0.05 if word == "first" else 0)
        with log.open("a") as handle:
            handle.write(word + "\n")

    @flow(task_runner=runner)
    def ordered() -> None:
        a = write.submit("first")
        write.submit("second", wait_for=[a])

    ordered()
    assert log.read_text().split() == ["first", "second"]


def test_retries_with_delays_then_success(runner, tmp_path: Path) -> None:
    marker = tmp_path / "calls"

    @task(retries=3, retry_delay_seconds=[0.05, 0.1])
    def flaky() -> int:
        calls = note_call(marker)
        if calls < 3:
            raise ValueError(f"attempt {calls} fails")
        return calls

    @flow(task_runner=runner)
    def retrying() -> int:
        return flaky.submit().result()

    started = time.monotonic()
    assert retrying() == 3
    assert time.monotonic() - started >= 0.15  # the two delays were waited
    run = next(iter(task_runs(open_store().list_flow_runs()[0].id).values()))
    assert run.run_count == 3
    assert [t for t, _ in states_of(run.id)] == [
        "PENDING", "RUNNING", "AWAITING_RETRY", "RUNNING", "AWAITING_RETRY", "RUNNING",
        "COMPLETED"]


def test_retry_on_limits_which_errors_retry(runner, tmp_path: Path) -> None:
    marker = tmp_path / "calls"

    @task(retries=3, retry_on=[ConnectionError])
    def wrong_kind() -> None:
        note_call(marker)
        raise KeyError("not retryable")

    @flow(task_runner=runner)
    def f() -> None:
        wrong_kind.submit().result()

    state = f(return_state=True)
    assert state.type is StateType.FAILED
    assert count_calls(marker) == 1
    with pytest.raises(KeyError):
        state.result()


def test_task_timeout_is_timed_out(runner, tmp_path: Path) -> None:
    marker = tmp_path / "finished"

    @task(timeout_seconds=0.3)
    def sleepy() -> None:
        time.sleep(1.5)
        marker.write_text("ran to the end")

    @flow(task_runner=runner)
    def f() -> None:
        sleepy.submit().result()

    started = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - started < 1.4 or not marker.exists()
    assert state.type is StateType.FAILED
    run = next(iter(task_runs(open_store().list_flow_runs()[0].id).values()))
    assert (run.state_type, run.state_name) == (StateType.FAILED, "TimedOut")
    assert "timeout" in (run.state_message or "")


def test_upstream_failure_skips_downstream_and_fails_flow(runner) -> None:
    @task
    def boom() -> int:
        raise RuntimeError("extract failed")

    @task
    def after(x: int) -> int:
        return x

    @flow(task_runner=runner)
    def f() -> None:
        after.submit(boom.submit())

    state = f(return_state=True)
    assert state.type is StateType.FAILED
    assert "extract failed" in (state.message or "")
    runs = task_runs(open_store().list_flow_runs()[0].id)
    assert runs["boom-0"].state_type is StateType.FAILED
    assert runs["boom-0"].failure_type == "builtins.RuntimeError"
    assert "extract failed" in runs["boom-0"].failure_traceback
    assert (runs["after-0"].state_type, runs["after-0"].state_name) == (
        StateType.SKIPPED, "UpstreamFailed")


def test_logs_and_prints_are_stored(runner) -> None:
    @task(log_prints=True)
    def chatty(n: int) -> int:
        get_run_logger().info("working on %d", n)
        print("printed", n)
        return n

    @flow(task_runner=runner, log_prints=True)
    def f() -> None:
        get_run_logger().warning("flow level")
        print("flow print")
        chatty.submit(7).result()

    f()
    run = open_store().list_flow_runs()[0]
    lines = {(line.source, line.message, line.task_run_id is None)
             for line in open_store().read_logs(run.id)}
    assert ("logger", "flow level", True) in lines
    assert ("print", "flow print", True) in lines
    assert ("logger", "working on 7", False) in lines
    assert ("print", "printed 7", False) in lines


def test_hooks_run_and_a_failing_hook_does_not_mask(runner, tmp_path: Path) -> None:
    seen = tmp_path / "hooks"

    def record(task, task_run, state) -> None:
        with seen.open("a") as handle:
            handle.write(f"{task.name}:{state.type.value}\n")

    def broken_hook(task, task_run, state) -> None:
        raise ValueError("hook bug")

    @task(on_failure=[broken_hook, record], on_completion=[record])
    def maybe(fail: bool) -> str:
        if fail:
            raise ConnectionError("the original failure")
        return "fine"

    @flow(task_runner=runner)
    def f() -> None:
        maybe.submit(False).result()
        maybe.submit(True).result()

    state = f(return_state=True)
    with pytest.raises(ConnectionError, match="the original failure"):
        state.result()
    assert seen.read_text().split() == ["maybe:COMPLETED", "maybe:FAILED"]
    run = open_store().list_flow_runs()[0]
    messages = [line.message for line in open_store().read_logs(run.id)]
    assert any("broken_hook" in m and "hook bug" in m for m in messages)


def test_non_serializable_result_with_persistence_on_names_task_and_type(runner) -> None:
    import threading

    @task(persist_result=True)
    def make_lock() -> object:
        return threading.Lock()

    @task
    def default_lock() -> object:
        return threading.Lock()

    @flow(task_runner=runner)
    def f() -> None:
        default_lock()  # default: kept in memory, not persisted, still completes
        make_lock()

    if type(runner).__name__ == "ProcessPoolRunner":
        pytest.skip("a lock cannot travel back from a child process at all")
    state = f(return_state=True)
    assert state.type is StateType.FAILED
    runs = task_runs(open_store().list_flow_runs()[0].id)
    assert runs["default_lock-0"].state_type is StateType.COMPLETED
    assert runs["default_lock-0"].result_ref is None
    failed = runs["make_lock-0"]
    assert failed.state_type is StateType.FAILED
    assert "make_lock-0" in failed.state_message and "lock" in failed.state_message
    assert "persist_result=False" in failed.state_message


def test_large_results_go_to_files_and_read_back(runner, orkest_home: Path) -> None:
    @task
    def big() -> bytes:
        return b"x" * 200_000

    @task
    def small() -> list[int]:
        return list(range(10))

    @flow(task_runner=runner)
    def f() -> None:
        big.submit().result()
        small.submit().result()

    f()
    runs = task_runs(open_store().list_flow_runs()[0].id)
    assert runs["big-0"].result_ref.startswith("file:")
    assert runs["small-0"].result_ref.startswith("db:")
    assert any((orkest_home / "results").iterdir())
    assert runs["big-0"].state.result() == b"x" * 200_000
    assert runs["small-0"].state.result() == list(range(10))


def test_a_task_travels_once_and_short_runs_report_once(cluster_runner, tmp_path) -> None:
    """A map sends its task once per flow run and each worker process unpickles it once;
    a task shorter than a live tick reports once, with its whole history."""
    log = str(tmp_path / "unpickled")
    marker = Traced(log, 10)

    @task  # its closure holds `marker`: each unpickling of the task is written down
    def use(i: int) -> int:
        return i + len(marker.payload) - 10

    @flow(task_runner=cluster_runner)
    def f() -> int:
        return sum(future.result() for future in use.map(list(range(40))))

    assert f() == sum(range(40))
    pids = unpickled_in(log)
    assert pids and len(pids) == len(set(pids))  # once per worker process
    assert str(os.getpid()) not in pids  # never through the flow's process
    runs = task_runs(open_store().list_flow_runs()[0].id)
    assert len(runs) == 40
    for run in runs.values():
        assert [t for t, _ in states_of(run.id)] == ["PENDING", "RUNNING", "COMPLETED"]


def test_cluster_records_reach_the_store_once_and_logs_arrive_live(cluster_runner,
                                                                   tmp_path) -> None:
    """A task past a live tick shows RUNNING and its logs while it runs; each record is
    written once."""
    release = tmp_path / "release"

    @task(log_prints=True)
    def slow() -> str:
        get_run_logger().info("started")
        print("printed while running")
        deadline = time.monotonic() + 15
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return "done"

    @flow(task_runner=cluster_runner)
    def f() -> str:
        return slow.submit().result()

    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(f()))
    thread.start()
    try:
        def live() -> bool:
            runs = open_store().list_flow_runs()
            if not runs:
                return False
            lines = {line.message for line in open_store().read_logs(runs[0].id)}
            tasks = open_store().list_task_runs(flow_run_id=runs[0].id)
            return {"started", "printed while running"} <= lines and bool(tasks) \
                and tasks[0].state_type is StateType.RUNNING
        wait_for(live, timeout=15, what="the task's logs and RUNNING while it runs")
    finally:
        release.write_text("go")
        thread.join(30)
    assert result == ["done"]
    flow_run_id = open_store().list_flow_runs()[0].id
    (run,) = task_runs(flow_run_id).values()
    assert run.runner == cluster_runner.name and run.cpu_seconds is not None
    assert [t for t, _ in states_of(run.id)] == ["PENDING", "RUNNING", "COMPLETED"]
    messages = [line.message for line in open_store().read_logs(flow_run_id)]
    assert messages.count("started") == 1 and messages.count("printed while running") == 1

