"""`orkest block ls|inspect`: saved blocks, their secret fields shown as *** (never decrypted)."""

from __future__ import annotations

import json
from typing import Any

import click


@click.group("block")
def block_group() -> None:
    """List and inspect saved blocks (typed configuration; see docs/blocks.md)."""


def _view(record: Any) -> dict[str, Any]:
    from orkest.cli.output import iso
    from orkest.config.blocks import shown_data

    return {"block_type": record.block_type, "name": record.name, "data": shown_data(record),
            "secret_fields": list(record.secret_fields),
            "schema_version": record.schema_version, "created": iso(record.created_ts),
            "updated": iso(record.updated_ts)}


@block_group.command("ls")
@click.option("--type", "block_type", default=None, help="Only blocks of this type.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def ls_command(block_type: str | None, as_json: bool) -> None:
    """List saved blocks: type, name, secret fields and when they changed."""
    from rich.table import Table

    from orkest.cli.output import console, fmt_time, plain, print_json
    from orkest.config.values import config_store

    records = config_store().list_blocks(block_type=block_type)
    if as_json:
        print_json([_view(r) for r in records])
        return
    if not records:
        kind = f" of type {block_type!r}" if block_type else ""
        console().print(f"No blocks{kind} yet: save one with `MyBlock(...).save(\"name\")`.")
        return
    table = Table(title="Blocks", title_justify="left")
    for column in ("Type", "Name", "Secret fields", "Updated"):
        table.add_column(column)
    for record in records:
        table.add_row(plain(record.block_type), plain(record.name),
                      plain(", ".join(record.secret_fields) or "-"), fmt_time(record.updated_ts))
    console().print(table)


@block_group.command("inspect")
@click.argument("ref", metavar="TYPE/NAME")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON record.")
def inspect_command(ref: str, as_json: bool) -> None:
    """Show one block's fields; secret fields appear as ***."""
    from orkest.cli.output import EXIT_USAGE, console, exit_with, fmt_time, plain, print_json
    from orkest.config.values import config_store
    from orkest.errors import ObjectNotFound

    block_type, _, name = ref.partition("/")
    if not block_type or not name:
        exit_with(f"{ref!r}: give the block as TYPE/NAME, e.g. webhook-notification/ops "
                  "(see `orkest block ls`)", EXIT_USAGE)
    try:
        record = config_store().read_block(block_type, name)
    except ObjectNotFound as exc:
        exit_with(str(exc))
    view = _view(record)
    if as_json:
        print_json(view)
        return
    out = console()
    out.print(f"Block {plain(record.block_type)}/{plain(record.name)}")
    out.print(f"  schema version  {record.schema_version}")
    out.print(f"  created         {fmt_time(record.created_ts)}")
    out.print(f"  updated         {fmt_time(record.updated_ts)}")
    out.print("  fields:")
    for field, value in view["data"].items():
        out.print(f"    {plain(field)}: {plain(json.dumps(value))}")
