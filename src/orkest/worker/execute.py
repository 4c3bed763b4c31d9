"""The child's side: drive one claimed flow run of a deployment to its final state.

`python -m orkest.worker.execute FLOW_RUN_ID` (or a fork of the worker) finds the run
PENDING and claimed, loads its flow from the run's entrypoint, makes this process the run's
owner (hostname, pid) and lets the engine run it: states, logs and heartbeats go to the
store as for any run, and cancel requests are obeyed by the engine. Exit code 0 when the
run completed, 1 otherwise.

A run that cannot start (its source file moved, its parameters no longer fit the flow)
ends FAILED with the reason; the worker only sees this child exit.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from orkest.core.records import FlowRun, LogLine
from orkest.core.states import Failed, StateType

EXIT_COMPLETED = 0
EXIT_NOT_COMPLETED = 1
CODE_CHANGED = ("The code changed since this run first started: it started from source "
                "hash {first}, the source is now hash {now}")


def run_in_forked_child(flow_run_id: str) -> int:
    """Entry of a child forked from the worker (its imports are done, its store is not
    ours: open_store() opens a new one for this pid)."""
    signal.set_wakeup_fd(-1)  # the worker's: its loop must not be woken by our signals
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    return run_claimed(flow_run_id)


def run_claimed(flow_run_id: str) -> int:
    """Run the claimed run `flow_run_id` here; the exit code."""
    from orkest.engine import current_recorder, start_flow_run
    from orkest.engine.recorder import flush_all
    from orkest.services.deployments import code_hash
    from orkest.store import open_store

    store = open_store()
    run = store.read_flow_run(flow_run_id)
    if run.state_type is not StateType.PENDING:
        return EXIT_NOT_COMPLETED  # cancelled or handed back meanwhile: not ours to run
    try:
        flow, params = _load(run)
    except Exception as exc:  # noqa: BLE001 - any reason the flow cannot start fails it
        _fail_to_start(store, run, exc)
        return EXIT_NOT_COMPLETED
    current_hash = code_hash(run.entrypoint) if run.entrypoint else None
    changed = run.code_hash is not None and run.code_hash != current_hash
    if run.code_hash is None:
        run.code_hash = current_hash  # the code this run first started from
    _adopt(run, store)
    recorder = current_recorder()
    if changed:
        recorder.log(LogLine(run.id, None, time.time(), 30, "orkest.worker",
                             CODE_CHANGED.format(first=run.code_hash, now=current_hash)))
    is_rerun = run.run_count > 0
    prior = _prior_task_runs(store, run.id) if is_rerun else None
    restore = _cancel_on_sigterm(run)
    unwatch = _record_start_at_once(recorder, run.id)
    try:
        state = start_flow_run(flow, params, flow_run=run, prior=prior, is_rerun=is_rerun,
                               claimed=True)
    finally:
        unwatch()
        restore()
        flush_all()
    return EXIT_COMPLETED if state.type is StateType.COMPLETED else EXIT_NOT_COMPLETED


def _load(run: FlowRun) -> tuple[Any, dict[str, Any]]:
    from orkest.errors import TargetNotFound
    from orkest.worker.loading import load_flow

    if not run.entrypoint:
        raise TargetNotFound(f"Flow run {run.name} ({run.id}) has no entrypoint, so its "
                             "flow cannot be loaded")
    flow = load_flow(run.entrypoint)
    params = flow.parameters.bind((), dict(run.parameters))
    if flow.options.validate_parameters:
        params = flow.parameters.validate(params)
    return flow, params


def _fail_to_start(store: Any, run: FlowRun, error: Exception) -> None:
    """Record why the run could not start: FAILED with the reason, and a log line."""
    from orkest.core.transitions import ENGINE_POLICY
    from orkest.errors import InvalidStateTransition, ObjectNotFound, OrkestError

    reason = str(error) if isinstance(error, OrkestError) else \
        f"Cannot load {run.entrypoint}: {type(error).__name__}: {error}"
    from orkest._internal.masking import mask

    message = mask(f"The flow could not start: {reason}")  # written without the recorder
    try:
        store.set_state(run.id, "flow", Failed(message=message), ENGINE_POLICY)
    except (InvalidStateTransition, ObjectNotFound):
        return  # cancelled meanwhile: that outcome stands
    store.write(_log_batch(run.id, 40, message))


def _log_batch(flow_run_id: str, level: int, message: str) -> Any:
    from orkest.core.records import WriteBatch

    batch = WriteBatch()
    batch.logs.append(LogLine(flow_run_id, None, time.time(), level, "orkest.worker", message))
    return batch


def _adopt(run: FlowRun, store: Any) -> None:
    """This process owns the run now: written at once, with the code hash, so that both
    are on record even if the process dies before the engine writes anything."""
    from orkest.core.records import WriteBatch
    from orkest.services.reaper import HOSTNAME

    run.hostname = HOSTNAME
    run.pid = os.getpid()
    run.heartbeat_ts = time.time()
    run.failure_type = run.failure_traceback = None
    store.write(WriteBatch(flow_runs={run.id: run}))


def _record_start_at_once(recorder: Any, flow_run_id: str) -> Any:
    """Write each RUNNING state of the run before its flow function starts, not with the
    next batch (up to 0.2 s later): a process killed meanwhile would otherwise leave an
    attempt that did start recorded as never started (PENDING, handed back uncounted, its
    RUNNING missing from the history). The unwatch function."""
    from orkest.errors import StoreError

    flushed: set[float] = set()

    def on_snapshot(kind: str, record: Any) -> None:
        if kind != "flow" or record.id != flow_run_id or \
                record.state_type is not StateType.RUNNING or record.state_ts in flushed:
            return
        flushed.add(record.state_ts)  # once per attempt: later snapshots are batched
        try:
            recorder.flush()
        except StoreError:
            pass  # kept by the recorder, and written with its next batch

    recorder.add_listener(on_snapshot)
    return lambda: recorder.remove_listener(on_snapshot)


def _prior_task_runs(store: Any, flow_run_id: str) -> dict[tuple[str, str], Any]:
    found: list[Any] = []
    while True:
        page = store.list_task_runs(flow_run_id=flow_run_id, limit=1000, offset=len(found))
        found.extend(page)
        if len(page) < 1000:
            return {(t.task_key, t.dynamic_key): t for t in found}


def _cancel_on_sigterm(run: FlowRun) -> Any:
    """SIGTERM from the worker after a cancel's grace period ends the run CANCELLED.

    Any other SIGTERM (the worker forced to stop) is a termination: the engine records
    the run CRASHED, so that it may be rerun.
    """
    from orkest.errors import CancelledRun, TerminationSignal

    def on_sigterm(signum: int, frame: Any) -> None:
        if run.state_type is StateType.CANCELLING:
            raise CancelledRun("Cancelled: the flow did not stop within the grace period, "
                               "so the worker terminated it")
        raise TerminationSignal(signum)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    return lambda: signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """`python -m orkest.worker.execute FLOW_RUN_ID`, started by a worker."""
    from orkest.worker.process import PARENT_PID_ENV, die_with_parent

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m orkest.worker.execute FLOW_RUN_ID\n")
        return 2
    parent = os.environ.get(PARENT_PID_ENV)
    die_with_parent(int(parent) if parent and parent.isdigit() else None)
    return run_claimed(args[0])


if __name__ == "__main__":
    sys.exit(main())
