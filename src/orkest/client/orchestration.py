"""The OrchestrationStore port over the REST API: a mixin of RemoteRunStore.

Each method is one request to a route of docs/api.md ("Deployments, pools, workers,
limits"), so workers, schedulers and the CLI behave the same with ORKEST_API_URL as with
a database. Records travel in the store's wire format. Lists are fetched in pages no
larger than the server allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from orkest.client.http import ApiSession, encode, segment
from orkest.core.deployments import ConcurrencyLimit, Deployment, Event, Worker, WorkPool
from orkest.core.records import FlowRun
from orkest.store import wire

DEPLOYMENT_PAGE = 500  # the server's cap on /api/deployments
EVENT_PAGE = 500
WORKER_PAGE = 1000
# Runs per create-scheduled request (a scheduler's tick may create many thousands).
CREATE_CHUNK = 1000
# What update_deployment may change (as the SQL store: not the identity of a deployment).
_UPDATABLE = frozenset(f.name for f in fields(Deployment)) - {"id", "flow_name", "name",
                                                              "created_ts"}
# The server waits at most 30 s for a claim; the client's read timeout is 30 s too.
MAX_CLAIM_WAIT = 25.0


class RemoteOrchestration:
    """Deployments, scheduled runs, claims, pools, workers, events and limits of an orkest
    API server (mixed into RemoteRunStore, which provides `_api`)."""

    _api: ApiSession

    # -- deployments ----------------------------------------------------------------------

    def save_deployment(self, deployment: Deployment) -> Deployment:
        """Create it, or update the one of the same FLOW/NAME (the server keeps its id,
        creation time, pause and cursor; it also creates the work pool if new)."""
        data = self._api.request("PUT", "/deployments", body=encode(wire.dump(deployment)))
        return wire.load(Deployment, data)

    def read_deployment(self, ref: str) -> Deployment:
        return wire.load(Deployment, self._api.get(f"/deployments/{_ref_path(ref)}"))

    def list_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                         paused: bool | None = None, limit: int = 100,
                         offset: int = 0) -> list[Deployment]:
        params = {**_deployment_filters(flow_name, work_pool, paused), "details": "false"}
        items: list[Deployment] = []
        while limit > 0:
            n = min(limit, DEPLOYMENT_PAGE)
            found = self._api.get("/deployments", {**params, "limit": n,
                                                   "offset": offset})["items"]
            items.extend(wire.load(Deployment, item) for item in found)
            if len(found) < n:
                break
            limit, offset = limit - n, offset + n
        return items

    def count_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                          paused: bool | None = None) -> int:
        params = {**_deployment_filters(flow_name, work_pool, paused), "limit": 0}
        return int(self._api.get("/deployments", params)["total"])

    def update_deployment(self, deployment_id: str, **changes: Any) -> Deployment:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"Deployment fields that cannot change: {sorted(unknown)}")
        data = self._api.post(f"/deployments/{segment(deployment_id)}/update", changes)
        return wire.load(Deployment, data)

    def set_deployment_cursors(self, cursors: Mapping[str, float]) -> None:
        if cursors:
            self._api.post("/deployments/cursors", {"cursors": dict(cursors)})

    def delete_deployment(self, deployment_id: str) -> None:
        """Forget it (nothing happens for an unknown id, as with a database)."""
        self._api.request("DELETE", f"/deployments/{segment(deployment_id)}",
                          missing_ok=True)

    # -- runs of deployments --------------------------------------------------------------

    def create_flow_runs(self, runs: Sequence[FlowRun]) -> list[FlowRun]:
        """Insert new runs; those whose idempotency_key exists are skipped. The created."""
        created: set[str] = set()
        for start in range(0, len(runs), CREATE_CHUNK):
            chunk = runs[start:start + CREATE_CHUNK]
            data = self._api.post("/flow_runs/create-scheduled",
                                  {"flow_runs": [wire.dump(r) for r in chunk]})
            created.update(data["created"])
        return [run for run in runs if run.id in created]

    def delete_scheduled_runs(self, deployment_id: str, *, keep: Iterable[str] = ()) -> int:
        data = self._api.post(f"/deployments/{segment(deployment_id)}/delete-scheduled",
                              {"keep": list(keep)})
        return int(data["deleted"])

    def claim_flow_runs(self, work_pool: str, worker_id: str, *, limit: int,
                        now: float | None = None, wait_seconds: float = 0.0
                        ) -> list[FlowRun]:
        """Atomically move due SCHEDULED runs of the pool to PENDING for this worker.

        `wait_seconds` (beyond the port): when none is due, the server waits that long for
        one (a long poll, at most 25 s here) and answers as soon as it has claimed any.
        `now` None: the server's clock.
        """
        if limit <= 0:
            return []
        body = {"worker_id": worker_id, "limit": limit, "now": now,
                "wait_seconds": min(max(wait_seconds, 0.0), MAX_CLAIM_WAIT)}
        data = self._api.post(f"/work-pools/{segment(work_pool)}/claim", body)
        return [wire.load(FlowRun, item) for item in data["flow_runs"]]

    def release_flow_run(self, flow_run_id: str, worker_id: str, now: float) -> bool:
        data = self._api.post(f"/flow_runs/{segment(flow_run_id)}/release",
                              {"worker_id": worker_id, "now": now})
        return bool(data["released"])

    def reschedule_flow_run(self, flow_run_id: str, now: float, message: str) -> bool:
        data = self._api.post(f"/flow_runs/{segment(flow_run_id)}/reschedule",
                              {"now": now, "message": message})
        return bool(data["rescheduled"])

    def mark_late_runs(self, now: float) -> list[str]:
        return list(self._api.post("/flow_runs/mark-late", {"now": now})["flow_run_ids"])

    # -- work pools and workers -----------------------------------------------------------

    def save_work_pool(self, pool: WorkPool) -> WorkPool:
        data = self._api.request("PUT", "/work-pools", body=encode(wire.dump(pool)))
        return wire.load(WorkPool, data)

    def read_work_pool(self, name: str) -> WorkPool:
        return wire.load(WorkPool, self._api.get(f"/work-pools/{segment(name)}"))

    def list_work_pools(self) -> list[WorkPool]:
        return [wire.load(WorkPool, item) for item in self._api.get("/work-pools")["items"]]

    def worker_heartbeat(self, worker: Worker) -> None:
        self._api.request("PUT", f"/workers/{segment(worker.id)}",
                          body=encode(wire.dump(worker)))

    def list_workers(self, *, work_pool: str | None = None, limit: int = 200) -> list[Worker]:
        params: dict[str, Any] = {"limit": min(limit, WORKER_PAGE)}
        if work_pool is not None:
            params["work_pool"] = work_pool
        return [wire.load(Worker, item) for item in self._api.get("/workers", params)["items"]]

    # -- events ---------------------------------------------------------------------------

    def save_event(self, event: Event) -> Event:
        """Store the record as it is (no trigger fires: emitting is POST /api/events)."""
        data = self._api.request("PUT", f"/events/{segment(event.id)}",
                                 body=encode(wire.dump(event)))
        return wire.load(Event, data)

    def read_event(self, event_id: str) -> Event:
        return wire.load(Event, self._api.get(f"/events/{segment(event_id)}"))

    def list_events(self, *, name: str | None = None, since: float | None = None,
                    limit: int = 50, offset: int = 0) -> list[Event]:
        params: dict[str, Any] = {k: v for k, v in (("name", name), ("since", since))
                                  if v is not None}
        items: list[Event] = []
        while limit > 0:
            n = min(limit, EVENT_PAGE)
            found = self._api.get("/events", {**params, "limit": n, "offset": offset})
            items.extend(wire.load(Event, item) for item in found["items"])
            if len(found["items"]) < n:
                break
            limit, offset = limit - n, offset + n
        return items

    # -- concurrency limits ---------------------------------------------------------------

    def set_concurrency_limit(self, tag: str, limit: int, now: float) -> ConcurrencyLimit:
        data = self._api.request("PUT", f"/concurrency-limits/{segment(tag)}",
                                 body=encode({"limit": limit, "now": now}))
        return wire.load(ConcurrencyLimit, data)

    def list_concurrency_limits(self, now: float) -> list[ConcurrencyLimit]:
        items = self._api.get("/concurrency-limits", {"now": now})["items"]
        return [wire.load(ConcurrencyLimit, item) for item in items]

    def delete_concurrency_limit(self, tag: str) -> None:
        self._api.request("DELETE", f"/concurrency-limits/{segment(tag)}")

    def acquire_concurrency_slots(self, tags: Sequence[str], holder: str,
                                  flow_run_id: str | None, now: float,
                                  lease_seconds: float) -> bool:
        if not tags:
            return True
        data = self._api.post("/concurrency-slots/acquire", {
            "tags": list(tags), "holder": holder, "flow_run_id": flow_run_id, "now": now,
            "lease_seconds": lease_seconds})
        return bool(data["acquired"])

    def release_concurrency_slots(self, holder: str) -> None:
        self._api.post("/concurrency-slots/release", {"holder": holder})

    def renew_concurrency_slots(self, flow_run_ids: Iterable[str], now: float,
                                lease_seconds: float) -> None:
        ids = list(flow_run_ids)
        if ids:
            self._api.post("/concurrency-slots/renew", {"flow_run_ids": ids, "now": now,
                                                        "lease_seconds": lease_seconds})


def _ref_path(ref: str) -> str:
    """FLOW_NAME/NAME keeps its slash (the route takes a path); each part is escaped."""
    return "/".join(segment(part) for part in ref.split("/"))


def _deployment_filters(flow_name: str | None, work_pool: str | None,
                        paused: bool | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if flow_name is not None:
        params["flow_name"] = flow_name
    if work_pool is not None:
        params["work_pool"] = work_pool
    if paused is not None:
        params["paused"] = "true" if paused else "false"
    return params
