"""`orkest scheduler start`: the scheduler and trigger services alone, without the API.

`orkest server start` runs the same services in its own process; run this where no server
runs (direct database mode), or to add schedulers: two at once never create a slot twice.
"""

from __future__ import annotations

import click


@click.group("scheduler")
def scheduler_group() -> None:
    """Create scheduled runs of deployments and fire their event triggers."""


@scheduler_group.command("start")
@click.option("--interval", type=click.FloatRange(min=0.05), default=None,
              help="Seconds between scheduler ticks (default 5).")
@click.option("--no-triggers", is_flag=True, help="Schedules only; no event triggers.")
def start_command(interval: float | None, no_triggers: bool) -> None:
    """Run until Ctrl-C or SIGTERM."""
    import signal
    import threading

    from orkest.cli.output import console
    from orkest.services.runner import start_services

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    services = start_services(None, stop, scheduler_interval=interval,
                              triggers=not no_triggers)
    console().print(f"Scheduler started ({', '.join(services.names)}) on "
                    f"{services.store_label}; Ctrl-C to stop")
    stop.wait()
    services.join(timeout=10)
    console().print("Scheduler stopped")
