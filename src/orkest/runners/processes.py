"""Run each task run in a worker process: real parallelism, exact resources, hard stops.

Not concurrent.futures.ProcessPoolExecutor: there one killed worker (a timeout past its
grace, a segfault, an OOM kill, a cancel) breaks the whole executor. Here every worker is
its own 'spawn' process with its own pipe; one manager thread in the parent multiplexes
the pipes, hands queued jobs to idle workers, enforces hard deadlines and replaces dead
workers lazily. A worker runs one task run at a time, in its MAIN thread: a timeout's
SIGUSR2 interrupts even a sleep, and ProcessMeter's CPU and peak memory are the task's own.

A child never writes to the store. Its records travel back in batches (every
LIVE_SECONDS while a task runs, so logs show up live; the rest with the final state) and
the parent's recorder writes them, with the parent's own TaskRun object in them.

Messages. Parent -> child: (task token, the task's bytes the first time this worker sees it,
the job's other fields, cloudpickled args and kwargs, the secret values registered for
masking that this worker has not been sent yet, or None), or b"" to stop. Child -> parent:
("ready",) | ("running", timeout, batch) | ("attempt",) (a timed attempt ended) |
("records", batch) | ("done", type, name, message, ts, result_ref, data, batch) |
("error", message, traceback, batch) | ("secrets", values): what a task registered (a
Secret it read), sent before the records that may hold it, so the parent masks it too.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import multiprocessing
import multiprocessing.util  # noqa: F401 - imported first so our atexit hook runs before its
import os
import pickle
import signal
import socket
import sys
import threading
import time
import weakref
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

import cloudpickle

from orkest._internal import masking
from orkest.core import results as codec
from orkest.core.records import WriteBatch
from orkest.core.states import (
    TERMINAL_TYPES,
    Cancelled,
    Crashed,
    Failed,
    State,
    StateType,
    TimedOut,
)
from orkest.engine.task_run import TaskRunJob, describe_error, settle_task_state
from orkest.errors import CancelledRun, SerializationError, TaskTimeoutError
from orkest.runners._process_worker import child_main
from orkest.runners.base import OnDone, TaskRunner

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from orkest.engine.context import FlowRunContext

GRACE_SECONDS = 2.0  # past a timeout, how long a child may take to report before it is killed
STOP_SECONDS = 2.0  # how long shutdown waits for idle workers to exit before killing them
MAX_BOOT_FAILURES = 3  # workers dying before they are ready: then queued jobs fail
USER_MODULE_PREFIX = "orkest_user_"  # see orkest._internal.loading
# What the child may change in a task run (parameters: inputs known only when it runs,
# such as a DAG task's rendered templates).
_COPIED = ("state_type", "state_name", "state_message", "state_ts", "start_ts", "end_ts",
           "run_count", "cpu_seconds", "peak_rss_bytes", "resource_scope", "failure_type",
           "failure_traceback", "result_ref", "cache_key", "parameters")
_PROTOCOL = pickle.HIGHEST_PROTOCOL

log = logging.getLogger("orkest.runners.processes")


class ProcessPoolRunner(TaskRunner):
    """Task runs in up to `max_workers` worker processes (default: one per CPU)."""

    name = "processes"

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, not {max_workers}")
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pool: _Pool | None = None
        self._lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        return {"max_workers": self.max_workers}

    def duplicate(self) -> ProcessPoolRunner:
        return ProcessPoolRunner(self.max_workers)

    def submit(self, job: TaskRunJob, ctx: FlowRunContext, on_done: OnDone) -> None:
        slot = _Slot(job, ctx, on_done)
        while True:
            pool = self._pool
            if pool is None:
                with self._lock:
                    if self._pool is None:
                        self._pool = _Pool(self.max_workers)
                    pool = self._pool
            if pool.put(slot):
                return
            with self._lock:  # it was shutting down: the next submit starts a new pool
                if self._pool is pool:
                    self._pool = None

    def cancel_all(self) -> None:
        pool = self._pool
        if pool is not None:
            pool.cancel()

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()

    def __repr__(self) -> str:
        return f"ProcessPoolRunner(max_workers={self.max_workers})"


@dataclasses.dataclass(eq=False, slots=True)
class _Slot:
    """One job handed to the runner, with where its records and final state go."""

    job: TaskRunJob
    ctx: FlowRunContext
    on_done: OnDone


class _Worker:
    __slots__ = ("process", "conn", "ready", "slot", "deadline", "kill_reason", "reading",
                 "tasks", "secrets_sent")

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.ready = False
        self.slot: _Slot | None = None
        self.deadline: float | None = None  # monotonic time at which it is killed
        self.kill_reason: str | None = None  # "timeout" | "cancel" | "shutdown" | "lost"
        self.reading = True  # False once the pipe reported EOF
        self.tasks: set[int] = set()  # tokens of the tasks this worker has loaded
        self.secrets_sent = 0  # masking.count() when this worker last got our secrets


_live_pools: weakref.WeakSet[_Pool] = weakref.WeakSet()
_atexit_registered = False


class _Pool:
    """Worker processes and the one thread that talks to them.

    Everything about workers happens in that thread; other threads only queue jobs and
    raise flags (cancel, stop) under `lock`, then wake it through a socket pair.
    """

    def __init__(self, max_workers: int) -> None:
        global _atexit_registered
        self.max_workers = max_workers
        self.lock = threading.Lock()
        self.queue: deque[_Slot] = deque()
        self.inflight: set[_Slot] = set()  # submitted, on_done not called yet
        self.cancel_requested = False
        self.stopping = False
        self.workers: list[_Worker] = []
        self.boot_failures = 0
        self._tasks: dict[int, tuple[Any, bytes, int]] = {}  # id(task) -> task, bytes, token
        self._mp = multiprocessing.get_context("spawn")
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._woken = False
        _live_pools.add(self)
        if not _atexit_registered:
            _atexit_registered = True
            atexit.register(_kill_all_workers)  # runs before multiprocessing joins children
        self.thread = threading.Thread(target=self._run, name="orkest-process-pool",
                                       daemon=True)
        self.thread.start()

    # -- called from other threads --------------------------------------------------
    def put(self, slot: _Slot) -> bool:
        with self.lock:
            if self.stopping:
                return False
            self.queue.append(slot)
            self.inflight.add(slot)
        self._wake()
        return True

    def cancel(self) -> None:
        with self.lock:
            self.cancel_requested = True
        self._wake()

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
        self._wake()
        if threading.current_thread() is not self.thread:
            self.thread.join()

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            try:
                self._wake_w.send(b"\0")
            except OSError:  # full (already woken) or closed (stopped)
                pass

    # -- the manager thread ---------------------------------------------------------
    def _run(self) -> None:
        try:
            while self._step():
                pass
        except BaseException:  # noqa: BLE001 - never leave futures hanging
            log.exception("orkest process pool failed; its task runs are recorded CRASHED")
            for worker in self.workers:
                self._kill(worker, "shutdown")
        finally:
            with self.lock:
                self.stopping = True  # from now on put() refuses: the runner makes a new pool
                dropped = list(self.queue)
                self.queue.clear()
            try:
                for slot in dropped:
                    self._force(slot, Cancelled(message="The task runner shut down"))
                self._stop_workers()
            finally:
                with self.lock:
                    lost = list(self.inflight)
                for slot in lost:  # only after a bug above: still, every future gets a state
                    self._force(slot, Crashed(message="The process pool failed; see its log"))
                self._wake_r.close()
                self._wake_w.close()

    def _step(self) -> bool:
        with self.lock:
            stopping, cancel = self.stopping, self.cancel_requested
            self.cancel_requested = False
            dropped = list(self.queue) if cancel else []
            if dropped:
                self.queue.clear()
        for slot in dropped:
            self._force(slot, Cancelled(message="Flow run was cancelled"))
        if cancel:
            for worker in self.workers:
                if worker.slot is not None:
                    self._kill(worker, "cancel")
        if stopping:
            return False
        self._dispatch()
        conns = {w.conn: w for w in self.workers if w.reading}
        sentinels = {w.process.sentinel: w for w in self.workers}
        deadlines = [w.deadline for w in self.workers if w.deadline is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ready = wait([self._wake_r, *conns, *sentinels], timeout)
        for obj in ready:
            if obj is self._wake_r:
                self._woken = False
                try:
                    self._wake_r.recv(4096)
                except OSError:
                    pass
            elif obj in conns:
                self._read(conns[obj])
        for obj in ready:
            if isinstance(obj, int) and obj in sentinels:
                self._on_exit(sentinels[obj])
        now = time.monotonic()
        for worker in self.workers:
            if worker.deadline is not None and now >= worker.deadline:
                self._kill(worker, "timeout")
        return True

    def _dispatch(self) -> None:
        idle = [w for w in self.workers if w.ready and w.slot is None and w.kill_reason is None]
        while idle:
            with self.lock:
                if not self.queue:
                    break
                slot = self.queue.popleft()
            if slot.ctx.cancel_event.is_set():
                self._force(slot, Cancelled(message="Flow run was cancelled"))
                continue
            worker = idle[-1]
            packed = self._pack(slot, worker)
            if packed is None:
                continue
            payload, token = packed
            idle.pop()
            try:
                worker.conn.send_bytes(payload)
            except OSError:  # it just died: the job goes back, the sentinel reaps the worker
                with self.lock:
                    self.queue.appendleft(slot)
                self._kill(worker, "lost")
                continue
            worker.slot = slot
            worker.tasks.add(token)
        with self.lock:
            waiting = len(self.queue)
        booting = sum(1 for w in self.workers if not w.ready)
        while waiting > booting and len(self.workers) < self.max_workers:
            self._spawn()
            booting += 1

    def _spawn(self) -> None:
        parent_end, child_end = self._mp.Pipe(duplex=True)
        process = self._mp.Process(target=child_main, args=(child_end,), daemon=False,
                                   name=f"orkest-worker-{len(self.workers)}")
        process.start()
        child_end.close()
        self.workers.append(_Worker(process, parent_end))

    def _pack(self, slot: _Slot, worker: _Worker) -> tuple[bytes, int] | None:
        """The job's bytes; its task travels once per worker (map() sends one task N times)."""
        job = slot.job
        try:
            _ship_user_modules_by_value()
            known = self._tasks.get(id(job.task))  # the entry keeps the task: ids stay unique
            if known is None:
                known = self._tasks[id(job.task)] = (
                    job.task, cloudpickle.dumps(job.task, protocol=_PROTOCOL), len(self._tasks))
            _, task_bytes, token = known
            fresh = None if token in worker.tasks else task_bytes
            # Plain pickle (C, fast) for the engine's records; cloudpickle for user values.
            rest = {f.name: getattr(job, f.name) for f in dataclasses.fields(job)
                    if f.name not in ("task", "args", "kwargs")}
            try:
                rest_bytes = pickle.dumps(rest, protocol=_PROTOCOL)
            except Exception:  # noqa: BLE001 - a field plain pickle cannot handle
                rest_bytes = cloudpickle.dumps(rest, protocol=_PROTOCOL)
            values = cloudpickle.dumps((job.args, job.kwargs), protocol=_PROTOCOL)
            secrets = None
            if masking.count() > worker.secrets_sent:  # new since this worker last heard
                worker.secrets_sent = masking.count()
                secrets = tuple(masking.registered())
            return pickle.dumps((token, fresh, rest_bytes, values, secrets),
                                protocol=_PROTOCOL), token
        except Exception as exc:  # noqa: BLE001 - an unpicklable argument fails this run only
            error = SerializationError(
                f"Task run {slot.job.task_run.name!r} cannot be sent to a worker process: "
                f"{describe_error(exc)}; pass picklable arguments or use ThreadPoolRunner")
            self._force(slot, Failed(message=str(error), data=error), error)
            return None

    def _read(self, worker: _Worker, drain: bool = False) -> None:
        """One message (wait() reports the pipe again if there is more), or all if `drain`."""
        try:
            while True:
                self._handle(worker, pickle.loads(worker.conn.recv_bytes()))
                if not drain or not worker.conn.poll():
                    return
        except (EOFError, OSError):
            worker.reading = False  # dying: its sentinel says when it is gone
        except Exception as exc:  # noqa: BLE001 - a garbled message: stop that worker
            log.error("worker %s sent a bad message: %r", worker.process.pid, exc)
            worker.reading = False
            self._kill(worker, "lost")

    def _handle(self, worker: _Worker, message: tuple) -> None:
        kind, slot = message[0], worker.slot
        if kind == "secrets":  # values the task registered: masked here from now on
            masking.adopt(message[1])
        elif kind == "ready":
            worker.ready = True
            self.boot_failures = 0
        elif kind == "attempt":  # an attempt with a timeout ended: no deadline meanwhile
            worker.deadline = None
        elif slot is None:
            return
        elif kind == "running":
            _, seconds, batch = message
            if seconds is not None:
                worker.deadline = time.monotonic() + seconds + GRACE_SECONDS
            _absorb(slot, batch, final=False)
        elif kind == "records":
            _absorb(slot, message[1], final=False)
        elif kind == "done":
            worker.slot, worker.deadline = None, None
            _, type_value, name, text, ts, ref, data, batch = message
            _absorb(slot, batch, final=True)
            state = State(StateType(type_value), name, text, ts, result_ref=ref)
            if data is not None:
                state.data = _load_data(data)
            elif ref is not None and state.type is StateType.COMPLETED:
                _decode_small_result(state, batch)
            self._finish(slot, state)
        elif kind == "error":  # the job could not be loaded, or the engine itself failed
            worker.slot, worker.deadline = None, None
            _, text, tb, batch = message
            worker.tasks.clear()  # if its task failed to load, send it again next time
            _absorb(slot, batch, final=True)
            slot.job.task_run.failure_traceback = tb
            self._force(slot, Crashed(message=text))

    def _on_exit(self, worker: _Worker) -> None:
        if worker.reading and worker.conn.poll():
            self._read(worker, drain=True)  # what it said before it died
        worker.process.join(1.0)
        code = worker.process.exitcode
        slot, worker.slot = worker.slot, None
        if slot is not None:
            self._force(slot, _death_state(worker, slot, code))
        elif not worker.ready and worker.kill_reason is None:
            self.boot_failures += 1
            if self.boot_failures >= MAX_BOOT_FAILURES:
                with self.lock:
                    dropped = list(self.queue)
                    self.queue.clear()
                for queued in dropped:
                    self._force(queued, Crashed(
                        message=f"Worker processes exit while starting (last exit code {code});"
                                " see their output on stderr"))
        self.workers.remove(worker)
        worker.conn.close()
        if code is not None:
            worker.process.close()  # its sentinel fd now, not at garbage collection

    def _kill(self, worker: _Worker, reason: str) -> None:
        if worker.kill_reason is None:
            worker.kill_reason = reason
        worker.deadline = None
        try:
            worker.process.kill()
        except (OSError, ValueError):  # already gone
            pass

    def _force(self, slot: _Slot, state: State, error: BaseException | None = None) -> None:
        """Finish a job the child could not finish itself: record `state` in the parent."""
        if slot not in self.inflight:
            return
        run = slot.job.task_run
        if error is not None:
            run.failure_type = f"{type(error).__module__}.{type(error).__qualname__}"
        state = settle_task_state(run, state, slot.ctx.sink)
        self._finish(slot, state)

    def _finish(self, slot: _Slot, state: State) -> None:
        """Call on_done exactly once per job."""
        with self.lock:
            if slot not in self.inflight:
                return
            self.inflight.discard(slot)
        try:
            slot.on_done(state)
        except Exception:  # noqa: BLE001 - a callback's bug must not stop the pool
            log.exception("on_done of task run %s failed", slot.job.task_run.name)

    def _stop_workers(self) -> None:
        """Idle workers get the stop message; busy or slow ones are killed; all are reaped."""
        for worker in self.workers:
            if worker.slot is not None:
                self._kill(worker, "shutdown")
            else:
                try:
                    worker.conn.send_bytes(b"")
                except OSError:
                    pass
        deadline = time.monotonic() + STOP_SECONDS
        for worker in list(self.workers):
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.exitcode is None:
                self._kill(worker, "shutdown")
            self._on_exit(worker)


def _death_state(worker: _Worker, slot: _Slot, code: int | None) -> State:
    name, reason = slot.job.task_run.name, worker.kill_reason
    if reason == "timeout":
        timeout = slot.job.task.options.timeout_seconds or 0
        error: BaseException = TaskTimeoutError(
            f"Task run {name!r} exceeded its timeout of {timeout:g} s and did not stop; its"
            f" worker process was killed")
        slot.job.task_run.failure_type = "orkest.errors.TaskTimeoutError"
        return TimedOut(message=str(error), data=error)
    if reason == "cancel":
        return Cancelled(message="Cancelled while running: its worker process was killed",
                         data=CancelledRun("Flow run was cancelled"))
    if reason == "shutdown":
        return Crashed(message="The task runner shut down while the task run was running")
    how = f"exited with code {code}"
    if code is not None and code < 0:
        signame = signal.Signals(-code).name if -code in signal.valid_signals() else "?"
        how += f" (killed by {signame}{', out of memory?' if -code == signal.SIGKILL else ''})"
    return Crashed(message=f"Worker process {worker.process.pid} {how} while running {name!r}")


def _absorb(slot: _Slot, batch: WriteBatch, final: bool) -> None:
    """Hand a child's records to the parent's sink, with the parent's TaskRun in them."""
    run = slot.job.task_run
    child = batch.task_runs.get(run.id)
    if child is not None:
        # A live snapshot may be torn at the final transition: only "done" sets the end.
        if final or child.state_type not in TERMINAL_TYPES:
            for name in _COPIED:
                setattr(run, name, getattr(child, name))
        batch.task_runs[run.id] = run
    if not len(batch):
        return
    sink = slot.ctx.sink
    absorb = getattr(sink, "absorb", None)
    if absorb is not None:
        absorb(batch)
        return
    for task_run in batch.task_runs.values():
        sink.task_run(task_run)
    for kind, records in (("state", batch.states), ("log", batch.logs),
                          ("result", batch.results), ("cache", batch.cache)):
        for record in records:
            getattr(sink, kind)(record)


def _load_data(data: bytes) -> Any:
    try:
        return pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - e.g. an exception class that cannot be rebuilt
        return RuntimeError(f"A value from a worker process cannot be loaded: {exc!r}")


def _decode_small_result(state: State, batch: WriteBatch) -> None:
    """Give the state its value when the result is inline or in this batch; else lazy."""
    ref = state.result_ref or ""
    location, _, rest = ref.partition(":")
    serializer, _, key = rest.partition(":")
    if location == "inline":
        state.data = json.loads(key)
    elif location == "db":
        for blob in batch.results:
            if blob.key == key:
                state.data = codec.loads(blob.data, blob.serializer)
                return


_by_value: set[str] = set()
_modules_seen = 0


def _ship_user_modules_by_value() -> None:
    """Flow files loaded by path (orkest_user_*) cannot be imported by name in a child."""
    global _modules_seen
    if len(sys.modules) == _modules_seen:
        return
    _modules_seen = len(sys.modules)
    for name in list(sys.modules):
        if name.startswith(USER_MODULE_PREFIX) and name not in _by_value:
            module = sys.modules.get(name)
            if module is not None:
                cloudpickle.register_pickle_by_value(module)
                _by_value.add(name)


def _kill_all_workers() -> None:
    """At interpreter exit: no worker may outlive us, or keep multiprocessing joining it."""
    for pool in list(_live_pools):
        for worker in list(pool.workers):
            try:
                worker.process.kill()
                worker.process.join(1.0)
            except (OSError, ValueError, AssertionError):
                pass
