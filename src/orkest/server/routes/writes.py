"""The RunStore port's writes over HTTP, for engines and CLIs that run with ORKEST_API_URL.

Each route is one port method (docs/api.md, "Writing"), so orkest.client.RemoteRunStore
stays a thin client and passes the same contract suite as the local stores.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from orkest.core.records import FlowRun, LogLine, TaskRun, WriteBatch
from orkest.core.states import State, StateType
from orkest.core.transitions import ENGINE_POLICY, MANUAL_POLICY, RERUN_POLICY, Policy
from orkest.server import models
from orkest.server.config import MAX_LOG_MESSAGE_BYTES
from orkest.server.respond import NulInBody, RunId, Store, answer, no_content
from orkest.store import wire

router = APIRouter(tags=["writing (the RunStore port)"])

_POLICIES = {p.name: p for p in (ENGINE_POLICY, RERUN_POLICY, MANUAL_POLICY)}
_FINISH = "finish-as-"
INT32_MAX = 2**31 - 1
_INT_FIELDS: dict[type, tuple[str, ...]] = {
    FlowRun: ("run_count", "retries", "pid", "priority"),
    TaskRun: ("run_count", "retries", "peak_rss_bytes"),
    LogLine: ("level",),
}
Key = Annotated[str, Path(min_length=1, max_length=1024)]


def policy_named(name: str) -> Policy:
    """A policy by the name the client sends (`Policy.name`): the fixed three, the
    reaper's "reap-orphan", or the "finish-as-<state type>" of cancels and workers."""
    policy = _POLICIES.get(name)
    if policy is not None:
        return policy
    if name == "reap-orphan":
        from orkest.services.reaper import REAPER_POLICY

        return REAPER_POLICY
    if name.startswith(_FINISH):
        from orkest.services.reaper import finishing_policy

        try:
            return finishing_policy(StateType(name[len(_FINISH):].upper()))
        except ValueError:
            pass
    raise ValueError(f"Unknown policy {name!r}: use engine, rerun, manual, reap-orphan or "
                     "finish-as-<state type>")


def to_batch(body: models.BatchIn) -> WriteBatch:
    """The validated body as a WriteBatch, refusing what no column can hold."""
    batch = WriteBatch(states=body.states, logs=body.logs, cache=body.cache,
                       results=[r.record() for r in body.results])
    for run in body.flow_runs:
        batch.flow_runs[run.id] = run
    for task in body.task_runs:
        batch.task_runs[task.id] = task
    for records in (body.flow_runs, body.task_runs, body.logs):
        for record in records:
            _check_ints(record)
    for state in body.states:
        if state.run_kind not in ("flow", "task"):
            raise ValueError(f"state record run_kind must be 'flow' or 'task', "
                             f"not {state.run_kind!r}")
    for line in body.logs:
        if len(line.message) > MAX_LOG_MESSAGE_BYTES // 4 and (
                len(line.message.encode("utf-8", "surrogatepass")) > MAX_LOG_MESSAGE_BYTES):
            raise HTTPException(413, f"A log message is longer than the limit of "
                                     f"{MAX_LOG_MESSAGE_BYTES} bytes (64 KiB) per line; "
                                     "truncate it before sending.")
    return batch


def _check_ints(record: object) -> None:
    for name in _INT_FIELDS[type(record)]:
        value = getattr(record, name)
        # INTEGER columns are 32-bit on PostgreSQL; only peak_rss_bytes is a BIGINT.
        bound = models.INT_MAX if name == "peak_rss_bytes" else INT32_MAX
        if value is not None and not -bound <= value <= bound:
            raise ValueError(f"{type(record).__name__}.{name} is out of range: {value} "
                             f"(at most {bound})")


async def batch_body(request: Request) -> models.BatchIn:
    """The body parsed by pydantic straight from the bytes: the engine's hot path (a
    3x cheaper parse than json.loads followed by validation of the Python objects)."""
    try:
        return models.BatchIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


BATCH_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/BatchIn"}}}}}


@router.post("/batches", status_code=204, response_class=Response,
             openapi_extra=BATCH_BODY_DOC)
def write_batch(request: Request, store: Store,
                body: Annotated[models.BatchIn, Depends(batch_body)],
                nul: NulInBody) -> Response:
    """Store a batch atomically (run snapshots upsert by id)."""
    if nul:
        models.scrub_nul(body)
    batch = to_batch(body)
    store.write(batch)
    request.app.state.metrics.observe_batch(batch)
    if batch.task_runs or batch.flow_runs:
        request.app.state.pages.drop([*batch.flow_runs,
                                      *(t.flow_run_id for t in batch.task_runs.values())])
    return no_content()


@router.post("/runs/{kind}/{run_id}/state", response_model=None,
             responses={200: {"model": models.FlowRun | models.TaskRun}})
def set_run_state(request: Request, store: Store, kind: Literal["flow", "task"],
                  run_id: RunId, body: models.SetRunStateIn, nul: NulInBody) -> Response:
    """Move a run to a state now, checked against the named policy (409 if illegal)."""
    if nul:
        models.scrub_nul(body)
    s = body.state
    state = State(s.type, s.name, s.message, s.ts, result_ref=s.result_ref)
    run = store.set_state(run_id, kind, state, policy_named(body.policy))
    request.app.state.metrics.observe_run(run)
    request.app.state.pages.drop([run.id if isinstance(run, FlowRun) else run.flow_run_id])
    return answer(wire.dump(run))


@router.post("/flow_runs/{flow_run_id}/requests", status_code=204, response_class=Response)
def request_action(store: Store, flow_run_id: RunId, body: models.RequestIn) -> Response:
    """Ask the process that owns the run to act; it reads and clears the request."""
    store.request_action(flow_run_id, body.action.value, body.payload)
    return no_content()


@router.post("/requests/take", response_model=None,
             responses={200: {"description": '{"<flow run id>": [action, payload]}'}})
def take_requests(store: Store, body: models.RunIdsIn, nul: NulInBody) -> Response:
    """Read and clear the pending requests of these runs."""
    if nul:
        models.scrub_nul(body)
    taken = store.take_requests(body.flow_run_ids)
    return answer({run_id: [action, payload] for run_id, (action, payload) in taken.items()})


@router.post("/heartbeats", status_code=204, response_class=Response)
def heartbeat(store: Store, body: models.HeartbeatIn, nul: NulInBody) -> Response:
    if nul:
        models.scrub_nul(body)
    store.heartbeat(body.flow_run_ids, body.now)
    return no_content()


@router.get("/cache/{key:path}", response_model=None,
            responses={200: {"model": models.CacheEntry}})
def lookup_cache(store: Store, key: Key,
                 now: Annotated[float | None, Query(allow_inf_nan=False)] = None) -> Response:
    """The newest unexpired cache entry for the key at `now` (default: the server's now)."""
    entry = store.lookup_cache(key, time.time() if now is None else now)
    if entry is None:
        raise HTTPException(404, f"No unexpired cache entry for key {key!r}.")
    return answer(wire.dump(entry))
