"""Flow-level behaviour: parameters, subflows, outcomes, caching, cancel, pause, crashes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pydantic
import pytest

from helpers import count_calls, note_call
from orkest import flow, pause_flow_run, task
from orkest.cache import task_input_hash
from orkest.core.states import StateType
from orkest.errors import ParameterValidationError, TaskTimeoutError
from orkest.runners import SequentialRunner
from orkest.store import open_store


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_parameters_are_coerced_from_type_hints() -> None:
    seen = {}

    @flow
    def typed(day: dt.date, count: int = 1, ratio: float = 0.5) -> None:
        seen.update(day=day, count=count, ratio=ratio)

    typed("2026-03-01", count="3")
    assert seen == {"day": dt.date(2026, 3, 1), "count": 3, "ratio": 0.5}
    run = open_store().list_flow_runs()[0]
    assert run.parameters == {"day": "2026-03-01", "count": 3, "ratio": 0.5}


def test_bad_parameters_name_the_parameter_and_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    @task
    def side_effect() -> None:
        marker.write_text("ran")

    @flow
    def strict(count: int, when: dt.date) -> None:
        side_effect()

    with pytest.raises(ParameterValidationError) as info:
        strict("many", when="2026-01-01")
    assert "'count'" in str(info.value) and "many" in str(info.value)
    with pytest.raises(ParameterValidationError, match="'when'"):
        strict(1)
    with pytest.raises(ParameterValidationError, match="unknown"):
        strict(1, dt.date.today(), unknown=2)
    assert not marker.exists()
    assert open_store().list_flow_runs() == []


def test_a_parameter_named_like_a_model_attribute_is_fine() -> None:
    @flow
    def shadowing(json: int, schema: str = "x") -> int:
        return json

    assert shadowing("5") == 5


def test_subflow_is_linked_to_its_parent() -> None:
    @flow
    def child(x: int) -> int:
        return x * 2

    @flow
    def parent() -> int:
        return child(21)

    assert parent() == 42
    runs = {r.flow_name: r for r in open_store().list_flow_runs()}
    assert runs["child"].parent_flow_run_id == runs["parent"].id
    assert runs["parent"].parent_flow_run_id is None


def test_standalone_task_call_is_a_tracked_task_run() -> None:
    @task
    def double(x: int) -> int:
        return x * 2

    assert double(4) == 8
    state = double(5, return_state=True)
    assert state.is_completed() and state.result() == 10
    runs = open_store().list_task_runs()
    assert len(runs) == 2 and all(r.flow_run_id is None for r in runs)
    assert {r.state_type for r in runs} == {StateType.COMPLETED}


def test_flow_raises_the_error_that_failed_it_and_return_state_returns_it() -> None:
    @flow
    def broken() -> None:
        raise LookupError("no such dataset")

    with pytest.raises(LookupError, match="no such dataset"):
        broken()
    state = broken(return_state=True)
    assert state.is_failed() and "LookupError: no such dataset" in state.message
    run = open_store().list_flow_runs()[0]
    assert run.failure_type == "builtins.LookupError"
    assert [r.type.value for r in open_store().read_states(run.id)] == [
        "PENDING", "RUNNING", "FAILED"]


def test_a_handled_task_failure_does_not_fail_the_flow() -> None:
    @task
    def boom() -> None:
        raise ValueError("bad row")

    @flow
    def tolerant() -> str:
        try:
            boom()
        except ValueError:
            pass
        future = boom.submit()
        future.wait()
        return "ok" if future.result(raise_on_failure=False) is not None else "?"

    assert tolerant() == "ok"


def test_flow_retries_end_recovered_without_rerunning_completed_tasks(tmp_path: Path) -> None:
    done_marker, flaky_marker = tmp_path / "done", tmp_path / "flaky"

    @task
    def steady() -> int:
        note_call(done_marker)
        return 1

    @task
    def flaky() -> int:
        if note_call(flaky_marker) == 1:
            raise ConnectionError("first attempt")
        return 2

    @flow(retries=1, task_runner=SequentialRunner())
    def recovering() -> int:
        return steady() + flaky()

    state = recovering(return_state=True)
    assert (state.type, state.name) == (StateType.COMPLETED, "Recovered")
    assert state.result() == 3
    assert count_calls(done_marker) == 1
    run = open_store().list_flow_runs()[0]
    assert run.run_count == 2
    assert [r.type.value for r in open_store().read_states(run.id)] == [
        "PENDING", "RUNNING", "AWAITING_RETRY", "RUNNING", "COMPLETED"]


def test_flow_timeout_fails_as_timed_out() -> None:
    @flow(timeout_seconds=0.3)
    def too_slow() -> None:
        time.sleep(5)

    started = time.monotonic()
    state = too_slow(return_state=True)
    assert time.monotonic() - started < 3
    assert (state.type, state.name) == (StateType.FAILED, "TimedOut")
    with pytest.raises(TaskTimeoutError):
        state.result()


def test_cache_key_fn_reuses_results_across_flow_runs(tmp_path: Path) -> None:
    marker = tmp_path / "calls"

    @task(cache_key_fn=task_input_hash, cache_expiration=dt.timedelta(minutes=5))
    def expensive(x: int) -> int:
        note_call(marker)
        return x * 10

    @flow
    def f(x: int) -> list[int]:
        return [expensive(x), expensive(x)]

    assert f(1) == [10, 10]
    assert f(1) == [10, 10]
    assert f(2) == [20, 20]
    assert count_calls(marker) == 2  # once per distinct input
    names = {(t.state_name, t.parameters["x"]) for t in open_store().list_task_runs()}
    assert ("Cached", 1) in names and ("Completed", 1) in names


def test_cache_expiration_is_honoured(tmp_path: Path) -> None:
    marker = tmp_path / "calls"

    @task(cache_key_fn=lambda ctx, params: "fixed-key",
          cache_expiration=dt.timedelta(seconds=0.2))
    def value() -> int:
        return note_call(marker)

    @flow
    def f() -> int:
        return value()

    assert f() == 1
    assert f() == 1
    time.sleep(0.3)
    assert f() == 2


CACHE_SCRIPT = """
import sys
from pathlib import Path
from orkest import flow, task
from orkest.cache import task_input_hash

marker = Path(sys.argv[1])

@task(cache_key_fn=task_input_hash)
def expensive(x: int) -> int:
    with marker.open("a") as handle:
        handle.write("x")
    return x + 1

@flow
def cached(x: int) -> int:
    return expensive(x)

print(cached(41))
"""


def test_cache_works_across_processes(tmp_path: Path) -> None:
    script = tmp_path / "cached.py"
    script.write_text(CACHE_SCRIPT)
    marker = tmp_path / "calls"
    for _ in range(2):
        out = subprocess.run([sys.executable, str(script), str(marker)], check=True,
                             capture_output=True, text=True, env=os.environ.copy())
        assert out.stdout.strip() == "42"
    assert count_calls(marker) == 1


def test_cancel_request_stops_a_running_flow(tmp_path: Path) -> None:
    started = threading.Event()

    @task
    def long_step() -> None:
        started.set()
        for _ in range(400):
            time.sleep(0.025)

    @flow
    def cancellable() -> None:
        long_step.submit()
        long_step()

    result = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "state", cancellable(return_state=True)))
    thread.start()
    assert started.wait(5)
    wait_until(lambda: bool(open_store().list_flow_runs()))
    run = open_store().list_flow_runs()[0]
    open_store().request_action(run.id, "cancel", "stop it")
    thread.join(15)
    assert not thread.is_alive()
    assert result["state"].type is StateType.CANCELLED
    stored = open_store().read_flow_run(run.id)
    assert stored.state_type is StateType.CANCELLED
    types = [r.type.value for r in open_store().read_states(run.id)]
    assert types[-2:] == ["CANCELLING", "CANCELLED"]
    assert {t.state_type for t in open_store().list_task_runs(flow_run_id=run.id)} == {
        StateType.CANCELLED}


class Approval(pydantic.BaseModel):
    approver: str
    amount: int


def test_pause_waits_for_valid_input_then_resumes() -> None:
    @flow
    def needs_approval() -> str:
        answer = pause_flow_run(timeout=20, wait_for_input=Approval)
        return f"{answer.approver}:{answer.amount}"

    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", needs_approval()))
    thread.start()
    store = open_store()
    wait_until(lambda: store.list_flow_runs()
               and store.list_flow_runs()[0].state_type is StateType.PAUSED)
    run_id = store.list_flow_runs()[0].id
    store.request_action(run_id, "resume", {"approver": "ana", "amount": "lots"})
    wait_until(lambda: "Resume input rejected" in (store.read_flow_run(run_id).state_message
                                                  or ""))
    assert "amount" in store.read_flow_run(run_id).state_message
    store.request_action(run_id, "resume", {"approver": "ana", "amount": "12"})
    thread.join(10)
    assert result["value"] == "ana:12"
    types = [(r.type.value, r.name) for r in store.read_states(run_id)]
    assert ("RUNNING", "Resumed") in types and types[-1] == ("COMPLETED", "Completed")


def test_pause_without_resume_times_out() -> None:
    @flow
    def forgotten() -> None:
        pause_flow_run(timeout=0.3)

    state = forgotten(return_state=True)
    assert (state.type, state.name) == (StateType.FAILED, "TimedOut")


INTERRUPT_SCRIPT = """
import sys, time
from orkest import flow, task

@task
def slow():
    print("started", flush=True)
    time.sleep(60)

@flow
def interrupted():
    slow.submit()
    slow()

interrupted()
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_process_leaves_runs_crashed(tmp_path: Path, signum: int) -> None:
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPT_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    assert proc.stdout is not None
    assert "started" in proc.stdout.readline()  # two tasks may print on one line
    time.sleep(0.2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=20)
    proc.stdout.close()
    assert proc.returncode != 0, err
    run = open_store().list_flow_runs()[0]
    assert run.state_type is StateType.CRASHED
    assert {t.state_type for t in open_store().list_task_runs(flow_run_id=run.id)} == {
        StateType.CRASHED}


WORKER_SCRIPT = """
import sys
from orkest import flow, task

@task
def step(i: int) -> int:
    return i

@flow
def busy(worker: int) -> int:
    return sum(f.result() for f in step.map(range(50)))

for _ in range(int(sys.argv[2])):
    busy(int(sys.argv[1]))
"""


def test_many_processes_share_one_home_without_losing_anything(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    procs = [subprocess.Popen([sys.executable, str(script), str(i), "8"],
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy())
             for i in range(4)]
    errors = [p.communicate(timeout=90)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert not any("locked" in e for e in errors), errors
    runs = open_store().list_flow_runs(limit=100)
    assert len(runs) == 32
    assert all(r.state_type is StateType.COMPLETED for r in runs)
    assert len(open_store().list_task_runs(limit=5000)) == 32 * 50


def test_corrupt_home_database_is_a_clear_error(orkest_home: Path) -> None:
    orkest_home.mkdir(parents=True)
    db = orkest_home / "orkest.db"
    db.write_bytes(b"this is not a database" * 100)

    @flow
    def f() -> None:
        pass

    from orkest.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="orkest.db"):
        f()
    assert db.read_bytes() == b"this is not a database" * 100


def test_home_that_is_a_file_is_a_clear_error(orkest_home: Path) -> None:
    orkest_home.write_text("oops")

    @flow
    def f() -> None:
        pass

    from orkest.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="ORKEST_HOME"):
        f()


def test_textwrap_is_used() -> None:  # keeps scripts above readable when indented
    assert textwrap.dedent("  a") == "a"


def test_cancel_does_not_hang_on_a_task_stuck_in_c_code(monkeypatch) -> None:
    from orkest.engine import control

    monkeypatch.setattr(control, "CANCEL_GRACE_SECONDS", 0.5)
    started = threading.Event()

    @task
    def stuck() -> None:
        started.set()
        time.sleep(4)  # one C call: a pool thread cannot be interrupted inside it

    @flow
    def f() -> None:
        stuck.submit().wait()

    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("state", f(return_state=True)))
    thread.start()
    assert started.wait(5)
    begun = time.monotonic()
    wait_until(lambda: bool(open_store().list_flow_runs()))
    run = open_store().list_flow_runs()[0]
    open_store().request_action(run.id, "cancel")
    thread.join(10)
    assert time.monotonic() - begun < 3.5
    assert result["state"].type is StateType.CANCELLED
    task_run = open_store().list_task_runs(flow_run_id=run.id)[0]
    assert task_run.state_type is StateType.CANCELLED
    assert "abandoned" in task_run.state_message


def test_retry_jitter_adds_a_bounded_random_delay(tmp_path: Path) -> None:
    marker = tmp_path / "calls"

    @task(retries=2, retry_delay_seconds=0.1, retry_jitter_factor=1.0)
    def flaky() -> None:
        if note_call(marker) < 3:
            raise ValueError("again")

    @flow
    def f() -> None:
        flaky()

    started = time.monotonic()
    f()
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.5  # two delays, each between 0.1 and 0.2 s
    messages = [r.message for r in open_store().read_states(open_store().list_task_runs()[0].id)
                if r.name == "Retrying"]
    delays = [float(m.rsplit("retrying in ", 1)[1].split()[0]) for m in messages]
    assert len(delays) == 2 and all(0.1 <= d <= 0.2 for d in delays)


def test_json_result_serializer_is_readable_json(orkest_home: Path) -> None:
    import json

    @task(result_serializer="json")
    def rows() -> list[dict]:
        return [{"id": i, "name": "x" * 200} for i in range(3)]

    @task(result_serializer="json", persist_result=True)
    def not_json() -> set:
        return {1, 2}

    @flow
    def f() -> None:
        rows()

    f()
    run = open_store().list_task_runs()[0]
    assert run.result_ref.startswith("db:json:")
    blob = open_store().read_result(run.result_ref.rsplit(":", 1)[1])
    assert json.loads(blob.data)[2]["id"] == 2
    assert run.state.result() == [{"id": i, "name": "x" * 200} for i in range(3)]

    @flow
    def g() -> None:
        not_json()

    state = g(return_state=True)
    assert state.is_failed() and "not JSON-serializable" in state.message


def test_task_tags_and_inputs_are_stored() -> None:
    @task(tags=["warehouse", "nightly"])
    def load(table: str, rows: list[int], options: dict | None = None) -> int:
        return len(rows)

    @flow
    def f() -> None:
        load("orders", list(range(100)), options={"mode": "append"})

    f()
    run = open_store().list_task_runs()[0]
    assert run.tags == ["nightly", "warehouse"]
    assert run.parameters == {"table": "orders", "rows": "<list of 100>",
                              "options": {"mode": "append"}}


def test_a_huge_log_line_is_cut_not_lost() -> None:
    from orkest import flow, get_run_logger
    from orkest.store import open_store

    @flow
    def chatty() -> None:
        get_run_logger().info("start")
        get_run_logger().info("x" * 200_000)
        get_run_logger().info("end")

    chatty()
    run = open_store().list_flow_runs()[0]
    messages = [line.message for line in open_store().read_logs(run.id)]
    assert messages[0] == "start" and messages[-1] == "end"
    assert 50_000 < len(messages[1].encode()) <= 60_000
    assert messages[1].endswith("[cut: the message had 200,000 bytes; lines keep 60,000]")
