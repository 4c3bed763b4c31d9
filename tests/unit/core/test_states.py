"""The state model and the one state machine, tested without any store."""

from __future__ import annotations

import pytest

from orkest.core import states as s
from orkest.core.states import ACTIVE_TYPES, TERMINAL_TYPES, WAITING_TYPES, State, StateType
from orkest.core.transitions import (
    ENGINE_POLICY,
    MANUAL_POLICY,
    RERUN_POLICY,
    check_transition,
    is_allowed,
)
from orkest.errors import FailedRun, InvalidStateTransition

T = StateType


def test_every_type_is_classified_once() -> None:
    assert TERMINAL_TYPES | ACTIVE_TYPES | WAITING_TYPES == set(StateType)
    assert not TERMINAL_TYPES & ACTIVE_TYPES and not ACTIVE_TYPES & WAITING_TYPES


def test_named_states_refine_types() -> None:
    assert (s.Cached().type, s.Cached().name) == (T.COMPLETED, "Cached")
    assert (s.TimedOut().type, s.TimedOut().name) == (T.FAILED, "TimedOut")
    assert (s.Retrying().type, s.Retrying().name) == (T.AWAITING_RETRY, "Retrying")
    assert (s.UpstreamFailed().type, s.UpstreamFailed().name) == (T.SKIPPED, "UpstreamFailed")
    assert (s.Late().type, s.Late().name) == (T.SCHEDULED, "Late")
    assert (s.Recovered().type, s.Recovered().name) == (T.COMPLETED, "Recovered")
    assert s.State(T.AWAITING_RETRY).name == "AwaitingRetry"
    assert s.Completed().timestamp.tzinfo is not None


def test_state_predicates_and_result() -> None:
    done = s.Completed(data=5)
    assert done.is_completed() and done.is_final() and not done.is_failed()
    assert done.result() == 5
    error = ValueError("bad")
    failed = s.Failed(message="bad", data=error)
    assert failed.is_failed() and failed.is_final()
    with pytest.raises(ValueError, match="bad"):
        failed.result()
    assert failed.result(raise_on_failure=False) is error
    with pytest.raises(FailedRun, match="CRASHED"):
        s.Crashed(message="worker died").result()
    assert not s.Running().is_final()


@pytest.mark.parametrize(("current", "proposed"), [
    (None, s.Pending()),
    (T.PENDING, s.Running()),
    (T.RUNNING, s.Completed()),
    (T.RUNNING, s.Retrying()),
    (T.AWAITING_RETRY, s.Running()),
    (T.RUNNING, s.Paused()),
    (T.PAUSED, s.Running(name="Resumed")),
    (T.PAUSED, s.TimedOut()),
    (T.RUNNING, s.Cancelling()),
    (T.CANCELLING, s.Cancelled()),
    (T.PENDING, s.Cached()),
    (T.PENDING, s.UpstreamFailed()),
    (T.RUNNING, s.Crashed()),
])
def test_engine_allows_the_normal_life_of_a_run(current, proposed) -> None:
    check_transition(current, proposed, ENGINE_POLICY)


@pytest.mark.parametrize(("current", "proposed"), [
    (T.COMPLETED, s.Running()),
    (T.FAILED, s.Completed()),
    (T.CANCELLED, s.Running()),
    (T.PENDING, s.Completed()),  # must run first unless cached
    (T.PAUSED, s.Failed()),  # a paused run fails only by timing out
    (T.CANCELLING, s.Running()),
    (None, s.Running()),
    (T.SCHEDULED, s.Completed()),
])
def test_engine_rejects_illegal_transitions(current, proposed) -> None:
    with pytest.raises(InvalidStateTransition):
        check_transition(current, proposed, ENGINE_POLICY)


def test_rejection_message_names_both_states() -> None:
    with pytest.raises(InvalidStateTransition, match="from COMPLETED to RUNNING.*rerun"):
        check_transition(T.COMPLETED, s.Running())


def test_rerun_and_manual_policies() -> None:
    for terminal in TERMINAL_TYPES:
        assert is_allowed(terminal, s.Pending(), RERUN_POLICY)
    assert not is_allowed(T.RUNNING, s.Pending(), RERUN_POLICY)
    for current in StateType:
        assert is_allowed(current, s.Failed(message="by hand"), MANUAL_POLICY)
        assert is_allowed(current, s.Completed(), MANUAL_POLICY)
    assert not is_allowed(T.FAILED, s.Running(), MANUAL_POLICY)


def test_states_compare_by_value() -> None:
    a = State(T.RUNNING, ts=1.0)
    assert a == State(T.RUNNING, ts=1.0)
    assert a != State(T.RUNNING, ts=2.0)
    assert a.copy(name="Other").name == "Other" and a.name == "Running"
