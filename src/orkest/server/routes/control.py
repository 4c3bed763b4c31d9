"""The actions a person takes on a flow run from the UI: cancel, resume, retry, mark."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from orkest.core.states import StateType
from orkest.server import actions, models
from orkest.server.respond import NulInBody, RunId, Store, answer
from orkest.store import wire

router = APIRouter(tags=["flow run actions"])


@router.post("/flow_runs/{flow_run_id}/cancel", status_code=202, response_model=None,
             responses={202: {"model": models.ActionOut}})
def cancel(store: Store, flow_run_id: RunId, nul: NulInBody,
           body: models.CancelIn | None = None) -> Response:
    """Stop the run: its process is asked to cancel ("requested"), or, when nothing runs
    it (scheduled, or its process is gone), it is marked CANCELLED here ("done").
    A finished run is 409."""
    if nul and body is not None:
        models.scrub_nul(body)
    status, run = actions.cancel(store, flow_run_id, body.message if body else None)
    return answer({"status": status, "flow_run": wire.dump(run)}, 202)


@router.post("/flow_runs/{flow_run_id}/resume", status_code=202, response_model=None,
             responses={202: {"model": models.ActionOut}})
def resume(store: Store, flow_run_id: RunId, body: models.ResumeIn | None = None) -> Response:
    """Resume a PAUSED run, with `input` for a flow that waits for some; 409 otherwise."""
    run = actions.resume(store, flow_run_id, body.input if body else None)
    return answer({"status": "requested", "flow_run": wire.dump(run)}, 202)


@router.post("/flow_runs/{flow_run_id}/retry", status_code=202, response_model=None,
             responses={202: {"model": models.RetryOut}})
def retry(request: Request, store: Store, flow_run_id: RunId) -> Response:
    """Rerun a FAILED, CRASHED or CANCELLED run from its failure, in a new process on the
    server (`orkest flow-run retry ID`); completed tasks keep their results."""
    config = request.app.state.config
    started = actions.retry(store, flow_run_id, database_url=config.database_url,
                            home=config.home)
    return answer({"flow_run_id": started.flow_run_id, "pid": started.pid,
                   "log": str(started.log)}, 202)


@router.post("/flow_runs/{flow_run_id}/set_state", response_model=None,
             responses={200: {"model": models.FlowRun}})
def set_state(request: Request, store: Store, flow_run_id: RunId,
              body: models.MarkIn, nul: NulInBody) -> Response:
    """Mark the run COMPLETED or FAILED by hand (409 while its process still runs it)."""
    if nul:
        models.scrub_nul(body)
    run = actions.mark(store, flow_run_id, StateType(body.state.value), body.message)
    request.app.state.metrics.observe_run(run)
    return answer(wire.dump(run))
