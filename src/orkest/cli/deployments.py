"""`orkest deployment ls|inspect|run|pause|resume|backfill|rm`.

A deployment is named FLOW_NAME/DEPLOYMENT_NAME, or by its id (a unique prefix will do).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import click

from orkest.cli.output import EXIT_FAILED, EXIT_USAGE, exit_with

NEXT_RUNS_SHOWN = 5


@click.group("deployment")
def deployment_group() -> None:
    """List, inspect, run, pause and backfill deployments."""


def _store() -> Any:
    from orkest.services.deployments import orchestration_store

    return orchestration_store()


def schedule_lines(deployment: Any, count: int = NEXT_RUNS_SHOWN) -> list[str]:
    """The schedules in words and the next runs, as `deploy` and `inspect` print them."""
    from orkest.cli.output import fmt_time

    lines = []
    for schedule in _schedules(deployment):
        lines.append(f"Schedule: {schedule.describe()}")
    upcoming = next_runs(deployment, count)
    if upcoming:
        lines.append("Next runs: " + ", ".join(fmt_time(t.timestamp()) for t in upcoming))
    elif not deployment.schedules:
        lines.append("No schedule: runs only when triggered or run by hand")
    if deployment.paused:
        lines.append("Paused: its schedule and triggers create no runs until "
                     "`orkest deployment resume`")
    return lines


def _schedules(deployment: Any) -> list[Any]:
    from orkest.services.deployments import schedules_of

    return schedules_of(deployment)


def next_runs(deployment: Any, count: int) -> list[dt.datetime]:
    merged: set[dt.datetime] = set()
    for schedule in _schedules(deployment):
        merged.update(schedule.next_runs(count))
    return sorted(merged)[:count]


@deployment_group.command("ls")
@click.option("--flow", "flow_name", metavar="NAME", help="Only deployments of this flow.")
@click.option("--pool", "work_pool", metavar="NAME", help="Only deployments of this pool.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(flow_name: str | None, work_pool: str | None, as_json: bool) -> None:
    """List deployments by flow and name, with their schedule in words and next run."""
    from rich.table import Table

    from orkest.cli.output import console, fmt_time, plain, print_json

    found = _store().list_deployments(flow_name=flow_name, work_pool=work_pool, limit=10_000)
    if as_json:
        print_json(found)
        return
    if not found:
        console().print("No deployments found. Create one with `orkest deploy file.py:flow`.")
        return
    table = Table(title="Deployments", title_justify="left")
    for column in ("Name", "Schedule", "Next run", "Pool", "Paused"):
        table.add_column(column)
    for deployment in found:
        described = "; ".join(s.describe() for s in _schedules(deployment)) or "-"
        upcoming = next_runs(deployment, 1)
        table.add_row(plain(deployment.full_name), plain(described),
                      fmt_time(upcoming[0].timestamp()) if upcoming else "-",
                      plain(deployment.work_pool), "yes" if deployment.paused else "no")
    console().print(table)


@deployment_group.command("inspect")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def inspect_command(name: str, as_json: bool) -> None:
    """Show a deployment: code, parameters, schedules in words, next runs, triggers."""
    from orkest.cli.output import console, iso, jsonable, print_json
    from orkest.cli.views import fields_grid, json_text

    deployment = _store().read_deployment(name)
    if as_json:
        doc = jsonable(deployment)
        doc["full_name"] = deployment.full_name
        doc["schedule_descriptions"] = [s.describe() for s in _schedules(deployment)]
        doc["next_runs"] = [iso(t.timestamp()) for t in next_runs(deployment,
                                                                  NEXT_RUNS_SHOWN)]
        print_json(doc)
        return
    out = console()
    out.print(fields_grid([
        ("Deployment", deployment.full_name), ("ID", deployment.id),
        ("Entrypoint", deployment.entrypoint), ("Code hash", deployment.code_hash or "-"),
        ("Work pool", deployment.work_pool), ("Paused", "yes" if deployment.paused else "no"),
        ("Concurrency limit", deployment.concurrency_limit or "-"),
        ("Catchup", "yes" if deployment.catchup else "no"),
        ("Tags", ", ".join(deployment.tags) or "-"),
        ("Parameters", json_text(deployment.parameters)),
        ("Triggers", json_text(deployment.triggers) if deployment.triggers else "-"),
    ]))
    for line in schedule_lines(deployment):
        out.print(line)


@deployment_group.command("run")
@click.argument("name")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter for this run (JSON when it parses, else text).")
@click.option("--watch", is_flag=True,
              help="Wait for the run to finish, print its states; exit 0 only if it completed.")
@click.option("--timeout", type=float, default=None,
              help="With --watch: give up waiting after this many seconds (exit 1).")
def run_command(name: str, params: tuple[str, ...], watch: bool,
                timeout: float | None) -> None:
    """Create a run of the deployment now; a worker of its pool runs it."""
    from orkest.cli.execution import parse_params
    from orkest.cli.output import console
    from orkest.errors import DeploymentError
    from orkest.services.deployments import run_deployment

    store = _store()
    try:
        run = run_deployment(store, name, parse_params(params))
    except DeploymentError as exc:
        exit_with(str(exc), EXIT_USAGE)
    out = console()
    out.print(f"Created flow run [bold]{run.name}[/bold] ({run.id}) in work pool "
              f"{run.work_pool!r}")
    if watch:
        _watch(store, run, timeout)


def _watch(store: Any, run: Any, timeout: float | None) -> None:
    from orkest.cli.output import console, state_text
    from orkest.core.states import TERMINAL_TYPES

    out = console()
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = None
    warned = False
    started = time.monotonic()
    while True:
        current = store.read_flow_run(run.id)
        shown = (current.state_type, current.state_name)
        if shown != seen:
            out.print("State: ", state_text(current.state_type, current.state_name),
                      f" {current.state_message or ''}".rstrip(), sep="")
            seen = shown
        if current.state_type in TERMINAL_TYPES:
            if current.state_type.value != "COMPLETED":
                exit_with(f"Flow run {current.name} ({current.id}) ended "
                          f"{current.state_type.value}", EXIT_FAILED)
            return
        if not warned and current.state_type.value == "SCHEDULED" and \
                time.monotonic() - started > 10:
            out.print(f"Still waiting for a worker: start one with `orkest worker start "
                      f"--pool {current.work_pool}`")
            warned = True
        if deadline is not None and time.monotonic() > deadline:
            exit_with(f"Flow run {current.name} ({current.id}) is still "
                      f"{current.state_type.value} after {timeout:g} s", EXIT_FAILED)
        time.sleep(0.2)


def _set_paused(name: str, paused: bool) -> None:
    from orkest.cli.output import console

    store = _store()
    deployment = store.read_deployment(name)
    store.update_deployment(deployment.id, paused=paused)
    if paused:
        dropped = store.delete_scheduled_runs(deployment.id)
        console().print(f"Paused {deployment.full_name}; dropped {dropped} scheduled run(s)")
    else:
        console().print(f"Resumed {deployment.full_name}")


@deployment_group.command("pause")
@click.argument("name")
def pause_command(name: str) -> None:
    """Stop its schedule and triggers creating runs (runs by hand still work)."""
    _set_paused(name, True)


@deployment_group.command("resume")
@click.argument("name")
def resume_command(name: str) -> None:
    """Let its schedule and triggers create runs again (missed slots only with catchup)."""
    _set_paused(name, False)


def _when(value: str, option: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        exit_with(f"{option} {value!r} is not an ISO date or time (e.g. 2026-01-31 or "
                  "2026-01-31T02:00)", EXIT_USAGE)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@deployment_group.command("backfill")
@click.argument("name")
@click.option("--start", required=True, help="First slot time, ISO (naive means UTC).")
@click.option("--end", required=True, help="End, exclusive, ISO (naive means UTC).")
def backfill_command(name: str, start: str, end: str) -> None:
    """Create one run per schedule slot in [start, end), each with its logical date."""
    from orkest.cli.output import console, fmt_time
    from orkest.errors import DeploymentError
    from orkest.services.scheduler import backfill

    try:
        created, skipped = backfill(_store(), name, _when(start, "--start"),
                                    _when(end, "--end"))
    except DeploymentError as exc:
        exit_with(str(exc), EXIT_USAGE)
    out = console()
    for run in created:
        out.print(f"  {run.id}  logical date {fmt_time(run.logical_ts)}")
    out.print(f"Created {len(created)} run(s); {skipped} slot(s) had a run already")


@deployment_group.command("rm")
@click.argument("name")
def rm_command(name: str) -> None:
    """Delete a deployment and its runs that have not started (finished runs stay)."""
    from orkest.cli.output import console

    store = _store()
    deployment = store.read_deployment(name)
    store.delete_deployment(deployment.id)
    console().print(f"Deleted {deployment.full_name}")
