"""Records to row tuples (for bulk.py) and rows back to records.

Columns are named like record fields (tables.py), and a row tuple lists them in field
order. JSON columns get their text here and StateType its string value: what the column
types would produce, without SQLAlchemy's per-row processing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from operator import attrgetter
from typing import Any

from orkest.core.records import (
    CacheEntry,
    FlowRun,
    LogLine,
    ResultBlob,
    StateRecord,
    TaskRun,
)
from orkest.core.states import StateType
from orkest.store.semantics import to_json


def _names(record_type: type, skip: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record_type) if f.name not in skip)


FLOW_RUN_COLUMNS = _names(FlowRun)
TASK_RUN_COLUMNS = _names(TaskRun)
STATE_COLUMNS = _names(StateRecord, ("id",))
LOG_COLUMNS = _names(LogLine, ("id",))
RESULT_COLUMNS = _names(ResultBlob)
CACHE_COLUMNS = _names(CacheEntry)

# attrgetter over many names returns a tuple in one C call: the write path is hot.
_get_flow_run = attrgetter(*FLOW_RUN_COLUMNS)
_get_task_run = attrgetter(*TASK_RUN_COLUMNS)
_get_state = attrgetter(*STATE_COLUMNS)
log_values = attrgetter(*LOG_COLUMNS)
result_values = attrgetter(*RESULT_COLUMNS)
cache_values = attrgetter(*CACHE_COLUMNS)

_FLOW_STATE = FLOW_RUN_COLUMNS.index("state_type")
_FLOW_JSON = tuple(FLOW_RUN_COLUMNS.index(n) for n in ("parameters", "tags"))
_FLOW_NULLABLE_JSON = tuple(FLOW_RUN_COLUMNS.index(n)
                            for n in ("requested_payload", "graph"))
_TASK_STATE = TASK_RUN_COLUMNS.index("state_type")
_TASK_JSON = tuple(TASK_RUN_COLUMNS.index(n) for n in ("tags", "parameters", "upstream"))
_STATE_TYPE = STATE_COLUMNS.index("type")


def flow_run_values(run: FlowRun) -> tuple[Any, ...]:
    values = list(_get_flow_run(run))
    values[_FLOW_STATE] = str(values[_FLOW_STATE])
    for i in _FLOW_JSON:
        values[i] = to_json(values[i])
    for i in _FLOW_NULLABLE_JSON:
        value = values[i]
        values[i] = None if value is None else to_json(value)
    return tuple(values)


def task_run_values(run: TaskRun) -> tuple[Any, ...]:
    values = list(_get_task_run(run))
    values[_TASK_STATE] = str(values[_TASK_STATE])
    for i in _TASK_JSON:
        values[i] = to_json(values[i])
    return tuple(values)


def state_values(record: StateRecord) -> tuple[Any, ...]:
    values = list(_get_state(record))
    values[_STATE_TYPE] = str(values[_STATE_TYPE])
    return tuple(values)


def to_flow_run(row: Mapping[str, Any]) -> FlowRun:
    run = FlowRun(**{name: row[name] for name in FLOW_RUN_COLUMNS})
    run.state_type = StateType(run.state_type)
    return run


def to_task_run(row: Mapping[str, Any]) -> TaskRun:
    run = TaskRun(**{name: row[name] for name in TASK_RUN_COLUMNS})
    run.state_type = StateType(run.state_type)
    return run


def to_state(row: Mapping[str, Any]) -> StateRecord:
    return StateRecord(row["run_id"], row["run_kind"], StateType(row["type"]), row["name"],
                       row["ts"], row["message"], row["id"])


def to_log(row: Mapping[str, Any]) -> LogLine:
    return LogLine(**{name: row[name] for name in (*LOG_COLUMNS, "id")})


def to_result(row: Mapping[str, Any]) -> ResultBlob:
    return ResultBlob(row["key"], row["serializer"], bytes(row["data"]), row["created_ts"])


def to_cache(row: Mapping[str, Any]) -> CacheEntry:
    return CacheEntry(**{name: row[name] for name in CACHE_COLUMNS})


def record_from_row(cls: type, row: Mapping[str, Any]) -> Any:
    """Any record whose fields are its table's columns (deployments, pools, workers...)."""
    return cls(**{f.name: row[f.name] for f in fields(cls)})


def record_values(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}
