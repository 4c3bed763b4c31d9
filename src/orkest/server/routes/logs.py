"""Log pages with a cursor (`after_id` -> `next_after_id`), shared by every logs route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from orkest.core.ports import RunStore
from orkest.server import models
from orkest.server.respond import (
    MAX_ID_LENGTH,
    Store,
    answer,
    dump_all,
    flow_run_id_or_given,
    limit_type,
    task_run_id_or_given,
)

MAX_LOG_PAGE = 10_000
# With min_level, how many lines one request reads at most while looking for matches.
SCAN_LIMIT = 50_000
_CHUNK = 5_000

LogLimit = limit_type(MAX_LOG_PAGE)
AfterId = Annotated[int, Query(ge=0, le=2**63 - 1, description="Lines after this log id")]
MinLevel = Annotated[int, Query(ge=0, le=1000, description="Only lines at this level or above")]
OptionalId = Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH)]

router = APIRouter(tags=["logs"])


def log_page(store: RunStore, flow_run_id: str | None, task_run_id: str | None,
             after_id: int, limit: int, min_level: int) -> Response:
    """Lines oldest first; `next_after_id` is the cursor of the next call.

    With `min_level`, lines below it are skipped on the server: the page is full unless
    the end of the log (or SCAN_LIMIT lines read) came first.
    """
    cursor = after_id
    kept = []
    if limit and min_level <= 0:
        kept = store.read_logs(flow_run_id, task_run_id=task_run_id, after_id=after_id,
                               limit=limit)
        cursor = kept[-1].id if kept else after_id
    scanned = 0
    while limit and min_level > 0 and scanned < SCAN_LIMIT:
        n = min(_CHUNK, SCAN_LIMIT - scanned)
        lines = store.read_logs(flow_run_id, task_run_id=task_run_id, after_id=cursor, limit=n)
        scanned += len(lines)
        for line in lines:
            cursor = line.id
            if line.level >= min_level:
                kept.append(line)
                if len(kept) == limit:
                    break
        if len(kept) == limit or len(lines) < n:
            break
    return answer({"items": dump_all(kept), "next_after_id": cursor})


@router.get("/logs", response_model=None, responses={200: {"model": models.LogPage}})
def list_logs(store: Store, flow_run_id: OptionalId = None, task_run_id: OptionalId = None,
              after_id: AfterId = 0, limit: LogLimit = 1000,
              min_level: MinLevel = 0) -> Response:
    """Log lines of a flow run and/or a task run (at least one of the two)."""
    if flow_run_id is None and task_run_id is None:
        raise HTTPException(422, "Give a flow_run_id or a task_run_id.")
    if flow_run_id is not None:
        flow_run_id = flow_run_id_or_given(store, flow_run_id)
    if task_run_id is not None:
        task_run_id, owner = task_run_id_or_given(store, task_run_id)
        flow_run_id = flow_run_id or owner
    return log_page(store, flow_run_id, task_run_id, after_id, limit, min_level)
