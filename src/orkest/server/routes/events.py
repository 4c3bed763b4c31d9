"""Events: POST /api/events, the webhook trigger, and the events list.

Emitting stores the event and creates a SCHEDULED run of every deployment whose trigger
answers it (orkest.services.triggers.emit_event); the answer lists those runs. A webhook's
body must be JSON (or empty): anything else is a 400 that stores and starts nothing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from orkest.errors import ObjectNotFound
from orkest.server import models_events as models
from orkest.server.problems import problem
from orkest.server.respond import (
    NulInBody,
    Offset,
    RunId,
    Store,
    Text,
    Timestamp,
    answer,
    known_total,
    limit_type,
)
from orkest.store import wire

MAX_EVENT_PAGE = 500
EventLimit = limit_type(MAX_EVENT_PAGE)
WebhookName = Annotated[str, Path(min_length=1, max_length=200,
                                  description="The name of a deployment's Webhook trigger")]

router = APIRouter(tags=["events"])


@router.post("/events", status_code=201, response_model=None,
             responses={201: {"model": models.EventOut}})
def create_event(store: Store, body: models.EventIn, nul: NulInBody) -> Response:
    """Emit an event: stored, and each deployment whose Event trigger matches it runs."""
    from orkest.services.triggers import emit_event

    if nul:  # a NUL in the name or resource is refused (422); the payload is JSON text
        _refuse_nul(body, "name", "resource")

    event = emit_event(store, body.name, body.payload, source="api", resource=body.resource)
    return answer(wire.dump(event), status_code=201)


@router.post("/events/webhook/{name}", status_code=201, response_model=None,
             responses={201: {"model": models.EventOut},
                        400: {"description": "The body is not JSON"},
                        404: {"description": "No deployment has a Webhook trigger so named"}})
async def call_webhook(request: Request, store: Store, name: WebhookName) -> Response:
    """Call the webhook `name`: its JSON body is `{{ event.body }}` in parameter templates."""
    from orkest.services.triggers_emit import webhook_names
    from orkest.triggers import webhook_event_name

    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        return problem(400, f"The body of webhook {name!r} is not valid JSON ({exc}); "
                            "nothing was triggered")
    if name not in await run_in_threadpool(webhook_names, store):
        return problem(404, f"No deployment has a Webhook trigger named {name!r} (deploy "
                            f"one with triggers=[Webhook({name!r})])")
    event = await run_in_threadpool(_emit, store, webhook_event_name(name), body,
                                    request.url.path)
    return answer(wire.dump(event), status_code=201)


@router.get("/events", response_model=None, responses={200: {"model": models.EventPage}})
def list_events(store: Store, name: Text = None, since: Timestamp = None,
                limit: EventLimit = 50, offset: Offset = 0) -> Response:
    """Events, newest first; `total` is given when the page reaches the end."""
    events = store.list_events(name=name, since=since, limit=limit, offset=offset)
    data: dict[str, Any] = {"items": [wire.dump(e) for e in events]}
    total = known_total(events, limit, offset)
    if total is not None:
        data["total"] = total
    data.update(limit=limit, offset=offset)
    return answer(data)


@router.get("/events/{event_id}", response_model=None,
            responses={200: {"model": models.EventDetailOut}})
def read_event(store: Store, event_id: RunId) -> Response:
    """One event, with the runs it started as they are now."""
    event = store.read_event(event_id)
    runs = []
    for run_id in event.flow_run_ids:
        try:
            run = store.read_flow_run(run_id)
        except ObjectNotFound:  # deleted since
            continue
        runs.append({"id": run.id, "name": run.name, "flow_name": run.flow_name,
                     "state_type": run.state_type.value, "state_name": run.state_name,
                     "deployment_id": run.deployment_id})
    return answer({**wire.dump(event), "flow_runs": runs})


def _emit(store: Any, name: str, body: Any, path: str) -> Any:
    from orkest.services.triggers import emit_event

    return emit_event(store, name, body, source="webhook", resource=path)


def _refuse_nul(body: Any, *fields: str) -> None:
    """A NUL in these text fields is malformed (PostgreSQL text cannot hold it): 422."""
    for field in fields:
        if "\x00" in (getattr(body, field) or ""):
            raise ValueError(f"{field} contains a NUL character")
