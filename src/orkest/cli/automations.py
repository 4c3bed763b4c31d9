"""`orkest automation create|ls|rm|enable|disable`: notify when runs end badly or run long.

    orkest automation create etl-failures --deployment etl/nightly \\
        --state FAILED --state CRASHED --running-longer-than 3600 \\
        --notify webhook-notification/ops

The automation service (inside `orkest server start` and `orkest scheduler start`) fires
them; docs/automations.md has the message template's names.
"""

from __future__ import annotations

from typing import Any

import click

from orkest.cli.output import EXIT_USAGE, exit_with


@click.group("automation")
def automation_group() -> None:
    """Send a notification block when runs of a deployment or flow fail or run too long."""


def _store() -> Any:
    from orkest.errors import ConfigurationError
    from orkest.store import open_store

    store = open_store()
    if not hasattr(store, "save_automation"):
        raise ConfigurationError(
            f"{store!r} cannot hold automations: set ORKEST_DATABASE_URL to a SQLite or "
            "PostgreSQL database (the default is ~/.orkest/orkest.db), or ORKEST_API_URL to "
            "a server")
    return store


@automation_group.command("create")
@click.argument("name")
@click.option("--deployment", metavar="FLOW/NAME", help="Watch this deployment's runs.")
@click.option("--flow", "flow_name", metavar="NAME",
              help="Or: watch every run of this flow.")
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="A final state that fires it; repeat (default FAILED and CRASHED; "
                   "none when only --running-longer-than is given).")
@click.option("--running-longer-than", type=float, metavar="SECONDS",
              help="Also fire, once per run, when one is RUNNING longer than this.")
@click.option("--notify", required=True, metavar="TYPE/NAME",
              help="The notification block to send (see `orkest block ls`).")
@click.option("--message", metavar="TEMPLATE",
              help="A Jinja template; a first line `Subject: ...` is the subject.")
@click.option("--disabled", is_flag=True, help="Create it switched off.")
def create_command(name: str, deployment: str | None, flow_name: str | None,
                   states: tuple[str, ...], running_longer_than: float | None, notify: str,
                   message: str | None, disabled: bool) -> None:
    """Create automation NAME."""
    from orkest.cli.output import console
    from orkest.services.automation_rules import DEFAULT_STATES, create_automation, describe

    if not states and running_longer_than is None:
        states = DEFAULT_STATES
    store = _store()
    try:
        created = create_automation(store, name, deployment=deployment, flow_name=flow_name,
                                    states=states, running_longer_than=running_longer_than,
                                    notify=notify, message=message, enabled=not disabled)
    except ValueError as exc:  # the argument at fault is named in the message
        exit_with(str(exc), EXIT_USAGE)
    console().print(f"Automation {created.name} created ({created.id}): "
                    f"{describe(created, deployment)}", markup=False)


@automation_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(as_json: bool) -> None:
    """List automations by name."""
    from rich.table import Table

    from orkest.cli.output import console, fmt_time, jsonable, plain, print_json
    from orkest.services.automation_rules import deployment_names, describe

    store = _store()
    found = store.list_automations()
    names = deployment_names(store, found)
    if as_json:
        print_json([{**jsonable(a), "deployment": names.get(a.deployment_id or ""),
                     "description": describe(a, names.get(a.deployment_id or ""))}
                    for a in found])
        return
    if not found:
        console().print("No automations: `orkest automation create NAME --deployment "
                        "FLOW/NAME --notify TYPE/NAME` makes one.", markup=False)
        return
    table = Table(title="Automations", title_justify="left")
    for column in ("ID", "Name", "Enabled", "What it does", "Created"):
        table.add_column(column)
    for item in found:
        table.add_row(item.id, plain(item.name), "yes" if item.enabled else "no",
                      plain(describe(item, names.get(item.deployment_id or ""))),
                      fmt_time(item.created_ts))
    console().print(table)


@automation_group.command("rm")
@click.argument("ref", metavar="ID")
def rm_command(ref: str) -> None:
    """Remove an automation (by id, unique id prefix or unique name)."""
    from orkest.cli.output import console
    from orkest.services.automation_rules import find_automation

    store = _store()
    found = find_automation(store, ref)  # unknown: ObjectNotFound, exit 1
    store.delete_automation(found.id)
    console().print(f"Automation {found.name} ({found.id}) removed.", markup=False)


@automation_group.command("enable")
@click.argument("ref", metavar="ID")
def enable_command(ref: str) -> None:
    """Switch an automation on."""
    _switch(ref, True)


@automation_group.command("disable")
@click.argument("ref", metavar="ID")
def disable_command(ref: str) -> None:
    """Switch an automation off (it fires nothing until enabled again)."""
    _switch(ref, False)


def _switch(ref: str, enabled: bool) -> None:
    from orkest.cli.output import console
    from orkest.services.automation_rules import set_enabled

    found = set_enabled(_store(), ref, enabled)
    console().print(f"Automation {found.name} ({found.id}) "
                    f"{'enabled' if enabled else 'disabled'}.", markup=False)
