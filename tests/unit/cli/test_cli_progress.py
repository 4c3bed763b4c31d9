"""cli/progress.py: the live view fed by recorder snapshots, on a terminal and in a pipe."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from orkest.cli import progress
from orkest.cli.execution import print_summary
from orkest.core.records import FlowRun, TaskRun
from orkest.core.states import StateType


class FakeRecorder:
    def __init__(self) -> None:
        self.listeners: list = []

    def add_listener(self, listener) -> None:  # noqa: ANN001
        self.listeners.append(listener)

    def remove_listener(self, listener) -> None:  # noqa: ANN001
        self.listeners.remove(listener)

    def emit(self, kind: str, run: object) -> None:
        for listener in self.listeners:
            listener(kind, run)


def flow_run(state: StateType = StateType.RUNNING, message: str | None = None) -> FlowRun:
    now = time.time()
    return FlowRun(id="f" * 8 + "-0000-4000-8000-000000000000", flow_name="etl",
                   name="calm-otter", state_type=state, state_name=state.value.title(),
                   state_ts=now, created_ts=now, start_ts=now, state_message=message)


def task_run(i: int, state: StateType, flow_run_id: str, message: str | None = None) -> TaskRun:
    now = time.time()
    return TaskRun(id=f"t{i}", flow_run_id=flow_run_id, task_name="load", task_key="load:load",
                   dynamic_key=str(i), name=f"load-{i}", state_type=state,
                   state_name=state.value.title(), state_ts=now + i / 1000, created_ts=now,
                   start_ts=now, run_count=1, state_message=message)


def test_plain_mode_prints_one_line_per_change(capsys: pytest.CaptureFixture[str]) -> None:
    run = flow_run()
    recorder = FakeRecorder()
    view = progress.RunProgress(run, Console(file=io.StringIO()), recorder, live=False)
    with view:
        recorder.emit("task", task_run(0, StateType.PENDING, run.id))
        recorder.emit("task", task_run(1, StateType.COMPLETED, run.id))
        recorder.emit("task", task_run(2, StateType.FAILED, run.id, "ValueError:\n bad"))
        recorder.emit("task", task_run(3, StateType.COMPLETED, "someone-else"))
    assert recorder.listeners == []
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == [
        "flow run calm-otter  Running", "load-1  Completed", "load-2  Failed: ValueError: bad"]


def test_plain_mode_says_how_to_resume(capsys: pytest.CaptureFixture[str]) -> None:
    run = flow_run(StateType.PAUSED, "Waiting to be resumed")
    with progress.RunProgress(run, Console(file=io.StringIO()), FakeRecorder(), live=False):
        pass
    assert f"Paused: Waiting to be resumed - resume with: orkest flow-run resume {run.id}" \
        in capsys.readouterr().out


def test_subflow_task_runs_are_shown() -> None:
    run = flow_run()
    recorder = FakeRecorder()
    view = progress.RunProgress(run, Console(file=io.StringIO()), recorder, live=False)
    child = flow_run()
    child.id, child.parent_flow_run_id = "child", run.id
    with view:
        recorder.emit("flow", child)
        recorder.emit("task", task_run(0, StateType.RUNNING, "child"))
    assert [t.name for t in view._snapshot()] == ["load-0"]


def test_live_render_lists_running_first_and_cuts_long_lists() -> None:
    run = flow_run()
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    view = progress.RunProgress(run, console, FakeRecorder(), live=True)
    for i in range(20):
        view.listener("task", task_run(i, StateType.COMPLETED, run.id))
    view.listener("task", task_run(99, StateType.RUNNING, run.id))
    console.print(view._render())
    text = out.getvalue()
    assert "21 task run(s): 20 completed, 1 running" in text
    assert text.index("load-99") < text.index("load-19")
    assert "... 6 more" in text


def test_live_mode_starts_and_stops() -> None:
    console = Console(file=io.StringIO(), force_terminal=True)
    recorder = FakeRecorder()
    with progress.RunProgress(flow_run(), console, recorder, live=True) as view:
        assert view._live is not None and recorder.listeners
    assert recorder.listeners == []


def test_summary_of_a_long_map_shows_only_problems(capsys: pytest.CaptureFixture[str]) -> None:
    run = flow_run(StateType.FAILED)
    runs = [task_run(i, StateType.COMPLETED, run.id) for i in range(80)]
    runs.append(task_run(80, StateType.FAILED, run.id))
    print_summary(run, runs)
    out = capsys.readouterr().out
    assert "load-80" in out and "load-3 " not in out
    assert "... 80 more (80 Completed)" in out
    assert "finished: Failed" in out
