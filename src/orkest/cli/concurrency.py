"""`orkest concurrency-limit create|ls|rm`: at most N task runs of a tag at once.

The limit holds across every process and worker that shares the store; the engine takes
a slot per limited tag before a task run starts and gives it back when it ends
(orkest/engine/limits.py). Slots of a holder that died free themselves after their lease.
"""

from __future__ import annotations

import time
from typing import Any

import click


@click.group("concurrency-limit")
def concurrency_limit_group() -> None:
    """Limit how many task runs carrying a tag run at once, across all workers."""


def _limits_store() -> Any:
    from orkest.errors import ConfigurationError
    from orkest.services.deployments import orchestration_store

    store = orchestration_store()
    if not hasattr(store, "set_concurrency_limit"):
        raise ConfigurationError(
            f"{store!r} cannot hold concurrency limits: set ORKEST_DATABASE_URL to a SQLite "
            "or PostgreSQL database (the default is ~/.orkest/orkest.db)")
    return store


@concurrency_limit_group.command("create")
@click.argument("tag")
@click.option("--limit", "limit", type=int, required=True, metavar="N",
              help="At most N task runs with this tag run at once (N >= 1).")
def create_command(tag: str, limit: int) -> None:
    """Create a limit for TAG, or change the limit it has."""
    from orkest.cli.output import console

    if limit < 1:
        raise click.BadParameter(f"must be at least 1, not {limit}", param_hint="'--limit'")
    if not tag.strip():
        raise click.BadParameter("must not be empty", param_hint="'TAG'")
    store = _limits_store()
    existed = any(x.tag == tag for x in store.list_concurrency_limits(time.time()))
    found = store.set_concurrency_limit(tag, limit, time.time())
    verb = "updated" if existed else "created"
    console().print(f"Concurrency limit {verb}: at most {found.limit} task run(s) with tag "
                    f"{found.tag!r} at once ({found.active} running now).", markup=False)


@concurrency_limit_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(as_json: bool) -> None:
    """List limits with the slots their tags hold now (expired leases do not count)."""
    from rich.table import Table

    from orkest.cli.output import console, fmt_time, plain, print_json

    limits = _limits_store().list_concurrency_limits(time.time())
    if as_json:
        print_json(limits)
        return
    if not limits:
        console().print("No concurrency limits: `orkest concurrency-limit create TAG "
                        "--limit N` makes one.", markup=False)
        return
    table = Table(title="Concurrency limits", title_justify="left")
    for column in ("Tag", "Limit", "Active slots", "Created"):
        table.add_column(column)
    for item in limits:
        table.add_row(plain(item.tag), str(item.limit), str(item.active),
                      fmt_time(item.created_ts))
    console().print(table)


@concurrency_limit_group.command("rm")
@click.argument("tag")
def rm_command(tag: str) -> None:
    """Remove the limit of TAG; its task runs no longer wait for slots."""
    from orkest.cli.output import console

    _limits_store().delete_concurrency_limit(tag)  # unknown tag: ObjectNotFound, exit 1
    console().print(f"Concurrency limit for tag {tag!r} removed.", markup=False)
