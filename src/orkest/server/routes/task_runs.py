"""Reading task runs: across flow runs or within one, one task run, its states and logs."""

from __future__ import annotations

from fastapi import APIRouter, Response

from orkest.server import models
from orkest.server.respond import (
    Offset,
    RunId,
    States,
    Store,
    answer,
    dump_all,
    flow_run_id_or_given,
    known_total,
    state_filter,
    task_run_id_or_given,
)
from orkest.server.routes.flow_runs import TaskRunLimit
from orkest.server.routes.logs import AfterId, LogLimit, MinLevel, OptionalId, log_page

router = APIRouter(tags=["task runs"])


@router.get("/task_runs", response_model=None, responses={200: {"model": models.TaskRunPage}})
def list_task_runs(store: Store, flow_run_id: OptionalId = None, state: States = None,
                   limit: TaskRunLimit = 200, offset: Offset = 0) -> Response:
    """Task runs: in creation order within a flow run, newest first across flow runs."""
    run_id = None if flow_run_id is None else flow_run_id_or_given(store, flow_run_id)
    states = state_filter(state)
    tasks = store.list_task_runs(flow_run_id=run_id, state_types=states, limit=limit,
                                 offset=offset)
    total = known_total(tasks, limit, offset)
    if total is None:
        total = store.count_task_runs(flow_run_id=run_id, state_types=states)
    return answer({"items": dump_all(tasks), "total": total, "limit": limit,
                   "offset": offset})


@router.get("/task_runs/{task_run_id}", response_model=None,
            responses={200: {"model": models.TaskRun}})
def read_task_run(store: Store, task_run_id: RunId) -> Response:
    from orkest.store import wire

    return answer(wire.dump(store.read_task_run(task_run_id)))


@router.get("/task_runs/{task_run_id}/states", response_model=None,
            responses={200: {"model": list[models.StateRecord]}})
def read_task_run_states(store: Store, task_run_id: RunId) -> Response:
    """The task run's state history, oldest first."""
    run_id, _ = task_run_id_or_given(store, task_run_id)
    states = store.read_states(run_id)
    if not states and run_id == task_run_id:
        store.read_task_run(task_run_id)  # 404 for an unknown run
    return answer(dump_all(states))


@router.get("/task_runs/{task_run_id}/logs", response_model=None,
            responses={200: {"model": models.LogPage}})
def read_task_run_logs(store: Store, task_run_id: RunId, after_id: AfterId = 0,
                       limit: LogLimit = 1000, min_level: MinLevel = 0) -> Response:
    """The task run's log lines (standalone task runs too), oldest first, after a cursor."""
    run_id, flow_run_id = task_run_id_or_given(store, task_run_id)
    return log_page(store, flow_run_id, run_id, after_id, limit, min_level)

