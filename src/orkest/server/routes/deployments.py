"""Deployments: register, list, inspect, pause, run (POST /api/deployments/{ref}/runs).

A deployment is named by its id, a unique id prefix, or FLOW_NAME/DEPLOYMENT_NAME (the
`{ref:path}` routes take the slash). Below the routes people use are the ones the
OrchestrationStore port needs (orkest.client.RemoteRunStore): for workers and schedulers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from orkest._internal.ids import new_id
from orkest.core.deployments import Deployment
from orkest.core.ports import OrchestrationStore, RunStore
from orkest.core.records import FlowRun
from orkest.errors import InvalidSchedule, ObjectNotFound, StoreError
from orkest.schedules import Schedule
from orkest.server import models
from orkest.server import models_orchestration as om
from orkest.server.respond import (
    NulInBody,
    Offset,
    Text,
    answer,
    known_total,
    limit_type,
    no_content,
    page,
)
from orkest.store import wire

router = APIRouter(tags=["deployments"])

MAX_DEPLOYMENT_PAGE = 500
NEXT_RUNS = 5
# A backfill creates at most this many runs per request; its dates lie in these years.
MAX_BACKFILL_RUNS = 10_000
BACKFILL_YEARS = (1970, 2200)
_FLOW_RUN_INTS = ("run_count", "retries", "pid", "priority")

DeploymentLimit = limit_type(MAX_DEPLOYMENT_PAGE)
Ref = Annotated[str, Path(min_length=1, max_length=2000,
                          description="An id, a unique id prefix, or FLOW_NAME/NAME")]
DeploymentId = Annotated[str, Path(min_length=1, max_length=256)]


class OrchestratingStore(RunStore, OrchestrationStore, Protocol):
    """A store that holds runs and deployments (SQL, or the HTTP client)."""


def orchestration_of(request: Request) -> OrchestratingStore:
    """The server's store, if it can hold deployments (the memory store cannot): 501."""
    store = request.app.state.store
    if not hasattr(store, "save_deployment"):
        raise HTTPException(501, "This server's store holds no deployments, work pools or "
                                 "workers: start it on SQLite or PostgreSQL "
                                 "(ORKEST_DATABASE_URL).")
    return store  # type: ignore[no-any-return]


Orchestration = Annotated[OrchestratingStore, Depends(orchestration_of)]


def view(deployment: Deployment, *, details: bool = True,
         now: float | None = None) -> dict[str, Any]:
    """The record as stored, plus its full name, schedules in words and next slots."""
    out = wire.dump(deployment)
    if not details:
        return out
    out["full_name"] = deployment.full_name
    descriptions, upcoming = [], []
    after = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
    for data in deployment.schedules:
        try:
            schedule = Schedule.from_dict(data)
            descriptions.append(schedule.describe())
            if not deployment.paused:
                upcoming.extend(schedule.next_runs(NEXT_RUNS, after=after))
        except (InvalidSchedule, ValueError, OverflowError) as exc:  # stored by an old version
            descriptions.append(f"Invalid schedule: {exc}")
    out["schedule_descriptions"] = descriptions
    unique = sorted(set(upcoming), key=lambda moment: moment.timestamp())
    out["next_runs"] = [moment.isoformat() for moment in unique[:NEXT_RUNS]]
    return out


def _check_definition(body: om.DeploymentIn) -> None:
    """A bad schedule is a 422 now, not a scheduler error later. Triggers are checked for
    their kind only: a FileArrival's path is the business of the host that watches it."""
    for i, data in enumerate(body.schedules):
        try:
            Schedule.from_dict(data)
        except InvalidSchedule as exc:
            raise ValueError(f"schedules[{i}]: {exc}") from None
    for i, data in enumerate(body.triggers):
        if not isinstance(data.get("type"), str):
            raise ValueError(f"triggers[{i}] has no 'type' (file_arrival, webhook, "
                             f"db_change, flow_run_finished or event): {data!r}")


# -- what people use -----------------------------------------------------------------------

@router.get("/deployments", response_model=None,
            responses={200: {"model": om.DeploymentPage}})
def list_deployments(store: Orchestration, flow_name: Text = None, work_pool: Text = None,
                     paused: bool | None = None, limit: DeploymentLimit = 100,
                     offset: Offset = 0,
                     details: Annotated[bool, Query(description=(
                         "false: the records alone, without schedules in words and next "
                         "runs (what the scheduler needs)"))] = True) -> Response:
    """Deployments by flow name, then name."""
    filters = {"flow_name": flow_name, "work_pool": work_pool, "paused": paused}
    found = store.list_deployments(**filters, limit=limit, offset=offset)  # type: ignore[arg-type]
    total = known_total(found, limit, offset)
    if total is None:
        total = store.count_deployments(**filters)  # type: ignore[arg-type]
    now = time.time()
    return answer({"items": [view(d, details=details, now=now) for d in found],
                   "total": total, "limit": limit, "offset": offset})


@router.put("/deployments", response_model=None, status_code=201,
            responses={200: {"model": om.DeploymentView, "description": "Updated"},
                       201: {"model": om.DeploymentView, "description": "Created"}})
def save_deployment(store: Orchestration, body: om.DeploymentIn, nul: NulInBody) -> Response:
    """Create or update (by FLOW/NAME) a deployment. An update keeps its id, creation time,
    whether it is paused and the scheduler's cursor; scheduled runs its new schedules no
    longer give are dropped. Its work pool is created if new."""
    from orkest.services.deployments import check_parameters, save

    if nul:
        models.scrub_nul(body)
    _check_definition(body)
    params = check_parameters(body.parameter_schema, body.parameters, body.flow_name,
                              partial=True)
    now = time.time()
    existing = _find(store, f"{body.flow_name}/{body.name}")
    if body.id is not None and (existing is None or existing.id != body.id):
        other = _find(store, body.id, exact=True)
        if other is not None:
            raise HTTPException(409, f"id {body.id!r} belongs to deployment "
                                     f"{other.full_name}, not {body.flow_name}/{body.name}")
    values = body.model_dump()
    values.update(id=body.id or new_id(), parameters=params,
                  created_ts=now if body.created_ts is None else body.created_ts,
                  updated_ts=now if body.updated_ts is None else body.updated_ts)
    saved = save(store, Deployment(**values), now=now)
    return answer(view(saved), 200 if existing is not None else 201)


@router.get("/deployments/{ref:path}/runs", response_model=None,
            responses={200: {"model": models.FlowRunPage}})
def list_deployment_runs(store: Orchestration, ref: Ref,
                         limit: Annotated[int, Query(ge=0, le=500)] = 50,
                         offset: Offset = 0) -> Response:
    """The deployment's flow runs, newest first."""
    deployment = store.read_deployment(ref)
    runs = store.list_flow_runs(deployment_id=deployment.id, limit=limit, offset=offset)
    total = known_total(runs, limit, offset)
    if total is None:
        total = store.count_flow_runs(deployment_id=deployment.id)
    return page(runs, limit=limit, offset=offset, total=total)


@router.post("/deployments/{ref:path}/runs", response_model=None, status_code=201,
             responses={201: {"model": models.FlowRun}})
def run_deployment(store: Orchestration, ref: Ref, body: om.RunDeploymentIn,
                   nul: NulInBody) -> Response:
    """A run of the deployment, due now (or at `scheduled_ts`): a worker of its pool runs
    it. Parameters go over the deployment's own; an unknown name is a 422 naming it."""
    from orkest.services.deployments import run_deployment as create_run

    if nul:
        models.scrub_nul(body)
    run = create_run(store, ref, body.parameters, scheduled_ts=body.scheduled_ts,
                     idempotency_key=body.idempotency_key, message="Run requested (API)")
    return answer(wire.dump(run), 201)


@router.post("/deployments/{ref:path}/backfill", response_model=None,
             responses={200: {"model": om.CreatedRuns}})
def backfill(store: Orchestration, ref: Ref, body: om.BackfillIn) -> Response:
    """One run per slot of its schedules in [start, end), each with its slot as
    logical_date, due now; slots that have a run already are skipped."""
    from orkest.services.scheduler import backfill as fill

    start, end = _utc(body.start, "start"), _utc(body.end, "end")
    deployment = store.read_deployment(ref)
    _check_backfill_size(deployment, start, end)
    created, skipped = fill(store, deployment.id, start, end)
    return answer({"created": [r.id for r in created], "skipped": skipped})


@router.get("/deployments/{ref:path}", response_model=None,
            responses={200: {"model": om.DeploymentView}})
def read_deployment(store: Orchestration, ref: Ref) -> Response:
    """One deployment, by id, unique id prefix or FLOW_NAME/NAME."""
    return answer(view(store.read_deployment(ref)))


@router.patch("/deployments/{ref:path}", response_model=None,
              responses={200: {"model": om.DeploymentView}})
def pause_deployment(store: Orchestration, ref: Ref, body: om.PauseIn) -> Response:
    """Pause (its schedules and triggers create no runs; the runs of its schedule slots
    that no worker holds yet are dropped) or resume it. A paused deployment still runs
    when asked by hand."""
    deployment = store.read_deployment(ref)
    updated = store.update_deployment(deployment.id, paused=body.paused)
    if body.paused:
        store.delete_scheduled_runs(deployment.id)
    return answer(view(updated))


@router.delete("/deployments/{ref:path}", status_code=204, response_class=Response)
def delete_deployment(store: Orchestration, ref: Ref) -> Response:
    """Forget it, and its runs still waiting to start (its past runs stay)."""
    store.delete_deployment(store.read_deployment(ref).id)
    return no_content()


# -- for workers and schedulers (the OrchestrationStore port) --------------------------------

@router.post("/deployments/cursors", status_code=204, response_class=Response)
def set_cursors(store: Orchestration, body: om.CursorsIn) -> Response:
    """The scheduler's cursors (the last slot created) of many deployments at once."""
    _no_nul_keys(body.cursors, "cursors")
    if body.cursors:
        store.set_deployment_cursors(body.cursors)
    return no_content()


@router.post("/deployments/{deployment_id}/update", response_model=None,
             responses={200: {"model": om.DeploymentView}})
def update_deployment(store: Orchestration, deployment_id: DeploymentId,
                      body: om.DeploymentChangesIn, nul: NulInBody) -> Response:
    """Change the given fields of a deployment, by id, and nothing else (no side effects:
    pausing here keeps its scheduled runs, unlike PATCH)."""
    if nul:
        models.scrub_nul(body)
    return answer(wire.dump(store.update_deployment(deployment_id, **body.changes())))


@router.post("/deployments/{deployment_id}/delete-scheduled", response_model=None,
             responses={200: {"model": om.Deleted}})
def delete_scheduled(store: Orchestration, deployment_id: DeploymentId,
                     body: om.DeleteScheduledIn) -> Response:
    """Drop the deployment's runs still SCHEDULED (no worker holds them), except those
    whose idempotency key is in `keep`."""
    return answer({"deleted": store.delete_scheduled_runs(deployment_id, keep=body.keep)})


@router.post("/flow_runs/create-scheduled", response_model=None,
             responses={200: {"model": om.CreatedRuns}})
def create_scheduled(store: Orchestration, body: om.CreateRunsIn, nul: NulInBody) -> Response:
    """Insert new runs with their first state; a run whose idempotency_key exists is
    skipped. Also reachable as /api/flow-runs/create-scheduled."""
    if nul:
        models.scrub_nul(body)
    runs = body.flow_runs
    _check_new_runs(runs)
    try:
        created = store.create_flow_runs(runs)
    except StoreError:
        _raise_if_taken(store, runs)
        raise
    return answer({"created": [r.id for r in created], "skipped": len(runs) - len(created)})


# -- helpers -------------------------------------------------------------------------------

def _find(store: OrchestratingStore, ref: str, *, exact: bool = False) -> Deployment | None:
    try:
        found = store.read_deployment(ref)
    except ObjectNotFound:
        return None
    return None if exact and found.id != ref else found


def _utc(moment: dt.datetime, field: str) -> dt.datetime:
    low, high = BACKFILL_YEARS
    if not low <= moment.year < high:
        raise ValueError(f"{field} {moment.isoformat()} must lie between the years {low} "
                         f"and {high}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _check_backfill_size(deployment: Deployment, start: dt.datetime,
                         end: dt.datetime) -> None:
    """Refuse a range with more slots than one request may create, before listing them."""
    total = 0
    before = start - dt.timedelta(microseconds=1)
    for data in deployment.schedules:
        slots = Schedule.from_dict(data).next_runs(MAX_BACKFILL_RUNS + 1, after=before)
        total += sum(1 for _ in itertools.takewhile(lambda s: s < end, slots))
        if total > MAX_BACKFILL_RUNS:
            raise ValueError(f"backfill from start {start.isoformat()} to end "
                             f"{end.isoformat()} gives more than {MAX_BACKFILL_RUNS} runs of "
                             f"{deployment.full_name}: backfill a shorter range at a time")


def _check_new_runs(runs: list[FlowRun]) -> None:
    seen: set[str] = set()
    for i, run in enumerate(runs):
        if run.id in seen:
            raise ValueError(f"flow_runs[{i}].id {run.id!r} appears twice in the request")
        seen.add(run.id)
        for name in _FLOW_RUN_INTS:
            value = getattr(run, name)
            if value is not None and not -om.INT32_MAX <= value <= om.INT32_MAX:
                raise ValueError(f"flow_runs[{i}].{name} is out of range: {value}")


def _raise_if_taken(store: OrchestratingStore, runs: list[FlowRun]) -> None:
    """After a failed insert: a 409 naming a run id that exists already (else the error
    was the database's own, and stands)."""
    for run in runs:
        try:
            found = store.read_flow_run(run.id)
        except ObjectNotFound:
            continue
        if found.id == run.id:
            raise HTTPException(409, f"A flow run with id {run.id!r} exists already; new "
                                     "runs need new ids")


def _no_nul_keys(mapping: dict[str, Any], field: str) -> None:
    if any("\x00" in key for key in mapping):
        raise ValueError(f"{field} has a key with a NUL character")
