"""`orkest event emit|ls|inspect`: emit events that trigger deployments, and see them.

With ORKEST_API_URL set the server emits the event (its deployments, its database);
otherwise the configured database is used directly.
"""

from __future__ import annotations

import json
from typing import Any

import click

from orkest.cli.output import EXIT_USAGE, exit_with


@click.group("event")
def event_group() -> None:
    """Emit events (they start the deployments whose triggers match) and list them."""


def _api() -> Any:
    """The API session in remote mode, else None."""
    from orkest import settings

    config = settings.current()
    if not config.api_url:
        return None
    from orkest.client.http import ApiSession

    return ApiSession(config.api_url, config.api_key)


def _store() -> Any:
    from orkest.services.deployments import orchestration_store

    return orchestration_store()


def parse_payload(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        exit_with(f"--payload is not valid JSON ({exc}): give e.g. "
                  "--payload '{\"order_id\": 7}'", EXIT_USAGE)


@event_group.command("emit")
@click.argument("name")
@click.option("--payload", metavar="JSON", help="The event's payload, as JSON.")
@click.option("--resource", metavar="TEXT", help="What the event is about (a path, an id).")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
def emit_command(name: str, payload: str | None, resource: str | None,
                 as_json: bool) -> None:
    """Emit the event NAME: deployments with a matching Event trigger start a run."""
    from orkest.cli.output import console, print_json

    value = parse_payload(payload)
    api = _api()
    if api is not None:
        try:
            event = api.post("/events", {"name": name, "payload": value, "resource": resource})
        finally:
            api.close()
    else:
        from orkest.services.triggers import emit_event

        event = emit_event(_store(), name, value, source="cli", resource=resource)
    data = event if isinstance(event, dict) else _as_dict(event)
    if as_json:
        print_json(data)
        return
    runs = data["flow_run_ids"]
    out = console()
    out.print(f"Event {data['id']} ({name}): started {len(runs)} run(s)")
    for run_id in runs:
        out.print(f"  flow run {run_id}")


@event_group.command("ls")
@click.option("--name", metavar="NAME", help="Only events of this name.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(name: str | None, limit: int, as_json: bool) -> None:
    """List events, newest first, with the runs each started."""
    from orkest.cli.output import console, print_json

    api = _api()
    if api is not None:
        try:
            found = api.get("/events", {k: v for k, v in
                                        {"name": name, "limit": limit}.items() if v})
        finally:
            api.close()
        items = found["items"]
    else:
        items = [_as_dict(e) for e in _store().list_events(name=name, limit=limit)]
    if as_json:
        print_json(items)
    elif not items:
        console().print("No events found.")
    else:
        console().print(events_table(items))


@event_group.command("inspect")
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def inspect_command(event_id: str, as_json: bool) -> None:
    """Show one event: its payload and the runs it started."""
    from orkest.cli.output import console, print_json
    from orkest.cli.views import fields_grid, json_text

    api = _api()
    if api is not None:
        from orkest.client.http import segment

        try:
            event = api.get(f"/events/{segment(event_id)}")
        finally:
            api.close()
    else:
        event = _as_dict(_store().read_event(event_id))
    if as_json:
        print_json(event)
        return
    from orkest.cli.output import fmt_time

    console().print(fields_grid([
        ("Id", event["id"]), ("Name", event["name"]), ("Time", fmt_time(event["ts"])),
        ("Source", event["source"]), ("Resource", event.get("resource") or "-"),
        ("Payload", json_text(event.get("payload"))),
        ("Runs started", ", ".join(event["flow_run_ids"]) or "none"),
    ]))


def events_table(items: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    from orkest.cli.output import fmt_time

    table = Table(title="Events")
    for column in ("ID", "Name", "Time", "Source", "Resource", "Runs"):
        table.add_column(column, overflow="fold")
    for item in items:
        runs = item.get("flow_run_ids") or []
        table.add_row(item["id"], item["name"], fmt_time(item["ts"]), item["source"],
                      item.get("resource") or "-",
                      ", ".join(run[:8] for run in runs) if runs else "-")
    return table


def _as_dict(event: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(event)
