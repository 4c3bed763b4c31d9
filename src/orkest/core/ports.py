"""Protocols the engine needs from the layers above it. Stores implement them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from orkest.core.config_records import (
    Automation,
    AutomationFiring,
    BlockRecord,
    SecretInfo,
    VariableRecord,
)
from orkest.core.deployments import ConcurrencyLimit, Deployment, Event, Worker, WorkPool
from orkest.core.records import (
    CacheEntry,
    FlowRun,
    FlowSummary,
    LogLine,
    ResultBlob,
    StateCount,
    StateRecord,
    TaskRun,
    TaskStat,
    WriteBatch,
)
from orkest.core.states import State, StateType
from orkest.core.transitions import Policy


class RunStore(Protocol):
    """Where runs, their state history, logs, small results and cache entries live.

    Every backend (memory, SQLite, PostgreSQL, later the HTTP client) passes the same
    contract suite in tests/contract.
    """

    def write(self, batch: WriteBatch) -> None:
        """Store a batch atomically; run snapshots upsert by id, never touching requests."""

    def read_flow_run(self, flow_run_id: str) -> FlowRun:
        """The flow run with that id (or unique id prefix); ObjectNotFound otherwise."""

    def list_flow_runs(
        self,
        *,
        flow_name: str | None = None,
        state_types: Sequence[StateType] | None = None,
        parent_flow_run_id: str | None = None,
        deployment_id: str | None = None,
        tag: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[FlowRun]:
        """Newest first; created_after is inclusive, created_before exclusive."""

    def count_flow_runs(
        self,
        *,
        flow_name: str | None = None,
        state_types: Sequence[StateType] | None = None,
        parent_flow_run_id: str | None = None,
        deployment_id: str | None = None,
        tag: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> int:
        """How many flow runs list_flow_runs would give without limit and offset."""

    def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[FlowSummary]:
        """Flow names with runs, by name."""

    def flow_run_counts(self, *, since: float, bucket_seconds: float) -> list[StateCount]:
        """Flow runs created since `since`, counted per time bucket and current state."""

    def slowest_tasks(self, *, since: float, limit: int = 10) -> list[TaskStat]:
        """Task names by mean duration of their runs created since `since`, slowest first."""

    def read_task_run(self, task_run_id: str) -> TaskRun:
        """The task run with that id (or unique id prefix); ObjectNotFound otherwise."""

    def list_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        state_types: Sequence[StateType] | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[TaskRun]:
        """In creation order within a flow run; newest first across flow runs."""

    def count_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        state_types: Sequence[StateType] | None = None,
    ) -> int: ...

    def read_states(self, run_id: str) -> list[StateRecord]:
        """A run's state history, oldest first."""

    def read_logs(
        self,
        flow_run_id: str | None,
        *,
        task_run_id: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[LogLine]:
        """Log lines of a flow run (and its tasks), oldest first, after a cursor.

        flow_run_id None with a task_run_id: the lines of a standalone task run.
        """

    def read_result(self, key: str) -> ResultBlob | None: ...

    def lookup_cache(self, key: str, now: float) -> CacheEntry | None:
        """The newest unexpired entry for a cache key."""

    def set_state(
        self, run_id: str, run_kind: str, state: State, policy: Policy
    ) -> FlowRun | TaskRun:
        """Move a run to `state` now, atomically checked against `policy` (for the CLI/API)."""

    def request_action(self, flow_run_id: str, action: str, payload: object = None) -> None:
        """Ask the process that owns a run to act (cancel, resume); it clears the request."""

    def take_requests(self, flow_run_ids: Iterable[str]) -> dict[str, tuple[str, object]]:
        """Read and clear pending requests of the given runs."""

    def heartbeat(self, flow_run_ids: Iterable[str], now: float) -> None: ...

    def close(self) -> None: ...


class ResultFiles(Protocol):
    """Large results live outside the database, as files (or objects) under a root."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


class OrchestrationStore(Protocol):
    """What the scheduler, workers, triggers and the API need beyond runs (SQL and HTTP
    stores implement it; the memory store does not: deployments need a database)."""

    def save_deployment(self, deployment: Deployment) -> Deployment: ...

    def read_deployment(self, ref: str) -> Deployment:
        """By id, unique id prefix, or FLOW_NAME/DEPLOYMENT_NAME; ObjectNotFound otherwise."""

    def list_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                         paused: bool | None = None, limit: int = 100,
                         offset: int = 0) -> list[Deployment]: ...

    def count_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                          paused: bool | None = None) -> int: ...

    def update_deployment(self, deployment_id: str, **changes: Any) -> Deployment: ...

    def set_deployment_cursors(self, cursors: Mapping[str, float]) -> None: ...

    def delete_deployment(self, deployment_id: str) -> None: ...

    def create_flow_runs(self, runs: Sequence[FlowRun]) -> list[FlowRun]:
        """Insert new runs; those whose idempotency_key exists are skipped. The created."""

    def delete_scheduled_runs(self, deployment_id: str, *, keep: Iterable[str] = ()) -> int: ...

    def claim_flow_runs(self, work_pool: str, worker_id: str, *, limit: int,
                        now: float) -> list[FlowRun]:
        """Atomically move due SCHEDULED runs of the pool to PENDING for this worker."""

    def release_flow_run(self, flow_run_id: str, worker_id: str, now: float) -> bool: ...

    def reschedule_flow_run(self, flow_run_id: str, now: float, message: str) -> bool: ...

    def mark_late_runs(self, now: float) -> list[str]: ...

    def save_work_pool(self, pool: WorkPool) -> WorkPool: ...

    def read_work_pool(self, name: str) -> WorkPool: ...

    def list_work_pools(self) -> list[WorkPool]: ...

    def worker_heartbeat(self, worker: Worker) -> None: ...

    def list_workers(self, *, work_pool: str | None = None, limit: int = 200) -> list[Worker]:
        ...

    def save_event(self, event: Event) -> Event: ...

    def read_event(self, event_id: str) -> Event: ...

    def list_events(self, *, name: str | None = None, since: float | None = None,
                    limit: int = 50, offset: int = 0) -> list[Event]: ...

    def set_concurrency_limit(self, tag: str, limit: int, now: float) -> ConcurrencyLimit: ...

    def list_concurrency_limits(self, now: float) -> list[ConcurrencyLimit]: ...

    def delete_concurrency_limit(self, tag: str) -> None: ...

    def acquire_concurrency_slots(self, tags: Sequence[str], holder: str,
                                  flow_run_id: str | None, now: float,
                                  lease_seconds: float) -> bool: ...

    def release_concurrency_slots(self, holder: str) -> None: ...

    def renew_concurrency_slots(self, flow_run_ids: Iterable[str], now: float,
                                lease_seconds: float) -> None: ...


class ConfigStore(Protocol):
    """Variables, secrets, blocks and automations (SQL and HTTP stores implement it).

    Secret values cross this port in plaintext only through set_secret, read_secret_value
    and read_block(with_secrets=True); the store encrypts them at rest.
    """

    def set_variable(self, name: str, value: Any, now: float) -> VariableRecord: ...

    def read_variable(self, name: str) -> VariableRecord: ...

    def list_variables(self, *, limit: int = 1000, offset: int = 0) -> list[VariableRecord]:
        ...

    def delete_variable(self, name: str) -> None: ...

    def set_secret(self, name: str, value: str, now: float) -> SecretInfo: ...

    def read_secret_value(self, name: str) -> str:
        """SecretNotFound (saying how to set it) when there is none."""

    def list_secrets(self) -> list[SecretInfo]: ...

    def delete_secret(self, name: str) -> None: ...

    def rotate_secret_key(self, new_key: bytes | None = None) -> int: ...

    def save_block(self, record: BlockRecord, *, overwrite: bool, now: float) -> BlockRecord:
        ...

    def read_block(self, block_type: str, name: str, *,
                   with_secrets: bool = False) -> BlockRecord: ...

    def list_blocks(self, *, block_type: str | None = None) -> list[BlockRecord]: ...

    def delete_block(self, block_type: str, name: str) -> None: ...

    def save_automation(self, automation: Automation) -> Automation: ...

    def list_automations(self, *, enabled: bool | None = None) -> list[Automation]: ...

    def delete_automation(self, automation_id: str) -> None: ...

    def set_automation_cursor(self, automation_id: str, ts: float) -> None: ...

    def claim_automation_firing(self, firing: AutomationFiring) -> bool:
        """Record that an automation fired for a run; False when it was recorded already
        (so each firing is sent once, whichever service claims it first)."""

    def list_automation_firings(self, automation_id: str | None = None, *,
                                limit: int = 100) -> list[AutomationFiring]: ...
