"""Bodies and answer shapes of the events routes (documentation and validation)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_EVENT_NAME = 500


class EventIn(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_EVENT_NAME,
                      description="What happened, e.g. orders/created; Event triggers match it")
    payload: Any = Field(default=None, description="Any JSON; `{{ event.payload }}` in "
                                                   "parameter templates")
    resource: str | None = Field(default=None, max_length=2000,
                                 description="What the event is about (a path, an id)")


class EventOut(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    id: str
    name: str
    ts: float
    source: str = Field(description="webhook | file | db | flow-run | api | cli")
    payload: Any = None
    resource: str | None = None
    flow_run_ids: list[str] = Field(description="The runs the event started")


class EventRunOut(BaseModel):
    id: str
    name: str
    flow_name: str
    state_type: str
    state_name: str
    deployment_id: str | None


class EventDetailOut(EventOut):
    flow_runs: list[EventRunOut] = Field(description="The runs the event started, as now")


class EventPage(BaseModel):
    items: list[EventOut]
    total: int | None = Field(default=None, description="Given when the page reached the end")
    limit: int
    offset: int
