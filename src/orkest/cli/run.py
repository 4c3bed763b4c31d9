"""`orkest run TARGET [--param k=v ...]`: run a flow here, watch it, exit 0 if it completed."""

from __future__ import annotations

import click


@click.command("run")
@click.argument("target")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="A flow parameter; the value is read as JSON when it parses, else as text. "
                   "Repeat for several.")
def run_command(target: str, params: tuple[str, ...]) -> None:
    """Run a flow in this process and show its progress.

    TARGET is path/to/file.py:flow_name or package.module:flow_name. Exit code 0 when the
    run completed, 1 when it did not, 2 for an unknown target or invalid parameters,
    130 on Ctrl-C (the run is recorded CRASHED).
    """
    from orkest.cli.execution import load_flow, parse_params, start

    raw = parse_params(params)
    flow, entrypoint = load_flow(target)
    start(flow, entrypoint, raw)
