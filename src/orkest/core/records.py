"""The one schema of what is stored: plain records shared by engine, stores, API and CLI.

Records do not persist themselves; stores save them. Times are epoch seconds (floats):
cheap to make on the hot path and exact in every database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from orkest.core.states import State, StateType


def to_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


@dataclass(slots=True)
class FlowRun:
    id: str
    flow_name: str
    name: str
    state_type: StateType
    state_name: str
    state_ts: float
    created_ts: float
    state_message: str | None = None
    flow_version: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    parent_flow_run_id: str | None = None
    parent_task_run_id: str | None = None
    start_ts: float | None = None
    end_ts: float | None = None
    run_count: int = 0
    retries: int = 0
    task_runner: str | None = None
    result_ref: str | None = None
    failure_type: str | None = None
    failure_traceback: str | None = None
    deployment_id: str | None = None
    # Where the flow's code lives ("/abs/path/file.py:flow_fn" or "pkg.module:flow_fn"),
    # so that `orkest flow-run retry` can load it again in another process.
    entrypoint: str | None = None
    logical_ts: float | None = None
    hostname: str | None = None
    pid: int | None = None
    heartbeat_ts: float | None = None
    # What a person or service asked of the process that owns this run (cancel, resume...).
    # The owning engine never overwrites these; it reads and clears them.
    requested_action: str | None = None
    requested_payload: Any = None
    # The task graph known before any task runs (DAGs and declarative flows): nodes with
    # their kind, and edges; None for Python flows, whose graph emerges from their runs.
    graph: dict[str, Any] | None = None
    # -- set for runs of deployments (the scheduler, triggers, `deployment run`) ----------
    work_pool: str | None = None
    # Higher first among the runs of a pool that are due at once.
    priority: int = 0
    # When it should start (a schedule slot, or now for a manual run); workers claim a
    # SCHEDULED run only once this time has come.
    scheduled_ts: float | None = None
    # Unique: "<deployment id>@<slot>" makes two schedulers unable to create a slot twice.
    idempotency_key: str | None = None
    worker_id: str | None = None
    # A hash of the flow's source file when the run first started (docs/workers.md).
    code_hash: str | None = None
    # The event that caused this run (triggers), if any.
    event_id: str | None = None

    @property
    def state(self) -> State:
        return State(self.state_type, self.state_name, self.state_message, self.state_ts,
                     result_ref=self.result_ref)

    @property
    def duration(self) -> float | None:
        if self.start_ts is None:
            return None
        return (self.end_ts or self.state_ts) - self.start_ts


@dataclass(slots=True)
class TaskRun:
    id: str
    flow_run_id: str | None
    task_name: str
    task_key: str
    dynamic_key: str
    name: str
    state_type: StateType
    state_name: str
    state_ts: float
    created_ts: float
    state_message: str | None = None
    tags: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    upstream: list[str] = field(default_factory=list)
    start_ts: float | None = None
    end_ts: float | None = None
    run_count: int = 0
    retries: int = 0
    cache_key: str | None = None
    result_ref: str | None = None
    failure_type: str | None = None
    failure_traceback: str | None = None
    cpu_seconds: float | None = None
    peak_rss_bytes: int | None = None
    # "task": the figures belong to this task alone (process runner);
    # "thread": CPU is the task's thread, memory the whole process's high-water mark.
    resource_scope: str | None = None
    runner: str | None = None

    @property
    def state(self) -> State:
        return State(self.state_type, self.state_name, self.state_message, self.state_ts,
                     result_ref=self.result_ref)

    @property
    def duration(self) -> float | None:
        if self.start_ts is None:
            return None
        return (self.end_ts or self.state_ts) - self.start_ts


@dataclass(slots=True)
class StateRecord:
    """One stored transition; a run's history is its records in `id` order."""

    run_id: str
    run_kind: str  # "flow" or "task"
    type: StateType
    name: str
    ts: float
    message: str | None = None
    id: int | None = None

    @classmethod
    def of(cls, run_id: str, run_kind: str, state: State) -> StateRecord:
        return cls(run_id, run_kind, state.type, state.name, state.ts, state.message)


@dataclass(slots=True)
class LogLine:
    flow_run_id: str | None
    task_run_id: str | None
    ts: float
    level: int
    logger: str
    message: str
    source: str = "logger"  # logger | print | stdout | stderr
    id: int | None = None


@dataclass(slots=True)
class ResultBlob:
    """A small persisted result kept in the database (large ones go to files)."""

    key: str
    serializer: str
    data: bytes
    created_ts: float


@dataclass(slots=True)
class CacheEntry:
    key: str
    result_ref: str
    created_ts: float
    expires_ts: float | None = None
    task_run_id: str | None = None


@dataclass(slots=True)
class WriteBatch:
    """Everything the engine has to store since the last flush, written in one transaction.

    Flow and task runs are snapshots keyed by id: the latest replaces earlier ones.
    """

    flow_runs: dict[str, FlowRun] = field(default_factory=dict)
    task_runs: dict[str, TaskRun] = field(default_factory=dict)
    states: list[StateRecord] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)
    results: list[ResultBlob] = field(default_factory=list)
    cache: list[CacheEntry] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.flow_runs) + len(self.task_runs) + len(self.states) + len(self.logs)
                + len(self.results) + len(self.cache))


def record_dict(record: Any) -> dict[str, Any]:
    """A record as a plain dict (for JSON output and stores)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


# -- summaries the API and UI read (computed by the store, never written) -----------------

@dataclass(frozen=True, slots=True)
class FlowSummary:
    """A flow name seen in the store, with how many runs it has and the newest one's time."""

    name: str
    run_count: int
    last_run_ts: float | None


@dataclass(frozen=True, slots=True)
class StateCount:
    """How many flow runs created in one time bucket are in one state now."""

    bucket_ts: float
    state_type: StateType
    count: int


@dataclass(frozen=True, slots=True)
class TaskStat:
    """Durations of the finished runs of one task name (the slowest-tasks panel)."""

    task_name: str
    runs: int
    mean_seconds: float
    max_seconds: float
