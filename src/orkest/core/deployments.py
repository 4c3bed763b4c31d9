"""Records of orchestration: deployments, work pools, workers, events, concurrency limits.

Like core/records.py these are plain data that stores save; they know nothing of SQL or
HTTP. Times are epoch seconds. Schedules and triggers are kept as their `to_dict()` form so
that the store needs no schedule code to hold them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_POOL = "default"
# A scheduled run that has not started this long after its slot is named Late.
DEFAULT_GRACE_SECONDS = 60.0


@dataclass(slots=True)
class Deployment:
    """A flow registered to run without a person: where its code is, when, where, how."""

    id: str
    flow_name: str
    name: str
    entrypoint: str
    created_ts: float
    updated_ts: float
    parameters: dict[str, Any] = field(default_factory=dict)
    # JSON Schema of the flow's parameters: the UI's Run form and server-side checks.
    parameter_schema: dict[str, Any] | None = None
    schedules: list[dict[str, Any]] = field(default_factory=list)
    triggers: list[dict[str, Any]] = field(default_factory=list)
    work_pool: str = DEFAULT_POOL
    # At most this many runs of the deployment active at once (DAG max_active_runs).
    concurrency_limit: int | None = None
    catchup: bool = False
    tags: list[str] = field(default_factory=list)
    paused: bool = False
    description: str | None = None
    priority: int = 0
    # Flow-level retries: a run whose worker died is rescheduled while attempts remain.
    retries: int = 0
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    # A hash of the source file at deploy time; each run records the one it started from.
    code_hash: str | None = None
    # The scheduler's cursor: slots up to here have had their runs created.
    last_slot_ts: float | None = None

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"


@dataclass(slots=True)
class WorkPool:
    name: str
    created_ts: float
    concurrency_limit: int | None = None
    paused: bool = False
    description: str | None = None


@dataclass(slots=True)
class Worker:
    """A process that claims runs of one pool; known by its heartbeats."""

    id: str
    name: str
    work_pool: str
    hostname: str
    pid: int
    started_ts: float
    heartbeat_ts: float
    concurrency: int = 1
    running: int = 0
    status: str = "online"  # online | stopped


@dataclass(slots=True)
class Event:
    """Something that happened (a file, a webhook, a finished run...) and what it caused."""

    id: str
    name: str
    ts: float
    source: str  # webhook | file | db | flow-run | api | cli
    payload: Any = None
    resource: str | None = None
    flow_run_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ConcurrencyLimit:
    """At most `limit` task runs carrying `tag` at once, across every process."""

    tag: str
    limit: int
    created_ts: float
    active: int = 0
