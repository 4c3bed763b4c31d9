"""`orkest task-run ls|inspect`: read task runs (IDs accept unique prefixes)."""

from __future__ import annotations

import click


@click.group("task-run")
def task_run_group() -> None:
    """List and inspect task runs."""


@task_run_group.command("ls")
@click.option("--flow-run", "flow_run_id", metavar="ID", help="Only task runs of this flow run.")
@click.option("--state", "states", multiple=True, metavar="TYPE",
              help="Only task runs in this state type; repeat or comma-separate.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(flow_run_id: str | None, states: tuple[str, ...], limit: int,
               as_json: bool) -> None:
    """List task runs: in creation order within a flow run, else newest first."""
    from orkest.cli.flow_runs import parse_states
    from orkest.cli.output import console, print_json
    from orkest.cli.views import task_runs_table
    from orkest.store import open_store

    state_types = parse_states(states)
    store = open_store()
    full_id = store.read_flow_run(flow_run_id).id if flow_run_id is not None else None
    runs = store.list_task_runs(flow_run_id=full_id, state_types=state_types, limit=limit)
    if as_json:
        print_json(runs)
    elif not runs:
        console().print("No task runs found.")
    else:
        console().print(task_runs_table(runs, with_flow_run=full_id is None))


@task_run_group.command("inspect")
@click.argument("task_run_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def inspect_command(task_run_id: str, as_json: bool) -> None:
    """Show a task run: details, inputs, resources, state history, failure."""
    from orkest.cli.output import console, jsonable, print_json
    from orkest.cli.views import fields_grid, history_table, task_run_fields, traceback_panel
    from orkest.store import open_store

    store = open_store()
    run = store.read_task_run(task_run_id)
    states = store.read_states(run.id)
    if as_json:
        doc = jsonable(run)
        doc["state_history"] = jsonable(states)
        print_json(doc)
        return
    out = console()
    out.print(fields_grid(task_run_fields(run)))
    out.print()
    out.print(history_table(states))
    if run.failure_traceback:
        out.print(traceback_panel(run.failure_traceback, f"Failure: {run.failure_type}"))
