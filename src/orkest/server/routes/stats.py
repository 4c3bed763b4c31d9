"""The dashboard's aggregates, the health check and the Prometheus metrics."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from orkest.core.states import StateType
from orkest.server import models
from orkest.server.respond import Store, Timestamp, answer, dump_all

DAY = 86_400.0
MAX_SLOWEST = 100
# Finished runs that did not do their work, for the failure rate.
_FAILED = frozenset({StateType.FAILED, StateType.CRASHED})
_FINISHED = frozenset({StateType.COMPLETED, StateType.FAILED, StateType.CRASHED,
                       StateType.CANCELLED})

router = APIRouter(tags=["stats"])
metrics_router = APIRouter(tags=["stats"])


@router.get("/health", response_model=None, responses={200: {"model": models.Health}})
def health(request: Request) -> Response:
    """Whether the server is up (no key needed); touches no table."""
    from orkest import __version__

    return answer({"status": "ok", "version": __version__,
                   "database": request.app.state.config.database_kind})


@router.get("/stats/dashboard", response_model=None,
            responses={200: {"model": models.Dashboard}})
def dashboard(
    store: Store,
    since: Timestamp = None,
    bucket_seconds: Annotated[float, Query(ge=0.001, le=366 * DAY, allow_inf_nan=False)]
    = 3600.0,
    slowest_limit: Annotated[int, Query(ge=0, le=MAX_SLOWEST)] = 10,
) -> Response:
    """Flow runs created since `since` (default: 24 h ago) per time bucket and state, the
    failure rate among the finished ones, and the slowest tasks by mean duration."""
    since = time.time() - DAY if since is None else since
    counts = store.flow_run_counts(since=since, bucket_seconds=bucket_seconds)
    finished = sum(c.count for c in counts if c.state_type in _FINISHED)
    failed = sum(c.count for c in counts if c.state_type in _FAILED)
    slowest = store.slowest_tasks(since=since, limit=slowest_limit) if slowest_limit else []
    return answer({
        "runs_by_state": dump_all(counts),
        "failure_rate": failed / finished if finished else 0.0,
        "total": sum(c.count for c in counts),
        "slowest_tasks": [{"task_name": t.task_name, "runs": t.runs,
                           "mean_seconds": t.mean_seconds, "max_seconds": t.max_seconds}
                          for t in slowest],
    })


@metrics_router.get("/metrics", response_class=Response,
                    responses={200: {"content": {"text/plain": {}},
                                     "description": "Prometheus text format 0.0.4"}})
def metrics(request: Request, store: Store) -> Response:
    """Flow runs by state, task and flow run durations (histograms), active workers."""
    from orkest.server.metrics import CONTENT_TYPE

    text = request.app.state.metrics.render(store)
    return Response(text, media_type=CONTENT_TYPE)
