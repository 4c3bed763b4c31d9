"""`orkest schema flow`: print the JSON Schema of declarative flow files (SPEC §3)."""

from __future__ import annotations

import click


@click.group("schema")
def schema_group() -> None:
    """Print JSON Schemas of orkest file formats (for editors and CI checks)."""


@schema_group.command("flow")
def flow_schema_command() -> None:
    """The JSON Schema of flow files (.yaml/.yml/.json), as pretty JSON on stdout.

    Save it and point your editor at it, e.g. `orkest schema flow > flow.schema.json` and
    `# yaml-language-server: $schema=flow.schema.json` at the top of a YAML flow file.
    """
    from importlib.resources import files

    from orkest.declarative import SCHEMA_FILE

    text = files("orkest.declarative").joinpath(SCHEMA_FILE).read_text("utf-8")
    click.echo(text, nl=False)
