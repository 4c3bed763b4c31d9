"""Watching runs finish, for FlowRunFinished triggers.

Each look lists the newest runs of the watched flows in the watched final states and
reports those that reached that state since the service started and were not reported
yet. The window looks SLACK_SECONDS back, so a run whose final state reaches the store a
little after its own timestamp (batched recording) is still seen.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from orkest.core.records import FlowRun
from orkest.core.states import StateType
from orkest.triggers import FlowRunFinished

SLACK_SECONDS = 60.0
PAGE = 200


def watched_states(triggers: Iterable[FlowRunFinished]) -> dict[str, set[str]]:
    """flow name -> the final state types some trigger waits for."""
    wanted: dict[str, set[str]] = {}
    for trigger in triggers:
        wanted.setdefault(trigger.flow, set()).update(trigger.states)
    return wanted


class FinishedRuns:
    """Reports each (run, final state) once, from `since` on."""

    def __init__(self, store: Any, since: float | None = None) -> None:
        self.store = store
        self.since = time.time() if since is None else since
        self._reported: dict[tuple[str, str, float], float] = {}

    def poll(self, watched: Mapping[str, set[str]],
             now: float | None = None) -> list[FlowRun]:
        now = time.time() if now is None else now
        floor = max(self.since, now - SLACK_SECONDS)
        found: list[FlowRun] = []
        for flow_name, states in watched.items():
            runs = self.store.list_flow_runs(
                flow_name=flow_name, state_types=[StateType(s) for s in sorted(states)],
                limit=PAGE)
            for run in runs:
                mark = (run.id, run.state_type.value, run.state_ts)
                if run.state_ts >= floor and mark not in self._reported:
                    self._reported[mark] = run.state_ts
                    found.append(run)
        self._reported = {mark: ts for mark, ts in self._reported.items() if ts >= floor}
        found.sort(key=lambda run: run.state_ts)
        return found


def run_payload(run: FlowRun) -> dict[str, Any]:
    """What a FlowRunFinished event carries (templates: `{{ event.flow_run_id }}`...)."""
    return {"flow_run_id": run.id, "flow_run_name": run.name, "flow_name": run.flow_name,
            "state": run.state_type.value, "state_name": run.state_name,
            "state_message": run.state_message, "deployment_id": run.deployment_id,
            "parameters": run.parameters, "end_ts": run.end_ts}


def run_key(run: FlowRun) -> str:
    """Names this ending of the run (a retried run that ends again is another)."""
    return f"{run.id}:{run.state_type.value}:{run.state_ts!r}"
