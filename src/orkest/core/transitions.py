"""The one state machine: which transitions are legal, for whom.

Rules are small pure functions over (current, proposed) states; policies are ordered
tuples of rules plus the table of type-to-type edges they allow. The engine, the store
and the CLI all ask `check_transition`, so every change of state obeys the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orkest.core.states import TERMINAL_TYPES, State, StateType
from orkest.errors import InvalidStateTransition

S = StateType

# The edges a run follows when the engine drives it. `None` is "no state yet".
_ENGINE_EDGES: dict[StateType | None, frozenset[StateType]] = {
    None: frozenset({S.SCHEDULED, S.PENDING, S.SKIPPED, S.CANCELLED, S.FAILED}),
    S.SCHEDULED: frozenset({S.SCHEDULED, S.PENDING, S.CANCELLED, S.CRASHED, S.FAILED}),
    S.PENDING: frozenset(
        {S.RUNNING, S.COMPLETED, S.SKIPPED, S.CANCELLED, S.FAILED, S.CRASHED, S.SCHEDULED}
    ),
    S.RUNNING: frozenset(
        {S.COMPLETED, S.FAILED, S.CRASHED, S.AWAITING_RETRY, S.PAUSED, S.CANCELLING,
         S.CANCELLED, S.SKIPPED}
    ),
    S.AWAITING_RETRY: frozenset({S.RUNNING, S.CANCELLING, S.CANCELLED, S.CRASHED, S.FAILED}),
    S.PAUSED: frozenset({S.PAUSED, S.RUNNING, S.FAILED, S.CANCELLING, S.CANCELLED, S.CRASHED}),
    S.CANCELLING: frozenset({S.CANCELLED, S.CRASHED, S.FAILED}),
}
# A rerun (`flow-run retry`, a worker rescheduling a crashed run) may restart a finished run.
_RERUN_EDGES: dict[StateType | None, frozenset[StateType]] = {
    t: frozenset({S.PENDING, S.SCHEDULED}) for t in TERMINAL_TYPES
}
# A person marking a run by hand may set it COMPLETED, FAILED or CANCELLED from anywhere,
# and mark a stale active run CRASHED.
_MANUAL_TARGETS = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED, S.CRASHED})

Rule = Callable[[StateType | None, State], str | None]


def cached_only_from_pending(current: StateType | None, proposed: State) -> str | None:
    """Skipping RUNNING is legal only for a result taken from the cache or a prior attempt."""
    if (
        current is S.PENDING
        and proposed.type is S.COMPLETED
        and proposed.name not in ("Cached", "Recovered")
    ):
        return "a run must be RUNNING before it can complete (unless its result is cached)"
    return None


def paused_resumes_only_as_running(current: StateType | None, proposed: State) -> str | None:
    """A paused run leaves PAUSED by resuming, timing out, being cancelled or crashing."""
    if (
        current is S.PAUSED
        and proposed.type is S.FAILED
        and proposed.name != "TimedOut"
    ):
        return "a paused run can only fail by timing out"
    return None


@dataclass(frozen=True, slots=True)
class Policy:
    """Who is asking decides which edges exist; rules refine them in order."""

    name: str
    edges: dict[StateType | None, frozenset[StateType]]
    rules: tuple[Rule, ...] = ()
    any_source: frozenset[StateType] = frozenset()
    # Refuse a state older than the run's current one: the writer acted on an old view of
    # the run (a reaper that read it before another reaper rescheduled it and a worker
    # claimed it). Stores check it; they know the current state's time.
    refuse_stale: bool = False


ENGINE_POLICY = Policy("engine", _ENGINE_EDGES, (cached_only_from_pending,
                                                 paused_resumes_only_as_running))
RERUN_POLICY = Policy("rerun", _RERUN_EDGES)
MANUAL_POLICY = Policy("manual", {}, any_source=_MANUAL_TARGETS)


def check_transition(
    current: StateType | None, proposed: State, policy: Policy = ENGINE_POLICY,
    current_ts: float | None = None,
) -> None:
    """Raise InvalidStateTransition when `policy` does not allow current -> proposed.

    `current` is the run's state type now (None for a run with no state yet);
    `current_ts` the time of that state, where the caller knows it (see refuse_stale).
    """
    if policy.refuse_stale and current_ts is not None and proposed.ts < current_ts:
        raise InvalidStateTransition(
            f"{policy.name}: the run changed since it was read (its {current} state is newer"
            " than the proposed one)")
    if proposed.type in policy.any_source:
        return
    current_type = current
    allowed = policy.edges.get(current_type)
    if allowed is None or proposed.type not in allowed:
        src = "no state" if current_type is None else current_type.value
        raise InvalidStateTransition(
            f"{policy.name} may not move a run from {src} to {proposed.type.value}"
            + (" (finished runs change only by rerun or by hand)"
               if current_type in TERMINAL_TYPES else "")
        )
    for rule in policy.rules:
        reason = rule(current_type, proposed)
        if reason is not None:
            raise InvalidStateTransition(f"{policy.name}: {reason}")


def is_allowed(current: StateType | None, proposed: State, policy: Policy = ENGINE_POLICY) -> bool:
    try:
        check_transition(current, proposed, policy)
    except InvalidStateTransition:
        return False
    return True
