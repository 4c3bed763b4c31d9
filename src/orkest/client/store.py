"""RemoteRunStore: the RunStore port over the REST API (docs/api.md, "Writing").

It passes the same contract suite as the memory and SQL stores. Records travel in the
store's own wire format (orkest.store.wire). Lists are fetched in pages no larger than the
server allows, so a caller may ask for any limit, as with a local store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from orkest.client.config import RemoteConfig
from orkest.client.http import ApiSession, encode, segment
from orkest.client.orchestration import RemoteOrchestration
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
from orkest.store import semantics, wire

FLOW_RUN_PAGE = 500  # the server's cap on /api/flow_runs
TASK_RUN_PAGE = 5000
LOG_PAGE = 5000
SLOWEST_MAX = 100  # the server's cap on the slowest-tasks panel
# A batch whose JSON is bigger than this goes in several requests (the server refuses
# bodies over ORKEST_API_MAX_BODY_BYTES, 16 MiB by default).
MAX_BODY_BYTES = 8 * 2**20

_BATCH_KEYS = ("flow_runs", "task_runs", "states", "logs", "results", "cache")


class RemoteRunStore(RemoteOrchestration, RemoteConfig):
    """Runs, states, logs, small results and cache entries kept by an orkest API server."""

    def __init__(self, api_url: str, api_key: str | None = None, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        """`transport` replaces the network (tests: httpx.MockTransport)."""
        self._api = ApiSession(api_url, api_key, transport=transport)
        self.api_url = self._api.api_url

    def __repr__(self) -> str:
        return f"RemoteRunStore({self.api_url!r})"

    # -- writes ---------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> None:
        """One request per batch; a very large batch is split, runs before their states."""
        if not len(batch):
            return
        payload = wire.dump_batch(batch)
        body = encode(payload)
        if len(body) <= MAX_BODY_BYTES:
            self._api.post("/batches", body=body)
            return
        for part in _split(payload, len(body) // MAX_BODY_BYTES + 1):
            self._api.post("/batches", part)

    def set_state(
        self, run_id: str, run_kind: str, state: State, policy: Policy
    ) -> FlowRun | TaskRun:
        semantics.run_kind_label(run_kind)  # ValueError for a bad kind, before any request
        body = {"state": {"type": state.type.value, "name": state.name,
                          "message": state.message, "ts": state.ts,
                          "result_ref": state.result_ref},
                "policy": policy.name}
        data = self._api.post(f"/runs/{run_kind}/{segment(run_id)}/state", body)
        return wire.load(FlowRun if run_kind == "flow" else TaskRun, data)

    def request_action(self, flow_run_id: str, action: str, payload: object = None) -> None:
        self._api.post(f"/flow_runs/{segment(flow_run_id)}/requests",
                       {"action": action, "payload": payload})

    def take_requests(self, flow_run_ids: Iterable[str]) -> dict[str, tuple[str, object]]:
        ids = list(flow_run_ids)
        if not ids:
            return {}
        taken = self._api.post("/requests/take", {"flow_run_ids": ids}) or {}
        return {run_id: (pair[0], pair[1]) for run_id, pair in taken.items()}

    def heartbeat(self, flow_run_ids: Iterable[str], now: float) -> None:
        ids = list(flow_run_ids)
        if ids:
            self._api.post("/heartbeats", {"flow_run_ids": ids, "now": now})

    # -- reads ----------------------------------------------------------------------------

    def read_flow_run(self, flow_run_id: str) -> FlowRun:
        return wire.load(FlowRun, self._api.get(f"/flow_runs/{segment(flow_run_id)}"))

    def read_task_run(self, task_run_id: str) -> TaskRun:
        return wire.load(TaskRun, self._api.get(f"/task_runs/{segment(task_run_id)}"))

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
        if state_types is not None and not state_types:
            return []
        params = _flow_run_filters(flow_name, state_types, parent_flow_run_id, tag,
                                   created_after, created_before, deployment_id)
        items = self._paged("/flow_runs", params, limit, offset, FLOW_RUN_PAGE)
        return [wire.load(FlowRun, item) for item in items]

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
        if state_types is not None and not state_types:
            return 0
        params = _flow_run_filters(flow_name, state_types, parent_flow_run_id, tag,
                                   created_after, created_before, deployment_id)
        return int(self._api.get("/counts/flow_runs", params)["count"])

    def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[FlowSummary]:
        items = self._paged("/flows", {}, limit, offset, FLOW_RUN_PAGE)
        return [FlowSummary(i["name"], int(i["run_count"]), i["last_run_ts"]) for i in items]

    def flow_run_counts(self, *, since: float, bucket_seconds: float) -> list[StateCount]:
        if bucket_seconds <= 0:
            raise ValueError(f"bucket_seconds must be > 0, not {bucket_seconds!r}")
        data = self._api.get("/stats/dashboard", {"since": since,
                                                  "bucket_seconds": bucket_seconds})
        return [wire.load(StateCount, item) for item in data["runs_by_state"]]

    def slowest_tasks(self, *, since: float, limit: int = 10) -> list[TaskStat]:
        data = self._api.get("/stats/dashboard", {"since": since,
                                                  "slowest_limit": min(limit, SLOWEST_MAX)})
        return [TaskStat(i["task_name"], int(i["runs"]), float(i["mean_seconds"]),
                         float(i["max_seconds"])) for i in data["slowest_tasks"][:limit]]

    def list_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        state_types: Sequence[StateType] | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[TaskRun]:
        if state_types is not None and not state_types:
            return []
        params = _task_run_filters(flow_run_id, state_types)
        items = self._paged("/task_runs", params, limit, offset, TASK_RUN_PAGE)
        return [wire.load(TaskRun, item) for item in items]

    def count_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        state_types: Sequence[StateType] | None = None,
    ) -> int:
        if state_types is not None and not state_types:
            return 0
        params = {**_task_run_filters(flow_run_id, state_types), "limit": 1, "offset": 0}
        return int(self._api.get("/task_runs", params)["total"])

    def read_states(self, run_id: str) -> list[StateRecord]:
        for kind in ("flow_runs", "task_runs"):
            found = self._api.get(f"/{kind}/{segment(run_id)}/states", missing_ok=True)
            if found:
                return [wire.load(StateRecord, item) for item in found]
        return []

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
        if flow_run_id is not None:
            path = f"/flow_runs/{segment(flow_run_id)}/logs"
            params: dict[str, Any] = {"task_run_id": task_run_id} if task_run_id else {}
        else:
            path, params = f"/task_runs/{segment(str(task_run_id))}/logs", {}
        lines: list[LogLine] = []
        while len(lines) < limit:
            n = min(limit - len(lines), LOG_PAGE)
            data = self._api.get(path, {**params, "after_id": after_id, "limit": n},
                                 missing_ok=True)
            items = data["items"] if data else []
            lines.extend(wire.load(LogLine, item) for item in items)
            if len(items) < n:
                break
            after_id = lines[-1].id or after_id
        return lines

    def read_result(self, key: str) -> ResultBlob | None:
        data = self._api.get(f"/results/{segment(key)}", missing_ok=True)
        return None if data is None else wire.load(ResultBlob, data)

    def lookup_cache(self, key: str, now: float) -> CacheEntry | None:
        data = self._api.get(f"/cache/{segment(key)}", {"now": now}, missing_ok=True)
        return None if data is None else wire.load(CacheEntry, data)

    def close(self) -> None:
        self._api.close()

    # -- helpers --------------------------------------------------------------------------

    def _paged(self, path: str, params: dict[str, Any], limit: int, offset: int,
               page: int) -> list[dict[str, Any]]:
        """Up to `limit` items from `offset`, in requests of at most `page` items."""
        items: list[dict[str, Any]] = []
        while limit > 0:
            n = min(limit, page)
            found = self._api.get(path, {**params, "limit": n, "offset": offset})["items"]
            items.extend(found)
            if len(found) < n:
                break
            limit, offset = limit - n, offset + n
        return items


def _flow_run_filters(flow_name: str | None, state_types: Sequence[StateType] | None,
                      parent_flow_run_id: str | None, tag: str | None,
                      created_after: float | None, created_before: float | None,
                      deployment_id: str | None = None) -> dict[str, Any]:
    params = {"flow_name": flow_name, "parent_flow_run_id": parent_flow_run_id, "tag": tag,
              "deployment_id": deployment_id,
              "created_after": created_after, "created_before": created_before,
              "state": [StateType(s).value for s in state_types or ()]}
    return {k: v for k, v in params.items() if v is not None and v != []}


def _task_run_filters(flow_run_id: str | None,
                      state_types: Sequence[StateType] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if flow_run_id is not None:
        params["flow_run_id"] = flow_run_id
    if state_types:
        params["state"] = [StateType(s).value for s in state_types]
    return params


def _split(payload: dict[str, list[Any]], parts: int) -> list[dict[str, list[Any]]]:
    """The batch's records, in order, cut into `parts` batches of about equal count."""
    flat = [(key, item) for key in _BATCH_KEYS for item in payload.get(key, ())]
    size = max(1, -(-len(flat) // parts))
    out = []
    for start in range(0, len(flat), size):
        piece: dict[str, list[Any]] = {key: [] for key in _BATCH_KEYS}
        for key, item in flat[start:start + size]:
            piece[key].append(item)
        out.append(piece)
    return out

