"""Start the background services (scheduler, triggers, automations, reaper) as threads of
one process: `orkest server start` and `orkest scheduler start` both use this."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("orkest.services")

REAP_SECONDS = 5.0


@dataclass
class Services:
    threads: list[threading.Thread] = field(default_factory=list)
    store_label: str = ""

    @property
    def names(self) -> list[str]:
        return [t.name.removeprefix("orkest-") for t in self.threads]

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


def start_services(store: Any, stop: threading.Event, *, scheduler_interval: float | None = None,
                   triggers: bool = True, reaper: bool = True, automations: bool = True,
                   ui_url: str | None = None) -> Services:
    """Start the services on `store` (default: the configured one) until `stop` is set.

    `ui_url` is where notification links point (default: ORKEST_UI_URL, else
    http://127.0.0.1:4200)."""
    from orkest.services.deployments import orchestration_store
    from orkest.services.scheduler import TICK_SECONDS, Scheduler

    store = orchestration_store(store)
    scheduler = Scheduler(store, interval=scheduler_interval or TICK_SECONDS)
    services = Services(store_label=getattr(store, "url", repr(store)))
    targets: list[tuple[str, Any]] = [("orkest-scheduler", lambda: scheduler.run(stop))]
    if triggers:
        try:
            from orkest.services.triggers import TriggerService
        except ImportError:  # pragma: no cover - the trigger service is optional here
            TriggerService = None  # noqa: N806
        if TriggerService is not None:
            service = TriggerService(store)
            targets.append(("orkest-triggers", lambda: service.run(stop)))
    if automations:
        automation_service = _automation_service(store, ui_url)
        if automation_service is not None:
            targets.append(("orkest-automations", lambda: automation_service.run(stop)))
    if reaper:
        targets.append(("orkest-reaper", lambda: reap_loop(store, stop)))
    for name, target in targets:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        services.threads.append(thread)
    return services


def _automation_service(store: Any, ui_url: str | None) -> Any:
    """The automation service, if this store holds automations and their firings."""
    if not (hasattr(store, "list_automations") and hasattr(store, "claim_automation_firing")):
        logger.info("Automations are off: %r cannot hold them", store)
        return None
    from orkest.services.automations import AutomationService

    return AutomationService(store, ui_url=ui_url)


def reap_loop(store: Any, stop: threading.Event, interval: float = REAP_SECONDS) -> None:
    """Mark runs whose process died CRASHED (and requeue those with retries left) until
    `stop` is set; a failing round is logged and tried again."""
    from orkest.services.reaper import reap_orphans

    while not stop.wait(interval):
        try:
            reaped = reap_orphans(store, time.time())
        except Exception as exc:  # noqa: BLE001 - try again next time
            logger.warning("Reaper: %s", exc)
            continue
        if reaped:
            logger.info("Marked %d flow run(s) CRASHED: their process is gone", len(reaped))
