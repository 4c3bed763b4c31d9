"""`orkest flow-run cancel|retry|resume|set-state`: the verbs that change a flow run.

A run in an active state belongs to the process that drives it (hostname and pid on the
record). While that process lives, we only ask it (`request_action`; it polls every
ORKEST_POLL_SECONDS) and watch the outcome: writing the state behind its back would be
overwritten by its next snapshot. When it is gone, we change the stored run directly.
"""

from __future__ import annotations

import time
from typing import Any

import click

from orkest.cli.output import EXIT_FAILED, EXIT_USAGE, console, exit_with, one_line

POLL_INTERVAL = 0.1
CANCEL_WAIT_SECONDS = 15.0
RESUME_WAIT_SECONDS = 10.0
REJECTED_PREFIX = "Resume input rejected"


def _describe(run: Any) -> str:
    return f"Flow run {run.name} ({run.id})"


def _owner(run: Any) -> str:
    """"process N on HOST", for the middle of a sentence (the host keeps its case)."""
    from orkest.services.reaper import owner_label

    return "process" + owner_label(run)[len("Process"):]


def _wait_for(store: Any, run_id: str, done: Any, timeout: float) -> Any:
    """Poll the stored run until `done(run)` or `timeout`; the last run read."""
    deadline = time.monotonic() + timeout
    while True:
        run = store.read_flow_run(run_id)
        if done(run) or time.monotonic() >= deadline:
            return run
        time.sleep(POLL_INTERVAL)


@click.command("cancel")
@click.argument("flow_run_id")
@click.option("--no-wait", is_flag=True, help="Ask for the cancellation and return at once.")
@click.option("--timeout", default=CANCEL_WAIT_SECONDS, show_default=True, type=float,
              help="Seconds to wait for the run to stop.")
def cancel_command(flow_run_id: str, no_wait: bool, timeout: float) -> None:
    """Cancel a flow run: stop it if it runs, or mark it CANCELLED if nothing runs it."""
    from orkest.core.states import ACTIVE_TYPES, TERMINAL_TYPES, Cancelled, StateType
    from orkest.errors import InvalidStateTransition
    from orkest.services.reaper import finish_task_runs, finishing_policy, owner_alive, owner_label
    from orkest.store import open_store

    store = open_store()
    run = store.read_flow_run(flow_run_id)
    if run.state_type in TERMINAL_TYPES:
        exit_with(f"{_describe(run)} already finished: it is {run.state_type.value}",
                  EXIT_FAILED)
    now = time.time()
    direct = run.state_type is StateType.SCHEDULED or not owner_alive(run, now)
    if direct:
        message = "Cancelled by hand"
        if run.state_type in ACTIVE_TYPES:
            message += f"; {owner_label(run)} is gone"
        try:
            store.set_state(run.id, "flow", Cancelled(message=message),
                            finishing_policy(StateType.CANCELLED))
        except InvalidStateTransition:
            current = store.read_flow_run(run.id)
            exit_with(f"{_describe(run)} changed meanwhile: it is now "
                      f"{current.state_type.value}; try again", EXIT_FAILED)
        finish_task_runs(store, run.id, lambda: Cancelled(message=message))
        console().print(f"{_describe(run)} cancelled (it was {run.state_type.value}).")
        return
    store.request_action(run.id, "cancel", "Cancelled from the command line")
    if no_wait:
        console().print(f"Cancellation of {_describe(run)} requested; "
                        f"{_owner(run)} will stop it.")
        return
    console().print(f"Cancelling {_describe(run)}...")
    final = _wait_for(store, run.id, lambda r: r.state_type in TERMINAL_TYPES, timeout)
    if final.state_type is StateType.CANCELLED:
        console().print(f"{_describe(final)} cancelled.")
    elif final.state_type in TERMINAL_TYPES:
        exit_with(f"{_describe(final)} finished as {final.state_type.value} before the "
                  "cancellation took effect", EXIT_FAILED)
    else:
        exit_with(f"{_describe(final)} is still {final.state_type.value} after {timeout:g} s; "
                  "the cancellation stays requested", EXIT_FAILED)


@click.command("retry")
@click.argument("flow_run_id")
def retry_command(flow_run_id: str) -> None:
    """Rerun a FAILED, CRASHED or CANCELLED flow run here; completed tasks are reused.

    Task runs that completed with a stored result are not executed again, and a rerun that
    completes ends COMPLETED named "Recovered". Exit codes as for `orkest run`.
    """
    from orkest.cli.execution import adopt, all_task_runs, check_params, execute, load_flow
    from orkest.core.states import FAILURE_TYPES, Pending
    from orkest.core.transitions import RERUN_POLICY
    from orkest.errors import InvalidStateTransition
    from orkest.store import open_store

    store = open_store()
    run = store.read_flow_run(flow_run_id)
    if run.state_type not in FAILURE_TYPES:
        exit_with(f"{_describe(run)} is {run.state_type.value}; only FAILED, CRASHED or "
                  "CANCELLED runs can be retried", EXIT_FAILED)
    if not run.entrypoint:
        exit_with(f"{_describe(run)} has no entrypoint on record, so its flow cannot be "
                  "loaded again", EXIT_FAILED)
    flow, _ = load_flow(run.entrypoint)
    params = check_params(flow, dict(run.parameters))
    try:
        run = store.set_state(run.id, "flow", Pending(message="Rerun requested"), RERUN_POLICY)
    except InvalidStateTransition:
        current = store.read_flow_run(run.id)
        exit_with(f"{_describe(run)} is {current.state_type.value} now (retried elsewhere?)",
                  EXIT_FAILED)
    store.take_requests([run.id])  # a request left over from the last attempt must not hit this one
    prior = {(t.task_key, t.dynamic_key): t for t in all_task_runs(store, run.id)}
    adopt(run)
    run.failure_type = run.failure_traceback = None
    execute(flow, params, run, prior=prior, is_rerun=True)


@click.command("resume")
@click.argument("flow_run_id")
@click.option("--input", "input_json", metavar="JSON",
              help="The input the paused flow waits for, as JSON (an object).")
@click.option("--timeout", default=RESUME_WAIT_SECONDS, show_default=True, type=float,
              help="Seconds to wait for the run to take the input.")
def resume_command(flow_run_id: str, input_json: str | None, timeout: float) -> None:
    """Resume a PAUSED flow run, optionally with input; report whether it was accepted."""
    import json

    from orkest.core.states import StateType
    from orkest.services.reaper import owner_alive
    from orkest.store import open_store

    payload = None
    if input_json is not None:
        try:
            payload = json.loads(input_json)
        except ValueError as exc:
            exit_with(f"--input is not valid JSON: {exc}", EXIT_USAGE)
    store = open_store()
    run = store.read_flow_run(flow_run_id)
    if run.state_type is not StateType.PAUSED:
        exit_with(f"{_describe(run)} is {run.state_type.value}, not PAUSED; only a paused "
                  "run can be resumed", EXIT_FAILED)
    if not owner_alive(run, time.time()):
        exit_with(f"{_describe(run)} is PAUSED but {_owner(run)} is gone, so "
                  "nothing can resume it (orkest flow-run ls will mark it CRASHED)",
                  EXIT_FAILED)
    paused_at = run.state_ts
    store.request_action(run.id, "resume", payload)

    def answered(current: Any) -> bool:
        if current.state_type is not StateType.PAUSED:
            return True
        return current.state_ts != paused_at and (current.state_message or "").startswith(
            REJECTED_PREFIX)

    final = _wait_for(store, run.id, answered, timeout)
    if final.state_type is StateType.PAUSED:
        if final.state_ts != paused_at and (final.state_message or "").startswith(
                REJECTED_PREFIX):
            exit_with(f"{_describe(final)} is still PAUSED: "
                      f"{one_line(final.state_message, 600)}", EXIT_FAILED)
        exit_with(f"{_describe(final)} is still PAUSED after {timeout:g} s; the resume stays "
                  "requested", EXIT_FAILED)
    console().print(f"{_describe(final)} resumed: it is {final.state_type.value} "
                    f"({final.state_name}).")


@click.command("set-state")
@click.argument("flow_run_id")
@click.argument("state", type=click.Choice(["COMPLETED", "FAILED"], case_sensitive=False))
@click.option("--message", "-m", help="Why the run is marked so (stored with the state).")
def set_state_command(flow_run_id: str, state: str, message: str | None) -> None:
    """Mark a flow run COMPLETED or FAILED by hand (not while its process still runs it)."""
    from orkest.core.states import ACTIVE_TYPES, Crashed, State, StateType
    from orkest.core.transitions import MANUAL_POLICY
    from orkest.services.reaper import finish_task_runs, owner_alive, owner_label
    from orkest.store import open_store

    store = open_store()
    run = store.read_flow_run(flow_run_id)
    target = StateType(state.upper())
    active = run.state_type in ACTIVE_TYPES
    if active and owner_alive(run, time.time()):
        exit_with(f"{_describe(run)} is {run.state_type.value} in "
                  f"{_owner(run)}; cancel it first "
                  f"(orkest flow-run cancel {run.id})", EXIT_FAILED)
    text = message or f"Marked {target.value} by hand"
    updated = store.set_state(run.id, "flow", State(target, message=text), MANUAL_POLICY)
    if active:
        gone = f"{owner_label(run)} is gone"
        finish_task_runs(store, run.id, lambda: Crashed(message=gone))
    console().print(f"{_describe(updated)} marked {updated.state_type.value} "
                    f"(was {run.state_type.value}).")


COMMANDS = (cancel_command, retry_command, resume_command, set_state_command)
