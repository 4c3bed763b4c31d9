"""`flow.serve(name, schedules=..., triggers=..., parameters=...)`: one process, no server.

It deploys the flow to a pool of its own (`serve:<flow>/<name>` unless `work_pool` is
given), then runs the scheduler, the trigger watchers and a worker of that pool in this
process until Ctrl-C or SIGTERM. Runs land in the configured database like any others,
so `orkest server start` on the same database shows them.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from orkest.services.deployments import deploy, orchestration_store, schedules_of


def serve(flow: Any, name: str, *, schedules: Any = (), triggers: Any = (),
          parameters: dict[str, Any] | None = None, concurrency: int = 4,
          store: Any = None, scheduler_interval: float | None = None,
          **options: Any) -> None:
    """Deploy, then schedule and run in this process until interrupted."""
    from orkest.services.runner import start_services
    from orkest.worker import WorkerLoop, WorkerOptions

    store = orchestration_store(store)
    options.setdefault("work_pool", f"serve:{flow.name}/{name}")
    deployment = deploy(flow, name, schedules=schedules, triggers=triggers,
                        parameters=parameters, store=store, **options)
    stop = threading.Event()
    services = start_services(store, stop, scheduler_interval=scheduler_interval,
                              reaper=False)  # the worker reaps
    worker = WorkerLoop(store, WorkerOptions(pool=deployment.work_pool,
                                             concurrency=concurrency),
                        report=_say)
    described = "; ".join(schedule.describe() for schedule in schedules_of(deployment))
    _say(f"Serving {deployment.full_name} ({described or 'no schedule'}); run it with: "
         f"orkest deployment run {deployment.full_name}. Ctrl-C to stop.")
    restore = worker.install_signal_handlers()
    try:
        worker.run()
    finally:
        restore()
        stop.set()
        services.join(timeout=10)


def _say(line: str) -> None:
    """Progress lines on stderr, like a worker's (stdout stays the flows' own)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
