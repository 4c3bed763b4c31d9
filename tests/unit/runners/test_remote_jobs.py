"""What the cluster runners share (runners/_remote_jobs.py, the lazy _ChildSink): how a
job is packed, that a task travels and loads once, and which messages a short or a long
attempt sends. No cluster here: the transport is a list."""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from orkest import flow, task
from orkest.core.states import Completed, Running
from orkest.engine.task_run import TaskRunJob, set_task_state
from orkest.errors import SerializationError
from orkest.runners import _remote_jobs as remote
from orkest.runners._process_worker import _ChildSink
from orkest.runners.base import TaskRunner
from unit.runners.traced import Traced, unpickled_in


class Wire:
    """A transport that keeps what was sent, decoded (but the secrets that earlier tests
    in this process registered, which a sink sends first)."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []

    def send_bytes(self, data: bytes) -> None:
        message = pickle.loads(data)
        if message[0] != "secrets":
            self.messages.append(message)

    def kinds(self) -> list[str]:
        return [m[0] for m in self.messages]


class Capture(TaskRunner):
    """Keeps the jobs the engine hands over; says each completed without running it."""

    name = "capture"

    def __init__(self) -> None:
        self.jobs: list[TaskRunJob] = []

    def submit(self, job: TaskRunJob, ctx: Any, on_done: Any) -> None:
        self.jobs.append(job)
        on_done(Completed(data=None))

    def shutdown(self) -> None:
        pass

    def duplicate(self) -> Capture:
        return self

    def config(self) -> dict[str, Any]:
        return {}


def jobs_of(fn: Any, inputs: list[Any], **options: Any) -> list[TaskRunJob]:
    runner = Capture()
    step = task(**options)(fn)

    @flow(task_runner=runner)
    def f() -> None:
        for future in step.map(inputs):
            future.wait()

    f()
    return runner.jobs


def run_packed(job: TaskRunJob, packer: remote.JobPacker, wire: Wire) -> Any:
    token, data = packer.task(job, lambda raw: raw)
    payload = packer.pack(job, job.args, job.kwargs)
    sink = _ChildSink(wire, lazy_running=True)  # type: ignore[arg-type]
    return remote.run_job(payload, token, data, [], sink, "test")


def test_a_short_attempt_sends_one_message_with_its_whole_history() -> None:
    (job,) = jobs_of(lambda x: x * 2, [21])
    wire = Wire()
    assert run_packed(job, remote.JobPacker("test"), wire) == 42
    assert wire.kinds() == ["done"]
    batch = wire.messages[0][-1]
    assert [s.type.value for s in batch.states] == ["RUNNING", "COMPLETED"]


def test_a_long_attempt_announces_itself_at_a_tick_with_what_is_left_of_its_timeout() -> None:
    sink = _ChildSink(Wire(), lazy_running=True)  # type: ignore[arg-type]
    (job,) = jobs_of(lambda: None, [()], timeout_seconds=10)
    sink.begin(job)
    set_task_state(job.task_run, Running(), sink)
    assert sink.conn.messages == []  # lazy: nothing sent at the start
    time.sleep(0.2)
    sink.tick()
    kind, left, batch = sink.conn.messages[0]
    assert kind == "running" and 9.0 < left <= 9.85
    assert [s.type.value for s in batch.states] == ["RUNNING"]
    sink.tick()  # nothing new: nothing sent
    assert len(sink.conn.messages) == 1
    set_task_state(job.task_run, Completed(data=None), sink)
    assert sink.conn.kinds() == ["running", "attempt"]  # its deadline is cleared
    sink.tick()  # the final state waits for "done": a tick does not ship it
    assert sink.conn.kinds() == ["running", "attempt"]


def test_an_unannounced_attempt_sends_no_attempt_message() -> None:
    sink = _ChildSink(Wire(), lazy_running=True)  # type: ignore[arg-type]
    (job,) = jobs_of(lambda: None, [()], timeout_seconds=10)
    sink.begin(job)
    set_task_state(job.task_run, Running(), sink)
    set_task_state(job.task_run, Completed(data=None), sink)
    assert sink.conn.messages == []  # all of it travels with "done"


def test_the_process_runner_still_announces_at_once() -> None:
    sink = _ChildSink(Wire())  # type: ignore[arg-type]
    (job,) = jobs_of(lambda: None, [()], timeout_seconds=10)
    sink.begin(job)
    set_task_state(job.task_run, Running(), sink)
    assert sink.conn.messages[0][:2] == ("running", 10)


def test_a_task_is_pickled_once_and_loaded_once_per_process(tmp_path: Path) -> None:
    log = str(tmp_path / "unpickled")
    marker = Traced(log, 10)

    def use(i: int) -> int:
        return i + len(marker.payload)

    jobs = jobs_of(use, [1, 2, 3])
    shipped: list[bytes] = []
    packer = remote.JobPacker("test")
    tokens = [packer.task(job, lambda raw: shipped.append(raw) or len(shipped))
              for job in jobs]
    assert len(set(tokens)) == 1 and len(shipped) == 1  # one task, shipped once
    assert tokens[0][1] == 1  # what the first ship returned, for every job
    (other,) = jobs_of(lambda: 0, [()])
    assert packer.task(other, lambda raw: shipped.append(raw))[0] != tokens[0][0]
    token = tokens[0][0]
    results = [remote.run_job(packer.pack(job, job.args, job.kwargs), token, shipped[0], [],
                              _ChildSink(Wire(), lazy_running=True), "test")  # type: ignore
               for job in jobs]
    assert results == [11, 12, 13]
    assert len(unpickled_in(log)) == 1  # this process loaded the task once for three runs


@pytest.mark.parametrize(("value", "plain"), [
    ((1, "a", 2.5, None, b"x", True), True),
    (([1, 2], {"k": [3, {"n": None}]}), True),
    ({1: "a"}, True),
    ((Path("/tmp"),), False),  # not a built-in scalar: cloudpickle decides how it travels
    ((lambda: 1,), False),
    ((list(range(100)),), False),  # too long to look through: cloudpickle
    (({("tuple", "key"): 1},), False),
])
def test_plain_values_take_the_fast_pickle(value: Any, plain: bool) -> None:
    assert remote._plain(value) is plain


def test_an_argument_that_cannot_travel_fails_with_the_run_named() -> None:
    import threading

    (job,) = jobs_of(lambda lock: None, [threading.Lock()])
    with pytest.raises(SerializationError, match=rf"{job.task_run.name!r} cannot be sent"):
        remote.JobPacker("Test").pack(job, job.args, job.kwargs)
