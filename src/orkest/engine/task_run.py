"""Running one task run's attempts: RUNNING, the call, retries, the final state.

This part runs wherever the runner puts it (the flow's thread, a pool thread, a child
process, a cluster worker); everything it needs travels in a picklable TaskRunJob and it
reports only through a RecordSink.
"""

from __future__ import annotations

import random
import time
import traceback
from dataclasses import dataclass
from typing import Any

from orkest.core.records import CacheEntry, LogLine, StateRecord, TaskRun
from orkest.core.states import (
    TERMINAL_TYPES,
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Retrying,
    Running,
    Skipped,
    State,
    StateType,
    TimedOut,
)
from orkest.core.tasks import Task
from orkest.core.transitions import check_transition
from orkest.engine.context import (
    FlowRunContext,
    ResultSettings,
    TaskRunContext,
    flow_run_var,
    task_run_var,
)
from orkest.engine.interrupts import Guard, interrupt, watchdog
from orkest.engine.recorder import RecordSink
from orkest.engine.results import persist
from orkest.errors import (
    CancelledRun,
    InvalidStateTransition,
    SerializationError,
    TaskSkipped,
    TaskTimeoutError,
    TerminationSignal,
)

HOOK_LOGGER = "orkest.hooks"


@dataclass(slots=True)
class TaskRunJob:
    """Everything needed to run a task run's attempts, anywhere."""

    task: Task
    task_run: TaskRun
    args: tuple
    kwargs: dict
    results: ResultSettings
    log_prints: bool
    cache_key: str | None = None
    cache_expires_in: float | None = None


def set_task_state(run: TaskRun, state: State, sink: RecordSink) -> State:
    """The one way a task run changes state: checked, applied, recorded."""
    check_transition(run.state_type, state)
    run.state_type = state.type
    run.state_name = state.name
    run.state_message = state.message
    run.state_ts = state.ts
    if state.type is StateType.RUNNING and run.start_ts is None:
        run.start_ts = state.ts
    if state.type in TERMINAL_TYPES:
        run.end_ts = state.ts
        if state.result_ref is not None:
            run.result_ref = state.result_ref
    sink.state(StateRecord(run.id, "task", state.type, state.name, state.ts, state.message))
    sink.task_run(run)
    return state


def settle_task_state(run: TaskRun, state: State, sink: RecordSink) -> State:
    """A runner's verdict on a job its worker could not finish (killed, lost, cancelled):
    recorded, unless the run reached a final state meanwhile, which then stands."""
    try:
        return set_task_state(run, state, sink)
    except InvalidStateTransition:
        return run.state


def describe_error(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _fail(run: TaskRun, error: BaseException, sink: RecordSink) -> State:
    run.failure_type = f"{type(error).__module__}.{type(error).__qualname__}"
    run.failure_traceback = "".join(traceback.format_exception(error))[-20000:]
    if isinstance(error, TaskTimeoutError):
        state = TimedOut(message=str(error), data=error)
    elif isinstance(error, CancelledRun):
        state = Cancelled(message="Cancelled while running", data=error)
    elif isinstance(error, KeyboardInterrupt | TerminationSignal):
        state = Crashed(message=f"Interrupted: {describe_error(error)}", data=error)
    else:
        state = Failed(message=describe_error(error), data=error)
    return set_task_state(run, state, sink)


def run_hooks(hooks: tuple, task: Task, run: TaskRun, state: State, sink: RecordSink) -> None:
    """Hooks observe; an exception inside one is logged and never masks the run's outcome."""
    for hook in hooks:
        try:
            hook(task, run, state)
        except Exception as exc:  # noqa: BLE001 - a hook must not change the outcome
            name = getattr(hook, "__name__", repr(hook))
            sink.log(LogLine(run.flow_run_id, run.id, time.time(), 40, HOOK_LOGGER,
                             f"Hook {name!r} of task {task.name!r} raised "
                             f"{describe_error(exc)}\n{traceback.format_exc()}", "logger"))


def execute(job: TaskRunJob, sink: RecordSink, meter: Any, flow_ctx: FlowRunContext | None,
            guard_always: bool = False) -> State:
    """Run attempts until one completes or no retry is left; return the final state.

    KeyboardInterrupt and termination signals are recorded (CRASHED) and re-raised.
    """
    task, run, options = job.task, job.task_run, job.task.options
    task_token = task_run_var.set(TaskRunContext(task, run, sink, job.log_prints, flow_ctx))
    flow_token = flow_run_var.set(flow_ctx) if flow_ctx is not None else None
    use_guard = guard_always or options.timeout_seconds is not None
    attempt = 0
    try:
        while True:
            if flow_ctx is not None and flow_ctx.cancel_event.is_set():
                return set_task_state(run, Cancelled(message="Flow run was cancelled"), sink)
            attempt += 1
            run.run_count += 1
            set_task_state(run, Running(), sink)
            error: BaseException | None = None
            meter.start()
            if use_guard:
                value, error = _guarded_call(job, flow_ctx)
            else:
                try:
                    value = task.fn(*job.args, **job.kwargs)
                except BaseException as exc:  # noqa: BLE001 - classified below
                    value, error = None, exc
            cpu, peak = meter.stop()
            run.cpu_seconds = (run.cpu_seconds or 0.0) + cpu
            run.peak_rss_bytes = max(run.peak_rss_bytes or 0, peak)
            run.resource_scope = meter.scope
            if error is None:
                try:
                    ref = persist(value, job.results, sink, f"Task {run.name!r}")
                except SerializationError as exc:
                    state = _fail(run, exc, sink)
                    run_hooks(options.on_failure, task, run, state, sink)
                    return state
                if ref is not None and job.cache_key is not None:
                    now = time.time()
                    expires = None if job.cache_expires_in is None else now + job.cache_expires_in
                    sink.cache(CacheEntry(job.cache_key, ref, now, expires, run.id))
                state = set_task_state(run, Completed(data=value, result_ref=ref), sink)
                run_hooks(options.on_completion, task, run, state, sink)
                return state
            if isinstance(error, TaskSkipped):  # the task chose not to do its work
                return set_task_state(run, Skipped(message=str(error) or "Skipped"), sink)
            if _should_retry(error, attempt, options.retry_on, options.retries):
                delay = options.retry_delay(attempt)
                if options.retry_jitter_factor:
                    delay += random.uniform(0, delay * options.retry_jitter_factor)
                set_task_state(run, Retrying(
                    message=f"Attempt {attempt} failed with {describe_error(error)};"
                            f" retrying in {delay:g} s"), sink)
                if _wait_interruptibly(delay, flow_ctx):
                    return set_task_state(run, Cancelled(message="Flow run was cancelled"), sink)
                continue
            state = _fail(run, error, sink)
            run_hooks(options.on_failure, task, run, state, sink)
            if isinstance(error, KeyboardInterrupt | TerminationSignal):
                raise error
            return state
    finally:
        task_run_var.reset(task_token)
        if flow_token is not None:
            flow_run_var.reset(flow_token)


def _guarded_call(job: TaskRunJob, flow_ctx: FlowRunContext | None) -> tuple[Any, Any]:
    timeout = job.task.options.timeout_seconds
    guard = Guard()
    cancel_timer = None
    if timeout is not None:
        error = TaskTimeoutError(
            f"Task run {job.task_run.name!r} exceeded its timeout of {timeout:g} s")
        cancel_timer = watchdog.call_at(time.monotonic() + timeout,
                                        lambda: interrupt(guard, error))
    if flow_ctx is not None:
        flow_ctx.guards.add(guard)
    try:
        with guard:
            return job.task.fn(*job.args, **job.kwargs), None
    except BaseException as exc:  # noqa: BLE001 - classified by the caller
        fired = guard.fired
        return None, fired if fired is not None and isinstance(exc, type(fired)) else exc
    finally:
        if cancel_timer is not None:
            cancel_timer()
        if flow_ctx is not None:
            flow_ctx.guards.discard(guard)


def _should_retry(error: BaseException, attempt: int, retry_on: tuple, retries: int) -> bool:
    if isinstance(error, CancelledRun | KeyboardInterrupt | TerminationSignal):
        return False
    return attempt <= retries and isinstance(error, retry_on)


def _wait_interruptibly(delay: float, flow_ctx: FlowRunContext | None) -> bool:
    """Sleep `delay`; True if the flow run was cancelled meanwhile."""
    if flow_ctx is None:
        if delay > 0:
            time.sleep(delay)
        return False
    return flow_ctx.cancel_event.wait(delay) if delay > 0 else flow_ctx.cancel_event.is_set()
