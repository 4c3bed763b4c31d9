"""ProcessPoolRunner with real worker processes: records, resources, hard stops, cancels."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from orkest import flow, get_run_logger, task
from orkest.core.states import StateType
from orkest.engine.context import flow_run_var
from orkest.errors import ObjectNotFound
from orkest.runners import ProcessPoolRunner, processes
from orkest.store import open_store

MB = 1024 * 1024


def only_flow_run():
    (run,) = open_store().list_flow_runs()
    return run


def task_runs(flow_run_id: str) -> dict[str, object]:
    return {t.name: t for t in open_store().list_task_runs(flow_run_id=flow_run_id)}


def history(run_id: str) -> list[str]:
    return [r.type.value for r in open_store().read_states(run_id)]


def wait_for_file(path: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _children() -> set[str]:
    """Pids of this process's children (live or zombie), except multiprocessing's resource
    tracker (started by the first spawn, shared by the whole process, ends with it)."""
    me, found = str(os.getpid()), set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == me and b"resource_tracker" not in cmdline:  # fields[1]: ppid
            found.add(proc.name)
    return found


_before: set[str] = set()


@pytest.fixture(autouse=True)
def _children_before_the_test() -> None:
    """Children that other suites started (e.g. a session's API server) are not ours."""
    _before.clear()
    _before.update(_children())


def no_children_left() -> bool:
    """No live worker and no zombie among the children this test started."""
    if multiprocessing.active_children():
        return False
    return not (_children() - _before)


def test_results_logs_states_and_edges_reach_the_store() -> None:
    @task
    def double(x: int) -> int:
        get_run_logger().info("doubling %d", x)
        print("printed", x)
        return 2 * x

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    @flow(task_runner=ProcessPoolRunner(max_workers=2), log_prints=True)
    def pipeline(n: int) -> int:
        parts = double.map(range(n))
        return total.submit(parts).result()

    assert pipeline(4) == 12
    run = only_flow_run()
    assert run.state_type is StateType.COMPLETED and run.task_runner == "processes"
    runs = task_runs(run.id)
    assert set(runs) == {"double-0", "double-1", "double-2", "double-3", "total-0"}
    assert set(runs["total-0"].upstream) == {runs[f"double-{i}"].id for i in range(4)}
    for task_run in runs.values():
        assert history(task_run.id) == ["PENDING", "RUNNING", "COMPLETED"]
        assert task_run.resource_scope == "task" and task_run.peak_rss_bytes > 0
        assert task_run.run_count == 1 and task_run.start_ts <= task_run.end_ts
        assert task_run.result_ref is not None and task_run.runner == "processes"
    assert runs["total-0"].state.result() == 12
    lines = {(line.task_run_id, line.source, line.message)
             for line in open_store().read_logs(run.id)}
    for i in range(4):
        run_id = runs[f"double-{i}"].id
        assert (run_id, "logger", f"doubling {i}") in lines
        assert (run_id, "print", f"printed {i}") in lines
    assert no_children_left()


def test_logs_arrive_while_a_long_task_runs(tmp_path: Path) -> None:
    release = tmp_path / "release"
    seen: list[str] = []

    @task
    def long_one() -> str:
        get_run_logger().info("early line")
        while not release.exists():
            time.sleep(0.05)
        return "done"

    @flow(task_runner=ProcessPoolRunner(max_workers=1))
    def f() -> str:
        future = long_one.submit()
        flow_run_id = flow_run_var.get().flow_run.id
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            time.sleep(0.1)
            seen.extend(line.message for line in open_store().read_logs(flow_run_id))
        release.write_text("go")
        return future.result()

    assert f() == "done"
    assert seen == ["early line"]  # stored while the task was still running


def test_retries_happen_inside_the_child(tmp_path: Path) -> None:
    calls = tmp_path / "calls"

    @task(retries=2, retry_delay_seconds=0.05)
    def flaky() -> int:
        with calls.open("a") as handle:
            handle.write("x")
        count = len(calls.read_text())
        if count < 3:
            raise ConnectionError(f"attempt {count}")
        return count

    @flow(task_runner=ProcessPoolRunner(max_workers=1))
    def f() -> int:
        return flaky.submit().result()

    assert f() == 3
    (run,) = task_runs(only_flow_run().id).values()
    assert run.run_count == 3
    assert history(run.id) == ["PENDING", "RUNNING", "AWAITING_RETRY", "RUNNING",
                               "AWAITING_RETRY", "RUNNING", "COMPLETED"]


def test_failures_and_what_cannot_cross_the_process_boundary() -> None:
    class Unpicklable(Exception):
        def __reduce__(self):
            raise TypeError("no pickling for me")

    @task
    def boom() -> None:
        raise KeyError("missing")

    @task
    def odd_error() -> None:
        raise Unpicklable("strange")

    @task(persist_result=False)
    def returns_lock() -> object:
        return threading.Lock()

    @task
    def takes(value: object) -> str:
        return "never"

    @flow(task_runner=ProcessPoolRunner(max_workers=2))
    def f() -> list[object]:
        futures = [boom.submit(), odd_error.submit(), returns_lock.submit(),
                   takes.submit(threading.Lock())]
        return [future.result(raise_on_failure=False) for future in futures]

    key_error, odd, lock_error, arg_error = f()
    assert isinstance(key_error, KeyError) and "missing" in str(key_error)
    assert isinstance(odd, RuntimeError) and "Unpicklable: strange" in str(odd)
    assert "cannot be sent back" in str(lock_error)
    assert "cannot be sent to a worker process" in str(arg_error)
    runs = task_runs(only_flow_run().id)
    assert runs["boom-0"].failure_type == "builtins.KeyError"
    assert "missing" in runs["boom-0"].failure_traceback
    for name in ("returns_lock-0", "takes-0"):
        assert runs[name].state_type is StateType.FAILED
        assert runs[name].failure_type == "orkest.errors.SerializationError"
    assert history(runs["returns_lock-0"].id) == ["PENDING", "RUNNING", "FAILED"]


def test_peak_memory_and_cpu_belong_to_each_task() -> None:
    @task
    def big() -> int:
        blob = b"x" * (200 * MB)  # filled, so every page is resident
        return len(blob)

    @task
    def small() -> int:
        return len(b"y" * MB)

    @task
    def busy() -> int:
        end, count = time.process_time() + 0.4, 0
        while time.process_time() < end:
            count += 1
        return count

    @flow(task_runner=ProcessPoolRunner(max_workers=1))  # one worker: same process each time
    def f() -> None:
        big.submit().result()
        small.submit().result()
        busy.submit().result()

    f()
    runs = task_runs(only_flow_run().id)
    assert runs["big-0"].peak_rss_bytes >= 200 * MB
    assert runs["small-0"].peak_rss_bytes < 120 * MB
    assert 0.35 <= runs["busy-0"].cpu_seconds < 5
    assert runs["small-0"].cpu_seconds < 0.2


def test_timeout_interrupts_a_sleeping_task(tmp_path: Path) -> None:
    marker = tmp_path / "finished"

    @task(timeout_seconds=0.3)
    def sleepy() -> None:
        time.sleep(1.5)
        marker.write_text("ran to the end")

    @task
    def after() -> str:
        return "still works"

    @flow(task_runner=ProcessPoolRunner(max_workers=1))
    def f() -> str:
        sleepy.submit().wait()
        return after.submit().result()

    started = time.monotonic()
    state = f(return_state=True)
    assert state.type is StateType.FAILED  # the timed out task was not observed
    runs = task_runs(only_flow_run().id)
    assert (runs["sleepy-0"].state_type, runs["sleepy-0"].state_name) == (
        StateType.FAILED, "TimedOut")
    assert "timeout" in runs["sleepy-0"].state_message
    assert "killed" not in runs["sleepy-0"].state_message  # interrupted inside the worker
    assert runs["sleepy-0"].failure_type == "orkest.errors.TaskTimeoutError"
    assert runs["after-0"].state_type is StateType.COMPLETED
    time.sleep(max(0.0, started + 1.8 - time.monotonic()))
    assert not marker.exists()


def test_timeout_kills_a_task_that_ignores_the_interrupt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "GRACE_SECONDS", 0.5)
    marker = tmp_path / "finished"

    @task(timeout_seconds=0.3)
    def stubborn() -> None:
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        time.sleep(3)
        marker.write_text("ran to the end")

    @task
    def after(x: int) -> int:
        return x + 1

    @flow(task_runner=ProcessPoolRunner(max_workers=1))
    def f() -> list[int]:
        future = stubborn.submit()
        future.wait()
        return after.map([1, 2]).result()

    started = time.monotonic()
    state = f(return_state=True)
    assert state.type is StateType.FAILED
    runs = task_runs(only_flow_run().id)
    stubborn_run = runs["stubborn-0"]
    assert (stubborn_run.state_type, stubborn_run.state_name) == (StateType.FAILED, "TimedOut")
    assert "killed" in stubborn_run.state_message
    assert stubborn_run.failure_type == "orkest.errors.TaskTimeoutError"
    assert [runs[f"after-{i}"].state_type for i in range(2)] == [StateType.COMPLETED] * 2
    time.sleep(max(0.0, started + 3.3 - time.monotonic()))
    assert not marker.exists()
    assert no_children_left()


def test_timeouts_with_the_usage_example() -> None:
    @task(timeout_seconds=1)
    def slow(x: int) -> int:
        time.sleep(0.1 * x)
        return x

    @flow(task_runner=ProcessPoolRunner(max_workers=2))
    def f() -> list[int]:
        futures = slow.map(range(3))
        return [x.result() for x in futures]

    state = f(return_state=True)
    assert state.is_completed() and state.result() == [0, 1, 2]


def test_a_crashing_worker_is_crashed_and_replaced() -> None:
    @task
    def die() -> None:
        os._exit(3)

    @task
    def fine(x: int) -> int:
        return x * 10

    @flow(task_runner=ProcessPoolRunner(max_workers=1))
    def f() -> list[int]:
        crashed = die.submit()
        crashed.wait()
        return fine.map([1, 2, 3]).result()

    state = f(return_state=True)
    assert state.type is StateType.FAILED  # the crash was not observed
    runs = task_runs(only_flow_run().id)
    assert runs["die-0"].state_type is StateType.CRASHED
    assert "exited with code 3" in runs["die-0"].state_message
    assert [runs[f"fine-{i}"].state.result() for i in range(3)] == [10, 20, 30]
    assert history(runs["die-0"].id) == ["PENDING", "RUNNING", "CRASHED"]


def test_cancel_from_another_thread_kills_running_and_queued(tmp_path: Path) -> None:
    started = tmp_path / "started"
    marker = tmp_path / "finished"

    @task
    def long_one() -> None:
        started.write_text("yes")
        time.sleep(30)
        marker.write_text("ran to the end")

    @flow(task_runner=ProcessPoolRunner(max_workers=1))
    def f() -> None:
        ctx = flow_run_var.get()
        running = long_one.submit()
        queued = long_one.submit()

        def cancel() -> None:
            wait_for_file(started)
            ctx.control.cancel("enough")

        threading.Thread(target=cancel, daemon=True).start()
        running.result()
        queued.result()

    begun = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - begun < 15
    assert state.type is StateType.CANCELLED
    runs = task_runs(only_flow_run().id)
    assert {name: run.state_type for name, run in runs.items()} == {
        "long_one-0": StateType.CANCELLED, "long_one-1": StateType.CANCELLED}
    assert history(runs["long_one-0"].id) == ["PENDING", "RUNNING", "CANCELLED"]
    assert history(runs["long_one-1"].id) == ["PENDING", "CANCELLED"]
    assert not marker.exists()
    assert no_children_left()


def test_cancel_requested_through_the_store(tmp_path: Path) -> None:
    started = tmp_path / "started"

    @task
    def long_one() -> None:
        started.write_text("yes")
        time.sleep(30)

    @flow(task_runner=ProcessPoolRunner(max_workers=1))
    def f() -> None:
        flow_run_id = flow_run_var.get().flow_run.id

        def cancel() -> None:
            wait_for_file(started)
            deadline = time.monotonic() + 20
            while True:  # the recorder writes the new flow run within a moment
                try:
                    open_store().request_action(flow_run_id, "cancel", "from the store")
                    return
                except ObjectNotFound:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)

        threading.Thread(target=cancel, daemon=True).start()
        long_one.submit().result()

    begun = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - begun < 15
    assert state.type is StateType.CANCELLED
    (run,) = task_runs(only_flow_run().id).values()
    assert run.state_type is StateType.CANCELLED


def test_lambda_and_closure_tasks() -> None:
    offset = 100
    add_offset = task(lambda x: x + offset, name="add_offset")

    def make_scaler(factor: int):
        @task
        def scale(x: int) -> int:
            return x * factor
        return scale

    scale = make_scaler(3)

    @flow(task_runner=ProcessPoolRunner(max_workers=2))
    def f() -> list[int]:
        return [add_offset.submit(1).result(), scale.submit(add_offset.submit(2)).result()]

    assert f() == [101, 306]


def test_flow_loaded_from_a_file(tmp_path: Path) -> None:
    from orkest._internal.loading import load_object

    path = tmp_path / "user_flow.py"
    path.write_text(textwrap.dedent("""
        from orkest import flow, get_run_logger, task
        from orkest.runners import ProcessPoolRunner

        class Box:
            def __init__(self, value):
                self.value = value

        @task
        def square(x):
            get_run_logger().info("squaring %s", x)
            return Box(x * x)

        @flow(task_runner=ProcessPoolRunner(max_workers=2))
        def squares(n: int = 3):
            return [box.value for box in square.map(range(n)).result()]
    """))
    loaded = load_object(f"{path}:squares")
    assert loaded.__module__.startswith("orkest_user_")
    assert loaded(4) == [0, 1, 4, 9]
    run = only_flow_run()
    assert len(task_runs(run.id)) == 4
    assert len(open_store().read_logs(run.id)) == 4


def test_a_flow_run_retry_restarts_the_pool(tmp_path: Path) -> None:
    calls = tmp_path / "flow-calls"

    @task
    def one() -> int:
        return 1

    @flow(task_runner=ProcessPoolRunner(max_workers=1), retries=1)
    def f() -> int:
        with calls.open("a") as handle:
            handle.write("x")
        value = one.submit().result()
        if len(calls.read_text()) == 1:
            raise ValueError("first attempt fails")
        return value

    state = f(return_state=True)
    assert state.is_completed() and state.result() == 1
    assert no_children_left()


def test_nothing_hangs_at_interpreter_exit(tmp_path: Path) -> None:
    script = tmp_path / "exits.py"
    script.write_text(textwrap.dedent("""
        import threading, time
        from orkest import flow, task
        from orkest.runners import ProcessPoolRunner

        @task
        def forever():
            time.sleep(600)

        @flow(task_runner=ProcessPoolRunner(max_workers=1))
        def f():
            forever.submit().result()

        if __name__ == "__main__":
            threading.Thread(target=f, daemon=True).start()
            time.sleep(1.5)  # the worker is busy when the interpreter exits
            print("bye")
    """))
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env={**os.environ})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bye"
    assert time.monotonic() - started < 20


def test_max_workers_is_checked_and_copied() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        ProcessPoolRunner(max_workers=0)
    runner = ProcessPoolRunner()
    assert runner.max_workers == (os.cpu_count() or 1)
    assert runner.duplicate().max_workers == runner.max_workers
    assert runner.name == "processes"


def test_workers_that_cannot_start_fail_the_queued_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A spawned worker imports __main__ again: make that import fail, as an unguarded
    # script that breaks in a child would.
    broken = tmp_path / "broken_main.py"
    broken.write_text("raise SystemExit(7)\n")
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__spec__", None, raising=False)
    monkeypatch.setattr(main, "__file__", str(broken), raising=False)

    @task
    def never(x: int) -> int:
        return x

    @flow(task_runner=ProcessPoolRunner(max_workers=1))
    def f() -> None:
        never.map([1, 2]).wait()

    state = f(return_state=True)
    assert state.type is StateType.FAILED
    runs = task_runs(only_flow_run().id)
    for run in runs.values():
        assert run.state_type is StateType.CRASHED
        assert "exit while starting (last exit code 7)" in run.state_message
    assert no_children_left()
