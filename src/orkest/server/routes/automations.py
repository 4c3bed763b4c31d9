"""Automations: when runs end badly or run too long, send a notification block.

People create, list, enable/disable and delete them here (`orkest automation`, the API);
the automation service (orkest.services.automations) fires them. An automation is named
by its id, a unique id prefix or its unique name. Below the routes people use are the ones
the ConfigStore port needs for a service that reaches the store through ORKEST_API_URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import Field

from orkest.core.config_records import Automation, AutomationFiring
from orkest.errors import ObjectNotFound
from orkest.server.models import Answer, Body
from orkest.server.respond import answer, no_content
from orkest.store import wire

router = APIRouter(tags=["automations"])

MAX_FIRINGS_PAGE = 1000
Ref = Annotated[str, Path(min_length=1, max_length=256,
                          description="An id, a unique id prefix (4+), or the unique name")]
AutomationId = Annotated[str, Path(min_length=1, max_length=256)]
Short = Annotated[str, Field(min_length=1, max_length=1000)]


def automations_of(request: Request) -> Any:
    """The server's store, if it can hold automations (the memory store cannot): 501."""
    store = request.app.state.store
    if not hasattr(store, "list_automations"):
        raise HTTPException(501, "This server's store holds no automations: start it on "
                                 "SQLite or PostgreSQL (ORKEST_DATABASE_URL).")
    return store


Automations = Annotated[Any, Depends(automations_of)]


# -- bodies and answers --------------------------------------------------------------------

class AutomationIn(Body):
    name: Short
    deployment: Short | None = Field(None, description="FLOW/NAME or id of the deployment "
                                                       "whose runs it watches")
    flow_name: Short | None = Field(None, description="Or: every run of this flow")
    states: list[Short] | None = Field(
        None, max_length=20, description="Final state types that fire it (default FAILED, "
                                         "CRASHED; [] for none)")
    running_longer_than: float | None = Field(
        None, description="Also fire, once per run, when one is RUNNING longer than this "
                          "many seconds")
    notify: Short = Field(description="The notification block, TYPE/NAME")
    message: str | None = Field(None, max_length=100_000,
                                description="A Jinja template (see docs/automations.md)")
    enabled: bool = True


class EnabledIn(Body):
    enabled: bool


class AutomationView(Answer):
    id: str
    name: str
    block_type: str
    block_name: str
    created_ts: float
    deployment_id: str | None
    flow_name: str | None
    states: list[str]
    running_longer_than: float | None
    message: str | None
    enabled: bool
    last_checked_ts: float | None
    deployment: str | None = Field(None, description="The deployment's FLOW/NAME")
    description: str = Field(description="What it does, in words")


class AutomationPage(Answer):
    items: list[AutomationView]
    total: int


class CursorIn(Body):
    ts: float


class FiringIn(Body):
    flow_run_id: Short
    kind: Short
    ts: float


class Claimed(Answer):
    claimed: bool


def view(automation: Automation, names: dict[str, str]) -> dict[str, Any]:
    from orkest.services.automation_rules import describe

    out = wire.dump(automation)
    name = names.get(automation.deployment_id or "")
    out["deployment"] = name
    out["description"] = describe(automation, name)
    return out


def _views(store: Any, found: list[Automation]) -> list[dict[str, Any]]:
    from orkest.services.automation_rules import deployment_names

    names = deployment_names(store, found) if hasattr(store, "read_deployment") else {}
    return [view(a, names) for a in found]


# -- what people use -----------------------------------------------------------------------

@router.get("/automations", response_model=None,
            responses={200: {"model": AutomationPage}})
def list_automations(store: Automations, enabled: bool | None = None) -> Response:
    """Automations by name."""
    found = store.list_automations(enabled=enabled)
    return answer({"items": _views(store, found), "total": len(found)})


@router.post("/automations", response_model=None, status_code=201,
             responses={201: {"model": AutomationView}})
def create_automation(store: Automations, body: AutomationIn) -> Response:
    """Create one; a bad field (unknown deployment or block, a state that is not final,
    a template that does not render) is a 422 naming it."""
    from orkest.services.automation_rules import DEFAULT_STATES
    from orkest.services.automation_rules import create_automation as create

    try:
        created = create(store, body.name, deployment=body.deployment,
                         flow_name=body.flow_name,
                         states=DEFAULT_STATES if body.states is None else body.states,
                         running_longer_than=body.running_longer_than, notify=body.notify,
                         message=body.message, enabled=body.enabled)
    except ObjectNotFound as exc:  # an unknown deployment or block is bad input here
        raise ValueError(str(exc)) from None
    return answer(_views(store, [created])[0], status_code=201)


@router.get("/automations/{ref}", response_model=None,
            responses={200: {"model": AutomationView}})
def read_automation(store: Automations, ref: Ref) -> Response:
    from orkest.services.automation_rules import find_automation

    return answer(_views(store, [find_automation(store, ref)])[0])


@router.patch("/automations/{ref}", response_model=None,
              responses={200: {"model": AutomationView}})
def enable_automation(store: Automations, ref: Ref, body: EnabledIn) -> Response:
    """Enable or disable it (a disabled one fires nothing; enabled again, it notifies
    about runs that ended while it was off only within the last minute)."""
    from orkest.services.automation_rules import set_enabled

    return answer(_views(store, [set_enabled(store, ref, body.enabled)])[0])


@router.delete("/automations/{ref}", status_code=204, response_class=Response)
def delete_automation(store: Automations, ref: Ref) -> Response:
    from orkest.services.automation_rules import find_automation

    store.delete_automation(find_automation(store, ref).id)
    return no_content()


# -- for an automation service through ORKEST_API_URL (the ConfigStore port) ---------------

@router.put("/automations/{ref}", response_model=None,
            responses={200: {"model": AutomationView}})
def save_automation(store: Automations, ref: AutomationId, body: Automation) -> Response:
    """Store a whole record as given (create or replace) under its id (`ref` here is
    the exact id), checked for its shape only."""
    if body.id != ref:
        raise ValueError(f"id {body.id!r} in the body is not {ref!r} of the path")
    return answer(_views(store, [store.save_automation(body)])[0])


@router.post("/automations/{automation_id}/cursor", status_code=204,
             response_class=Response)
def set_cursor(store: Automations, automation_id: AutomationId, body: CursorIn) -> Response:
    store.set_automation_cursor(automation_id, body.ts)
    return no_content()


@router.post("/automations/{automation_id}/firings", response_model=None,
             responses={200: {"model": Claimed}})
def claim_firing(store: Automations, automation_id: AutomationId,
                 body: FiringIn) -> Response:
    """Record a firing; `claimed` is false when it was recorded already (do not send)."""
    firing = AutomationFiring(automation_id, body.flow_run_id, body.kind, body.ts)
    return answer({"claimed": bool(store.claim_automation_firing(firing))})


@router.get("/automations/{automation_id}/firings", response_model=None)
def list_firings(store: Automations, automation_id: AutomationId,
                 limit: Annotated[int, Query(ge=0, le=MAX_FIRINGS_PAGE)] = 100) -> Response:
    """What it fired, newest first."""
    found = store.list_automation_firings(automation_id, limit=limit)
    return answer({"items": [wire.dump(f) for f in found]})
