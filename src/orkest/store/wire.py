"""Records as JSON-ready dicts and back: the one wire format of the API server and client.

Field names are the record fields (also the column names); StateType travels as its
string value, bytes as base64. Unknown keys from a newer peer are ignored on the way in.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any, TypeVar

from orkest.core.records import (
    CacheEntry,
    FlowRun,
    LogLine,
    ResultBlob,
    StateCount,
    StateRecord,
    TaskRun,
    WriteBatch,
)
from orkest.core.states import StateType

R = TypeVar("R")

_STATE_FIELDS = {FlowRun: "state_type", TaskRun: "state_type", StateRecord: "type",
                 StateCount: "state_type"}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def dump(record: Any) -> dict[str, Any]:
    """A record as a dict of JSON values."""
    cls = type(record)
    out = {name: getattr(record, name) for name in _names(cls)}
    state_field = _STATE_FIELDS.get(cls)
    if state_field is not None:
        out[state_field] = str(out[state_field].value)
    if cls is ResultBlob:
        out["data"] = base64.b64encode(record.data).decode("ascii")
    return out


def load(cls: type[R], data: dict[str, Any]) -> R:
    """A record of `cls` from dump()'s dict; ValueError/TypeError for a malformed one."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be a JSON object, not {type(data).__name__}")
    values = {name: data[name] for name in _names(cls) if name in data}
    state_field = _STATE_FIELDS.get(cls)
    if state_field is not None and state_field in values:
        values[state_field] = StateType(values[state_field])
    if cls is ResultBlob and "data" in values:
        values["data"] = base64.b64decode(values["data"], validate=True)
    return cls(**values)


_BATCH_PARTS: tuple[tuple[str, type], ...] = (
    ("states", StateRecord), ("logs", LogLine), ("results", ResultBlob),
    ("cache", CacheEntry))


def dump_batch(batch: WriteBatch) -> dict[str, Any]:
    out: dict[str, Any] = {
        "flow_runs": [dump(r) for r in batch.flow_runs.values()],
        "task_runs": [dump(r) for r in batch.task_runs.values()],
    }
    for name, _cls in _BATCH_PARTS:
        out[name] = [dump(r) for r in getattr(batch, name)]
    return out


def load_batch(data: dict[str, Any]) -> WriteBatch:
    batch = WriteBatch()
    for item in data.get("flow_runs", ()):
        run = load(FlowRun, item)
        batch.flow_runs[run.id] = run
    for item in data.get("task_runs", ()):
        run = load(TaskRun, item)
        batch.task_runs[run.id] = run
    for name, cls in _BATCH_PARTS:
        getattr(batch, name).extend(load(cls, item) for item in data.get(name, ()))
    return batch

