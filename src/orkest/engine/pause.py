"""`pause_flow_run`: wait, in state PAUSED, until a person resumes the run."""

from __future__ import annotations

import time
from typing import Any

from orkest.core.records import LogLine
from orkest.core.states import Paused, Running
from orkest.engine.context import current_flow_run
from orkest.errors import TaskTimeoutError


def pause_flow_run(timeout: float = 3600, wait_for_input: Any = None) -> Any:
    """Pause the current flow run until `orkest flow-run resume ID [--input JSON]`.

    With `wait_for_input` (a pydantic model class) the resume must carry input that
    validates; the validated model is returned. Nobody resuming within `timeout`
    seconds fails the run as TimedOut.
    """
    ctx = current_flow_run()
    control = ctx.control
    details = None
    if wait_for_input is not None:
        schema = wait_for_input.model_json_schema()
        details = {"input_schema": schema}
    message = "Waiting to be resumed" + (
        f" with input {wait_for_input.__name__}" if wait_for_input is not None else "")
    control.set_state(Paused(message=message, details=details))
    ctx.sink.flush()  # a person must see PAUSED now, not after the next batch
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not control.resume_event.wait(remaining):
            raise TaskTimeoutError(f"Flow run was not resumed within {timeout:g} s")
        control.resume_event.clear()
        while control.resume_inbox:
            payload = control.resume_inbox.pop(0)
            if wait_for_input is None:
                control.set_state(Running(name="Resumed"))
                return None
            try:
                value = wait_for_input.model_validate(payload or {})
            except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError, reported
                problem = f"Resume input rejected: {exc}"
                ctx.sink.log(LogLine(ctx.flow_run.id, None, time.time(), 40, "orkest.pause",
                                     problem, "logger"))
                control.set_state(Paused(message=problem[:2000], details=details))
                ctx.sink.flush()
                continue
            control.set_state(Running(name="Resumed"))
            return value
