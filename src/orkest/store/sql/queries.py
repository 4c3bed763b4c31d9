"""Read-side queries of the SQL store: filters, counts and the dashboard's aggregates.

Kept apart from store.py (writes and transactions): these are plain SELECTs, built the
same way for SQLite and PostgreSQL except where a dialect needs its own expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, Text, cast, func, select

from orkest.core.states import StateType
from orkest.store import semantics
from orkest.store.sql.tables import flow_runs, task_runs


def flow_run_conditions(
    flow_name: str | None,
    state_types: Sequence[StateType] | None,
    parent_flow_run_id: str | None,
    tag: str | None,
    created_after: float | None,
    created_before: float | None,
    deployment_id: str | None = None,
) -> list[ColumnElement[bool]]:
    c = flow_runs.c
    where: list[ColumnElement[bool]] = []
    if flow_name is not None:
        where.append(c.flow_name == flow_name)
    if state_types is not None:
        where.append(c.state_type.in_([str(t) for t in state_types]))
    if parent_flow_run_id is not None:
        where.append(c.parent_flow_run_id == parent_flow_run_id)
    if deployment_id is not None:
        where.append(c.deployment_id == deployment_id)
    if tag is not None:
        # Tags are a JSON list; the tag's own JSON text ("etl", quotes included) occurs in
        # it exactly when the list holds that tag.
        pattern = "%" + _escape_like(semantics.to_json(tag)) + "%"
        where.append(cast(c.tags, Text).like(pattern, escape="\\"))
    if created_after is not None:
        where.append(c.created_ts >= created_after)
    if created_before is not None:
        where.append(c.created_ts < created_before)
    return where


def task_run_conditions(flow_run_id: str | None, state_types: Sequence[StateType] | None
                        ) -> list[ColumnElement[bool]]:
    c = task_runs.c
    where: list[ColumnElement[bool]] = []
    if flow_run_id is not None:
        where.append(c.flow_run_id == flow_run_id)
    if state_types is not None:
        where.append(c.state_type.in_([str(t) for t in state_types]))
    return where


def count(table: Any, where: list[ColumnElement[bool]]) -> Select[Any]:
    return select(func.count()).select_from(table).where(*where)


def flows(limit: int, offset: int) -> Select[Any]:
    c = flow_runs.c
    return (select(c.flow_name, func.count(), func.max(c.created_ts))
            .group_by(c.flow_name).order_by(c.flow_name).limit(limit).offset(offset))


def flow_run_counts(dialect: str, since: float, bucket_seconds: float) -> Select[Any]:
    c = flow_runs.c
    ratio = c.created_ts / bucket_seconds
    # SQLite's CAST truncates (created_ts is positive); PostgreSQL's would round.
    index = cast(ratio, Integer) if dialect == "sqlite" else func.floor(ratio)
    bucket = (cast(index, Float) * bucket_seconds).label("bucket")
    return (select(bucket, c.state_type, func.count()).where(c.created_ts >= since)
            .group_by(bucket, c.state_type).order_by(bucket, c.state_type))


def slowest_tasks(since: float, limit: int) -> Select[Any]:
    c = task_runs.c
    duration = c.end_ts - c.start_ts
    mean = func.avg(duration).label("mean")
    return (select(c.task_name, func.count(), mean, func.max(duration))
            .where(c.created_ts >= since, c.start_ts.is_not(None), c.end_ts.is_not(None))
            .group_by(c.task_name).order_by(mean.desc(), c.task_name).limit(limit))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
