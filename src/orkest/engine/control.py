"""Changing a flow run's state while it runs, and acting on requests (cancel, resume).

FlowRunControl is the one place a flow run's state changes; the recorder's poller calls
`handle_request` with what a person asked for from the CLI or the API.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from orkest.core.records import StateRecord
from orkest.core.states import TERMINAL_TYPES, Cancelled, Cancelling, Crashed, State, StateType
from orkest.core.transitions import check_transition
from orkest.engine.context import FlowRunContext
from orkest.engine.interrupts import Guard, interrupt, watchdog
from orkest.engine.task_run import describe_error, set_task_state
from orkest.errors import CancelledRun

# After a cancel, how long running tasks get to stop before they are abandoned.
CANCEL_GRACE_SECONDS = 5.0


class FlowRunControl:
    """The handle through which requests (cancel, resume) reach a flow run in progress."""

    def __init__(self, ctx: FlowRunContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.flow_guard: Guard | None = None
        self.resume_inbox: list[Any] = []
        self.resume_event = threading.Event()

    def set_state(self, state: State) -> State:
        """The one way a flow run changes state: checked, applied, recorded."""
        run, sink = self.ctx.flow_run, self.ctx.sink
        with self.lock:
            check_transition(run.state_type, state)
            run.state_type, run.state_name = state.type, state.name
            run.state_message, run.state_ts = state.message, state.ts
            if state.type is StateType.RUNNING and run.start_ts is None:
                run.start_ts = state.ts
            run.heartbeat_ts = state.ts  # the snapshot must not move the heartbeat back
            run.end_ts = state.ts if state.type in TERMINAL_TYPES else None
            if state.result_ref is not None:
                run.result_ref = state.result_ref
            sink.state(StateRecord(run.id, "flow", state.type, state.name, state.ts,
                                   state.message))
            sink.flow_run(run)
        return state

    def handle_request(self, action: str, payload: Any) -> None:
        if action == "cancel":
            self.cancel(str(payload or "Cancelled by request"))
        elif action == "resume":
            self.resume_inbox.append(payload)
            self.resume_event.set()

    def cancel(self, message: str) -> None:
        ctx = self.ctx
        if ctx.cancel_event.is_set() or ctx.flow_run.state_type in TERMINAL_TYPES:
            return
        ctx.cancel_event.set()
        if ctx.flow_run.state_type is StateType.PENDING:
            return  # not started: the engine sees the event and ends the run CANCELLED
        try:
            self.set_state(Cancelling(message=message))
        except Exception:  # noqa: BLE001, S110 - already finishing: nothing to cancel
            return
        signal_exc = CancelledRun(message)
        for guard in list(ctx.guards):
            interrupt(guard, signal_exc)
        if self.flow_guard is not None:
            interrupt(self.flow_guard, signal_exc)
        ctx.runner.cancel_all()
        # A pool thread stuck in C code cannot be interrupted: after a grace period its
        # task run is abandoned, which also wakes a flow waiting on it.
        watchdog.call_at(time.monotonic() + CANCEL_GRACE_SECONDS,
                         lambda: abandon_unfinished(ctx))


def abandon_unfinished(ctx: FlowRunContext) -> None:
    for future in list(ctx.futures):
        if future.done():
            continue
        try:
            state = set_task_state(future.task_run, Cancelled(
                message=f"Did not stop within {CANCEL_GRACE_SECONDS:g} s of the cancel;"
                        " abandoned"), ctx.sink)
        except Exception:  # noqa: BLE001 - it finished meanwhile
            continue
        future.set_final(state)


def crash_unfinished(ctx: FlowRunContext, error: BaseException) -> None:
    """The process is going down: task runs still in flight are recorded CRASHED."""
    ctx.cancel_event.set()
    ctx.runner.cancel_all()
    for future in list(ctx.futures):
        if not future.done():
            try:
                future.set_final(set_task_state(
                    future.task_run, Crashed(message=f"Interrupted: {describe_error(error)}"),
                    ctx.sink))
            except Exception:  # noqa: BLE001, S110 - it finished meanwhile
                pass
