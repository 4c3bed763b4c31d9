"""MemoryRunStore: the in-memory twin of the SQL store, for tests and `memory://`.

It passes the same contract suite as the SQL store. Records are copied on the way in (their
JSON fields through JSON, exactly as the SQL store keeps them) and on the way out, so an
engine that keeps mutating its own TaskRun objects cannot change what was stored.
One lock makes every method atomic.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterable, Sequence
from typing import TypeVar

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
from orkest.core.transitions import Policy, check_transition
from orkest.store import semantics

R = TypeVar("R", FlowRun, TaskRun)


def _stored(run: R) -> R:
    """What a database would keep of `run`: its JSON fields after a JSON round trip."""
    snapshot = copy.copy(run)
    snapshot.parameters = semantics.json_copy(run.parameters)
    snapshot.tags = semantics.json_copy(run.tags)
    if isinstance(snapshot, TaskRun):
        snapshot.upstream = semantics.json_copy(snapshot.upstream)
    elif snapshot.requested_payload is not None:
        snapshot.requested_payload = semantics.json_copy(snapshot.requested_payload)
    return snapshot


def _copy_run(run: R) -> R:
    """A copy that shares nothing mutable with the stored run."""
    snapshot = copy.copy(run)
    snapshot.parameters = copy.deepcopy(run.parameters)
    snapshot.tags = list(run.tags)
    if isinstance(snapshot, TaskRun):
        snapshot.upstream = list(snapshot.upstream)
    else:
        snapshot.requested_payload = copy.deepcopy(snapshot.requested_payload)
    return snapshot


class MemoryRunStore:
    """RunStore in a few dicts and lists, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._flow_runs: dict[str, FlowRun] = {}
        self._task_runs: dict[str, TaskRun] = {}
        self._states: dict[str, list[StateRecord]] = {}
        self._logs: list[LogLine] = []
        self._results: dict[str, ResultBlob] = {}
        self._cache: list[CacheEntry] = []
        self._ids = itertools.count(1)  # one sequence for state, log and cache rows

    def __repr__(self) -> str:
        return "MemoryRunStore()"

    # -- writes ---------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> None:
        # Copy everything first: a bad record fails the batch before anything is stored.
        flows = [_stored(r) for r in batch.flow_runs.values()]
        tasks = [_stored(r) for r in batch.task_runs.values()]
        states = [copy.copy(s) for s in batch.states]
        lines = [copy.copy(line) for line in batch.logs]
        blobs = [ResultBlob(b.key, b.serializer, bytes(b.data), b.created_ts)
                 for b in batch.results]
        entries = [copy.copy(e) for e in batch.cache]
        with self._lock:
            for run in flows:
                old = self._flow_runs.get(run.id)
                if old is not None:  # a snapshot never replaces what was requested of a run
                    run.requested_action = old.requested_action
                    run.requested_payload = old.requested_payload
                self._flow_runs[run.id] = run
            self._task_runs.update((task.id, task) for task in tasks)
            for state in states:
                self._add_state(state)
            for line in lines:
                line.id = next(self._ids)
                self._logs.append(line)
            self._results.update((blob.key, blob) for blob in blobs)
            self._cache.extend(entries)

    def set_state(
        self, run_id: str, run_kind: str, state: State, policy: Policy
    ) -> FlowRun | TaskRun:
        label = semantics.run_kind_label(run_kind)
        table: dict = self._flow_runs if run_kind == "flow" else self._task_runs
        with self._lock:
            run = self._find(table, run_id, label)
            check_transition(run.state_type, state, policy, run.state_ts)
            for name, value in semantics.state_changes(run.state_type, state).items():
                setattr(run, name, value)
            self._add_state(StateRecord.of(run.id, run_kind, state))
            return _copy_run(run)

    def request_action(self, flow_run_id: str, action: str, payload: object = None) -> None:
        with self._lock:
            run = self._find(self._flow_runs, flow_run_id, "flow run")
            run.requested_action = action
            run.requested_payload = None if payload is None else semantics.json_copy(payload)

    def take_requests(self, flow_run_ids: Iterable[str]) -> dict[str, tuple[str, object]]:
        taken: dict[str, tuple[str, object]] = {}
        with self._lock:
            for run_id in flow_run_ids:
                run = self._flow_runs.get(run_id)
                if run is not None and run.requested_action is not None:
                    taken[run_id] = (run.requested_action, run.requested_payload)
                    run.requested_action = run.requested_payload = None
        return taken

    def heartbeat(self, flow_run_ids: Iterable[str], now: float) -> None:
        with self._lock:
            for run_id in flow_run_ids:
                run = self._flow_runs.get(run_id)
                if run is not None:
                    run.heartbeat_ts = now

    # -- reads ----------------------------------------------------------------------------

    def read_flow_run(self, flow_run_id: str) -> FlowRun:
        with self._lock:
            return _copy_run(self._find(self._flow_runs, flow_run_id, "flow run"))

    def read_task_run(self, task_run_id: str) -> TaskRun:
        with self._lock:
            return _copy_run(self._find(self._task_runs, task_run_id, "task run"))

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
        with self._lock:
            found = self._matching(flow_name, state_types, parent_flow_run_id, deployment_id, tag,
                                   created_after, created_before)
            found.sort(key=lambda r: (r.created_ts, r.id), reverse=True)
            return [_copy_run(r) for r in found[offset:offset + limit]]

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
        with self._lock:
            return len(self._matching(flow_name, state_types, parent_flow_run_id,
                                      deployment_id, tag, created_after, created_before))

    def _matching(self, flow_name: str | None, state_types: Sequence[StateType] | None,
                  parent_flow_run_id: str | None, deployment_id: str | None,
                  tag: str | None,
                  created_after: float | None, created_before: float | None
                  ) -> list[FlowRun]:
        types = None if state_types is None else set(state_types)
        return [
            r for r in self._flow_runs.values()
            if (flow_name is None or r.flow_name == flow_name)
            and (types is None or r.state_type in types)
            and (parent_flow_run_id is None or r.parent_flow_run_id == parent_flow_run_id)
            and (deployment_id is None or r.deployment_id == deployment_id)
            and (tag is None or tag in r.tags)
            and (created_after is None or r.created_ts >= created_after)
            and (created_before is None or r.created_ts < created_before)
        ]

    def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[FlowSummary]:
        with self._lock:
            seen: dict[str, list[float]] = {}
            for run in self._flow_runs.values():
                seen.setdefault(run.flow_name, []).append(run.created_ts)
        return [FlowSummary(name, len(times), max(times))
                for name, times in sorted(seen.items())][offset:offset + limit]

    def flow_run_counts(self, *, since: float, bucket_seconds: float) -> list[StateCount]:
        counts: dict[tuple[float, StateType], int] = {}
        with self._lock:
            for run in self._flow_runs.values():
                if run.created_ts >= since:
                    bucket = (run.created_ts // bucket_seconds) * bucket_seconds
                    key = (bucket, run.state_type)
                    counts[key] = counts.get(key, 0) + 1
        return [StateCount(b, t, n) for (b, t), n in sorted(counts.items(),
                                                            key=lambda kv: (kv[0][0],
                                                                            kv[0][1].value))]

    def slowest_tasks(self, *, since: float, limit: int = 10) -> list[TaskStat]:
        durations: dict[str, list[float]] = {}
        with self._lock:
            for run in self._task_runs.values():
                if run.created_ts >= since and run.start_ts is not None \
                        and run.end_ts is not None:
                    durations.setdefault(run.task_name, []).append(run.end_ts - run.start_ts)
        stats = [TaskStat(name, len(d), sum(d) / len(d), max(d))
                 for name, d in durations.items()]
        stats.sort(key=lambda s: (-s.mean_seconds, s.task_name))
        return stats[:limit]

    def list_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        state_types: Sequence[StateType] | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[TaskRun]:
        types = None if state_types is None else set(state_types)
        with self._lock:
            found = [
                r for r in self._task_runs.values()
                if (flow_run_id is None or r.flow_run_id == flow_run_id)
                and (types is None or r.state_type in types)
            ]
            found.sort(key=lambda r: (r.created_ts, r.id), reverse=flow_run_id is None)
            return [_copy_run(r) for r in found[offset:offset + limit]]

    def count_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        state_types: Sequence[StateType] | None = None,
    ) -> int:
        types = None if state_types is None else set(state_types)
        with self._lock:
            return sum(1 for r in self._task_runs.values()
                       if (flow_run_id is None or r.flow_run_id == flow_run_id)
                       and (types is None or r.state_type in types))

    def read_states(self, run_id: str) -> list[StateRecord]:
        with self._lock:
            return [copy.copy(s) for s in self._states.get(run_id, ())]

    def read_logs(
        self,
        flow_run_id: str | None,
        *,
        task_run_id: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[LogLine]:
        if flow_run_id is None and task_run_id is None:
            raise ValueError("read_logs needs a flow_run_id or a task_run_id")
        found: list[LogLine] = []
        with self._lock:
            for line in self._logs:  # in id order: ids are handed out as lines are appended
                if len(found) == limit:
                    break
                if (line.id is not None and line.id > after_id
                        and (flow_run_id is None or line.flow_run_id == flow_run_id)
                        and (task_run_id is None or line.task_run_id == task_run_id)):
                    found.append(copy.copy(line))
        return found

    def read_result(self, key: str) -> ResultBlob | None:
        with self._lock:
            blob = self._results.get(key)
            return None if blob is None else copy.copy(blob)

    def lookup_cache(self, key: str, now: float) -> CacheEntry | None:
        with self._lock:
            live = [e for e in self._cache
                    if e.key == key and (e.expires_ts is None or e.expires_ts > now)]
        if not live:
            return None
        # Newest by time; among equal times the later write wins, as in the SQL store.
        return copy.copy(max(enumerate(live), key=lambda p: (p[1].created_ts, p[0]))[1])

    def close(self) -> None:
        """Nothing to release; the data stays readable until the object is dropped."""

    # -- plumbing -------------------------------------------------------------------------

    def _add_state(self, state: StateRecord) -> None:
        state.id = next(self._ids)
        self._states.setdefault(state.run_id, []).append(state)

    def _find(self, table: dict[str, R], ident: str, label: str) -> R:
        run = table.get(ident)
        if run is not None:
            return run
        if len(ident) < semantics.MIN_ID_PREFIX:
            raise semantics.not_found(label, ident)
        matches = [r for key, r in table.items() if key.startswith(ident)]
        if not matches:
            raise semantics.not_found(label, ident)
        if len(matches) > 1:
            raise semantics.ambiguous(label, ident, len(matches))
        return matches[0]
