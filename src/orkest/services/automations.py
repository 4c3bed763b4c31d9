"""The automation service: notify when watched runs end badly or run too long.

Automations live in the database (automation_rules.py defines and checks them). Each
`tick()` reads the enabled ones and, for each:

- ending runs: lists the newest runs of its deployment (or flow) in its final states and
  takes those that reached that state since its cursor. The window reaches SLACK_SECONDS
  before the cursor, so a run whose final state reaches the store a little after its own
  timestamp (batched recording) is still seen, and never before the automation existed.
- long runs: lists its runs that are RUNNING and takes those running longer than its
  `running_longer_than`.

Each firing is first claimed in the store (`automation_firings`, one row per automation,
run and kind): only the claim that inserts the row sends, so a firing goes out once across
ticks, restarts and two services at once. Then the notification block is loaded and the
message delivered with retries (orkest.config.notifications.deliver): a failed delivery is
logged and never stops the service. A service that dies between claim and delivery loses
that one message (at most once, never twice).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from orkest.core.config_records import Automation, AutomationFiring
from orkest.core.records import FlowRun
from orkest.core.states import State, StateType
from orkest.services.automation_rules import (
    create_automation,
    describe,
    find_automation,
    set_enabled,
)

__all__ = ["AutomationService", "create_automation", "describe", "find_automation",
           "set_enabled"]

logger = logging.getLogger("orkest.automations")

TICK_SECONDS = 2.0
SLACK_SECONDS = 60.0
# The cursor is written at most this often (it only narrows the window after a restart).
CURSOR_SECONDS = 10.0
PAGE = 200
RUNNING_LONG = "RUNNING_LONG"


class AutomationService:
    """Fires the enabled automations; `run(stop)` ticks until stopped."""

    def __init__(self, store: Any = None, *, interval: float = TICK_SECONDS,
                 ui_url: str | None = None, attempts: int = 3,
                 backoff: float = 0.5) -> None:
        if store is None:
            from orkest.store import open_store

            store = open_store()
        self.store = store
        self.interval = interval
        self.ui_url = ui_url
        self.attempts = attempts
        self.backoff = backoff
        self._reported_errors: dict[str, str] = {}
        self._seen: dict[str, set[tuple[str, str]]] = {}

    def tick(self, now: float | None = None) -> list[AutomationFiring]:
        """One look at every enabled automation; the firings this service claimed."""
        now = time.time() if now is None else now
        fired: list[AutomationFiring] = []
        enabled = self.store.list_automations(enabled=True)
        self._seen = {a.id: self._seen[a.id] for a in enabled if a.id in self._seen}
        for automation in enabled:
            try:
                fired += self._check(automation, now)
                self._reported_errors.pop(automation.id, None)
            except Exception as exc:  # noqa: BLE001 - one broken automation stops no other
                self._report(automation, f"Automation {automation.name!r} cannot notify "
                                         f"now: {type(exc).__name__}: {exc}")
        return fired

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set; a failing tick is logged and tried again."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the service outlives a bad tick
                logger.exception("Automation service tick failed; trying again")
            stop.wait(self.interval)

    # -- what is due ----------------------------------------------------------------------

    def _check(self, automation: Automation, now: float) -> list[AutomationFiring]:
        due = self._ended(automation, now) + self._running_long(automation, now)
        # Firings this service claimed or saw claimed already, while still in the window:
        # not claimed again on every tick (each claim is a write).
        seen = self._seen.setdefault(automation.id, set())
        keys = {(run.id, kind) for run, kind, _ in due}
        seen &= keys
        due = [item for item in due if (item[0].id, item[1]) not in seen]
        fired = []
        if due:
            # Loaded before claiming: while the block is missing or broken, nothing is
            # claimed, so the runs still in the window are notified once it is fixed.
            block = self._block(automation)
            for run, kind, state in due:
                firing = AutomationFiring(automation.id, run.id, kind, now)
                claimed = self.store.claim_automation_firing(firing)
                seen.add((run.id, kind))
                if claimed:
                    fired.append(firing)
                    self._send(automation, block, run, state)
        cursor = automation.last_checked_ts
        if automation.states and (cursor is None or now - cursor >= CURSOR_SECONDS):
            self.store.set_automation_cursor(automation.id, now)
        return fired

    def _runs(self, automation: Automation, states: list[StateType]) -> list[FlowRun]:
        if automation.deployment_id is not None:
            found = self.store.list_flow_runs(deployment_id=automation.deployment_id,
                                              state_types=states, limit=PAGE)
        else:
            found = self.store.list_flow_runs(flow_name=automation.flow_name,
                                              state_types=states, limit=PAGE)
        return list(found)

    def _ended(self, automation: Automation,
               now: float) -> list[tuple[FlowRun, str, State | None]]:
        if not automation.states:
            return []
        cursor = automation.last_checked_ts
        floor = automation.created_ts if cursor is None else max(
            automation.created_ts, cursor - SLACK_SECONDS)
        runs = self._runs(automation, [StateType(s) for s in automation.states])
        ended = sorted((r for r in runs if r.state_ts >= floor),
                       key=lambda r: r.state_ts)
        return [(r, f"{r.state_type.value}:{r.run_count}", None) for r in ended]

    def _running_long(self, automation: Automation,
                      now: float) -> list[tuple[FlowRun, str, State | None]]:
        limit = automation.running_longer_than
        if limit is None:
            return []
        due = []
        for run in self._runs(automation, [StateType.RUNNING]):
            running = now - run.state_ts
            if running > limit:
                state = State(StateType.RUNNING, "Running", message=(
                    f"Running for {_duration(running)}, longer than {_duration(limit)}"),
                    ts=now)
                due.append((run, f"{RUNNING_LONG}:{run.run_count}", state))
        return due

    # -- sending --------------------------------------------------------------------------

    def _send(self, automation: Automation, block: Any, run: FlowRun,
              state: State | None) -> bool:
        """Render and deliver; every failure is logged, none raised."""
        from orkest.config.notifications import deliver

        try:
            subject, body = self._message(automation, run, state)
        except Exception as exc:  # noqa: BLE001 - report, and keep the service going
            self._report(automation, f"Automation {automation.name!r} could not notify "
                                     f"about run {run.name} ({run.id}): "
                                     f"{type(exc).__name__}: {exc}")
            return False
        delivered = deliver(block, subject, body, attempts=self.attempts,
                            backoff=self.backoff)
        if delivered:
            logger.info("Automation %r notified %s/%s about run %s (%s)", automation.name,
                        automation.block_type, automation.block_name, run.name, run.id)
        else:
            logger.error("Automation %r: the notification about run %s (%s) was not "
                         "delivered to %s/%s (see the warnings above)", automation.name,
                         run.name, run.id, automation.block_type, automation.block_name)
        return delivered

    def _block(self, automation: Automation) -> Any:
        import orkest.config  # noqa: F401 - registers the shipped notification blocks
        from orkest.config.blocks import Block
        from orkest.config.notifications import NotificationBlock

        block = Block.load(f"{automation.block_type}/{automation.block_name}",
                           store=self.store)
        if not isinstance(block, NotificationBlock):
            raise TypeError(f"block {automation.block_type}/{automation.block_name} is a "
                            f"{type(block).__name__}, which cannot send notifications")
        return block

    def _message(self, automation: Automation, run: FlowRun,
                 state: State | None) -> tuple[str, str]:
        from orkest.config.notifications import render_run_message

        try:
            return render_run_message(run, state, automation.message, self.ui_url)
        except Exception as exc:  # noqa: BLE001 - a bad template must not stop the message
            if automation.message is None:
                raise
            self._report(automation, f"Automation {automation.name!r}: its message "
                                     f"template failed ({exc}); sending the default one")
            return render_run_message(run, state, None, self.ui_url)

    def _report(self, automation: Automation, text: str) -> None:
        """Log an automation's problem once, not on every tick while it lasts."""
        from orkest._internal import masking

        text = masking.mask(text)
        if self._reported_errors.get(automation.id) != text:
            self._reported_errors[automation.id] = text
            logger.error("%s", text)


def _duration(seconds: float) -> str:
    """600 -> "10m 0s", 42.5 -> "42.5s"."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s"
