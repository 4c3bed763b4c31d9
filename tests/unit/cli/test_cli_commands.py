"""The verbs, run in this process with click's CliRunner against a temporary ORKEST_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from orkest.core.records import FlowRun, WriteBatch
from orkest.core.states import StateType
from orkest.store import open_store

FLOWS = Path(__file__).with_name("cli_flows.py")


class Cli:
    """Invoke `orkest ...` in this process; stdout and stderr are kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        from orkest.cli.main import cli

        return self.runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def orkest() -> Cli:
    return Cli()


@pytest.fixture
def flows() -> Path:
    return FLOWS


def stored_runs() -> list[FlowRun]:
    return open_store().list_flow_runs(limit=100)


def only_run() -> FlowRun:
    runs = stored_runs()
    assert len(runs) == 1
    return runs[0]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def put_run(state: StateType, pid: int, run_id: str = "feedbeef-0000-4000-8000-000000000001"
            ) -> FlowRun:
    from orkest.services.reaper import HOSTNAME

    now = time.time()
    run = FlowRun(id=run_id, flow_name="ok", name="hand-made", state_type=state,
                  state_name=state.value.title(), state_ts=now, created_ts=now,
                  hostname=HOSTNAME, pid=pid, heartbeat_ts=now)
    batch = WriteBatch()
    batch.flow_runs[run.id] = run
    open_store().write(batch)
    return run


class TestRun:
    def test_a_completed_run_exits_0_with_a_summary(self, orkest: Cli, flows: Path) -> None:
        result = orkest("run", f"{flows}:ok", "--param", "n=3", "-p", "label=total")
        assert result.exit_code == 0, result.output
        run = only_run()
        assert result.stdout.startswith(f"Running flow run {run.name} ({run.id}) of flow 'ok'")
        assert "Task runs of" in result.stdout
        for name in ("add-0", "add-1", "add-2"):
            assert name in result.stdout
        assert f"Flow run {run.name} finished: Completed" in result.stdout
        assert run.state_type is StateType.COMPLETED
        assert run.parameters == {"n": 3, "label": "total"}
        assert run.entrypoint == f"{flows.resolve()}:ok"

    def test_a_failed_run_exits_1_with_its_reason(self, orkest: Cli, flows: Path) -> None:
        result = orkest("run", f"{flows}:fails", "-p", "reason=no disk")
        assert result.exit_code == 1
        assert "Reason: ValueError: boom: no disk" in result.stdout
        assert "Failed task run: explode-0 (Failed): ValueError: boom: no disk" in result.stdout
        run = only_run()
        assert f"orkest flow-run inspect {run.id}" in result.stdout
        assert result.stderr == f"Error: Flow run {run.name} ({run.id}) ended FAILED\n"

    def test_an_unknown_flow_exits_2_listing_the_flows(self, orkest: Cli, flows: Path) -> None:
        result = orkest("run", f"{flows}:nope")
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1
        assert ("has no flow or DAG 'nope' (flows and DAGs found there: fails, ok, pauses,"
                in result.stderr)
        assert stored_runs() == []

    def test_a_task_is_not_a_flow(self, orkest: Cli, flows: Path) -> None:
        result = orkest("run", f"{flows}:not_a_flow")
        assert result.exit_code == 2
        assert "is a Task, not a flow" in result.stderr

    def test_an_unknown_file_exits_2(self, orkest: Cli, tmp_path: Path) -> None:
        result = orkest("run", f"{tmp_path}/missing.py:flow")
        assert result.exit_code == 2
        assert result.stderr == f"Error: No such file: {tmp_path}/missing.py\n"

    def test_a_file_that_does_not_import_exits_2(self, orkest: Cli, tmp_path: Path) -> None:
        broken = tmp_path / "broken.py"
        broken.write_text("import no_such_module_here\n")
        result = orkest("run", f"{broken}:f")
        assert result.exit_code == 2
        assert "ModuleNotFoundError" in result.stderr

    def test_invalid_parameters_exit_2_and_store_nothing(self, orkest: Cli, flows: Path) -> None:
        result = orkest("run", f"{flows}:ok", "-p", "n=many")
        assert result.exit_code == 2
        assert "parameter 'n'" in result.stderr
        result = orkest("run", f"{flows}:ok", "-p", "colour=red")
        assert result.exit_code == 2
        assert "parameter 'colour'" in result.stderr
        assert stored_runs() == []

    def test_a_file_with_one_flow_needs_no_name(self, orkest: Cli, tmp_path: Path) -> None:
        single = tmp_path / "single.py"
        single.write_text("from orkest import flow\n\n@flow\ndef only():\n    return 1\n")
        assert orkest("run", str(single)).exit_code == 0
        assert only_run().flow_name == "only"


class TestReading:
    def test_ls_inspect_logs(self, orkest: Cli, flows: Path) -> None:
        assert orkest("run", f"{flows}:ok").exit_code == 0
        assert orkest("run", f"{flows}:fails").exit_code == 1
        failed, done = stored_runs()

        table = orkest("flow-run", "ls")
        assert table.exit_code == 0
        assert done.id[:8] in table.stdout and failed.name in table.stdout
        only_failed = orkest("flow-run", "ls", "--state", "failed", "--json")
        assert [r["id"] for r in json.loads(only_failed.stdout)] == [failed.id]
        by_flow = json.loads(orkest("flow-run", "ls", "--flow", "ok", "--json").stdout)
        assert [r["name"] for r in by_flow] == [done.name]
        assert by_flow[0]["created_ts"].endswith("Z")
        assert json.loads(orkest("flow-run", "ls", "--limit", "1", "--json").stdout)[0]["id"] \
            == failed.id

        shown = orkest("flow-run", "inspect", failed.id[:6])
        assert shown.exit_code == 0
        for text in ("State history", "explode-0", "ValueError: boom", "Traceback", "reason"):
            assert text in shown.stdout
        doc = json.loads(orkest("flow-run", "inspect", failed.id, "--json").stdout)
        assert doc["id"] == failed.id and doc["state_type"] == "FAILED"
        assert [s["type"] for s in doc["state_history"]] == ["PENDING", "RUNNING", "FAILED"]
        assert {t["name"] for t in doc["task_runs"]} == {"add-0", "explode-0"}
        assert "ValueError" in doc["failure_traceback"]

        logs = orkest("flow-run", "logs", done.id)
        assert "sum of 2 numbers" in logs.stdout and "adding 0 and 1" in logs.stdout
        lines = json.loads(orkest("flow-run", "logs", done.id, "--json").stdout)
        assert {line["source"] for line in lines} == {"print", "logger"}
        add_1 = next(t for t in open_store().list_task_runs(flow_run_id=done.id)
                     if t.name == "add-1")
        only_add_1 = json.loads(orkest("flow-run", "logs", done.id, "--task", add_1.id[:8],
                                       "--json").stdout)
        assert [line["message"] for line in only_add_1] == ["adding 1 and 1"]
        assert only_add_1[0]["task_run_name"] == "add-1"
        other = orkest("flow-run", "logs", failed.id, "--task", add_1.id)
        assert other.exit_code == 1 and "belongs to another flow run" in other.stderr

    def test_task_run_ls_and_inspect(self, orkest: Cli, flows: Path) -> None:
        assert orkest("run", f"{flows}:fails").exit_code == 1
        run = only_run()
        table = orkest("task-run", "ls", "--flow-run", run.id[:8])
        assert "add-0" in table.stdout and "explode-0" in table.stdout
        failed = json.loads(orkest("task-run", "ls", "--state", "FAILED", "--json").stdout)
        assert [t["name"] for t in failed] == ["explode-0"]
        shown = orkest("task-run", "inspect", failed[0]["id"][:8])
        assert "ValueError: boom" in shown.stdout and "State history" in shown.stdout
        doc = json.loads(orkest("task-run", "inspect", failed[0]["id"], "--json").stdout)
        assert doc["parameters"] == {"reason": "bad input"}
        assert [s["type"] for s in doc["state_history"]] == ["PENDING", "RUNNING", "FAILED"]

    def test_empty_lists(self, orkest: Cli) -> None:
        assert orkest("flow-run", "ls").stdout == "No flow runs found.\n"
        assert orkest("flow-run", "ls", "--json").stdout == "[]\n"
        assert orkest("task-run", "ls", "--json").stdout == "[]\n"

    def test_unknown_ids_exit_1(self, orkest: Cli) -> None:
        for args in (("flow-run", "inspect", "abcdef"), ("flow-run", "logs", "abcdef"),
                     ("flow-run", "cancel", "abcdef"), ("task-run", "inspect", "abcdef"),
                     ("flow-run", "retry", "abcdef")):
            result = orkest(*args)
            assert result.exit_code == 1, args
            assert result.stderr == "Error: No flow run with id 'abcdef'.\n" or \
                result.stderr == "Error: No task run with id 'abcdef'.\n"

    def test_unknown_state_type_exits_2(self, orkest: Cli) -> None:
        result = orkest("flow-run", "ls", "--state", "DONE")
        assert result.exit_code == 2 and "Unknown state type 'DONE'" in result.stderr


class TestActions:
    def test_retry_reuses_completed_tasks(self, orkest: Cli, flows: Path,
                                          tmp_path: Path) -> None:
        (tmp_path / "fail").touch()
        assert orkest("run", f"{flows}:two_steps", "-p", f"workdir={tmp_path}").exit_code == 1
        run = only_run()
        (tmp_path / "fail").unlink()
        result = orkest("flow-run", "retry", run.id[:8])
        assert result.exit_code == 0, result.output
        assert "finished: Recovered (COMPLETED)" in result.stdout
        assert (tmp_path / "step_one.calls").read_text() == "x"
        assert (tmp_path / "step_two.calls").read_text() == "xx"
        again = open_store().read_flow_run(run.id)
        assert again.state_name == "Recovered" and again.failure_traceback is None
        refused = orkest("flow-run", "retry", run.id)
        assert refused.exit_code == 1 and "only FAILED, CRASHED or CANCELLED" in refused.stderr

    def test_set_state(self, orkest: Cli, flows: Path) -> None:
        assert orkest("run", f"{flows}:fails").exit_code == 1
        run = only_run()
        result = orkest("flow-run", "set-state", run.id, "completed", "--message", "fixed by hand")
        assert result.exit_code == 0
        assert "marked COMPLETED (was FAILED)" in result.stdout
        stored = open_store().read_flow_run(run.id)
        assert (stored.state_type, stored.state_message) == (StateType.COMPLETED,
                                                             "fixed by hand")
        assert orkest("flow-run", "set-state", run.id, "RUNNING").exit_code == 2

    def test_set_state_refuses_a_run_its_process_still_drives(self, orkest: Cli) -> None:
        run = put_run(StateType.RUNNING, os.getpid())
        result = orkest("flow-run", "set-state", run.id, "FAILED")
        assert result.exit_code == 1
        assert "cancel it first" in result.stderr
        assert open_store().read_flow_run(run.id).state_type is StateType.RUNNING

    def test_set_state_of_an_orphan(self, orkest: Cli) -> None:
        run = put_run(StateType.RUNNING, dead_pid())
        assert orkest("flow-run", "set-state", run.id, "FAILED").exit_code == 0
        assert open_store().read_flow_run(run.id).state_type is StateType.FAILED

    def test_cancel_a_run_nobody_drives(self, orkest: Cli) -> None:
        pending = put_run(StateType.PENDING, dead_pid())
        result = orkest("flow-run", "cancel", pending.id)
        assert result.exit_code == 0 and "cancelled (it was PENDING)" in result.stdout
        assert open_store().read_flow_run(pending.id).state_type is StateType.CANCELLED
        again = orkest("flow-run", "cancel", pending.id)
        assert again.exit_code == 1 and "already finished" in again.stderr

    def test_cancel_an_orphaned_active_run(self, orkest: Cli) -> None:
        paused = put_run(StateType.PAUSED, dead_pid())
        assert orkest("flow-run", "cancel", paused.id).exit_code == 0
        stored = open_store().read_flow_run(paused.id)
        assert stored.state_type is StateType.CANCELLED
        assert "is gone" in (stored.state_message or "")

    def test_cancel_no_wait_only_asks(self, orkest: Cli) -> None:
        run = put_run(StateType.RUNNING, os.getpid())
        result = orkest("flow-run", "cancel", run.id, "--no-wait")
        assert result.exit_code == 0 and "requested" in result.stdout
        stored = open_store().read_flow_run(run.id)
        assert (stored.state_type, stored.requested_action) == (StateType.RUNNING, "cancel")

    def test_cancel_times_out_when_the_owner_does_not_answer(self, orkest: Cli) -> None:
        run = put_run(StateType.RUNNING, os.getpid())
        result = orkest("flow-run", "cancel", run.id, "--timeout", "0.3")
        assert result.exit_code == 1
        assert "still RUNNING after 0.3 s" in result.stderr

    def test_resume_checks_state_and_input(self, orkest: Cli) -> None:
        running = put_run(StateType.RUNNING, os.getpid())
        refused = orkest("flow-run", "resume", running.id)
        assert refused.exit_code == 1 and "not PAUSED" in refused.stderr
        bad = orkest("flow-run", "resume", running.id, "--input", "{nope")
        assert bad.exit_code == 2 and "--input is not valid JSON" in bad.stderr
        orphan = put_run(StateType.PAUSED, dead_pid(), "feedbeef-0000-4000-8000-000000000002")
        gone = orkest("flow-run", "resume", orphan.id)
        assert gone.exit_code == 1 and "is gone" in gone.stderr


def test_db_upgrade(orkest: Cli) -> None:
    first = orkest("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert "revision" in first.stdout
    assert "already at revision" in orkest("db", "upgrade").stdout


def test_help_lists_the_verbs(orkest: Cli) -> None:
    result = orkest("--help")
    for verb in ("run", "flow-run", "task-run", "db", "demo"):
        assert verb in result.stdout
    assert "set-state" in orkest("flow-run", "--help").stdout
