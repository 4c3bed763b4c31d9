"""Request bodies, validated by pydantic, and the answer shapes the OpenAPI document shows.

Records are the store's own dataclasses (core/records.py), which pydantic validates as
they are: one schema for engine, store, API and client. What the wire carries differently
(a result's bytes as base64) has its own small model here. Answers are written by
`respond.py` straight from the records; the models below only describe them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orkest.core.records import (
    CacheEntry,
    FlowRun,
    LogLine,
    ResultBlob,
    StateCount,
    StateRecord,
    TaskRun,
    TaskStat,
)
from orkest.core.states import StateType

_STRICT = ConfigDict(allow_inf_nan=False)
# The largest integer every database column holds (BIGINT).
INT_MAX = 2**63 - 1


class Body(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")


# -- bodies --------------------------------------------------------------------------------

class ResultBlobIn(Body):
    key: str
    serializer: str
    data: str = Field(description="The result's bytes, base64")
    created_ts: float

    @field_validator("data")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data must be base64") from None
        return value

    def record(self) -> ResultBlob:
        return ResultBlob(self.key, self.serializer, base64.b64decode(self.data),
                          self.created_ts)


class BatchIn(Body):
    """`orkest.store.wire.dump_batch(batch)`: everything the engine stores in one go."""

    flow_runs: list[FlowRun] = []
    task_runs: list[TaskRun] = []
    states: list[StateRecord] = []
    logs: list[LogLine] = []
    results: list[ResultBlobIn] = []
    cache: list[CacheEntry] = []


class StateIn(Body):
    type: StateType
    name: str | None = None
    message: str | None = None
    ts: float | None = None
    result_ref: str | None = None


class SetRunStateIn(Body):
    state: StateIn
    policy: str = Field(
        "engine", description='"engine", "rerun", "manual" or "finish-as-<state type>"',
        max_length=64)


class RequestAction(StrEnum):
    CANCEL = "cancel"
    RESUME = "resume"


class RequestIn(Body):
    action: RequestAction
    payload: Any = None


class RunIdsIn(Body):
    flow_run_ids: list[str]


class HeartbeatIn(Body):
    flow_run_ids: list[str]
    now: float


class CancelIn(Body):
    message: str | None = Field(None, max_length=2000)


class ResumeIn(Body):
    input: Any = None


class ManualState(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class MarkIn(Body):
    state: ManualState
    message: str | None = Field(None, max_length=2000)


# -- NUL characters -----------------------------------------------------------------------

# Free text that may hold a NUL from user code (a print of binary data): it is kept, with
# the NUL replaced, since PostgreSQL's text columns cannot hold one. In any other string
# field (ids, names, keys) a NUL is malformed input.
FREE_TEXT = frozenset({"message", "state_message", "failure_traceback"})


def scrub_nul(value: Any, name: str = "body") -> None:
    """Replace NULs in free text and refuse them elsewhere (ValueError), in place.

    Walks models, records and lists; JSON values (parameters, payloads) are left alone:
    they are stored as JSON text, where a NUL is the escape \\u0000.
    """
    if isinstance(value, BaseModel):
        for field in type(value).model_fields:
            _scrub_field(value, field)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _scrub_field(value, field.name)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                if "\x00" in item:
                    raise ValueError(f"{name} holds a string with a NUL character")
            else:
                scrub_nul(item, name)


def _scrub_field(owner: Any, field: str) -> None:
    value = getattr(owner, field)
    if isinstance(value, str):
        if "\x00" in value:
            if field not in FREE_TEXT:
                raise ValueError(f"{field} contains a NUL character")
            setattr(owner, field, value.replace("\x00", "\ufffd"))
    elif isinstance(value, BaseModel | list) or (
            dataclasses.is_dataclass(value) and not isinstance(value, type)):
        scrub_nul(value, field)


# -- answers (documentation only) ------------------------------------------------------------

class Answer(BaseModel):
    model_config = _STRICT


class FlowRunPage(Answer):
    items: list[FlowRun]
    total: int
    limit: int
    offset: int


class TaskRunPage(Answer):
    items: list[TaskRun]
    total: int
    limit: int
    offset: int


class FlowSummaryOut(Answer):
    name: str
    run_count: int
    last_run_ts: float | None


class FlowPage(Answer):
    items: list[FlowSummaryOut]
    limit: int
    offset: int


class LogPage(Answer):
    items: list[LogLine]
    next_after_id: int


class Preview(Answer):
    ref: str
    type: str
    preview: str
    truncated: bool


class Dashboard(Answer):
    runs_by_state: list[StateCount]
    failure_rate: float
    total: int
    slowest_tasks: list[TaskStat]


class Health(Answer):
    status: str
    version: str
    database: str


class Count(Answer):
    count: int


class ActionOut(Answer):
    status: str = Field(description='"requested" (the owning process will act) or "done"')
    flow_run: FlowRun


class RetryOut(Answer):
    flow_run_id: str
    pid: int
    log: str = Field(description="Where the retry process writes its output")


class ResultBlobOut(Answer):
    key: str
    serializer: str
    data: str = Field(description="base64")
    created_ts: float
