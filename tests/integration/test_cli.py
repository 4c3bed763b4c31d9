"""`orkest` as people use it: real subprocesses, real signals, one ORKEST_HOME per test.

The flows live in tests/unit/cli/cli_flows.py. Requests (cancel, resume) are polled by the
running process every ORKEST_POLL_SECONDS, set low here to keep the suite quick.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orkest.store import open_store

FLOWS = Path(__file__).resolve().parents[1] / "unit" / "cli" / "cli_flows.py"
COMMAND = [sys.executable, "-m", "orkest.cli.main"]


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_POLL_SECONDS", "0.1")
    monkeypatch.delenv("COLUMNS", raising=False)


def orkest(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `orkest ...` in the background; whatever is left running is killed after."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def running_flow_run(flow_name: str, task_state: str = "RUNNING") -> Any:
    """The flow run once it and one of its task runs are stored as running."""
    store = open_store()

    def found() -> Any:
        runs = store.list_flow_runs(flow_name=flow_name, limit=1)
        if not runs or runs[0].state_type.value not in ("RUNNING", "PAUSED"):
            return None
        if task_state == "-":
            return runs[0]
        tasks = store.list_task_runs(flow_run_id=runs[0].id)
        return runs[0] if any(t.state_type.value == task_state for t in tasks) else None

    return wait_for(found, what=f"a running {flow_name} flow run")


def flow_run_json(run_id: str) -> dict[str, Any]:
    result = orkest("flow-run", "inspect", run_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_run_exit_codes_and_reading_verbs() -> None:
    done = orkest("run", f"{FLOWS}:ok", "--param", "n=3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Running flow run ")
    assert "add-2" in done.stdout and "finished: Completed" in done.stdout

    failed = orkest("run", f"{FLOWS}:fails", "--param", "reason=disk full")
    assert failed.returncode == 1
    assert "Reason: ValueError: boom: disk full" in failed.stdout
    assert "Failed task run: explode-0" in failed.stdout
    assert failed.stderr.startswith("Error: Flow run ") and "ended FAILED" in failed.stderr

    runs = json.loads(orkest("flow-run", "ls", "--json").stdout)
    assert [r["flow_name"] for r in runs] == ["fails", "ok"]
    assert [r["state_type"] for r in runs] == ["FAILED", "COMPLETED"]
    table = orkest("flow-run", "ls").stdout
    assert runs[0]["id"][:8] in table and runs[0]["name"] in table

    failed_id = runs[0]["id"]
    shown = orkest("flow-run", "inspect", failed_id[:8]).stdout
    assert "State history" in shown and "explode-0" in shown and "Traceback" in shown
    doc = flow_run_json(failed_id)
    assert doc["parameters"] == {"reason": "disk full"}
    assert [t["state_type"] for t in doc["task_runs"]] == ["COMPLETED", "FAILED"]

    logs = orkest("flow-run", "logs", runs[1]["id"])
    assert "of 3 numbers" in logs.stdout and "adding 2 and 1" in logs.stdout
    lines = json.loads(orkest("flow-run", "logs", runs[1]["id"], "--json").stdout)
    assert len(lines) == 4 and lines[0]["ts"].endswith("Z")

    tasks = json.loads(orkest("task-run", "ls", "--flow-run", failed_id, "--json").stdout)
    assert [t["name"] for t in tasks] == ["add-0", "explode-0"]
    assert "ValueError" in orkest("task-run", "inspect", tasks[1]["id"]).stdout

    missing = orkest("flow-run", "inspect", "0000000")
    assert missing.returncode == 1
    assert missing.stderr == "Error: No flow run with id '0000000'.\n"


def test_bad_targets_and_parameters_exit_2_and_store_nothing(tmp_path: Path) -> None:
    cases = {
        f"{tmp_path}/nowhere.py:flow": "No such file",
        f"{FLOWS}:missing": "has no flow or DAG 'missing' (flows and DAGs found there: fails, ok,",
        "no_such_module_xyz:flow": "Cannot import module 'no_such_module_xyz'",
    }
    for target, message in cases.items():
        result = orkest("run", target)
        assert result.returncode == 2, target
        assert message in result.stderr
        assert result.stderr.count("\n") == 1
    bad = orkest("run", f"{FLOWS}:ok", "--param", "n=lots")
    assert bad.returncode == 2 and "parameter 'n'" in bad.stderr
    assert orkest("flow-run", "ls", "--json").stdout == "[]\n"


def test_retry_recovers_without_running_completed_tasks_again(tmp_path: Path) -> None:
    (tmp_path / "fail").touch()
    first = orkest("run", f"{FLOWS}:two_steps", "--param", f"workdir={tmp_path}")
    assert first.returncode == 1
    run_id = json.loads(orkest("flow-run", "ls", "--json").stdout)[0]["id"]
    (tmp_path / "fail").unlink()

    retried = orkest("flow-run", "retry", run_id[:8])
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "finished: Recovered (COMPLETED)" in retried.stdout
    assert (tmp_path / "step_one.calls").read_text() == "x"  # not executed again
    assert (tmp_path / "step_two.calls").read_text() == "xx"
    doc = flow_run_json(run_id)
    assert (doc["state_type"], doc["state_name"]) == ("COMPLETED", "Recovered")
    assert [s["type"] for s in doc["state_history"]] == [
        "PENDING", "RUNNING", "FAILED", "PENDING", "RUNNING", "COMPLETED"]

    refused = orkest("flow-run", "retry", run_id)
    assert refused.returncode == 1 and "only FAILED, CRASHED or CANCELLED" in refused.stderr

    marked = orkest("flow-run", "set-state", run_id, "FAILED", "--message", "bad data")
    assert marked.returncode == 0
    doc = flow_run_json(run_id)
    assert (doc["state_type"], doc["state_message"]) == ("FAILED", "bad data")


def test_cancel_a_flow_running_in_another_process(spawn: Callable[..., Any]) -> None:
    proc = spawn("run", f"{FLOWS}:sleepy", "--param", "seconds=60")
    run = running_flow_run("sleepy")

    refused = orkest("flow-run", "set-state", run.id, "COMPLETED")
    assert refused.returncode == 1 and "cancel it first" in refused.stderr

    cancelled = orkest("flow-run", "cancel", run.id[:8])
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "ended CANCELLED" in err
    doc = flow_run_json(run.id)
    assert doc["state_type"] == "CANCELLED"
    assert doc["task_runs"][0]["state_type"] == "CANCELLED"

    again = orkest("flow-run", "cancel", run.id)
    assert again.returncode == 1 and "already finished" in again.stderr


def test_resume_a_paused_flow(spawn: Callable[..., Any]) -> None:
    proc = spawn("run", f"{FLOWS}:pauses")
    run = running_flow_run("pauses", "-")
    wait_for(lambda: open_store().read_flow_run(run.id).state_type.value == "PAUSED",
             what="PAUSED")
    resumed = orkest("flow-run", "resume", run.id)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert flow_run_json(run.id)["state_type"] == "COMPLETED"


def test_resume_with_input_rejects_bad_input_then_accepts(spawn: Callable[..., Any]) -> None:
    proc = spawn("run", f"{FLOWS}:pauses_for_input")
    run = running_flow_run("pauses-for-input", "-")
    wait_for(lambda: open_store().read_flow_run(run.id).state_type.value == "PAUSED",
             what="PAUSED")

    not_json = orkest("flow-run", "resume", run.id, "--input", "{approver: ann}")
    assert not_json.returncode == 2 and "not valid JSON" in not_json.stderr
    rejected = orkest("flow-run", "resume", run.id, "--input", '{"approver": "ann"}')
    assert rejected.returncode == 1
    assert "Resume input rejected" in rejected.stderr and "count" in rejected.stderr
    assert rejected.stderr.count("\n") == 1
    assert open_store().read_flow_run(run.id).state_type.value == "PAUSED"

    accepted = orkest("flow-run", "resume", run.id, "--input", '{"approver": "ann", "count": 2}')
    assert accepted.returncode == 0, accepted.stderr
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    doc = flow_run_json(run.id)
    assert doc["state_type"] == "COMPLETED"
    assert [t["name"] for t in doc["task_runs"]] == ["record_approval-0"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_is_crashed(spawn: Callable[..., Any], sig: int, code: int) -> None:
    proc = spawn("run", f"{FLOWS}:sleepy", "--param", "seconds=60")
    run = running_flow_run("sleepy")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, out + err
    assert "is CRASHED" in err
    doc = flow_run_json(run.id)
    assert doc["state_type"] == "CRASHED"
    assert doc["task_runs"][0]["state_type"] == "CRASHED"


def test_killed_run_is_reaped_by_the_next_listing(spawn: Callable[..., Any]) -> None:
    proc = spawn("run", f"{FLOWS}:sleepy", "--param", "seconds=60")
    run = running_flow_run("sleepy")
    proc.kill()
    proc.communicate(timeout=30)
    assert open_store().read_flow_run(run.id).state_type.value == "RUNNING"

    listed = json.loads(orkest("flow-run", "ls", "--json").stdout)
    assert listed[0]["state_type"] == "CRASHED"
    assert listed[0]["state_message"] == f"Process {proc.pid} on {run.hostname} is gone"
    doc = flow_run_json(run.id)
    assert doc["task_runs"][0]["state_type"] == "CRASHED"


def test_demo() -> None:
    result = orkest("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    for text in ("extract-0", "transform-0", "validate-0", "load-4", "notify-0",
                 "Retrying", "finished: Completed", "See it: orkest flow-run inspect ",
                 "http://127.0.0.1:4200/#/runs/"):
        assert text in result.stdout
    run = json.loads(orkest("flow-run", "ls", "--json").stdout)[0]
    assert run["flow_name"] == "demo-etl" and run["state_type"] == "COMPLETED"
    logs = orkest("flow-run", "logs", run["id"]).stdout
    assert "transform: kept" in logs and "Loaded 470 orders in 5 batches" in logs


def test_help_is_quick() -> None:
    started = time.monotonic()
    result = orkest("--help")
    assert result.returncode == 0 and "flow-run" in result.stdout
    assert time.monotonic() - started < 5
