"""RayRunner's flow side: the thread that follows the Ray tasks, and their final states.

One manager thread waits on every in-flight Ray task's stream (ray.wait), reads each
message (the process runner's protocol, see processes.py), hands records to the flow's
sink, kills a task past its hard deadline or on cancel, and calls on_done exactly once.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import threading
import time
from typing import TYPE_CHECKING, Any

import ray

from orkest._internal import masking
from orkest.core.states import Cancelled, Crashed, State, StateType, TimedOut
from orkest.engine.task_run import describe_error, set_task_state
from orkest.errors import CancelledRun, InvalidStateTransition, TaskTimeoutError
from orkest.runners._remote_jobs import ClusterState, lost_value_error
from orkest.runners.base import OnDone
from orkest.runners.processes import GRACE_SECONDS, _absorb, _decode_small_result, _load_data

if TYPE_CHECKING:
    from orkest.engine.context import FlowRunContext
    from orkest.engine.task_run import TaskRunJob

POLL_SECONDS = 0.05  # how long the manager waits on Ray before it looks at new work again
STOP_SECONDS = 5.0  # at shutdown, how long killed tasks may take to report
RUNNER_NAME = "ray"

log = logging.getLogger("orkest.runners.ray")


@dataclasses.dataclass(eq=False, slots=True)
class _Slot:
    job: TaskRunJob
    ctx: FlowRunContext
    on_done: OnDone
    gen: Any = None  # the Ray task's ObjectRefGenerator
    deadline: float | None = None  # monotonic time at which the Ray task is killed
    kill_reason: str | None = None  # "timeout" | "cancel" | "shutdown"
    final: _RayState | None = None  # "done" came; its value is the next item


class _Manager:
    """The one thread that reads the Ray tasks' messages; other threads raise flags."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inflight: set[_Slot] = set()  # submitted, on_done not called yet
        self.running: list[_Slot] = []  # launched on Ray
        self.cancel_requested = False
        self.stopping = False
        self.released: list[_RayState] = []
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="orkest-ray-runner",
                                       daemon=True)
        self.thread.start()

    # -- called from other threads --------------------------------------------------
    def track(self, slot: _Slot) -> None:
        with self.lock:
            self.inflight.add(slot)

    def launched(self, slot: _Slot) -> None:
        with self.lock:
            self.running.append(slot)
        self.wake.set()

    def cancel(self) -> None:
        with self.lock:
            self.cancel_requested = True
        self.wake.set()

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
        self.wake.set()
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
                    cancel, self.cancel_requested = self.cancel_requested, False
                    stopping = self.stopping
                    slots = list(self.running)
                if cancel:
                    for slot in slots:
                        self._kill(slot, "cancel")
                if stopping:
                    if stop_by is None:
                        stop_by = time.monotonic() + STOP_SECONDS
                        for slot in slots:
                            self._kill(slot, "shutdown")
                    if not slots or time.monotonic() > stop_by:
                        break
                if not slots:
                    self.wake.wait(POLL_SECONDS)
                    self.wake.clear()
                    continue
                self._poll(slots)
                now = time.monotonic()
                for slot in slots:
                    if slot.deadline is not None and now >= slot.deadline:
                        self._kill(slot, "timeout")
        except BaseException:  # noqa: BLE001 - never leave futures hanging
            log.exception("orkest Ray runner failed; its task runs are recorded CRASHED")
        finally:
            with self.lock:
                lost = list(self.inflight)
            for slot in lost:
                self.force(slot, Crashed(message="The Ray runner shut down while the task run"
                                                 " was running, or failed; see its log"))

    def _poll(self, slots: list[_Slot]) -> None:
        gens = [slot.gen for slot in slots]
        ready, _ = ray.wait(gens, num_returns=1, timeout=POLL_SECONDS, fetch_local=False)
        if not ready:
            return
        if len(gens) > 1:
            ready, _ = ray.wait(gens, num_returns=len(gens), timeout=0, fetch_local=False)
        by_gen = {id(slot.gen): slot for slot in slots}
        for gen in ready:
            self._read(by_gen[id(gen)])

    def _read(self, slot: _Slot) -> None:
        try:
            ref = next(slot.gen)
        except StopIteration:  # ended without its value: only after a bug on the worker
            self._end(slot, slot.final or Crashed(message="The Ray task ended without a result"))
            return
        if slot.final is not None:  # the value: it stays in Ray's object store
            slot.final.keep_on_cluster(ref, _fetcher(slot.job.task_run.name))
            self.released.append(slot.final)
            self._end(slot, slot.final)
            return
        try:
            message = pickle.loads(ray.get(ref))
        except Exception as exc:  # noqa: BLE001 - the Ray task failed: killed, or it died
            self._end(slot, None, exc)
            return
        self._handle(slot, message)

    def _handle(self, slot: _Slot, message: tuple) -> None:
        kind = message[0]
        if kind == "secrets":  # values the task registered: masked here from now on
            masking.adopt(message[1])
        elif kind == "running":
            _, seconds, batch = message
            if seconds is not None and slot.kill_reason is None:
                slot.deadline = time.monotonic() + seconds + GRACE_SECONDS
            _absorb(slot, batch, final=False)  # type: ignore[arg-type]
        elif kind == "attempt":  # an attempt with a timeout ended: no deadline meanwhile
            slot.deadline = None
        elif kind == "records":
            _absorb(slot, message[1], final=False)  # type: ignore[arg-type]
        elif kind == "done":
            _, type_value, name, text, ts, ref, data, batch = message
            _absorb(slot, batch, final=True)  # type: ignore[arg-type]
            slot.deadline = None
            state = _RayState(StateType(type_value), name, text, ts, result_ref=ref)
            if data is not None:
                state.data = _load_data(data)
            elif state.type is StateType.COMPLETED and ref is not None:
                _decode_small_result(state, batch)
            if state.type is StateType.COMPLETED and not state.has_data():
                slot.final = state  # its value is the next item
            else:
                self._end(slot, state)
        elif kind == "error":  # the job could not be loaded, or the engine itself failed
            _, text, tb, batch = message
            _absorb(slot, batch, final=True)  # type: ignore[arg-type]
            slot.job.task_run.failure_traceback = tb
            self._end(slot, None, forced=Crashed(message=text))

    def _end(self, slot: _Slot, state: State | None, error: BaseException | None = None,
             forced: State | None = None) -> None:
        with self.lock:
            if slot in self.running:
                self.running.remove(slot)
        if state is not None:
            self._finish(slot, state)
        elif slot.final is not None:  # done, but its value is lost with its worker
            self._finish(slot, slot.final)
        else:
            self.force(slot, forced or _death_state(slot, error))

    def _kill(self, slot: _Slot, reason: str) -> None:
        if slot.kill_reason is not None or slot.final is not None:
            return
        slot.kill_reason, slot.deadline = reason, None
        try:
            ray.cancel(slot.gen, force=True)
        except Exception:  # noqa: BLE001, S110 - already finished
            pass

    def force(self, slot: _Slot, state: State) -> None:
        """Finish a job the worker could not finish itself: record `state` here."""
        with self.lock:
            if slot not in self.inflight:
                return
        run = slot.job.task_run
        try:
            state = set_task_state(run, state, slot.ctx.sink)
        except InvalidStateTransition:  # it reached a final state meanwhile
            state = run.state
        self._finish(slot, state)

    def _finish(self, slot: _Slot, state: State) -> None:
        """Call on_done exactly once per job."""
        with self.lock:
            if slot not in self.inflight:
                return
            self.inflight.discard(slot)
            if slot in self.running:
                self.running.remove(slot)
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
