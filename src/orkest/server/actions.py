"""Cancel, resume, retry and mark a flow run: the rules of `orkest flow-run ...`, for the API.

The same rules as orkest/cli/flow_run_actions.py, built from the same parts (owner_alive,
finishing_policy, finish_task_runs, the manual and rerun policies): a run in an active
state belongs to the process that drives it, so while that process lives we only ask it
(request_action); when it is gone, the stored run is changed directly. Unlike the CLI, the
API does not wait for the outcome: it answers 202 and the UI watches the run.

Retry runs `orkest flow-run retry ID` in a new process on the server's machine, against
the server's database (never through ORKEST_API_URL), exactly as a person would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from orkest.core.ports import RunStore
from orkest.core.records import FlowRun
from orkest.core.states import (
    ACTIVE_TYPES,
    FAILURE_TYPES,
    TERMINAL_TYPES,
    Cancelled,
    Crashed,
    State,
    StateType,
)
from orkest.core.transitions import MANUAL_POLICY
from orkest.errors import InvalidStateTransition
from orkest.services.reaper import finish_task_runs, finishing_policy, owner_alive, owner_label

DEFAULT_CANCEL_MESSAGE = "Cancelled through the API"


def _describe(run: FlowRun) -> str:
    return f"Flow run {run.name} ({run.id})"


def _owner(run: FlowRun) -> str:
    return "process" + owner_label(run)[len("Process"):]


def cancel(store: RunStore, flow_run_id: str, message: str | None) -> tuple[str, FlowRun]:
    """("done", run) when it was cancelled here, ("requested", run) when its owner will."""
    run = store.read_flow_run(flow_run_id)
    if run.state_type in TERMINAL_TYPES:
        raise InvalidStateTransition(
            f"{_describe(run)} already finished: it is {run.state_type.value}")
    if run.state_type is StateType.SCHEDULED or not owner_alive(run, time.time()):
        text = message or "Cancelled by hand"
        if run.state_type in ACTIVE_TYPES:
            text += f"; {owner_label(run)} is gone"
        try:
            done = store.set_state(run.id, "flow", Cancelled(message=text),
                                   finishing_policy(StateType.CANCELLED))
        except InvalidStateTransition:
            current = store.read_flow_run(run.id)
            raise InvalidStateTransition(
                f"{_describe(run)} changed meanwhile: it is now {current.state_type.value}; "
                "try again") from None
        finish_task_runs(store, run.id, lambda: Cancelled(message=text))
        assert isinstance(done, FlowRun)
        return "done", done
    store.request_action(run.id, "cancel", message or DEFAULT_CANCEL_MESSAGE)
    return "requested", store.read_flow_run(run.id)


def resume(store: RunStore, flow_run_id: str, payload: object) -> FlowRun:
    """Ask the process that paused the run to resume it (with `payload` as its input)."""
    run = store.read_flow_run(flow_run_id)
    if run.state_type is not StateType.PAUSED:
        raise InvalidStateTransition(
            f"{_describe(run)} is {run.state_type.value}, not PAUSED; only a paused run can "
            "be resumed")
    if not owner_alive(run, time.time()):
        raise InvalidStateTransition(
            f"{_describe(run)} is PAUSED but {_owner(run)} is gone, so nothing can resume it")
    store.request_action(run.id, "resume", payload)
    return store.read_flow_run(run.id)


def mark(store: RunStore, flow_run_id: str, target: StateType,
         message: str | None) -> FlowRun:
    """Mark the run COMPLETED or FAILED by hand; refused while its process still runs it."""
    run = store.read_flow_run(flow_run_id)
    active = run.state_type in ACTIVE_TYPES
    if active and owner_alive(run, time.time()):
        raise InvalidStateTransition(
            f"{_describe(run)} is {run.state_type.value} in {_owner(run)}; cancel it first")
    text = message or f"Marked {target.value} by hand"
    updated = store.set_state(run.id, "flow", State(target, message=text), MANUAL_POLICY)
    if active:
        gone = f"{owner_label(run)} is gone"
        finish_task_runs(store, run.id, lambda: Crashed(message=gone))
    assert isinstance(updated, FlowRun)
    return updated


@dataclass(frozen=True, slots=True)
class Retry:
    flow_run_id: str
    pid: int
    log: Path


def retry(store: RunStore, flow_run_id: str, *, database_url: str, home: Path) -> Retry:
    """Start `orkest flow-run retry ID` in the background (checked here first, for a clear
    409); the new process reruns the flow and records it in the server's database."""
    run = store.read_flow_run(flow_run_id)
    if run.state_type not in FAILURE_TYPES:
        raise InvalidStateTransition(
            f"{_describe(run)} is {run.state_type.value}; only FAILED, CRASHED or CANCELLED "
            "runs can be retried")
    if not run.entrypoint:
        raise InvalidStateTransition(
            f"{_describe(run)} has no entrypoint on record, so its flow cannot be loaded again")
    if database_url.startswith("memory:"):
        raise InvalidStateTransition(
            "This server keeps runs in memory, which another process cannot reach: retry "
            "needs a database (ORKEST_DATABASE_URL or ORKEST_HOME)")
    env = {k: v for k, v in os.environ.items() if k != "ORKEST_API_URL"}
    env.update(ORKEST_DATABASE_URL=database_url, ORKEST_HOME=str(home))
    log_dir = home / "retries"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{run.id}-{int(time.time() * 1000)}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "orkest.cli.main", "flow-run", "retry", run.id],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)  # a Ctrl-C of the server does not stop a retry
    # Reap the child when it ends (no zombie); the server does not wait for it otherwise.
    threading.Thread(target=process.wait, name=f"orkest-retry-{process.pid}",
                     daemon=True).start()
    return Retry(run.id, process.pid, log)
