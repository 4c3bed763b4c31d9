"""`orkest db upgrade`: migrate the database by hand (opening a store also does it)."""

from __future__ import annotations

import click


@click.group("db")
def db_group() -> None:
    """Manage the orkest database."""


@db_group.command("upgrade")
def upgrade_command() -> None:
    """Migrate the database (ORKEST_DATABASE_URL, else ORKEST_HOME/orkest.db) to the newest
    schema."""
    import re

    from orkest import settings
    from orkest.cli.output import console
    from orkest.store import upgrade

    url = settings.current().database_url
    before, after = upgrade(url)
    shown = re.sub(r"//[^@/]*@", "//***@", url)  # never print a password
    if after is None:
        console().print(f"{shown}: nothing to migrate (an in-memory store).")
    elif before == after:
        console().print(f"{shown}: already at revision {after}.")
    else:
        console().print(f"{shown}: upgraded from revision {before or '(empty)'} to {after}.")
