"""The reaper: flow runs whose owning process is gone are marked CRASHED.

A flow run in an active state is driven by exactly one process, which the record names
(hostname, pid) and which heartbeats it. When that process dies without a word (`kill -9`,
a power cut, an OOM kill) nothing else would ever finish the run, so it would show RUNNING
forever. The owner is considered alive when:
- it runs on this machine and its pid exists (and is not a zombie), or
- it runs on another machine and showed a sign of life less than 90 s ago: a heartbeat or
  a state change (both are written by the owner; heartbeats come every 10 s).

`reap_orphans(store, now)` is the tick: one indexed query for active flow runs, then a
transition per orphan. The transitions use policies that only ever move an unfinished run,
so a run that finishes while the reaper looks at it keeps its real outcome.

A crashed run of a deployment (it has a work pool) with attempts left (run_count <=
retries) goes back to its pool, SCHEDULED "AwaitingRetry", for another worker. A run a
worker claimed (PENDING) whose worker is gone is handed back to the pool as well.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable
from typing import Any

from orkest.core.records import FlowRun, TaskRun
from orkest.core.states import ACTIVE_TYPES, TERMINAL_TYPES, Crashed, State, StateType
from orkest.core.transitions import Policy
from orkest.errors import InvalidStateTransition, ObjectNotFound

HOSTNAME = socket.gethostname()
HEARTBEAT_TIMEOUT_SECONDS = 90.0
_PAGE = 500

UNFINISHED_TYPES = tuple(t for t in StateType if t not in TERMINAL_TYPES)


def finishing_policy(target: StateType) -> Policy:
    """Any unfinished state may move to `target`; a finished one never (lost-race guard).

    Except that a run waiting in its pool (SCHEDULED) never becomes CRASHED: it has no
    process that could have died, so such a move could only come from a reaper acting on
    an old view, undoing another reaper's reschedule (seen in the soak test).
    """
    sources = [t for t in UNFINISHED_TYPES
               if not (target is StateType.CRASHED and t is StateType.SCHEDULED)]
    return Policy(f"finish-as-{target.value.lower()}",
                  {t: frozenset({target}) for t in sources})


# The reaper crashes a flow run from its reading of the run, which may be old by the time
# it writes: another reaper may have rescheduled the run and a worker claimed it since.
# Its CRASHED carries the time of the state it read (or later) and is refused if the run
# now has a newer state. Named, so a server applies the same for a remote reaper.
REAPER_POLICY = dataclasses.replace(finishing_policy(StateType.CRASHED), name="reap-orphan",
                                    refuse_stale=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (a zombie does not count)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just someone else's
    except OSError:
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not waited for yet still answers kill(pid, 0)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False  # no /proc (macOS): trust kill()
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] in (b"Z", b"X")


def last_sign_of_life(run: FlowRun) -> float | None:
    """The newest time the owner wrote something about the run (heartbeat or state)."""
    times = [t for t in (run.heartbeat_ts, run.state_ts) if t is not None]
    return max(times) if times else None


def owner_alive(run: FlowRun, now: float, *, hostname: str = HOSTNAME,
                is_alive: Callable[[int], bool] = pid_alive) -> bool:
    """Whether the process that owns `run` still exists (see the module docstring)."""
    if run.hostname is not None and run.hostname == hostname and run.pid is not None:
        return is_alive(run.pid)
    seen = last_sign_of_life(run)
    return seen is not None and now - seen < HEARTBEAT_TIMEOUT_SECONDS


def owner_label(run: FlowRun) -> str:
    return f"Process {run.pid if run.pid is not None else '?'} on {run.hostname or '?'}"


def unfinished_task_runs(store: Any, flow_run_id: str) -> list[TaskRun]:
    found: list[TaskRun] = []
    while True:
        page = store.list_task_runs(flow_run_id=flow_run_id, state_types=UNFINISHED_TYPES,
                                    limit=_PAGE, offset=len(found))
        found.extend(page)
        if len(page) < _PAGE:
            return found


def finish_task_runs(store: Any, flow_run_id: str, make_state: Callable[[], State]) -> list[str]:
    """Move every unfinished task run of a flow run to `make_state()`; the ids moved."""
    moved: list[str] = []
    for task_run in unfinished_task_runs(store, flow_run_id):
        state = make_state()
        try:
            store.set_state(task_run.id, "task", state, finishing_policy(state.type))
        except (InvalidStateTransition, ObjectNotFound):
            continue  # it finished (or vanished) meanwhile: its own outcome stands
        moved.append(task_run.id)
    return moved


def reap_orphans(store: Any, now: float, *, hostname: str = HOSTNAME,
                 is_alive: Callable[[int], bool] = pid_alive) -> list[str]:
    """Mark active flow runs whose owner is gone CRASHED (their task runs too); their ids."""
    active: list[FlowRun] = []
    while True:
        page = store.list_flow_runs(state_types=sorted(ACTIVE_TYPES), limit=_PAGE,
                                    offset=len(active))
        active.extend(page)
        if len(page) < _PAGE:
            break
    reaped: list[str] = []
    for listed in active:
        if owner_alive(listed, now, hostname=hostname, is_alive=is_alive):
            continue
        # Read it again: the list may be old by now, and another reaper may have crashed
        # and rescheduled this run meanwhile, or a new attempt may have started it.
        try:
            run = store.read_flow_run(listed.id)
        except ObjectNotFound:
            continue
        if run.state_type not in ACTIVE_TYPES or owner_alive(run, now, hostname=hostname,
                                                             is_alive=is_alive):
            continue
        message = f"{owner_label(run)} is gone"
        at = not_before(run, now)
        try:
            store.set_state(run.id, "flow", Crashed(message=message, ts=at), REAPER_POLICY)
        except (InvalidStateTransition, ObjectNotFound):
            continue
        finish_task_runs(store, run.id, lambda message=message: Crashed(message=message))
        reaped.append(run.id)
        retry_crashed(store, run, at, message)
    release_lost_claims(store, now, hostname=hostname, is_alive=is_alive)
    return reaped


def not_before(run: FlowRun, now: float) -> float:
    """`now`, or the run's own state time if that is later: a tick's `now` is taken before
    it reads the runs, and a state written meanwhile must not be followed in the history
    by one that claims to be older."""
    return max(now, run.state_ts or now)


def retry_crashed(store: Any, run: FlowRun, now: float, reason: str, *,
                  attempts: int | None = None) -> bool:
    """Put a CRASHED run of a work pool back in the pool while it has attempts left.

    attempts: how many it has used (default run_count; a run that died before it
    recorded its start used one more than its record says).
    """
    used = run.run_count if attempts is None else attempts
    if not run.work_pool or used > run.retries:
        return False
    reschedule = getattr(store, "reschedule_flow_run", None)
    if reschedule is None:
        return False
    message = f"{reason}; rescheduled for attempt {used + 1} of {run.retries + 1}"
    return bool(reschedule(run.id, not_before(run, now), message))


def release_lost_claims(store: Any, now: float, *, hostname: str = HOSTNAME,
                        is_alive: Callable[[int], bool] = pid_alive) -> list[str]:
    """Hand back PENDING runs claimed by a worker that is gone (it died between claiming
    and starting them); the ids handed back."""
    if not hasattr(store, "release_flow_run") or not hasattr(store, "list_workers"):
        return []
    claimed = [r for r in store.list_flow_runs(state_types=[StateType.PENDING], limit=_PAGE)
               if r.worker_id is not None]
    if not claimed:
        return []
    workers = {w.id: w for w in store.list_workers(limit=1000)}
    released = []
    for run in claimed:
        worker = workers.get(run.worker_id)
        if worker is None:
            gone = now - run.state_ts >= HEARTBEAT_TIMEOUT_SECONDS
        elif worker.status == "stopped":
            gone = True
        elif worker.hostname == hostname:
            gone = not is_alive(worker.pid)
        else:
            gone = now - worker.heartbeat_ts >= HEARTBEAT_TIMEOUT_SECONDS
        if gone and store.release_flow_run(run.id, run.worker_id, not_before(run, now)):
            released.append(run.id)
    return released
