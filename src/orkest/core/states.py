"""The state model: StateType, State, the named states, and the named sets of types.

A State is created for every transition of every run, so it is a small slotted object
whose datetime is derived only when someone asks for it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from orkest.errors import FailedRun


class StateType(StrEnum):
    """The type of a state; stored by its string value, so renaming a class never migrates."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    AWAITING_RETRY = "AWAITING_RETRY"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"


# Runs in these types are finished: nothing changes them but an explicit rerun or a hand mark.
TERMINAL_TYPES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED,
     StateType.SKIPPED}
)
# A process owns the run while it is in one of these: it heartbeats and obeys requests.
ACTIVE_TYPES = frozenset(
    {StateType.RUNNING, StateType.AWAITING_RETRY, StateType.PAUSED, StateType.CANCELLING}
)
# Not started yet: cancelling these needs no process to cooperate.
WAITING_TYPES = frozenset({StateType.SCHEDULED, StateType.PENDING})
# A run that ends in one of these did not do its work; `orkest run` exits 1, retry may rerun it.
FAILURE_TYPES = frozenset({StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})

assert TERMINAL_TYPES | ACTIVE_TYPES | WAITING_TYPES == set(StateType), "classify every type"

_DEFAULT_NAMES = {t: t.value.replace("_", " ").title().replace(" ", "") for t in StateType}
_DEFAULT_NAMES[StateType.AWAITING_RETRY] = "AwaitingRetry"

_UNSET: Any = object()


class State:
    """One state of a run: its type, a name that refines it, a message and a time.

    A completed state may carry the result in memory (`data`) and/or a reference to the
    persisted result (`result_ref`); a failed one may carry the exception that caused it.
    """

    __slots__ = ("type", "name", "message", "ts", "data", "result_ref", "details")

    def __init__(
        self,
        type: StateType,
        name: str | None = None,
        message: str | None = None,
        ts: float | None = None,
        data: Any = _UNSET,
        result_ref: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.type = type
        self.name = name or _DEFAULT_NAMES[type]
        self.message = message
        self.ts = time.time() if ts is None else ts
        self.data = data
        self.result_ref = result_ref
        self.details = details

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.ts, tz=UTC)

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type in FAILURE_TYPES

    def is_final(self) -> bool:
        return self.type in TERMINAL_TYPES

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_skipped(self) -> bool:
        return self.type is StateType.SKIPPED

    def has_data(self) -> bool:
        return self.data is not _UNSET

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's return value; for a failed run, raise its exception (or return it)."""
        from orkest.core import results  # the loader port lives there; avoids an import cycle

        if self.type is StateType.COMPLETED:
            if self.data is not _UNSET:
                return self.data
            if self.result_ref is not None:
                return results.load(self.result_ref)
            return None
        error = self.data if isinstance(self.data, BaseException) else None
        if error is None:
            error = FailedRun(
                f"Run ended {self.type.value} ({self.name})"
                + (f": {self.message}" if self.message else "")
            )
        if raise_on_failure:
            raise error
        return error

    def copy(self, **changes: Any) -> State:
        new = State.__new__(State)
        for slot in State.__slots__:
            setattr(new, slot, changes.get(slot, getattr(self, slot)))
        return new

    def __repr__(self) -> str:
        msg = f", message={self.message!r}" if self.message else ""
        return f"{self.name}(type={self.type.value}{msg})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return (self.type, self.name, self.message, self.ts) == (
            other.type, other.name, other.message, other.ts
        )

    __hash__ = None  # type: ignore[assignment]


def Scheduled(**kw: Any) -> State:  # noqa: N802 - named states read like types
    return State(StateType.SCHEDULED, **kw)


def Late(**kw: Any) -> State:  # noqa: N802
    return State(StateType.SCHEDULED, name="Late", **kw)


def Pending(**kw: Any) -> State:  # noqa: N802
    return State(StateType.PENDING, **kw)


def Running(**kw: Any) -> State:  # noqa: N802
    return State(StateType.RUNNING, **kw)


def Retrying(**kw: Any) -> State:  # noqa: N802
    return State(StateType.AWAITING_RETRY, name="Retrying", **kw)


def Paused(**kw: Any) -> State:  # noqa: N802
    return State(StateType.PAUSED, **kw)


def Cancelling(**kw: Any) -> State:  # noqa: N802
    return State(StateType.CANCELLING, **kw)


def Completed(**kw: Any) -> State:  # noqa: N802
    return State(StateType.COMPLETED, **kw)


def Cached(**kw: Any) -> State:  # noqa: N802
    return State(StateType.COMPLETED, name="Cached", **kw)


def Recovered(**kw: Any) -> State:  # noqa: N802
    return State(StateType.COMPLETED, name="Recovered", **kw)


def Failed(**kw: Any) -> State:  # noqa: N802
    return State(StateType.FAILED, **kw)


def TimedOut(**kw: Any) -> State:  # noqa: N802
    return State(StateType.FAILED, name="TimedOut", **kw)


def Crashed(**kw: Any) -> State:  # noqa: N802
    return State(StateType.CRASHED, **kw)


def Cancelled(**kw: Any) -> State:  # noqa: N802
    return State(StateType.CANCELLED, **kw)


def Skipped(**kw: Any) -> State:  # noqa: N802
    return State(StateType.SKIPPED, **kw)


def UpstreamFailed(**kw: Any) -> State:  # noqa: N802
    return State(StateType.SKIPPED, name="UpstreamFailed", **kw)
