"""Bodies and answers of the orchestration API: deployments, work pools, workers, limits.

Bodies bound every number to what its column holds (INTEGER is 32-bit on PostgreSQL) and
refuse unknown fields where a typo would silently do nothing (a PATCH). Answers are
written by the routes from the records (orkest.store.wire); the models below describe
them for the OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator

from orkest.core.deployments import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_POOL,
    ConcurrencyLimit,
    Worker,
    WorkPool,
)
from orkest.core.records import FlowRun
from orkest.server.models import Answer, Body

INT32_MAX = 2**31 - 1
Int32 = Annotated[int, Field(ge=-INT32_MAX, le=INT32_MAX)]
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
Positive = Annotated[int, Field(ge=1, le=INT32_MAX)]
Name = Annotated[str, Field(min_length=1, max_length=1000)]
Seconds = Annotated[float, Field(ge=0, le=10 * 365 * 86400)]
Timestamp = Annotated[float, Field(description="Unix seconds")]
# How long a claim may wait for a run to become due (a long poll).
MAX_CLAIM_WAIT = 30.0
MAX_CLAIM_LIMIT = 1000


class Strict(Body):
    """A body whose unknown fields are an error (422 naming them), not ignored."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


# -- deployments ---------------------------------------------------------------------------

def check_parameter_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON Schema object whose `properties` is an object and `required` a list of names
    (what the Run form and the parameter checks read)."""
    if schema is None:
        return None
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise ValueError("parameter_schema.properties must be an object")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
        raise ValueError("parameter_schema.required must be a list of parameter names")
    return schema


class DeploymentIn(Body):
    """A Deployment record (orkest.store.wire.dump); what the server can fill in is optional."""

    id: str | None = Field(None, min_length=1, max_length=256,
                           description="Kept from the stored one of the same FLOW/NAME")
    flow_name: Name
    name: Name
    entrypoint: Name
    created_ts: Timestamp | None = None
    updated_ts: Timestamp | None = None
    parameters: dict[str, Any] = {}
    parameter_schema: dict[str, Any] | None = None
    schedules: list[dict[str, Any]] = Field([], max_length=100)
    triggers: list[dict[str, Any]] = Field([], max_length=100)
    work_pool: Name = DEFAULT_POOL
    concurrency_limit: Positive | None = None
    catchup: bool = False
    tags: list[Annotated[str, Field(max_length=1000)]] = Field([], max_length=1000)
    paused: bool = False
    description: str | None = None
    priority: Int32 = 0
    retries: Count = 0
    grace_seconds: Seconds = DEFAULT_GRACE_SECONDS
    code_hash: str | None = Field(None, max_length=256)
    last_slot_ts: Timestamp | None = None

    @field_validator("name")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        if "/" in value or not value.strip():
            raise ValueError(f"name {value!r} must be non-blank and without '/' (the full "
                             "name is FLOW_NAME/NAME)")
        return value

    _schema = field_validator("parameter_schema")(check_parameter_schema)


# Deployment columns that may not hold NULL: leaving them out is fine, sending null is not.
_NOT_NULL = ("entrypoint", "updated_ts", "parameters", "schedules", "triggers", "work_pool",
             "catchup", "tags", "paused", "priority", "retries", "grace_seconds")


class DeploymentChangesIn(Strict):
    """Fields of a stored deployment to change (POST /deployments/{id}/update): the
    `update_deployment` port method. Only the fields given change."""

    entrypoint: Name | None = None
    updated_ts: Timestamp | None = None
    parameters: dict[str, Any] | None = None
    parameter_schema: dict[str, Any] | None = None
    schedules: list[dict[str, Any]] | None = Field(None, max_length=100)
    triggers: list[dict[str, Any]] | None = Field(None, max_length=100)
    work_pool: Name | None = None
    concurrency_limit: Positive | None = None
    catchup: bool | None = None
    tags: list[Annotated[str, Field(max_length=1000)]] | None = Field(None, max_length=1000)
    paused: bool | None = None
    description: str | None = None
    priority: Int32 | None = None
    retries: Count | None = None
    grace_seconds: Seconds | None = None
    code_hash: str | None = Field(None, max_length=256)
    last_slot_ts: Timestamp | None = None

    def changes(self) -> dict[str, Any]:
        given = {name: getattr(self, name) for name in self.model_fields_set}
        nulls = sorted(n for n in _NOT_NULL if n in given and given[n] is None)
        if nulls:
            raise ValueError(f"Deployment fields {nulls} cannot be null")
        return given

    _schema = field_validator("parameter_schema")(check_parameter_schema)


class PauseIn(Strict):
    paused: bool


class RunDeploymentIn(Body):
    parameters: dict[str, Any] = Field({}, description="Over the deployment's own")
    scheduled_ts: Timestamp | None = Field(None, description="When it is due (default now)")
    idempotency_key: str | None = Field(None, min_length=1, max_length=1000)


class BackfillIn(Body):
    start: dt.datetime = Field(description="ISO 8601; without an offset, UTC")
    end: dt.datetime = Field(description="Exclusive")


class CursorsIn(Body):
    cursors: dict[str, Timestamp]


class DeleteScheduledIn(Body):
    keep: list[str] = Field([], description="Idempotency keys of the runs to keep")


class CreateRunsIn(Body):
    flow_runs: list[FlowRun] = Field(max_length=10_000)


# -- claims of runs ----------------------------------------------------------------------

class ClaimIn(Body):
    worker_id: Name
    limit: Annotated[int, Field(ge=0, le=MAX_CLAIM_LIMIT)] = 1
    wait_seconds: Annotated[float, Field(ge=0, le=MAX_CLAIM_WAIT)] = 0.0
    now: Timestamp | None = Field(None, description="The claimer's clock (default: the "
                                                    "server's)")


class ReleaseIn(Body):
    worker_id: Name
    now: Timestamp | None = None


class RescheduleIn(Body):
    now: Timestamp | None = None
    message: str = Field("Rescheduled", max_length=2000)


class NowIn(Body):
    now: Timestamp | None = None


# -- pools, workers, limits ----------------------------------------------------------------

class WorkPoolIn(Body):
    name: Name
    created_ts: Timestamp | None = None
    concurrency_limit: Positive | None = None
    paused: bool = False
    description: str | None = None


class WorkerIn(Body):
    id: str | None = Field(None, description="The path's id when left out")
    name: Name
    work_pool: Name
    hostname: Name
    pid: Count
    started_ts: Timestamp
    heartbeat_ts: Timestamp | None = Field(None, description="Default: the server's now")
    concurrency: Count = 1
    running: Count = 0
    status: Annotated[str, Field(pattern="^(online|stopped)$")] = "online"


class LimitIn(Body):
    limit: Count
    now: Timestamp | None = None


class AcquireIn(Body):
    tags: list[Annotated[str, Field(max_length=1000)]] = Field(max_length=1000)
    holder: Name
    flow_run_id: str | None = Field(None, max_length=256)
    now: Timestamp | None = None
    lease_seconds: Seconds = 60.0


class HolderIn(Body):
    holder: Name


class RenewIn(Body):
    flow_run_ids: list[str] = Field(max_length=100_000)
    now: Timestamp | None = None
    lease_seconds: Seconds = 60.0


class EventIn(Body):
    id: str | None = Field(None, description="The path's id when left out")
    name: Name
    ts: Timestamp
    source: Name
    payload: Any = None
    resource: str | None = None
    flow_run_ids: list[str] = []


# -- answers (documentation only) ------------------------------------------------------------

class DeploymentView(Answer):
    """A Deployment record (its fields as stored) plus what the UI shows of it."""

    id: str
    flow_name: str
    name: str
    entrypoint: str
    created_ts: float
    updated_ts: float
    parameters: dict[str, Any]
    parameter_schema: dict[str, Any] | None
    schedules: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    work_pool: str
    concurrency_limit: int | None
    catchup: bool
    tags: list[str]
    paused: bool
    description: str | None
    priority: int
    retries: int
    grace_seconds: float
    code_hash: str | None
    last_slot_ts: float | None
    full_name: str = Field(description="FLOW_NAME/DEPLOYMENT_NAME")
    schedule_descriptions: list[str] = Field(description="Each schedule in words")
    next_runs: list[str] = Field(description="ISO 8601: the next 5 slots of its schedules "
                                             "(none while paused)")


class DeploymentPage(Answer):
    items: list[DeploymentView]
    total: int
    limit: int
    offset: int


class CreatedRuns(Answer):
    created: list[str]
    skipped: int


class ClaimedRuns(Answer):
    flow_runs: list[FlowRun]


class Released(Answer):
    released: bool


class Rescheduled(Answer):
    rescheduled: bool


class Acquired(Answer):
    acquired: bool


class Deleted(Answer):
    deleted: int


class IdList(Answer):
    flow_run_ids: list[str]


class WorkPoolPage(Answer):
    items: list[WorkPool]


class WorkerPage(Answer):
    items: list[Worker]


class ConcurrencyLimitPage(Answer):
    items: list[ConcurrencyLimit]
