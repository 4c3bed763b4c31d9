"""The worker side of DaskRunner: the Dask task of one task run, live shipping, cancel.

Runs in Dask worker processes (imported there by reference). See dask.py for the design.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from orkest.errors import CancelledRun
from orkest.runners import _remote_jobs as remote
from orkest.runners._process_worker import LIVE_SECONDS

_running: dict[str, dict[int, int]] = {}  # topic -> token -> thread ident
_live_sinks: set[Any] = set()
_worker_lock = threading.Lock()
_shipper: threading.Thread | None = None


def run_on_worker(payload: bytes, topic: str, token: int, *values: Any) -> Any:
    """The Dask task of one task run; returns its value (None unless completed)."""
    global _shipper
    from distributed import get_worker

    worker = get_worker()
    execution = uuid.uuid4().hex
    sink = remote.new_sink(lambda data: worker.log_event(topic, [token, execution, data]))
    with _worker_lock:
        _running.setdefault(topic, {})[token] = threading.get_ident()
        _live_sinks.add(sink)
        if _shipper is None:
            _shipper = threading.Thread(target=_ship_live, name="orkest-ship", daemon=True)
            _shipper.start()
    try:
        return remote.run_job(payload, list(values), sink)
    finally:
        with _worker_lock:
            _live_sinks.discard(sink)
            tokens = _running.get(topic, {})
            tokens.pop(token, None)
            if not tokens:
                _running.pop(topic, None)


def _ship_live() -> None:
    """Every LIVE_SECONDS, the records of running tasks (logs show up while they run)."""
    while True:
        time.sleep(LIVE_SECONDS)
        with _worker_lock:
            sinks = list(_live_sinks)
        for sink in sinks:
            try:
                sink.ship()
            except Exception:  # noqa: BLE001, S112 - the worker is closing
                continue


def interrupt_topic(topic: str) -> None:
    """Run on every worker by cancel: interrupt this flow run's running tasks."""
    from orkest.engine import interrupts

    with _worker_lock:
        idents = list(_running.get(topic, {}).values())
    for ident in idents:
        guard = interrupts._open.get(ident)  # noqa: SLF001 - the guard around the user's call
        if guard is not None:
            interrupts.interrupt(guard, CancelledRun("Flow run was cancelled"))


def drop_topic(topic: str, dask_scheduler: Any = None) -> None:
    """The scheduler keeps every topic's last events: a long-lived one must not pile up."""
    broker = getattr(dask_scheduler, "_broker", None)
    topics = getattr(broker, "_topics", None)
    if topics is not None:
        topics.pop(topic, None)
