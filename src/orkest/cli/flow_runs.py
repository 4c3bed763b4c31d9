"""`orkest flow-run ls|inspect|logs`: read flow runs; the actions live in flow_run_actions.py.

Listing and inspecting first reap orphans (one indexed query), so a run whose process
was killed shows CRASHED instead of RUNNING forever.
"""

from __future__ import annotations

from typing import Any

import click

from orkest.cli import flow_run_actions
from orkest.cli.output import EXIT_FAILED, EXIT_USAGE, exit_with


@click.group("flow-run")
def flow_run_group() -> None:
    """List, inspect and steer flow runs (IDs accept unique prefixes)."""


for _command in flow_run_actions.COMMANDS:
    flow_run_group.add_command(_command)


def parse_states(values: tuple[str, ...]) -> list[Any] | None:
    """`--state` values (repeatable, comma separated, any case) as StateTypes; exit 2 if bad."""
    from orkest.core.states import StateType

    names = [v.strip().upper() for value in values for v in value.split(",") if v.strip()]
    if not names:
        return None
    known = {t.value for t in StateType}
    unknown = [n for n in names if n not in known]
    if unknown:
        exit_with(f"Unknown state type {unknown[0]!r}; choose from "
                  f"{', '.join(sorted(known))}", EXIT_USAGE)
    return [StateType(n) for n in names]


def open_reaped_store() -> Any:
    from orkest.cli.execution import reap_quietly
    from orkest.store import open_store

    store = open_store()
    reap_quietly(store)
    return store


@flow_run_group.command("ls")
@click.option("--flow", "flow_name", metavar="NAME", help="Only runs of this flow.")
@click.option("--state", "states", multiple=True, metavar="TYPE",
              help="Only runs in this state type (e.g. FAILED); repeat or comma-separate.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(flow_name: str | None, states: tuple[str, ...], limit: int,
               as_json: bool) -> None:
    """List flow runs, newest first."""
    from orkest.cli.output import console, print_json
    from orkest.cli.views import flow_runs_table

    state_types = parse_states(states)
    store = open_reaped_store()
    runs = store.list_flow_runs(flow_name=flow_name, state_types=state_types, limit=limit)
    if as_json:
        print_json(runs)
    elif not runs:
        console().print("No flow runs found.")
    else:
        console().print(flow_runs_table(runs))


@flow_run_group.command("inspect")
@click.argument("flow_run_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def inspect_command(flow_run_id: str, as_json: bool) -> None:
    """Show a flow run: details, state history, task runs, parameters, failure."""
    from orkest.cli.execution import all_task_runs
    from orkest.cli.output import console, jsonable, print_json
    from orkest.cli.views import (
        fields_grid,
        flow_run_fields,
        history_table,
        task_runs_table,
        traceback_panel,
    )

    store = open_reaped_store()
    run = store.read_flow_run(flow_run_id)
    states = store.read_states(run.id)
    task_runs = all_task_runs(store, run.id)
    if as_json:
        doc = jsonable(run)
        doc["state_history"] = jsonable(states)
        doc["task_runs"] = jsonable(task_runs)
        print_json(doc)
        return
    out = console()
    out.print(fields_grid(flow_run_fields(run)))
    out.print()
    out.print(history_table(states))
    if task_runs:
        out.print(task_runs_table(task_runs, with_resources=True))
    else:
        out.print("No task runs.")
    if run.failure_traceback:
        out.print(traceback_panel(run.failure_traceback, f"Failure: {run.failure_type}"))
    else:
        for task_run in task_runs:
            if task_run.failure_traceback:
                out.print(traceback_panel(task_run.failure_traceback,
                                          f"Failure of task run {task_run.name}"))
                break


@flow_run_group.command("logs")
@click.argument("flow_run_id")
@click.option("--task", "task_run_id", metavar="TASK_RUN_ID",
              help="Only the logs of this task run.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records.")
def logs_command(flow_run_id: str, task_run_id: str | None, as_json: bool) -> None:
    """Print the logs of a flow run and its task runs, oldest first."""
    from orkest.cli.execution import all_task_runs
    from orkest.cli.output import print_json
    from orkest.store import open_store

    store = open_store()
    run = store.read_flow_run(flow_run_id)
    task_id = None
    if task_run_id is not None:
        task_run = store.read_task_run(task_run_id)
        if task_run.flow_run_id != run.id:
            exit_with(f"Task run {task_run.name} ({task_run.id}) belongs to another flow run "
                      f"({task_run.flow_run_id}), not {run.name} ({run.id})", EXIT_FAILED)
        task_id = task_run.id
    lines = []
    cursor = 0
    while True:
        page = store.read_logs(run.id, task_run_id=task_id, after_id=cursor, limit=1000)
        lines.extend(page)
        if len(page) < 1000 or page[-1].id is None:
            break
        cursor = page[-1].id
    names = {t.id: t.name for t in all_task_runs(store, run.id)}
    if as_json:
        import logging

        from orkest.cli.output import jsonable

        docs = []
        for line in lines:
            doc = jsonable(line)
            doc["level_name"] = logging.getLevelName(line.level)
            doc["task_run_name"] = names.get(line.task_run_id) if line.task_run_id else None
            docs.append(doc)
        print_json(docs)
        return
    _print_lines(lines, names, run.name)


def _print_lines(lines: list[Any], names: dict[str, str], flow_run_name: str) -> None:
    import logging

    from rich.text import Text

    from orkest.cli.output import console, fmt_clock, fmt_time

    out = console()
    if not lines:
        out.print("No logs.")
        return
    styles = {"DEBUG": "dim", "WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red"}
    for line in lines:
        level = logging.getLevelName(line.level)
        where = names.get(line.task_run_id, "?") if line.task_run_id else flow_run_name
        if line.source != "logger":
            where += f" ({line.source})"
        text = Text()
        text.append(fmt_time(line.ts)[:10] + " " + fmt_clock(line.ts), style="dim")
        text.append(f" {level:<8} ", style=styles.get(level, "cyan"))
        text.append(f"{where} ", style="bold")
        text.append("| " + line.message)
        out.print(text)
