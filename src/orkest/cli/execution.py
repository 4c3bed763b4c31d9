"""Running a flow in this process for `run`, `flow-run retry` and `demo`: load, check, drive.

The engine runs in the main thread, so Ctrl-C (KeyboardInterrupt) and SIGTERM reach it
first and it records the run CRASHED; only then do we turn them into exit codes 130/143.
Nothing here catches BaseException before the engine has seen it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orkest.cli.output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    console,
    exit_with,
    fmt_duration,
    one_line,
    retries_used,
    state_text,
)

if TYPE_CHECKING:
    from orkest.core.flows import Flow
    from orkest.core.records import FlowRun, TaskRun

MAX_SUMMARY_ROWS = 50
_PAGE = 1000


# -- targets and parameters -------------------------------------------------------------

def load_flow(target: str) -> tuple[Flow, str]:
    """The flow a TARGET names and the entrypoint to store; exit 2 when it cannot be had.

    TARGET is `file.py:name` or `module:name`, where name is a flow's attribute name or a
    DAG's attribute name or dag_id, or a declarative flow file (`.yaml`, `.yml`, `.json`).
    """
    from orkest._internal.loading import load_object, split_target
    from orkest.errors import TargetNotFound

    location, name = split_target(target)
    if location.endswith((".yaml", ".yml", ".json")):
        return _load_declarative(location)
    is_file = _is_file_location(location)
    if is_file and not Path(location).is_file():
        exit_with(f"No such file: {location}", EXIT_USAGE)
    if name is None:
        flows = _flows_in(location, is_file)
        if len(flows) != 1:
            found = ", ".join(flows) if flows else "none"
            exit_with(f"{target!r} names no flow: use {location}:FLOW_NAME "
                      f"(flows and DAGs found there: {found})", EXIT_USAGE)
        name = flows[0]
    try:
        obj = load_object(f"{location}:{name}")
    except TargetNotFound as exc:
        if " has no " not in str(exc):
            exit_with(str(exc), EXIT_USAGE)
        obj = _dag_by_id(location, is_file, name)
        if obj is None:
            flows = _flows_in(location, is_file)
            found = ", ".join(flows) if flows else "none"
            exit_with(f"{location} has no flow or DAG {name!r} (flows and DAGs found there: "
                      f"{found})", EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import
        exit_with(f"Cannot load {location}: {type(exc).__name__}: {one_line(str(exc))}",
                  EXIT_USAGE)
    from orkest.core.flows import Flow
    from orkest.dag import DAG

    if isinstance(obj, DAG):
        obj = obj.flow
    if not isinstance(obj, Flow):
        exit_with(f"{location}:{name} is a {type(obj).__name__}, not a flow "
                  "(decorate the function with @flow, or name a DAG)", EXIT_USAGE)
    entrypoint = f"{Path(location).resolve()}:{name}" if is_file else f"{location}:{name}"
    return obj, entrypoint


def _load_declarative(location: str) -> tuple[Flow, str]:
    from orkest.errors import CycleError, FlowFileError

    path = Path(location)
    if not path.is_file():
        exit_with(f"No such file: {location}", EXIT_USAGE)
    try:
        from orkest.declarative import load_flow as load_flow_file

        dag = load_flow_file(path)
    except (FlowFileError, CycleError) as exc:
        exit_with(str(exc), EXIT_USAGE)
    return dag.flow, str(path.resolve())


def _is_file_location(location: str) -> bool:
    return location.endswith(".py") or "/" in location or "\\" in location


def _module_of(location: str, is_file: bool) -> Any:
    import importlib

    from orkest._internal.loading import load_module_from_path

    try:
        return load_module_from_path(Path(location)) if is_file else \
            importlib.import_module(location)
    except Exception as exc:  # noqa: BLE001 - reported as the reason it cannot load
        exit_with(f"Cannot load {location}: {type(exc).__name__}: {one_line(str(exc))}",
                  EXIT_USAGE)


def _dag_by_id(location: str, is_file: bool, dag_id: str) -> Any:
    from orkest.dag.dag import iter_dags

    return next((d for d in iter_dags(vars(_module_of(location, is_file)))
                 if d.dag_id == dag_id), None)


def _flows_in(location: str, is_file: bool) -> list[str]:
    """Names of the flows and DAG ids a file or module defines (its import is cached)."""
    from orkest.core.flows import Flow
    from orkest.dag.dag import iter_dags

    namespace = vars(_module_of(location, is_file))
    flows = {n for n, v in namespace.items() if isinstance(v, Flow)}
    flows.update(d.dag_id for d in iter_dags(namespace))
    return sorted(flows)


def parse_params(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`k=v` pairs; a value is JSON when it parses as JSON, else the string itself."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            exit_with(f"--param expects KEY=VALUE, got {pair!r}", EXIT_USAGE)
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def check_params(flow: Flow, raw: dict[str, Any]) -> dict[str, Any]:
    """Bind and validate before anything is stored; exit 2 naming the bad parameter."""
    from orkest.errors import ParameterValidationError

    try:
        params = flow.parameters.bind((), raw)
        if flow.options.validate_parameters:
            params = flow.parameters.validate(params)
    except ParameterValidationError as exc:
        exit_with(one_line(str(exc), 600), EXIT_USAGE)
    return params


# -- driving a run ----------------------------------------------------------------------

def start(flow: Flow, entrypoint: str, raw: dict[str, Any]) -> FlowRun:
    """Check the parameters, create the run and drive it; the run, if it completed.

    Nothing is stored when the parameters are invalid (exit 2).
    """
    from orkest.engine.flow_run import new_flow_run
    from orkest.store import open_store

    params = check_params(flow, raw)
    reap_quietly(open_store())
    run = new_flow_run(flow, params, None, entrypoint=entrypoint)
    execute(flow, params, run)
    return run


def execute(flow: Flow, params: dict[str, Any], run: FlowRun, *,
            prior: dict[tuple[str, str], TaskRun] | None = None,
            is_rerun: bool = False) -> None:
    """Run `run` here with a live view and print the summary; return only if it completed.

    A run that did not complete exits 1 here, after its failure reason; Ctrl-C and SIGTERM
    exit 130/143 after the engine has recorded the run CRASHED.
    """
    from rich.markup import escape

    from orkest.cli.progress import RunProgress
    from orkest.engine import current_recorder, start_flow_run
    from orkest.errors import TerminationSignal

    out = console()
    verb = "Rerunning" if is_rerun else "Running"
    out.print(f"{verb} flow run [bold]{escape(run.name)}[/bold] ({run.id}) "
              f"of flow {escape(repr(flow.name))}")
    recorder = current_recorder()
    restore = _patient_sigint()
    try:
        with RunProgress(run, out, recorder):
            state = start_flow_run(flow, params, flow_run=run, prior=prior, is_rerun=is_rerun)
    except KeyboardInterrupt:
        exit_with(f"Interrupted: flow run {run.name} ({run.id}) is "
                  f"{run.state_type.value}", EXIT_INTERRUPTED)
    except TerminationSignal:
        exit_with(f"Terminated: flow run {run.name} ({run.id}) is "
                  f"{run.state_type.value}", EXIT_TERMINATED)
    finally:
        restore()
    task_runs = all_task_runs(recorder.store, run.id)
    print_summary(run, task_runs)
    if state.type.value != "COMPLETED":
        print_failure(run, task_runs)
        exit_with(f"Flow run {run.name} ({run.id}) ended {state.type.value}", EXIT_FAILED)


def _patient_sigint() -> Callable[[], None]:
    """Ctrl-C interrupts the run once; a second one while the engine records the crash waits.

    The first Ctrl-C raises KeyboardInterrupt as usual (the engine records CRASHED). A
    second would interrupt that bookkeeping and lose the record, so it only prints a
    notice; a third quits at once. Nothing changes if SIGINT is ignored (a background job).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        return lambda: None
    count = 0

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal count
        count += 1
        if count == 1:
            raise KeyboardInterrupt
        if count == 2:
            sys.stderr.write("orkest: recording the interrupted run; Ctrl-C again to quit "
                             "without waiting\n")
            return
        os._exit(EXIT_INTERRUPTED)

    signal.signal(signal.SIGINT, on_sigint)
    return lambda: signal.signal(signal.SIGINT, previous)


def all_task_runs(store: Any, flow_run_id: str) -> list[TaskRun]:
    found: list[TaskRun] = []
    while True:
        page = store.list_task_runs(flow_run_id=flow_run_id, limit=_PAGE, offset=len(found))
        found.extend(page)
        if len(page) < _PAGE:
            return found


def print_summary(run: FlowRun, task_runs: list[TaskRun]) -> None:
    """The task runs table (long maps are cut to their problems) and the final state."""
    from rich.markup import escape
    from rich.table import Table

    out = console()
    shown = task_runs
    hidden = 0
    if len(task_runs) > MAX_SUMMARY_ROWS:
        problems = [t for t in task_runs if t.state_type.value != "COMPLETED"]
        shown = problems[:MAX_SUMMARY_ROWS]
        hidden = len(task_runs) - len(shown)
    if task_runs:
        table = Table(title=f"Task runs of {run.name}", title_justify="left")
        table.add_column("Task run")
        table.add_column("State")
        table.add_column("Duration", justify="right")
        table.add_column("Retries", justify="right")
        for task_run in shown:
            table.add_row(task_run.name, state_text(task_run.state_type, task_run.state_name),
                          fmt_duration(task_run.duration), str(retries_used(task_run)))
        if hidden:
            counts: dict[str, int] = {}
            shown_ids = {t.id for t in shown}
            for task_run in task_runs:
                if task_run.id not in shown_ids:
                    counts[task_run.state_name] = counts.get(task_run.state_name, 0) + 1
            detail = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
            table.add_row(f"... {hidden} more ({detail})", "", "", "")
        out.print(table)
    duration = fmt_duration(run.duration)
    out.print("Flow run ", f"[bold]{escape(run.name)}[/bold] finished: ",
              state_text(run.state_type, run.state_name), f" in {duration}", sep="")


def print_failure(run: FlowRun, task_runs: list[TaskRun]) -> None:
    """Why the run did not complete: its state message and the task run that failed."""
    out = console()
    from rich.markup import escape

    if run.state_message:
        out.print(f"[bold red]Reason:[/bold red] {escape(one_line(run.state_message, 600))}")
    failed = sorted((t for t in task_runs if t.state_type.value in ("FAILED", "CRASHED")),
                    key=lambda t: (t.state_type.value != "FAILED", t.end_ts or t.state_ts))
    if failed:
        task_run = failed[0]
        out.print(f"[bold red]Failed task run:[/bold red] {escape(task_run.name)} "
                  f"({task_run.state_name}): {escape(one_line(task_run.state_message, 600))}")
    out.print(f"Details: orkest flow-run inspect {run.id}")


def reap_quietly(store: Any) -> None:
    """Reap orphans on the way; a store too busy to take the writes must not stop a verb."""
    from orkest.errors import StoreError
    from orkest.services.reaper import reap_orphans

    try:
        reap_orphans(store, time.time())
    except StoreError:
        pass


def adopt(run: FlowRun) -> None:
    """Make this process the run's owner on the record (rerun in another process)."""
    from orkest.services.reaper import HOSTNAME

    run.hostname = HOSTNAME
    run.pid = os.getpid()
    run.heartbeat_ts = time.time()
