"""Cancel, resume, retry and mark from the API: the CLI's rules, answered without waiting."""

from __future__ import annotations

import os
from typing import Any

from orkest.core.records import FlowRun, TaskRun, WriteBatch
from orkest.core.states import StateType
from orkest.services.reaper import HOSTNAME

S = StateType
DEAD_PID = 2**22 + 12345  # above Linux's pid_max: no such process


def write(store: Any, *runs: FlowRun | TaskRun) -> None:
    batch = WriteBatch()
    for run in runs:
        (batch.flow_runs if isinstance(run, FlowRun) else batch.task_runs)[run.id] = run
    store.write(batch)


def flow_run(state: StateType, *, alive: bool = True, **kw: Any) -> FlowRun:
    """A run owned by this test process (alive) or by a process that is gone."""
    return FlowRun("f" * 32, "etl", "brave-otter", state, state.value.title(), 100.0, 100.0,
                   hostname=HOSTNAME, pid=os.getpid() if alive else DEAD_PID, **kw)


def task_run(state: StateType) -> TaskRun:
    return TaskRun("t" * 32, "f" * 32, "load", "load-1", "0", "load-0", state,
                   state.value.title(), 100.0, 100.0)


def test_cancel_asks_the_living_owner(client: Any, store: Any) -> None:
    write(store, flow_run(S.RUNNING))
    response = client.post("/api/flow_runs/ffff/cancel", json={"message": "stop it"})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "requested"
    run = store.read_flow_run("f" * 32)
    assert (run.requested_action, run.requested_payload) == ("cancel", "stop it")
    assert run.state_type is S.RUNNING  # its process will move it


def test_cancel_without_a_body_uses_a_default_message(client: Any, store: Any) -> None:
    write(store, flow_run(S.PAUSED))
    assert client.post("/api/flow_runs/ffff/cancel").status_code == 202
    assert store.read_flow_run("f" * 32).requested_payload == "Cancelled through the API"


def test_cancel_marks_a_run_whose_process_is_gone(client: Any, store: Any) -> None:
    write(store, flow_run(S.RUNNING, alive=False), task_run(S.RUNNING))
    response = client.post("/api/flow_runs/ffff/cancel", json={})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "done" and body["flow_run"]["state_type"] == "CANCELLED"
    assert "is gone" in body["flow_run"]["state_message"]
    assert store.read_task_run("t" * 32).state_type is S.CANCELLED


def test_cancel_of_a_finished_run_is_409(client: Any, store: Any) -> None:
    write(store, flow_run(S.COMPLETED))
    response = client.post("/api/flow_runs/ffff/cancel")
    assert response.status_code == 409
    assert "already finished" in response.json()["detail"]
    assert client.post("/api/flow_runs/eeee0000/cancel").status_code == 404


def test_resume_hands_the_input_to_the_paused_run(client: Any, store: Any) -> None:
    write(store, flow_run(S.PAUSED))
    response = client.post("/api/flow_runs/ffff/resume", json={"input": {"approved": True}})
    assert response.status_code == 202, response.text
    run = store.read_flow_run("f" * 32)
    assert (run.requested_action, run.requested_payload) == ("resume", {"approved": True})


def test_resume_is_409_unless_paused_by_a_living_process(client: Any, store: Any) -> None:
    write(store, flow_run(S.RUNNING))
    assert "not PAUSED" in client.post("/api/flow_runs/ffff/resume").json()["detail"]
    write(store, flow_run(S.PAUSED, alive=False))
    response = client.post("/api/flow_runs/ffff/resume", json={})
    assert response.status_code == 409 and "is gone" in response.json()["detail"]
    assert store.read_flow_run("f" * 32).requested_action is None


def test_set_state_marks_by_hand(client: Any, store: Any) -> None:
    write(store, flow_run(S.FAILED))
    response = client.post("/api/flow_runs/ffff/set_state",
                           json={"state": "COMPLETED", "message": "fixed by hand"})
    assert response.status_code == 200, response.text
    assert (response.json()["state_type"], response.json()["state_message"]) == (
        "COMPLETED", "fixed by hand")
    assert client.post("/api/flow_runs/ffff/set_state",
                       json={"state": "RUNNING"}).status_code == 422


def test_set_state_refuses_a_run_its_process_still_drives(client: Any, store: Any) -> None:
    write(store, flow_run(S.RUNNING), task_run(S.RUNNING))
    response = client.post("/api/flow_runs/ffff/set_state", json={"state": "FAILED"})
    assert response.status_code == 409 and "cancel it first" in response.json()["detail"]
    write(store, flow_run(S.RUNNING, alive=False))
    marked = client.post("/api/flow_runs/ffff/set_state", json={"state": "FAILED"})
    assert marked.json()["state_type"] == "FAILED"
    assert store.read_task_run("t" * 32).state_type is S.CRASHED


def test_retry_is_409_for_a_run_that_cannot_be_retried(client: Any, store: Any) -> None:
    write(store, flow_run(S.COMPLETED, entrypoint="/x.py:f"))
    response = client.post("/api/flow_runs/ffff/retry")
    assert response.status_code == 409 and "only FAILED" in response.json()["detail"]
    write(store, flow_run(S.FAILED))
    response = client.post("/api/flow_runs/ffff/retry")
    assert response.status_code == 409 and "no entrypoint" in response.json()["detail"]
