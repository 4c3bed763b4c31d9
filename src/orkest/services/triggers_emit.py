"""Emitting an event: store it, find the deployments whose triggers answer it, run them.

Every event is stored first, whatever it causes, so the UI can show what happened and
what it started. Each matching trigger renders its parameter templates with the event
(`{{ event.path }}`, `{{ event.body.x }}`, `{{ event.payload }}`) in the sandbox, and one
SCHEDULED run of its deployment is created, due now, carrying the event's id. A trigger
whose templates or parameters fail is logged and skipped: the other triggers still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orkest._internal.ids import new_id
from orkest.core.deployments import Deployment, Event
from orkest.core.params import to_jsonable
from orkest.errors import InvalidTrigger, OrkestError
from orkest.services.deployments import new_run, orchestration_store
from orkest.triggers import Trigger, Webhook, trigger_from

logger = logging.getLogger("orkest.triggers")

_PAGE = 500
MAX_EVENT_NAME = 500


@dataclass(frozen=True, slots=True)
class Armed:
    """One trigger of one deployment, parsed from its stored dict."""

    deployment: Deployment
    index: int  # its place in deployment.triggers: part of its runs' idempotency keys
    trigger: Trigger


def all_deployments(store: Any, *, paused: bool | None = None) -> list[Deployment]:
    found: list[Deployment] = []
    while True:
        page = store.list_deployments(paused=paused, limit=_PAGE, offset=len(found))
        found.extend(page)
        if len(page) < _PAGE:
            return found


def arm(deployments: Iterable[Deployment]) -> list[Armed]:
    """The triggers of `deployments`; one that no longer loads (its watch path was
    removed...) is logged and left out, the others still work."""
    armed: list[Armed] = []
    for deployment in deployments:
        for index, data in enumerate(deployment.triggers):
            try:
                armed.append(Armed(deployment, index, trigger_from(data)))
            except InvalidTrigger as exc:
                logger.warning("Deployment %s: trigger %d is not armed: %s",
                               deployment.full_name, index + 1, exc)
    return armed


def armed_triggers(store: Any) -> list[Armed]:
    """The triggers of every deployment that is not paused (pausing stops its triggers)."""
    return arm(d for d in all_deployments(store, paused=False) if d.triggers)


def webhook_names(store: Any) -> set[str]:
    """Names of every deployment's Webhook triggers, paused ones too (they exist)."""
    names: set[str] = set()
    for deployment in all_deployments(store):
        for data in deployment.triggers:
            if isinstance(data, Mapping) and data.get("type") == Webhook.type_name:
                names.add(str(data.get("name")))
    return names


def event_context(event: Event) -> dict[str, Any]:
    """What templates see as `event`: the payload's keys, then the event's own fields
    (id, name, ts, source, resource, payload, and body: the payload again, for webhooks)."""
    payload = event.payload
    context: dict[str, Any] = dict(payload) if isinstance(payload, Mapping) else {}
    context.update(id=event.id, name=event.name, ts=event.ts, source=event.source,
                   resource=event.resource, payload=payload, body=payload)
    return context


def render_parameters(trigger: Trigger, event: Event) -> dict[str, Any]:
    """The trigger's parameter templates rendered with the event (TemplateError if bad)."""
    from orkest.templating import render_structure

    if not trigger.parameters:
        return {}
    return render_structure(trigger.parameters, {"event": event_context(event)},
                            name="trigger parameters", native=True)


def emit_event(store: Any, name: str, payload: Any = None, *, source: str = "api",
               resource: str | None = None, key: str | None = None,
               armed: list[Armed] | None = None, now: float | None = None) -> Event:
    """Store the event `name` and start a run of each deployment whose trigger answers it.

    `key`, when given, names the happening itself (a file's path and size, a run's id and
    state): two services that see it both create each run once. `armed` is the list of
    triggers to match (the service passes the one it keeps); by default it is read now.
    The stored event, with the ids of the runs it created in `flow_run_ids`.
    """
    store = orchestration_store(store)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_EVENT_NAME:
        raise OrkestError(f"Event name must be a non-empty string of at most "
                          f"{MAX_EVENT_NAME} characters, not {name!r}")
    now = time.time() if now is None else now
    event = Event(id=new_id(), name=name.strip(), ts=now, source=source,
                  payload=to_jsonable(payload), resource=resource)
    store.save_event(event)
    runs = []
    for found in armed_triggers(store) if armed is None else armed:
        if not found.trigger.matches(event.name, event.payload):
            continue
        deployment = found.deployment
        try:
            params = render_parameters(found.trigger, event)
            runs.append(new_run(
                deployment, parameters=params, scheduled_ts=now, now=now,
                event_id=event.id, message=f"Triggered by event {event.name}",
                idempotency_key=(f"{deployment.id}@trigger{found.index}:{key}"
                                 if key is not None else None)))
        except OrkestError as exc:  # TemplateError, DeploymentError (bad parameters)
            logger.warning("Event %s (%s): trigger %d of deployment %s did not run: %s",
                           event.name, event.id, found.index + 1, deployment.full_name, exc)
    if runs:
        created = store.create_flow_runs(runs)  # a run whose key exists is skipped
        event.flow_run_ids = [run.id for run in created]
        if event.flow_run_ids:
            store.save_event(event)
            logger.info("Event %s started %d run(s)", event.name, len(event.flow_run_ids))
    return event
