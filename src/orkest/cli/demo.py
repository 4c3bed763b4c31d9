"""`orkest demo`: run the bundled ETL flow exactly like `orkest run`, then say where to look."""

from __future__ import annotations

import click

DEMO_TARGET = "orkest.demo.etl:demo_etl"


@click.command("demo")
def demo_command() -> None:
    """Run a small demo ETL flow (about two seconds) and show what orkest recorded."""
    from orkest.cli.execution import load_flow, start
    from orkest.cli.output import console

    flow, entrypoint = load_flow(DEMO_TARGET)
    run = start(flow, entrypoint, {})
    out = console()
    out.print()
    out.print(f"See it: orkest flow-run inspect {run.id}")
    out.print(f"Its logs: orkest flow-run logs {run.id}")
    out.print("In the UI: orkest server start, then open "
              f"http://127.0.0.1:4200/#/runs/{run.id}")
