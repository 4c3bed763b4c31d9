"""A flow run from start to final state: parameters, attempts, tasks, outcome, hooks."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from orkest._internal.ids import friendly_name, new_id
from orkest.core.flows import Flow
from orkest.core.params import to_jsonable
from orkest.core.records import FlowRun, LogLine, StateRecord, TaskRun
from orkest.core.states import (
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Recovered,
    Retrying,
    Running,
    State,
    StateType,
    TimedOut,
)
from orkest.engine import control as control_module
from orkest.engine.context import FlowRunContext, ResultSettings, flow_run_var
from orkest.engine.control import FlowRunControl, abandon_unfinished, crash_unfinished
from orkest.engine.interrupts import Guard, interrupt, watchdog
from orkest.engine.logs import enable_print_capture
from orkest.engine.recorder import Recorder
from orkest.engine.results import persist
from orkest.engine.task_run import describe_error
from orkest.errors import CancelledRun, SerializationError, TaskTimeoutError, TerminationSignal
from orkest.runners.base import TaskRunner

_HOSTNAME = socket.gethostname()


def new_flow_run(flow: Flow, parameters: dict[str, Any], parent: FlowRunContext | None,
                 entrypoint: str | None, logical_ts: float | None = None) -> FlowRun:
    now = time.time()
    describe_graph = getattr(flow, "describe_graph", None)  # DAGs know theirs up front
    return FlowRun(
        id=new_id(), flow_name=flow.name, name=friendly_name(),
        state_type=StateType.PENDING, state_name="Pending", state_ts=now, created_ts=now,
        flow_version=flow.version, parameters=to_jsonable(parameters),
        parent_flow_run_id=parent.flow_run.id if parent is not None else None,
        retries=flow.options.retries, hostname=_HOSTNAME, pid=os.getpid(),
        heartbeat_ts=now, entrypoint=entrypoint, logical_ts=logical_ts,
        graph=describe_graph() if describe_graph is not None else None,
    )


def default_entrypoint(flow: Flow) -> str | None:
    """Where to load this flow again from: its file and attribute name."""
    fn = flow.fn
    code = getattr(fn, "__code__", None)
    if code is None or "<" in fn.__qualname__:
        return None
    return f"{os.path.abspath(code.co_filename)}:{fn.__name__}"


def run_flow(
    flow: Flow,
    run: FlowRun,
    parameters: dict[str, Any],
    *,
    recorder: Recorder,
    results_dir: Any,
    parent: FlowRunContext | None,
    prior: dict[tuple[str, str], TaskRun] | None = None,
    is_rerun: bool = False,
    claimed: bool = False,
) -> State:
    """Drive `run` to a final state and return it (with the value or the error in it).

    claimed: the run is stored PENDING already (a worker claimed it), so its birth is
    not recorded again.
    """
    options = flow.options
    runner: TaskRunner = (options.task_runner or _default_runner()).duplicate()
    run.task_runner = runner.name
    ctx = FlowRunContext(
        flow=flow, flow_run=run, runner=runner, sink=recorder, store=recorder.store,
        parent=parent, results=ResultSettings(options.persist_result,
                                              options.result_serializer, results_dir),
        log_prints=options.log_prints, prior=dict(prior or {}),
    )
    control = FlowRunControl(ctx)
    ctx.control = control
    if options.log_prints:
        enable_print_capture()
    if not (is_rerun or claimed):  # a new run is born PENDING; others are PENDING already
        recorder.state(StateRecord(run.id, "flow", run.state_type, run.state_name,
                                   run.state_ts, run.state_message))
        recorder.flow_run(run)
    recorder.own(run.id, control.handle_request)
    token = flow_run_var.set(ctx)
    restore_sigterm = _trap_sigterm() if parent is None else None
    state: State | None = None
    try:
        attempt = 0
        while True:
            attempt += 1
            if ctx.cancel_event.is_set():
                state = control.set_state(Cancelled(message="Cancelled before it started"))
                break
            run.run_count += 1
            control.set_state(Running())
            runner.start()
            value, error = _call_flow(flow, parameters, ctx, control)
            runner.shutdown()
            if error is None:
                error = _unobserved_failure(ctx)
            if error is None:
                state = _complete(flow, run, value, ctx, control,
                                  recovered=is_rerun or attempt > 1)
                break
            if isinstance(error, Exception) and attempt <= options.retries:
                delay = options.retry_delay(attempt)
                control.set_state(Retrying(
                    message=f"Attempt {attempt} failed with {describe_error(error)};"
                            f" retrying in {delay:g} s"))
                ctx.prior = _completed_runs(ctx)
                ctx.futures = []
                ctx.inline_runs = []
                ctx._counters.clear()  # noqa: SLF001 - a new attempt counts keys afresh
                if delay > 0 and ctx.cancel_event.wait(delay):
                    state = control.set_state(Cancelled(message="Cancelled while waiting"))
                    break
                continue
            state = _fail(run, error, control)
            if isinstance(error, KeyboardInterrupt | TerminationSignal):
                crash_unfinished(ctx, error)
                raise error
            break
    except BaseException as exc:  # the engine itself was interrupted (Ctrl-C in a wait)
        if state is None:
            state = _fail(run, exc, control)
            crash_unfinished(ctx, exc)
        raise
    finally:
        runner.shutdown()
        flow_run_var.reset(token)
        recorder.disown(run.id)
        if restore_sigterm is not None:
            restore_sigterm()
        if state is not None:
            _run_hooks(flow, run, state, ctx)
        if parent is None:
            recorder.flush()
    return state


def _default_runner() -> TaskRunner:
    from orkest.runners.threads import ThreadPoolRunner

    return ThreadPoolRunner()


def _call_flow(flow: Flow, parameters: dict[str, Any], ctx: FlowRunContext,
               control: FlowRunControl) -> tuple[Any, BaseException | None]:
    """Call the flow function, then wait for every task it submitted."""
    timeout = flow.options.timeout_seconds
    guard = Guard()
    control.flow_guard = guard
    cancel_timer: Callable[[], None] | None = None
    if timeout is not None:
        timeout_error = TaskTimeoutError(
            f"Flow run {ctx.flow_run.name!r} exceeded its timeout of {timeout:g} s")

        def on_timeout() -> None:
            if interrupt(guard, timeout_error):
                ctx.cancel_event.set()
                ctx.runner.cancel_all()
                for task_guard in list(ctx.guards):
                    interrupt(task_guard, CancelledRun("flow run timed out"))

        cancel_timer = watchdog.call_at(time.monotonic() + timeout, on_timeout)
    args, kwargs = flow.parameters.call_args(parameters)
    try:
        with guard:
            value = flow.fn(*args, **kwargs)
            for future in list(ctx.futures):
                future.wait()
            while len(ctx.futures) and not all(f.done() for f in ctx.futures):
                for future in list(ctx.futures):  # futures submitted by callbacks
                    future.wait()
        return value, None
    except BaseException as exc:  # noqa: BLE001 - classified by the caller
        fired = guard.fired
        error = fired if fired is not None and isinstance(exc, type(fired)) else exc
        if not isinstance(error, KeyboardInterrupt | TerminationSignal):
            if not isinstance(error, Exception):  # e.g. a test framework's timeout
                ctx.cancel_event.set()
                ctx.runner.cancel_all()
            _drain(ctx)
        return None, error
    finally:
        control.flow_guard = None
        if cancel_timer is not None:
            cancel_timer()


def _drain(ctx: FlowRunContext) -> None:
    """After the flow function failed, let submitted tasks finish.

    After a cancel or a timeout, tasks get control_module.CANCEL_GRACE_SECONDS to stop; a task still
    blocked after that (a pool thread stuck in C code) is recorded CANCELLED and
    abandoned, so a cancel never hangs on it.
    """
    if not ctx.cancel_event.is_set():
        for future in list(ctx.futures):
            future.wait()
        return
    deadline = time.monotonic() + control_module.CANCEL_GRACE_SECONDS
    for future in list(ctx.futures):
        future.wait(max(0.0, deadline - time.monotonic()))
    abandon_unfinished(ctx)


def _unobserved_failure(ctx: FlowRunContext) -> BaseException | None:
    """A task failure nobody looked at fails the flow run instead of passing silently."""
    failed = [f for f in ctx.futures if f.done() and not f.observed
              and (f.state.is_failed() or f.state.name == "UpstreamFailed")]
    if not failed:
        return None
    root = next((f for f in failed if f.state.is_failed()), failed[0])
    data = root.state.data
    names = ", ".join(f.task_run.name for f in failed[:5])
    more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
    if isinstance(data, BaseException):
        error: BaseException = data
    else:
        from orkest.errors import FailedRun

        error = FailedRun(f"Task run {root.task_run.name!r} ended {root.state.type.value}")
    error.__orkest_summary__ = f"{len(failed)} task run(s) did not complete: {names}{more}"  # type: ignore[attr-defined]
    return error


def _completed_runs(ctx: FlowRunContext) -> dict[tuple[str, str], TaskRun]:
    prior = dict(ctx.prior)
    for run in [*ctx.inline_runs, *(future.task_run for future in ctx.futures)]:
        prior[(run.task_key, run.dynamic_key)] = run
    return prior


def _complete(flow: Flow, run: FlowRun, value: Any, ctx: FlowRunContext,
              control: FlowRunControl, recovered: bool) -> State:
    try:
        ref = persist(value, ctx.results, ctx.sink, f"Flow {flow.name!r}")
    except SerializationError as exc:
        return _fail(run, exc, control)
    make = Recovered if recovered else Completed
    return control.set_state(make(data=value, result_ref=ref))


def _fail(run: FlowRun, error: BaseException, control: FlowRunControl) -> State:
    run.failure_type = f"{type(error).__module__}.{type(error).__qualname__}"
    run.failure_traceback = "".join(traceback.format_exception(error))[-20000:]
    summary = getattr(error, "__orkest_summary__", None)
    message = describe_error(error) if summary is None else f"{summary}; {describe_error(error)}"
    if isinstance(error, TaskTimeoutError):
        state = TimedOut(message=message, data=error)
    elif isinstance(error, CancelledRun):
        state = Cancelled(message=str(error) or "Cancelled", data=error)
    elif isinstance(error, KeyboardInterrupt | TerminationSignal):
        state = Crashed(message=f"Interrupted: {describe_error(error)}", data=error)
    else:
        state = Failed(message=message, data=error)
    try:
        return control.set_state(state)
    except Exception:  # noqa: BLE001 - e.g. crash while CANCELLING: record as crashed
        return control.set_state(Crashed(message=message, data=error))


def _run_hooks(flow: Flow, run: FlowRun, state: State, ctx: FlowRunContext) -> None:
    options = flow.options
    if state.type is StateType.COMPLETED:
        hooks = options.on_completion
    elif state.type is StateType.CANCELLED:
        hooks = options.on_cancellation
    elif state.type in (StateType.FAILED, StateType.CRASHED):
        hooks = options.on_failure
    else:
        hooks = ()
    for hook in hooks:
        try:
            hook(flow, run, state)
        except Exception as exc:  # noqa: BLE001 - a hook must not change the outcome
            name = getattr(hook, "__name__", repr(hook))
            ctx.sink.log(LogLine(run.id, None, time.time(), 40, "orkest.hooks",
                                 f"Hook {name!r} of flow {flow.name!r} raised "
                                 f"{describe_error(exc)}\n{traceback.format_exc()}", "logger"))


def _trap_sigterm() -> Callable[[], None] | None:
    """Turn SIGTERM into an exception so a terminated run is recorded CRASHED."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return None

    def on_sigterm(signum: int, frame: Any) -> None:
        raise TerminationSignal(signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    return lambda: signal.signal(signal.SIGTERM, previous)
