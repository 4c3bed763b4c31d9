"""Tag concurrency limits, the engine's side: a task run carrying a limited tag takes a slot
of that tag before it runs, and gives it back however it ends.

`orkest concurrency-limit create db --limit 2` stores a limit; the store hands out slots
atomically (SqlRunStore.acquire_concurrency_slots), so the limit holds across processes,
workers and hosts. Each slot carries a lease: the process that holds it renews the leases
of its live flow runs from the recorder's heartbeat loop (renew_leases); a holder that
dies (kill -9) stops renewing, and its slots are free again once their lease runs out.

Cost: a task without tags pays one falsy check; a tagged task pays a set intersection
against the limited tags of its store, cached per process and refreshed every
REFRESH_SECONDS. Only a task whose tags are limited makes store calls (acquire, release).

A submitted task that finds its tags full does not hold a runner worker while it waits:
it waits in one waiter thread per process, which polls with backoff (50 ms up to 1 s,
and at once when this process frees a slot) and hands the job to the runner when granted.
The task run stays PENDING, named "AwaitingConcurrencySlot", meanwhile. A task called
inline (or on the sequential runner) waits in its own thread, as the call does anyway.
Stores without slots (the memory store, the HTTP client) have no limits.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from orkest.core.records import StateRecord
from orkest.core.states import Cancelled, State, StateType

if TYPE_CHECKING:
    from orkest.core.futures import TaskFuture
    from orkest.engine.context import FlowRunContext
    from orkest.engine.task_run import TaskRunJob

REFRESH_SECONDS = 5.0  # how stale this process's view of which tags are limited may be
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0
CANCEL_CHECK_SECONDS = 0.25  # a waiting task notices its flow run's cancel this fast
WAITING_NAME = "AwaitingConcurrencySlot"

log = logging.getLogger("orkest.limits")


def lease_seconds() -> float:
    """How long a slot outlives its holder's last renewal (ORKEST_CONCURRENCY_LEASE_SECONDS)."""
    return float(os.environ.get("ORKEST_CONCURRENCY_LEASE_SECONDS", "60"))


def renew_every() -> float:
    """Renew well within the lease: a third of it, and at least every heartbeat (10 s)."""
    return min(10.0, lease_seconds() / 3)


# -- which tags are limited (cached per store, per process) ------------------------------

class _LimitedTags:
    __slots__ = ("store_ref", "tags", "fresh_until")

    def __init__(self, store: Any) -> None:
        self.store_ref = weakref.ref(store)
        self.tags: frozenset[str] = frozenset()
        self.fresh_until = 0.0


_known: dict[int, _LimitedTags] = {}


def limited_tags(store: Any, tags: list[str]) -> list[str]:
    """The tags among `tags` that have a limit in `store` (empty when it has no slots)."""
    entry = _known.get(id(store))
    if entry is None or entry.store_ref() is not store:
        if not hasattr(store, "acquire_concurrency_slots"):
            return []
        entry = _known[id(store)] = _LimitedTags(store)
    now = time.monotonic()
    if now >= entry.fresh_until:
        entry.fresh_until = now + REFRESH_SECONDS
        try:
            entry.tags = frozenset(x.tag for x in store.list_concurrency_limits(time.time()))
        except Exception as exc:  # noqa: BLE001 - keep the last known limits
            log.warning("orkest: cannot read concurrency limits (%s); using the last known", exc)
    if not entry.tags:
        return []
    return [tag for tag in tags if tag in entry.tags]


def forget_limits() -> None:
    """Read the limits again on next use (tests, or after `concurrency-limit create`)."""
    _known.clear()


# -- holding and releasing slots ---------------------------------------------------------

_held: dict[str, Any] = {}  # task run id -> the store its slots are in
_held_lock = threading.Lock()


def _try_acquire(store: Any, tags: list[str], run_id: str, flow_run_id: str | None) -> bool:
    try:
        granted = store.acquire_concurrency_slots(tags, run_id, flow_run_id, time.time(),
                                                  lease_seconds())
    except Exception as exc:  # noqa: BLE001 - a store hiccup: wait and try again
        log.warning("orkest: cannot take a concurrency slot for %s (%s); retrying", tags, exc)
        return False
    if granted:
        with _held_lock:
            _held[run_id] = store
    return bool(granted)


def release(run_id: str) -> None:
    """Give back the slots of a task run, once (later calls do nothing)."""
    with _held_lock:
        store = _held.pop(run_id, None)
    if store is None:
        return
    try:
        store.release_concurrency_slots(run_id)
    except Exception as exc:  # noqa: BLE001 - the lease frees it later
        log.warning("orkest: cannot release the concurrency slots of task run %s (%s); "
                    "they free themselves when their lease ends", run_id, exc)
    _waiter.wake()


_last_renewal: dict[int, float] = {}  # id(store) -> when its leases were last renewed


def renew_leases(store: Any, flow_run_ids: list[str], now: float) -> None:
    """Extend the leases of the slots held by these live flow runs (called by the recorder's
    heartbeat loop, about every FLUSH_SECONDS; a no-op unless this process holds slots)."""
    if not _held or not flow_run_ids or now - _last_renewal.get(id(store), 0.0) < renew_every():
        return
    renew = getattr(store, "renew_concurrency_slots", None)
    if renew is None:
        return
    _last_renewal[id(store)] = now
    renew(flow_run_ids, now, lease_seconds())


def _waiting_message(tags: list[str]) -> str:
    names = ", ".join(repr(t) for t in tags)
    return f"Waiting for a concurrency slot of tag{'s' if len(tags) > 1 else ''} {names}"


def _mark_waiting(job: TaskRunJob, tags: list[str], flow_ctx: FlowRunContext) -> None:
    """Record that the run waits: still PENDING, named AwaitingConcurrencySlot."""
    run = job.task_run
    run.state_name = WAITING_NAME
    run.state_message = _waiting_message(tags)
    run.state_ts = time.time()
    flow_ctx.sink.state(StateRecord(run.id, "task", StateType.PENDING, WAITING_NAME,
                                    run.state_ts, run.state_message))
    flow_ctx.sink.task_run(run)


def _cancelled_while_waiting(job: TaskRunJob, flow_ctx: FlowRunContext) -> State:
    from orkest.engine.task_run import set_task_state

    return set_task_state(job.task_run, Cancelled(
        message="Flow run was cancelled while the task waited for a concurrency slot"),
        flow_ctx.sink)


# -- the two ways a limited task waits ---------------------------------------------------

def wait_inline(job: TaskRunJob, flow_ctx: FlowRunContext) -> State | None:
    """Block this thread until the job's slots are held (None), or the flow run is
    cancelled (the CANCELLED state to end with). A job with no limited tag returns at once."""
    run = job.task_run
    tags = limited_tags(flow_ctx.store, run.tags)
    if not tags:
        return None
    delay = FIRST_POLL_SECONDS
    marked = False
    while not _try_acquire(flow_ctx.store, tags, run.id, run.flow_run_id):
        if not marked:
            _mark_waiting(job, tags, flow_ctx)
            marked = True
        if flow_ctx.cancel_event.wait(delay):
            return _cancelled_while_waiting(job, flow_ctx)
        delay = min(delay * 2, MAX_POLL_SECONDS)
    return None


def submit_when_free(job: TaskRunJob, flow_ctx: FlowRunContext, future: TaskFuture) -> bool:
    """Hand a limited job to the runner once its slots are held; False when the job has no
    limited tag (the caller submits it as usual)."""
    run = job.task_run
    store = flow_ctx.store
    tags = limited_tags(store, run.tags)
    if not tags:
        return False
    # However the run ends (on_done, an abandon after a cancel, a crash), its slots go back.
    future.add_done_callback(lambda _: release(run.id))
    if flow_ctx.runner.name == "sequential":  # it runs in the submitting thread anyway
        cancelled = wait_inline(job, flow_ctx)
        if cancelled is not None:
            future.set_final(cancelled)
        else:
            _submit(job, flow_ctx, future)
        return True
    if _try_acquire(store, tags, run.id, run.flow_run_id):
        _submit(job, flow_ctx, future)
    else:
        _mark_waiting(job, tags, flow_ctx)
        _waiter.add(_Waiting(job, flow_ctx, future, tags))
    return True


def _submit(job: TaskRunJob, flow_ctx: FlowRunContext, future: TaskFuture) -> None:
    run_id = job.task_run.id

    def on_done(state: State) -> None:
        release(run_id)  # before the future completes, so a downstream task finds it free
        future.set_final(state)

    try:
        flow_ctx.runner.submit(job, flow_ctx, on_done)
    except BaseException:
        release(run_id)
        raise


class _Waiting:
    __slots__ = ("job", "flow_ctx", "future", "tags")

    def __init__(self, job: TaskRunJob, flow_ctx: FlowRunContext, future: TaskFuture,
                 tags: list[str]) -> None:
        self.job, self.flow_ctx, self.future, self.tags = job, flow_ctx, future, tags


class _Queue:
    """The jobs waiting for the same tags, oldest first, with their shared poll delay
    (when the oldest cannot get a slot, the ones behind it need not ask)."""

    __slots__ = ("items", "delay", "next_try")

    def __init__(self) -> None:
        self.items: deque[_Waiting] = deque()
        self.delay = FIRST_POLL_SECONDS
        self.next_try = 0.0


class _Waiter:
    """One thread per process polls the store for the jobs waiting for slots."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, ...], _Queue] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, waiting: _Waiting) -> None:
        with self._lock:
            key = (id(waiting.flow_ctx.store), *sorted(waiting.tags))
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue()
                queue.next_try = time.monotonic() + queue.delay
            queue.items.append(waiting)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="orkest-limits")
                self._thread.start()

    def wake(self) -> None:
        """A slot was freed here: every queue tries again now."""
        if self._queues:
            with self._lock:
                for queue in self._queues.values():
                    queue.next_try = 0.0
            self._wake.set()

    def _loop(self) -> None:
        while True:
            with self._lock:
                queues = list(self._queues.items())
            if not queues:
                with self._lock:
                    if not self._queues:
                        self._thread = None
                        return
                continue
            now = time.monotonic()
            for key, queue in queues:
                try:
                    self._serve(queue, now)
                except Exception:  # noqa: BLE001 - the waiter must outlive one bad round
                    log.exception("orkest: the concurrency-slot waiter failed; retrying")
                    queue.next_try = now + MAX_POLL_SECONDS
                with self._lock:
                    if not queue.items and self._queues.get(key) is queue:
                        del self._queues[key]
            with self._lock:
                due = min((q.next_try for q in self._queues.values()), default=now)
            self._wake.wait(max(0.0, min(due - time.monotonic(), CANCEL_CHECK_SECONDS)))
            self._wake.clear()

    def _serve(self, queue: _Queue, now: float) -> None:
        # Drop the ones that ended meanwhile (abandoned, crashed) or whose flow was cancelled.
        for waiting in [w for w in queue.items if w.future.done()
                        or w.flow_ctx.cancel_event.is_set()]:
            queue.items.remove(waiting)
            if not waiting.future.done():
                _finish(waiting, lambda w=waiting: _cancelled_while_waiting(w.job, w.flow_ctx))
        if now < queue.next_try:
            return
        while queue.items:
            waiting = queue.items[0]
            run = waiting.job.task_run
            if not _try_acquire(waiting.flow_ctx.store, waiting.tags, run.id,
                                run.flow_run_id):
                queue.next_try = now + queue.delay
                queue.delay = min(queue.delay * 2, MAX_POLL_SECONDS)
                return
            queue.items.popleft()
            queue.delay = FIRST_POLL_SECONDS
            _finish(waiting, lambda w=waiting: _submit(w.job, w.flow_ctx, w.future))


def _finish(waiting: _Waiting, step: Any) -> None:
    """Run one hand-off; an error fails that task run, never the waiter thread."""
    try:
        result = step()
    except Exception as exc:  # noqa: BLE001 - one task's failure, not the waiter's
        from orkest.engine.task_run import _fail

        try:
            result = _fail(waiting.job.task_run, exc, waiting.flow_ctx.sink)
        except Exception:  # noqa: BLE001 - it ended meanwhile
            return
    if isinstance(result, State):
        waiting.future.set_final(result)


_waiter = _Waiter()
