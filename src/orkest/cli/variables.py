"""`orkest variable get|set|ls|rm`: named JSON values that flows and templates read.

`set` takes the value as JSON when it parses (`500`, `true`, `[1, 2]`, `{"a": 1}`,
`'"500"'` for the string "500") and as a plain string otherwise, so `orkest variable set
region eu-west-1` needs no quoting; `--json` insists on JSON. Values are shown as JSON.
"""

from __future__ import annotations

import json
from typing import Any

import click

from orkest.cli.output import EXIT_FAILED, EXIT_USAGE, exit_with

VALUE_COLUMN_CHARS = 60


@click.group("variable")
def variable_group() -> None:
    """Get, set, list and remove variables (JSON values; `{{ var.name }}` in templates)."""


def _store() -> Any:
    from orkest.config.values import config_store

    return config_store()


def _name(name: str) -> str:
    """The name, or exit 2 saying what a name may hold."""
    from orkest.config.values import check_name

    try:
        return check_name("variable", name)
    except ValueError as exc:
        exit_with(str(exc), EXIT_USAGE)


def parse_value(text: str, *, force_json: bool) -> Any:
    """`text` as JSON when it parses (always, with `force_json`), else the string itself."""
    try:
        return json.loads(text)
    except ValueError as exc:
        if force_json:
            exit_with(f"--json: {text!r} is not valid JSON ({exc}); strings need double "
                      "quotes inside the shell's quotes, e.g. '\"text\"'", EXIT_USAGE)
        return text


def shown(value: Any, limit: int = VALUE_COLUMN_CHARS) -> str:
    """A value as JSON on one line, cut to `limit` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@variable_group.command("get")
@click.argument("name")
@click.option("--raw", is_flag=True,
              help="Print a string value without JSON quotes (for $(...) in shells).")
def get_command(name: str, raw: bool) -> None:
    """Print a variable's value as JSON."""
    from orkest.errors import ObjectNotFound

    name = _name(name)
    try:
        value = _store().read_variable(name).value
    except ObjectNotFound:
        exit_with(f"No variable {name!r}: set it with `orkest variable set {name} VALUE`",
                  EXIT_FAILED)
    click.echo(value if raw and isinstance(value, str) else json.dumps(value, indent=2))


@variable_group.command("set")
@click.argument("name")
@click.argument("value")
@click.option("--json", "force_json", is_flag=True,
              help="VALUE must be valid JSON (without it, text that is not JSON is a string).")
def set_command(name: str, value: str, force_json: bool) -> None:
    """Set a variable to VALUE (JSON when it parses, else a string)."""
    from orkest.cli.output import console, plain
    from orkest.config.values import Variable

    name = _name(name)
    parsed = parse_value(value, force_json=force_json)
    try:
        Variable.set(name, parsed, store=_store())
    except ValueError as exc:  # NaN or Infinity: JSON has no such numbers
        exit_with(str(exc), EXIT_USAGE)
    console().print(plain(f"Variable {name!r} set to {shown(parsed)}"))


@variable_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(as_json: bool) -> None:
    """List variables by name, with their values (shortened) and when they last changed."""
    from rich.table import Table

    from orkest.cli.output import console, fmt_time, plain, print_json

    found = _store().list_variables(limit=100_000)
    if as_json:
        print_json(found)
        return
    if not found:
        console().print("No variables. Set one with `orkest variable set NAME VALUE`.")
        return
    table = Table(title="Variables", title_justify="left")
    for column in ("Name", "Value", "Updated"):
        table.add_column(column)
    for record in found:
        table.add_row(plain(record.name), plain(shown(record.value)),
                      fmt_time(record.updated_ts))
    console().print(table)


@variable_group.command("rm")
@click.argument("name")
def rm_command(name: str) -> None:
    """Remove a variable."""
    from orkest.cli.output import console, plain
    from orkest.errors import ObjectNotFound

    name = _name(name)
    try:
        _store().delete_variable(name)
    except ObjectNotFound:
        exit_with(f"No variable {name!r} (see `orkest variable ls`)", EXIT_FAILED)
    console().print(plain(f"Variable {name!r} removed"))
