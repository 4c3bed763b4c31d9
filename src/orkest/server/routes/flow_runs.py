"""Reading flows and flow runs: lists with filters and pages, one run, its tasks, states, logs."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from orkest.core.states import TERMINAL_TYPES, StateType
from orkest.server import models
from orkest.server.respond import (
    Offset,
    RunId,
    States,
    Store,
    Text,
    Timestamp,
    answer,
    dump_all,
    flow_run_id_or_given,
    known_total,
    limit_type,
    page,
    state_filter,
    task_run_id_or_given,
)
from orkest.server.routes.logs import AfterId, LogLimit, MinLevel, OptionalId, log_page

MAX_FLOW_RUN_PAGE = 500
MAX_FLOW_PAGE = 500
MAX_TASK_RUN_PAGE = 20_000

FlowRunLimit = limit_type(MAX_FLOW_RUN_PAGE)
FlowLimit = limit_type(MAX_FLOW_PAGE)
TaskRunLimit = limit_type(MAX_TASK_RUN_PAGE)

router = APIRouter(tags=["flow runs"])


def flow_run_filters(flow_name: str | None, states: list[StateType] | None,
                     tag: str | None, created_after: float | None,
                     created_before: float | None,
                     parent_flow_run_id: str | None,
                     deployment_id: str | None = None) -> dict[str, object]:
    return {"flow_name": flow_name, "state_types": state_filter(states), "tag": tag,
            "created_after": created_after, "created_before": created_before,
            "parent_flow_run_id": parent_flow_run_id, "deployment_id": deployment_id}


@router.get("/flows", response_model=None, responses={200: {"model": models.FlowPage}})
def list_flows(store: Store, limit: FlowLimit = 100, offset: Offset = 0) -> Response:
    """Flow names that have runs, by name, with their run count and newest run's time."""
    flows = store.list_flows(limit=limit, offset=offset)
    items = [{"name": f.name, "run_count": f.run_count, "last_run_ts": f.last_run_ts}
             for f in flows]
    return answer({"items": items, "limit": limit, "offset": offset})


@router.get("/flow_runs", response_model=None, responses={200: {"model": models.FlowRunPage}})
def list_flow_runs(store: Store, flow_name: Text = None, state: States = None,
                   tag: Text = None, created_after: Timestamp = None,
                   created_before: Timestamp = None, parent_flow_run_id: Text = None,
                   deployment_id: Text = None, limit: FlowRunLimit = 50,
                   offset: Offset = 0) -> Response:
    """Flow runs, newest first; `created_after` is inclusive, `created_before` exclusive."""
    filters = flow_run_filters(flow_name, state, tag, created_after, created_before,
                               parent_flow_run_id, deployment_id)
    runs = store.list_flow_runs(**filters, limit=limit, offset=offset)  # type: ignore[arg-type]
    total = known_total(runs, limit, offset)
    if total is None:
        total = store.count_flow_runs(**filters)  # type: ignore[arg-type]
    return page(runs, limit=limit, offset=offset, total=total)


@router.get("/counts/flow_runs", response_model=None, responses={200: {"model": models.Count}})
def count_flow_runs(store: Store, flow_name: Text = None, state: States = None,
                    tag: Text = None, created_after: Timestamp = None,
                    created_before: Timestamp = None,
                    parent_flow_run_id: Text = None, deployment_id: Text = None) -> Response:
    """How many flow runs the list would give (same filters, no page)."""
    filters = flow_run_filters(flow_name, state, tag, created_after, created_before,
                               parent_flow_run_id, deployment_id)
    return answer({"count": store.count_flow_runs(**filters)})  # type: ignore[arg-type]


@router.get("/flow_runs/{flow_run_id}", response_model=None,
            responses={200: {"model": models.FlowRun}})
def read_flow_run(store: Store, flow_run_id: RunId) -> Response:
    """One flow run (with its `graph` for DAGs and declarative flows)."""
    from orkest.store import wire

    return answer(wire.dump(store.read_flow_run(flow_run_id)))


@router.get("/flow_runs/{flow_run_id}/task_runs", response_model=None,
            responses={200: {"model": models.TaskRunPage}})
def list_flow_run_task_runs(request: Request, store: Store, flow_run_id: RunId,
                            state: States = None, limit: TaskRunLimit = 1000,
                            offset: Offset = 0) -> Response:
    """The flow run's task runs in creation order."""
    run = store.read_flow_run(flow_run_id)
    states = state_filter(state)
    pages = request.app.state.pages
    key = None
    if run.state_type in TERMINAL_TYPES:  # its task runs are final: the page may be kept
        key = (run.state_type, run.state_ts, tuple(states or ()), limit, offset)
        body = pages.get(run.id, key)
        if body is not None:
            return Response(body, media_type="application/json")
    tasks = store.list_task_runs(flow_run_id=run.id, state_types=states, limit=limit,
                                 offset=offset)
    total = known_total(tasks, limit, offset)
    if total is None:
        total = store.count_task_runs(flow_run_id=run.id, state_types=states)
    response = page(tasks, limit=limit, offset=offset, total=total)
    if key is not None:
        pages.put(run.id, key, bytes(response.body))
    return response


@router.get("/flow_runs/{flow_run_id}/states", response_model=None,
            responses={200: {"model": list[models.StateRecord]}})
def read_flow_run_states(store: Store, flow_run_id: RunId) -> Response:
    """The flow run's state history, oldest first."""
    run_id = flow_run_id_or_given(store, flow_run_id)
    states = store.read_states(run_id)
    if not states and run_id == flow_run_id:
        store.read_flow_run(flow_run_id)  # 404 for an unknown run
    return answer(dump_all(states))


@router.get("/flow_runs/{flow_run_id}/logs", response_model=None,
            responses={200: {"model": models.LogPage}})
def read_flow_run_logs(store: Store, flow_run_id: RunId, task_run_id: OptionalId = None,
                       after_id: AfterId = 0, limit: LogLimit = 1000,
                       min_level: MinLevel = 0) -> Response:
    """The flow run's log lines (and its tasks'), oldest first, after a cursor.

    Lines may be stored before their run: an id no run has gives its lines, if any.
    """
    run_id = flow_run_id_or_given(store, flow_run_id)
    if task_run_id is not None:
        task_run_id, _ = task_run_id_or_given(store, task_run_id)
    return log_page(store, run_id, task_run_id, after_id, limit, min_level)
