"""The trigger service: watch files, queries and finished runs; turn them into events.

`emit_event` (triggers_emit.py) is the one way an event starts runs: the API, the CLI,
webhooks and this service all call it. `TriggerService` runs inside `orkest server start`
and `orkest scheduler start`; each `tick()` re-reads the deployments' triggers now and
then (new deployments are armed, paused or deleted ones disarmed), then:

- FileArrival: files that arrived complete in watched directories (triggers_files.py);
- DbChange: queries whose poll is due, or whose channel got a NOTIFY (triggers_db.py);
- FlowRunFinished: runs of watched flows that reached a watched final state
  (triggers_runs.py).

Event triggers need no watching: emit_event matches them when their event is emitted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from orkest.core.deployments import Event
from orkest.services.deployments import orchestration_store
from orkest.services.triggers_db import DbWatch, masked_url
from orkest.services.triggers_emit import Armed, armed_triggers, emit_event
from orkest.services.triggers_files import DEFAULT_QUIET_SECONDS, FileWatcher
from orkest.services.triggers_runs import FinishedRuns, run_key, run_payload, watched_states
from orkest.triggers import (
    DB_EVENT,
    FILE_EVENT,
    DbChange,
    FileArrival,
    FlowRunFinished,
    flow_run_event_name,
)

__all__ = ["TriggerService", "emit_event"]

logger = logging.getLogger("orkest.triggers")

RELOAD_SECONDS = 5.0
TICK_SECONDS = 0.1
RUNS_POLL_SECONDS = 1.0


class TriggerService:
    """Watches what the deployments' triggers wait for; `run(stop)` ticks until stopped."""

    def __init__(self, store: Any = None, *, reload_seconds: float = RELOAD_SECONDS,
                 interval: float = TICK_SECONDS, runs_poll_seconds: float = RUNS_POLL_SECONDS,
                 quiet_seconds: float = DEFAULT_QUIET_SECONDS) -> None:
        self.store = orchestration_store(store)
        self.reload_seconds = reload_seconds
        self.interval = interval
        self.runs_poll_seconds = runs_poll_seconds
        self.armed: list[Armed] = []
        self.files = FileWatcher(quiet_seconds)
        self.finished = FinishedRuns(self.store)
        self._file_triggers: list[FileArrival] = []
        self._db_watches: dict[tuple[str, str], DbWatch] = {}
        self._watched_flows: dict[str, set[str]] = {}
        self._next_reload = 0.0
        self._next_runs_poll = 0.0

    def reload(self) -> None:
        """Arm the triggers of the deployments as they are now."""
        self.armed = armed_triggers(self.store)
        triggers = [found.trigger for found in self.armed]
        self._file_triggers = [t for t in triggers if isinstance(t, FileArrival)]
        self.files.watch(self._file_triggers)
        wanted = _db_watch_specs(t for t in triggers if isinstance(t, DbChange))
        for key, trigger in wanted.items():
            watch = self._db_watches.get(key)
            if watch is not None and watch.trigger.channel != trigger.channel:
                watch.close()
                watch = None
            if watch is None:
                self._db_watches[key] = DbWatch(trigger)
            else:
                watch.trigger = trigger  # keeps its baseline
        for key in set(self._db_watches) - set(wanted):
            self._db_watches.pop(key).close()
        self._watched_flows = watched_states(
            t for t in triggers if isinstance(t, FlowRunFinished))

    def tick(self, now: float | None = None) -> list[Event]:
        """One look at everything watched; the events emitted."""
        clock = time.monotonic()
        if clock >= self._next_reload:
            self.reload()
            self._next_reload = clock + self.reload_seconds
        events = self._file_events(now)
        events += self._db_events(clock, now)
        if self._watched_flows and clock >= self._next_runs_poll:
            self._next_runs_poll = clock + self.runs_poll_seconds
            events += self._run_events(now)
        return events

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set; a failing tick is logged and tried again."""
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:  # noqa: BLE001 - the service outlives a bad tick
                    logger.exception("Trigger service tick failed; trying again")
                    stop.wait(1.0)
                stop.wait(self.interval)
        finally:
            self.close()

    def close(self) -> None:
        self.files.close()
        for watch in self._db_watches.values():
            watch.close()
        self._db_watches.clear()

    # -- one kind at a time ---------------------------------------------------------------

    def _emit(self, name: str, payload: Any, *, source: str, resource: str | None,
              key: str | None, now: float | None) -> Event:
        return emit_event(self.store, name, payload, source=source, resource=resource,
                          key=key, armed=self.armed, now=now)

    def _file_events(self, now: float | None) -> list[Event]:
        events = []
        for arrival in self.files.arrivals():
            if any(t.watches(arrival.path) for t in self._file_triggers):
                events.append(self._emit(FILE_EVENT, arrival.payload(), source="file",
                                         resource=arrival.path, key=arrival.key, now=now))
        return events

    def _db_events(self, clock: float, now: float | None) -> list[Event]:
        events = []
        for watch in list(self._db_watches.values()):
            if not watch.due(clock):
                continue
            change = watch.poll(clock)
            if change is not None:
                events.append(self._emit(DB_EVENT, watch.payload(change), source="db",
                                         resource=masked_url(watch.trigger.url), key=None,
                                         now=now))
        return events

    def _run_events(self, now: float | None) -> list[Event]:
        events = []
        for run in self.finished.poll(self._watched_flows, now):
            name = flow_run_event_name(run.flow_name, run.state_type.value)
            events.append(self._emit(name, run_payload(run), source="flow-run",
                                     resource=run.id, key=run_key(run), now=now))
        return events


def _db_watch_specs(triggers: Iterable[DbChange]) -> dict[tuple[str, str], DbChange]:
    """One watch per (url, query), however many deployments share it: the shortest poll,
    and a channel if any of them LISTENs (events name the watch by url and query)."""
    specs: dict[tuple[str, str], DbChange] = {}
    for trigger in triggers:
        key = (trigger.url, trigger.query)
        known = specs.get(key)
        if known is None:
            specs[key] = trigger
            continue
        specs[key] = DbChange(trigger.url, trigger.query,
                              poll_seconds=min(known.poll_seconds, trigger.poll_seconds),
                              channel=known.channel or trigger.channel)
    return specs
