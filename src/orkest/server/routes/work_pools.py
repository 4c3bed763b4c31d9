"""Work pools, workers (heartbeats, claims) and concurrency limits.

A worker claims runs with a long poll: when nothing is due, POST /work-pools/{name}/claim
waits (up to `wait_seconds`) re-checking every CLAIM_POLL_SECONDS, and answers as soon as
it has claimed runs, so a worker learns of a new run at once without a tight loop of
requests. The wait runs on the event loop; each check runs the store's blocking claim in
the thread pool.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from orkest.core.deployments import ConcurrencyLimit, Event, Worker, WorkPool
from orkest.errors import ObjectNotFound
from orkest.server import models
from orkest.server import models_orchestration as om
from orkest.server.respond import NulInBody, Text, Timestamp, answer, dump_all, no_content
from orkest.server.routes.deployments import Orchestration, orchestration_of
from orkest.store import wire

router = APIRouter(tags=["work pools, workers and limits"])

CLAIM_POLL_SECONDS = 0.05
MAX_WORKERS_PAGE = 1000

PoolName = Annotated[str, Path(min_length=1, max_length=1000)]
Tag = Annotated[str, Path(min_length=1, max_length=1000)]
RunId = Annotated[str, Path(min_length=1, max_length=256)]


def _now(given: float | None) -> float:
    return time.time() if given is None else given


# -- work pools ----------------------------------------------------------------------------

@router.get("/work-pools", response_model=None, responses={200: {"model": om.WorkPoolPage}})
def list_work_pools(store: Orchestration) -> Response:
    """Every work pool, by name."""
    return answer({"items": dump_all(store.list_work_pools())})


@router.put("/work-pools", response_model=None, status_code=201,
            responses={200: {"model": WorkPool, "description": "Updated"},
                       201: {"model": WorkPool, "description": "Created"}})
def save_work_pool(store: Orchestration, body: om.WorkPoolIn, nul: NulInBody) -> Response:
    """Create a work pool, or update the one of that name (keeping its creation time)."""
    if nul:
        models.scrub_nul(body)
    try:
        existed = store.read_work_pool(body.name) is not None
    except ObjectNotFound:
        existed = False
    pool = WorkPool(body.name, _now(body.created_ts), body.concurrency_limit, body.paused,
                    body.description)
    return answer(wire.dump(store.save_work_pool(pool)), 200 if existed else 201)


@router.post("/work-pools/{name:path}/claim", response_model=None,
             responses={200: {"model": om.ClaimedRuns}})
async def claim(request: Request, name: PoolName, body: om.ClaimIn,
                nul: NulInBody) -> Response:
    """Move up to `limit` due SCHEDULED runs of the pool to PENDING for this worker
    (highest priority first, then earliest due; pool and deployment limits hold). When
    none is due, wait up to `wait_seconds` for one: a long poll (for workers)."""
    if nul:
        models.scrub_nul(body)
    store = orchestration_of(request)
    started = time.monotonic()
    # A server may wait less than asked (app.state.max_claim_wait: tests that fuzz it).
    cap = getattr(request.app.state, "max_claim_wait", om.MAX_CLAIM_WAIT)
    deadline = started + min(body.wait_seconds, cap)
    now = _now(body.now)
    while True:
        claimed = await run_in_threadpool(store.claim_flow_runs, name, body.worker_id,
                                          limit=body.limit, now=now)
        if claimed or body.limit == 0 or time.monotonic() >= deadline:
            break
        await asyncio.sleep(min(CLAIM_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        if await request.is_disconnected():  # the worker went away: claim nothing for it
            break
        # The claimer's clock, moved on by the time waited (or the server's own).
        now = _now(body.now) + (time.monotonic() - started) if body.now is not None \
            else time.time()
    return answer({"flow_runs": dump_all(claimed)})


@router.get("/work-pools/{name:path}", response_model=None,
            responses={200: {"model": WorkPool}})
def read_work_pool(store: Orchestration, name: PoolName) -> Response:
    return answer(wire.dump(store.read_work_pool(name)))


# -- workers -------------------------------------------------------------------------------

@router.get("/workers", response_model=None, responses={200: {"model": om.WorkerPage}})
def list_workers(store: Orchestration, work_pool: Text = None,
                 limit: Annotated[int, Query(ge=0, le=MAX_WORKERS_PAGE)] = 200) -> Response:
    """Workers by newest heartbeat first (a worker that stopped says so in `status`)."""
    return answer({"items": dump_all(store.list_workers(work_pool=work_pool, limit=limit))})


@router.put("/workers/{worker_id}", status_code=204, response_class=Response)
def worker_heartbeat(store: Orchestration, worker_id: RunId, body: om.WorkerIn,
                     nul: NulInBody) -> Response:
    """A worker's heartbeat: insert or refresh its record (load, status, time)."""
    if nul:
        models.scrub_nul(body)
    if body.id is not None and body.id != worker_id:
        raise ValueError(f"id {body.id!r} in the body is not the path's {worker_id!r}")
    store.worker_heartbeat(Worker(
        worker_id, body.name, body.work_pool, body.hostname, body.pid, body.started_ts,
        _now(body.heartbeat_ts), body.concurrency, body.running, body.status))
    return no_content()


# -- runs of pools (for workers and schedulers) --------------------------------------------

@router.post("/flow_runs/mark-late", response_model=None,
             responses={200: {"model": om.IdList}})
def mark_late(store: Orchestration, body: om.NowIn) -> Response:
    """Name "Late" the scheduled runs past their deployment's grace period; their ids.
    Also reachable as /api/flow-runs/mark-late."""
    return answer({"flow_run_ids": store.mark_late_runs(_now(body.now))})


@router.post("/flow_runs/{flow_run_id}/release", response_model=None,
             responses={200: {"model": om.Released}})
def release(store: Orchestration, flow_run_id: RunId, body: om.ReleaseIn,
            nul: NulInBody) -> Response:
    """Hand a claimed run that has not started back to its pool (a worker stopping)."""
    if nul:
        models.scrub_nul(body)
    return answer({"released": store.release_flow_run(flow_run_id, body.worker_id,
                                                      _now(body.now))})


@router.post("/flow_runs/{flow_run_id}/reschedule", response_model=None,
             responses={200: {"model": om.Rescheduled}})
def reschedule(store: Orchestration, flow_run_id: RunId, body: om.RescheduleIn,
               nul: NulInBody) -> Response:
    """Put a CRASHED run of a deployment back in its pool (AwaitingRetry)."""
    if nul:
        models.scrub_nul(body)
    return answer({"rescheduled": store.reschedule_flow_run(flow_run_id, _now(body.now),
                                                            body.message)})


# -- concurrency limits and slots ----------------------------------------------------------

@router.get("/concurrency-limits", response_model=None,
            responses={200: {"model": om.ConcurrencyLimitPage}})
def list_limits(store: Orchestration, now: Timestamp = None) -> Response:
    """Every tag limit with its slots taken now (expired leases do not count)."""
    return answer({"items": dump_all(store.list_concurrency_limits(_now(now)))})


@router.put("/concurrency-limits/{tag:path}", response_model=None,
            responses={200: {"model": ConcurrencyLimit}})
def set_limit(store: Orchestration, tag: Tag, body: om.LimitIn) -> Response:
    """At most `limit` task runs carrying `tag` at once, across every worker."""
    return answer(wire.dump(store.set_concurrency_limit(tag, body.limit, _now(body.now))))


@router.delete("/concurrency-limits/{tag:path}", status_code=204, response_class=Response)
def delete_limit(store: Orchestration, tag: Tag) -> Response:
    store.delete_concurrency_limit(tag)
    return no_content()


@router.post("/concurrency-slots/acquire", response_model=None,
             responses={200: {"model": om.Acquired}})
def acquire_slots(store: Orchestration, body: om.AcquireIn, nul: NulInBody) -> Response:
    """One slot of every limited tag for `holder`, or none when any is full (for
    workers' task runs: the lease ends unless renewed)."""
    if nul:
        models.scrub_nul(body)
    done = store.acquire_concurrency_slots(body.tags, body.holder, body.flow_run_id,
                                           _now(body.now), body.lease_seconds)
    return answer({"acquired": done})


@router.post("/concurrency-slots/release", status_code=204, response_class=Response)
def release_slots(store: Orchestration, body: om.HolderIn, nul: NulInBody) -> Response:
    if nul:
        models.scrub_nul(body)
    store.release_concurrency_slots(body.holder)
    return no_content()


@router.post("/concurrency-slots/renew", status_code=204, response_class=Response)
def renew_slots(store: Orchestration, body: om.RenewIn, nul: NulInBody) -> Response:
    """Extend the leases of the slots held by task runs of these (live) flow runs."""
    if nul:
        models.scrub_nul(body)
    store.renew_concurrency_slots(body.flow_run_ids, _now(body.now), body.lease_seconds)
    return no_content()


# -- events (the store's save; emitting and listing are in routes/events.py) ----------------

@router.put("/events/{event_id}", response_model=None, responses={200: {"model": Event}})
def save_event(store: Orchestration, event_id: RunId, body: om.EventIn,
               nul: NulInBody) -> Response:
    """Store an event record as it is (it fires no trigger: POST /api/events does that)."""
    if nul:
        models.scrub_nul(body)
    if body.id is not None and body.id != event_id:
        raise ValueError(f"id {body.id!r} in the body is not the path's {event_id!r}")
    event = Event(event_id, body.name, body.ts, body.source, body.payload, body.resource,
                  body.flow_run_ids)
    return answer(wire.dump(store.save_event(event)))
