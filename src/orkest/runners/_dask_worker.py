"""The worker side of DaskRunner: the Dask task of one task run, and cancel.

Runs in Dask worker processes (imported there by reference). See dask.py for the design.
"""

from __future__ import annotations

import pickle
import threading
import uuid
from typing import Any

from orkest.errors import CancelledRun
from orkest.runners import _remote_jobs as remote

_running: dict[str, dict[int, int]] = {}  # topic -> token -> thread ident
_worker_lock = threading.Lock()


def run_on_worker(envelope: bytes, task_bytes: bytes, values: list[Any]) -> Any:
    """The Dask task of one task run; returns its value (None unless completed).

    `values` are its inputs still on the cluster: Dask resolves the futures in the list.
    """
    from distributed import get_worker

    payload, topic, token, task_token = pickle.loads(envelope)
    worker = get_worker()
    execution = uuid.uuid4().hex
    sink = remote.new_sink(lambda data: worker.log_event(topic, [token, execution, data]))
    with _worker_lock:
        _running.setdefault(topic, {})[token] = threading.get_ident()
    try:
        with remote.ticker.live(sink):
            return remote.run_job(payload, task_token, task_bytes, list(values), sink, "Dask")
    finally:
        with _worker_lock:
            tokens = _running.get(topic, {})
            tokens.pop(token, None)
            if not tokens:
                _running.pop(topic, None)


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
