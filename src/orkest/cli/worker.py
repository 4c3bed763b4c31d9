"""`orkest worker start --pool NAME`: claim and run the flow runs of one work pool.

The worker prints one line when it starts (pool, concurrency, store) and one per run
started and finished; Ctrl-C stops it gracefully, a second Ctrl-C terminates its runs.
See docs/workers.md.
"""

from __future__ import annotations

import sys

import click


@click.group("worker")
def worker_group() -> None:
    """Run flow runs of deployments: a worker claims the runs of one work pool."""


@worker_group.command("start")
@click.option("--pool", "-p", required=True, help="The work pool to take runs from "
              "(created when a deployment names it; an empty pool is fine).")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many flow runs at once, each in its own process.")
@click.option("--name", help="How the worker shows in `orkest work-pool` and the UI "
              "(default HOST-PID).")
@click.option("--cancel-grace", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds a cancelled run gets to stop before its process gets SIGTERM "
                   "(then SIGKILL 5 s later).")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=0.05,
              show_default=True, help="Seconds between claims while slots are free.")
@click.option("--heartbeat-interval", type=click.FloatRange(min=0.05), default=5.0,
              hidden=True)
@click.option("--reap-interval", type=click.FloatRange(min=0.05), default=5.0, hidden=True)
@click.option("--start-method", type=click.Choice(["fork", "spawn"]), default=None,
              hidden=True, help="How children start (default: fork where it exists).")
def start_command(pool: str, concurrency: int, name: str | None, cancel_grace: float,
                  poll_interval: float, heartbeat_interval: float, reap_interval: float,
                  start_method: str | None) -> None:
    """Claim and run flow runs of work pool POOL until Ctrl-C or SIGTERM."""
    from orkest.cli.output import EXIT_USAGE, exit_with
    from orkest.services.deployments import orchestration_store
    from orkest.worker import WorkerLoop, WorkerOptions
    from orkest.worker.process import default_start_method, preload

    if not pool.strip():
        exit_with("--pool must name a work pool, not an empty string", EXIT_USAGE)
    store = orchestration_store()
    preload()
    options = WorkerOptions(
        pool=pool.strip(), concurrency=concurrency, name=name, poll_seconds=poll_interval,
        heartbeat_seconds=heartbeat_interval, reap_seconds=reap_interval,
        cancel_grace_seconds=cancel_grace,
        start_method=start_method or default_start_method())
    loop = WorkerLoop(store, options, report=_say)
    restore = loop.install_signal_handlers()
    label = getattr(store, "url", None) or repr(store)
    _say(f"Worker {loop.name} ({loop.id}) started: pool {options.pool!r}, concurrency "
         f"{concurrency}, store {label}; Ctrl-C to stop")
    try:
        code = loop.run()
    finally:
        restore()
    _say(f"Worker {loop.name} stopped")
    sys.exit(code)


def _say(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()
