"""RayRunner's flow side: the thread that follows the Ray tasks, and their final states.

Each Ray task's report ObjectRef calls back when it is ready (no polling over thousands of
refs); one manager thread then reads it, and every DRAIN_SECONDS the Mailbox's live
messages (the process runner's protocol, see processes.py), hands records to the flow's
sink, kills a task past its hard deadline or on cancel, and calls on_done exactly once.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import pickle
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import ray

from orkest._internal import masking
from orkest.core.states import Cancelled, Crashed, State, StateType, TimedOut
from orkest.engine.task_run import describe_error, settle_task_state
from orkest.errors import CancelledRun, TaskTimeoutError
from orkest.runners._remote_jobs import ClusterState, lost_value_error
from orkest.runners.base import OnDone
from orkest.runners.processes import GRACE_SECONDS, _absorb, _decode_small_result, _load_data

if TYPE_CHECKING:
    from orkest.engine.context import FlowRunContext
    from orkest.engine.task_run import TaskRunJob

DRAIN_SECONDS = 0.25  # how often the manager reads the Mailbox while tasks are in flight
STOP_SECONDS = 5.0  # at shutdown, how long killed tasks may take to report
RUNNER_NAME = "ray"

log = logging.getLogger("orkest.runners.ray")


@dataclasses.dataclass(eq=False, slots=True)
class _Slot:
    job: TaskRunJob
    ctx: FlowRunContext
    on_done: OnDone
    token: int = 0
    report: Any = None  # ObjectRef of the Ray task's report
    value: Any = None  # ObjectRef of its value
    deadline: float | None = None  # monotonic time at which the Ray task is killed
    kill_reason: str | None = None  # "timeout" | "cancel" | "shutdown"
    drained: int = 0  # its messages read from the Mailbox


class _Manager:
    """The one thread that reads the Ray tasks' reports and the Mailbox; other threads
    raise flags and queue what happened."""

    def __init__(self, mailbox: Any, mailbox_name: str) -> None:
        self.mailbox, self.mailbox_name = mailbox, mailbox_name
        self.box = uuid.uuid4().hex
        self.lock = threading.Lock()
        self.inflight: dict[int, _Slot] = {}  # submitted, on_done not called yet
        self.tokens = itertools.count(1)
        self.inbox: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self.timed: set[int] = set()  # tokens of slots with a deadline
        self.next_drain = 0.0  # monotonic time of the next Mailbox read
        self.mailbox_lost = False
        self.released: list[_RayState] = []
        self.thread = threading.Thread(target=self._run, name="orkest-ray-runner",
                                       daemon=True)
        self.thread.start()

    # -- called from other threads --------------------------------------------------
    def track(self, slot: _Slot) -> None:
        with self.lock:
            idle = not self.inflight
            slot.token = next(self.tokens)
            self.inflight[slot.token] = slot
        if idle:
            self.inbox.put(("busy",))  # it waits without a timeout while idle

    def launched(self, slot: _Slot) -> None:
        # Ray fetches the report for the future: the manager reads it from there.
        slot.report.future().add_done_callback(
            lambda future, token=slot.token: self.inbox.put(("report", token, future)))

    def cancel(self) -> None:
        self.inbox.put(("cancel",))

    def stop(self) -> None:
        self.inbox.put(("stop",))
        if threading.current_thread() is not self.thread:
            self.thread.join()
        for state in self.released:
            state.release()  # its value leaves the object store with the flow run
        self.released.clear()

    # -- the manager thread ---------------------------------------------------------
    def _run(self) -> None:
        stop_by: float | None = None
        try:
            while True:
                with self.lock:
                    busy = bool(self.inflight)
                if stop_by is not None and (not busy or time.monotonic() > stop_by):
                    break
                try:
                    item = self.inbox.get(timeout=self._wait_seconds(busy))
                except queue.Empty:
                    item = ("tick",)
                items = [item]
                while not self.inbox.empty():  # a burst of reports is handled together
                    items.append(self.inbox.get())
                if time.monotonic() >= self.next_drain:
                    self._drain()
                self._on_reports([i[1:] for i in items if i[0] == "report"])
                if any(i[0] == "cancel" for i in items):
                    self._kill_all("cancel")
                if stop_by is None and any(i[0] == "stop" for i in items):
                    stop_by = time.monotonic() + STOP_SECONDS
                    self._kill_all("shutdown")
                self._enforce_deadlines()
        except BaseException:  # noqa: BLE001 - never leave futures hanging
            log.exception("orkest Ray runner failed; its task runs are recorded CRASHED")
        finally:
            with self.lock:
                lost = list(self.inflight.values())
            for slot in lost:
                self.force(slot, Crashed(message="The Ray runner shut down while the task run"
                                                 " was running, or failed; see its log"))

    def _wait_seconds(self, busy: bool) -> float | None:
        if not busy:
            return None
        wait = max(0.0, self.next_drain - time.monotonic())
        with self.lock:
            deadlines = [self.inflight[t].deadline for t in self.timed if t in self.inflight]
        times = [d for d in deadlines if d is not None]
        if times:
            wait = min(wait, max(0.0, min(times) - time.monotonic()))
        return wait

    def _drain(self) -> None:
        """The live messages tasks posted (only tasks running past a live tick post)."""
        self.next_drain = time.monotonic() + DRAIN_SECONDS
        try:
            posted = ray.get(self.mailbox.drain.remote(self.box))
        except Exception as exc:  # noqa: BLE001 - tasks then put it all in their reports
            if not self.mailbox_lost:
                self.mailbox_lost = True
                log.warning("cannot read the Ray runner's Mailbox (%s): task runs' logs show"
                            " when they end, not while they run", describe_error(exc))
            return
        for token, data in posted:
            with self.lock:
                slot = self.inflight.get(token)
            if slot is not None:
                slot.drained += 1
                self._handle(slot, pickle.loads(data))

    def _on_reports(self, done: list[tuple[int, Future]]) -> None:
        """Finished Ray tasks: their reports, after the Mailbox if any of them posted."""
        read: list[tuple[_Slot, list[bytes], int]] = []
        posted_any = False
        for token, future in done:
            with self.lock:
                slot = self.inflight.get(token)
            if slot is None:
                continue
            error = future.exception()
            if error is not None:  # the Ray task failed: killed, or its worker died
                self.force(slot, _death_state(slot, error))
                continue
            posted, messages, replayed = pickle.loads(future.result())
            posted_any |= posted
            read.append((slot, messages, replayed))
        if posted_any:
            self._drain()  # what they posted comes before what they reported
        for slot, messages, replayed in read:
            for data in messages[min(slot.drained, replayed):]:  # none twice
                self._handle(slot, pickle.loads(data))
            with self.lock:
                unfinished = slot.token in self.inflight
            if unfinished:
                self.force(slot, Crashed(message="The Ray task ended without a final state"))

    def _handle(self, slot: _Slot, message: tuple) -> None:
        kind = message[0]
        if kind == "secrets":  # values the task registered: masked here from now on
            masking.adopt(message[1])
        elif kind == "running":
            _, seconds, batch = message
            if seconds is not None and slot.kill_reason is None:
                slot.deadline = time.monotonic() + seconds + GRACE_SECONDS
                with self.lock:
                    self.timed.add(slot.token)
            _absorb(slot, batch, final=False)  # type: ignore[arg-type]
        elif kind == "attempt":  # an attempt with a timeout ended: no deadline meanwhile
            slot.deadline = None
        elif kind == "records":
            _absorb(slot, message[1], final=False)  # type: ignore[arg-type]
        elif kind == "done":
            _, type_value, name, text, ts, ref, data, batch = message
            _absorb(slot, batch, final=True)  # type: ignore[arg-type]
            state = _RayState(StateType(type_value), name, text, ts, result_ref=ref)
            if data is not None:
                state.data = _load_data(data)
            elif state.type is StateType.COMPLETED and ref is not None:
                _decode_small_result(state, batch)
            if state.type is StateType.COMPLETED and not state.has_data():
                # its value stays in Ray's object store
                state.keep_on_cluster(slot.value, _fetcher(slot.job.task_run.name))
                self.released.append(state)
            self._finish(slot, state)
        elif kind == "error":  # the job could not be loaded, or the engine itself failed
            _, text, tb, batch = message
            _absorb(slot, batch, final=True)  # type: ignore[arg-type]
            slot.job.task_run.failure_traceback = tb
            self.force(slot, Crashed(message=text))

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        with self.lock:
            for token in [t for t in self.timed if t not in self.inflight
                          or self.inflight[t].deadline is None]:
                self.timed.discard(token)
            due = [self.inflight[t] for t in self.timed if self.inflight[t].deadline <= now]
        for slot in due:
            self._kill(slot, "timeout")

    def _kill_all(self, reason: str) -> None:
        with self.lock:
            slots = [s for s in self.inflight.values() if s.report is not None]
        for slot in slots:
            self._kill(slot, reason)

    def _kill(self, slot: _Slot, reason: str) -> None:
        if slot.kill_reason is not None:
            return
        slot.kill_reason, slot.deadline = reason, None
        try:
            ray.cancel(slot.report, force=True)
        except Exception:  # noqa: BLE001, S110 - already finished
            pass

    def force(self, slot: _Slot, state: State) -> None:
        """Finish a job the worker could not finish itself: record `state` here."""
        with self.lock:
            if slot.token not in self.inflight:
                return
        state = settle_task_state(slot.job.task_run, state, slot.ctx.sink)
        self._finish(slot, state)

    def _finish(self, slot: _Slot, state: State) -> None:
        """Call on_done exactly once per job."""
        with self.lock:
            if self.inflight.pop(slot.token, None) is None:
                return
            self.timed.discard(slot.token)
        try:
            slot.on_done(state)
        except Exception:  # noqa: BLE001 - a callback's bug must not stop the runner
            log.exception("on_done of task run %s failed", slot.job.task_run.name)


def _death_state(slot: _Slot, error: BaseException | None) -> State:
    name, reason = slot.job.task_run.name, slot.kill_reason
    if reason == "timeout":
        timeout = slot.job.task.options.timeout_seconds or 0
        exc = TaskTimeoutError(
            f"Task run {name!r} exceeded its timeout of {timeout:g} s and did not stop; its"
            f" Ray task was killed")
        slot.job.task_run.failure_type = "orkest.errors.TaskTimeoutError"
        return TimedOut(message=str(exc), data=exc)
    if reason == "cancel":
        return Cancelled(message="Cancelled: its Ray task was cancelled",
                         data=CancelledRun("Flow run was cancelled"))
    if reason == "shutdown":
        return Crashed(message="The task runner shut down while the task run was running")
    what = describe_error(error) if error is not None else "no report"
    return Crashed(message=f"The Ray task of {name!r} failed: {what[:2000]}")


def _fetcher(run_name: str) -> Any:
    def fetch(ref: Any) -> Any:
        if ref is None or not ray.is_initialized():
            raise lost_value_error(_Named(run_name), "Ray")  # type: ignore[arg-type]
        return ray.get(ref)

    return fetch


class _Named:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _RayState(ClusterState):
    """A final state whose value may be in Ray's object store: the engine hands the
    ObjectRef (`remote_input()`) to the next task run that goes to the runner, so the value
    moves worker to worker; everywhere else (.result(), a task called inline, a cache key)
    the value is fetched."""

    __slots__ = ()
