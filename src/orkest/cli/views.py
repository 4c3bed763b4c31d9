"""Rich renderings of stored records, shared by `flow-run` and `task-run` verbs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from orkest.cli.output import (
    fmt_bytes,
    fmt_cpu,
    fmt_duration,
    fmt_time,
    one_line,
    plain,
    retries_used,
    short_id,
    state_text,
)

if TYPE_CHECKING:
    from rich.table import Table

    from orkest.core.records import FlowRun, StateRecord, TaskRun


def flow_runs_table(runs: list[FlowRun]) -> Table:
    from rich.table import Table

    table = Table(title="Flow runs", title_justify="left")
    for name, justify in (("ID", "left"), ("Name", "left"), ("Flow", "left"),
                          ("State", "left"), ("Started", "left"), ("Duration", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for run in runs:
        table.add_row(short_id(run.id), plain(run.name), plain(run.flow_name),
                      state_text(run.state_type, run.state_name),
                      fmt_time(run.start_ts or run.created_ts), fmt_duration(run.duration))
    return table


def task_runs_table(runs: list[TaskRun], *, title: str = "Task runs",
                    with_flow_run: bool = False, with_resources: bool = False) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    columns = [("ID", "left"), ("Task run", "left")]
    if with_flow_run:
        columns.append(("Flow run", "left"))
    columns += [("State", "left"), ("Started", "left"), ("Duration", "right"),
                ("Retries", "right")]
    if with_resources:
        columns += [("CPU", "right"), ("Peak memory", "right")]
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for run in runs:
        row: list[Any] = [short_id(run.id), plain(run.name)]
        if with_flow_run:
            row.append(short_id(run.flow_run_id))
        row += [state_text(run.state_type, run.state_name), fmt_time(run.start_ts),
                fmt_duration(run.duration), f"{retries_used(run)}/{run.retries}"]
        if with_resources:
            row += [fmt_cpu(run.cpu_seconds), fmt_bytes(run.peak_rss_bytes)]
        table.add_row(*row)
    return table


def history_table(states: list[StateRecord]) -> Table:
    from rich.table import Table

    table = Table(title="State history", title_justify="left")
    table.add_column("Time")
    table.add_column("State")
    table.add_column("Message")
    for record in states:
        table.add_row(fmt_time(record.ts) + f".{int(record.ts * 1000) % 1000:03d}",
                      state_text(record.type, record.name), plain(one_line(record.message, 300)))
    return table


def fields_grid(rows: list[tuple[str, Any]]) -> Table:
    """Label/value pairs; values that are None are left out."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        if value is None or value == "":
            continue
        grid.add_row(label, value if not isinstance(value, str) else plain(value))
    return grid


def json_text(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def flow_run_fields(run: FlowRun) -> list[tuple[str, Any]]:
    owner = None
    if run.hostname or run.pid:
        owner = f"process {run.pid} on {run.hostname}"
        if run.heartbeat_ts:
            owner += f" (last heartbeat {fmt_time(run.heartbeat_ts)})"
    return [
        ("ID", run.id),
        ("Name", run.name),
        ("Flow", run.flow_name + (f" (version {run.flow_version})" if run.flow_version
                                  else "")),
        ("State", state_text(run.state_type, run.state_name)),
        ("Message", run.state_message),
        ("Created", fmt_time(run.created_ts)),
        ("Started", fmt_time(run.start_ts) if run.start_ts else None),
        ("Ended", fmt_time(run.end_ts) if run.end_ts else None),
        ("Duration", fmt_duration(run.duration) if run.start_ts else None),
        ("Attempts", f"{run.run_count} (retries allowed: {run.retries})"),
        ("Parameters", json_text(run.parameters) if run.parameters else "{}"),
        ("Tags", ", ".join(run.tags) if run.tags else None),
        ("Entrypoint", run.entrypoint),
        ("Task runner", run.task_runner),
        ("Owner", owner),
        ("Parent flow run", run.parent_flow_run_id),
        ("Deployment", run.deployment_id),
        ("Result", run.result_ref),
        ("Pending request", run.requested_action),
        ("Failure type", run.failure_type),
    ]


def task_run_fields(run: TaskRun) -> list[tuple[str, Any]]:
    scope = {"thread": " (CPU of its thread; memory: the whole process's peak)",
             "task": " (this task alone)"}.get(run.resource_scope or "", "")
    return [
        ("ID", run.id),
        ("Name", run.name),
        ("Task", f"{run.task_name} (key {run.task_key}, #{run.dynamic_key})"),
        ("Flow run", run.flow_run_id),
        ("State", state_text(run.state_type, run.state_name)),
        ("Message", run.state_message),
        ("Created", fmt_time(run.created_ts)),
        ("Started", fmt_time(run.start_ts) if run.start_ts else None),
        ("Ended", fmt_time(run.end_ts) if run.end_ts else None),
        ("Duration", fmt_duration(run.duration) if run.start_ts else None),
        ("Attempts", f"{run.run_count} (retries allowed: {run.retries})"),
        ("CPU", fmt_cpu(run.cpu_seconds) + scope if run.cpu_seconds is not None else None),
        ("Peak memory", fmt_bytes(run.peak_rss_bytes) if run.peak_rss_bytes else None),
        ("Inputs", json_text(run.parameters) if run.parameters else None),
        ("Upstream", ", ".join(run.upstream) if run.upstream else None),
        ("Tags", ", ".join(run.tags) if run.tags else None),
        ("Runner", run.runner),
        ("Cache key", run.cache_key),
        ("Result", run.result_ref),
        ("Failure type", run.failure_type),
    ]


def traceback_panel(text: str, title: str = "Traceback") -> Any:
    from rich.panel import Panel

    return Panel(plain(text.rstrip()), title=title, title_align="left", border_style="red")
