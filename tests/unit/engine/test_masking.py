"""Secret values registered for masking never reach the store, whatever records them.

The recorder masks every batch before writing it (engine/redaction.py); the process
runner hands secrets to its workers and learns the ones a task reads there; captured
print() output and a Bash command's last line are masked where they leave the engine.
Runs on every local runner, directly and through the API server (engine conftest).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from orkest import flow, get_run_logger, task
from orkest._internal import masking
from orkest.core.records import FlowRun, LogLine, StateRecord, TaskRun, WriteBatch
from orkest.core.states import StateType
from orkest.engine.redaction import mask_batch, mask_run
from orkest.operators._shell import run_shell
from orkest.store import open_store

SECRET = "hunter2-the-canary"
CHILD_SECRET = "read-in-a-worker-process"


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    masking.reset()
    yield
    masking.reset()


# -- the registry ------------------------------------------------------------------------

def test_mask_replaces_values_and_their_escaped_forms() -> None:
    masking.register('pa"ss\\word')
    assert masking.mask('x pa"ss\\word y') == "x *** y"
    assert masking.mask('{"p": "pa\\"ss\\\\word"}') == '{"p": "***"}'  # as JSON shows it
    masking.register("abc")  # too short to mask without destroying the logs
    assert masking.mask("abcdef") == "abcdef"


def test_mask_value_returns_the_same_object_when_nothing_changed() -> None:
    value = {"a": [1, "plain"], "b": ("x",)}
    assert masking.mask_value(value) is value  # inactive
    masking.register(SECRET)
    assert masking.mask_value(value) is value
    assert masking.mask_value({"k": [SECRET, 1], SECRET: (SECRET,)}) == {
        "k": ["***", 1], "***": ("***",)}


def test_adopt_takes_values_from_another_process_as_they_are() -> None:
    assert not masking.active() and masking.count() == 0
    masking.adopt(["from-the-parent", "ab"])
    assert masking.active() and masking.count() == 1
    assert masking.mask("got from-the-parent") == "got ***"
    masking.adopt(masking.registered())  # nothing new: no change
    assert masking.count() == 1


# -- the recorder's choke point --------------------------------------------------------

def _records() -> WriteBatch:
    now = time.time()
    flow_run = FlowRun("f1", "flow", f"run-{SECRET}", StateType.FAILED, "Failed", now, now,
                       state_message=f"boom {SECRET}", parameters={"token": SECRET},
                       failure_traceback=f"Traceback\nValueError: {SECRET}")
    task_run = TaskRun("t1", "f1", "t", "t", "0", "t-0", StateType.COMPLETED, "Completed",
                       now, now, parameters={"cmd": f"echo {SECRET}"})
    batch = WriteBatch(flow_runs={"f1": flow_run}, task_runs={"t1": task_run})
    batch.states.append(StateRecord("f1", "flow", StateType.FAILED, "Failed", now,
                                    f"boom {SECRET}"))
    batch.logs.append(LogLine("f1", "t1", now, 20, "x", f"token={SECRET}"))
    return batch


def test_mask_batch_masks_copies_and_leaves_live_runs_alone() -> None:
    masking.register(SECRET)
    batch = _records()
    live_flow, live_task = batch.flow_runs["f1"], batch.task_runs["t1"]
    mask_batch(batch)
    stored = batch.flow_runs["f1"]
    assert stored is not live_flow and live_flow.state_message == f"boom {SECRET}"
    assert (stored.name, stored.state_message, stored.parameters) == (
        "run-***", "boom ***", {"token": "***"})
    assert stored.failure_traceback.endswith("ValueError: ***")
    assert batch.task_runs["t1"].parameters == {"cmd": "echo ***"}
    assert live_task.parameters == {"cmd": f"echo {SECRET}"}
    assert batch.states[0].message == "boom ***"
    assert batch.logs[0].message == "token=***"
    clean = TaskRun("t2", None, "t", "t", "0", "t-0", StateType.COMPLETED, "Completed", 0, 0)
    assert mask_run(clean) is clean


def test_the_store_never_gets_a_registered_value() -> None:
    from orkest.engine.recorder import Recorder

    store = open_store()
    masking.register(SECRET)
    recorder = Recorder(store)
    batch = _records()
    recorder.absorb(batch)
    recorder.flush()
    run = store.read_flow_run("f1")
    assert (run.state_message, run.parameters) == ("boom ***", {"token": "***"})
    assert [x.message for x in store.read_logs("f1")] == ["token=***"]
    assert [s.message for s in store.read_states("f1")] == ["boom ***"]
    assert store.read_task_run("t1").parameters == {"cmd": "echo ***"}


# -- flows on every runner --------------------------------------------------------------

@task
def uses_secret(token: str) -> bool:
    get_run_logger().info("logged %s", token)
    print("printed", token)
    return SECRET in masking.registered()  # in a worker process: sent by the parent


@task
def reads_secret_in_task() -> None:
    masking.register(CHILD_SECRET)  # what Secret(name).get() does with the value
    get_run_logger().info("child logged %s", CHILD_SECRET)
    raise ValueError(f"failed holding {CHILD_SECRET}")


def test_a_flow_stores_no_secret_on_any_runner(runner, capsys: pytest.CaptureFixture) -> None:
    @flow(task_runner=runner, log_prints=True)
    def with_secret(token: str) -> bool:
        known = uses_secret.submit(token).result()  # submitted: in a worker process
        failing = reads_secret_in_task.submit()
        failing.wait()
        get_run_logger().error("the task said: %s", failing.state.message)
        raise RuntimeError(f"flow failed holding {token}, known={known}")

    masking.register(SECRET)
    with pytest.raises(RuntimeError):
        with_secret(SECRET)
    assert CHILD_SECRET in masking.registered()  # learnt from the worker, on every runner
    store = open_store()
    run = store.list_flow_runs(flow_name="with-secret")[0]
    assert run.parameters == {"token": "***"}
    assert run.state_message == "RuntimeError: flow failed holding ***, known=True"
    assert SECRET not in (run.failure_traceback or "") and "***" in run.failure_traceback
    messages = [x.message for x in store.read_logs(run.id)]
    assert "logged ***" in messages and "printed ***" in messages
    assert "child logged ***" in messages
    assert "the task said: ValueError: failed holding ***" in messages
    for task_run in store.list_task_runs(flow_run_id=run.id):
        assert SECRET not in repr(task_run) and CHILD_SECRET not in repr(task_run)
    assert store.list_task_runs(flow_run_id=run.id)[0].parameters == {"token": "***"}
    if runner.name != "processes":  # a worker's stdout is not the test's sys.stdout
        out = capsys.readouterr().out
        assert "printed ***" in out and SECRET not in out


def test_a_bash_commands_last_line_and_stderr_tail_are_masked() -> None:
    masking.register(SECRET)
    result = run_shell(f"echo {SECRET} >&2; echo {SECRET}; exit 3")
    assert (result.exit_code, result.last_stdout_line) == (3, "***")
    assert result.stderr_tail == ("***",)


def test_nothing_is_masked_or_copied_without_a_secret() -> None:
    batch = _records()
    runs = dict(batch.flow_runs)
    assert not masking.active()
    mask_batch(batch)  # the recorder does not even call it when inactive
    assert batch.flow_runs["f1"] is runs["f1"]
    assert masking.mask(f"x {SECRET}") == f"x {SECRET}"


def test_a_users_log_handler_sees_run_logs_masked(caplog: pytest.LogCaptureFixture) -> None:
    @flow
    def logs_secret(token: str) -> None:
        try:
            raise ValueError(f"bad {token}")
        except ValueError:
            get_run_logger().exception("failed with %s", token)

    masking.register(SECRET)
    with caplog.at_level("INFO", logger="orkest.run"):
        logs_secret(SECRET)
    record = next(r for r in caplog.records if r.name == "orkest.run.flow")
    assert caplog.text.count("***") >= 2 and SECRET not in caplog.text
    assert record.getMessage() == "failed with ***"
    stored = open_store().read_logs(open_store().list_flow_runs()[0].id)
    assert stored[0].message.startswith("failed with ***\nTraceback")
    assert stored[0].message.endswith("ValueError: bad ***")
