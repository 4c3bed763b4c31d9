"""Run each task run as a task on a Dask cluster (the `dask` extra).

No address: a `distributed.LocalCluster` of worker processes starts with the flow run and
closes when it ends. An address: a Client connects to that scheduler and the cluster is
left running.

A task run is a Dask task that runs the job's attempts on a worker thread
(_remote_jobs.run_job) and returns the task's value, which Dask keeps on that worker. Its
records come back the way a process runner's child sends them (same messages), here as Dask
events on a topic of this flow run: "running" at the first live tick (every LIVE_SECONDS)
the attempt is still running at, then its logs at each tick, the rest with "done"; a task
shorter than a tick sends one event in all, its RUNNING state inside "done". The flow
process writes them. The task itself is scattered to the cluster once per flow run. A
downstream task's Dask task depends on its upstream's Dask future, so the value moves
worker to worker; the flow process gets it only when user code calls .result().

Differences with the process runner, forced by threads: a timeout interrupts the task at
its next Python instruction; one stuck in C code past its timeout (plus GRACE_SECONDS) is
recorded TimedOut here and abandoned, its thread runs on. Cancelling does the same.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import pickle
import queue
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from orkest.core.states import Cancelled, Crashed, Failed, State, StateType, TimedOut
from orkest.engine.task_run import describe_error, settle_task_state
from orkest.errors import (
    ConfigurationError,
    SerializationError,
    TaskTimeoutError,
)
from orkest.runners import _remote_jobs as remote
from orkest.runners._dask_worker import drop_topic, interrupt_topic, run_on_worker
from orkest.runners.base import OnDone, TaskRunner
from orkest.runners.processes import _absorb

if TYPE_CHECKING:
    from orkest.engine.context import FlowRunContext
    from orkest.engine.task_run import TaskRunJob

GRACE_SECONDS = 2.0  # past a timeout, how long a task may take to report before it is dropped
FUTURE_POLL_SECONDS = 0.25  # how often the in-flight futures' statuses are read
REPORT_SECONDS = 5.0  # a finished Dask task whose "done" event has not arrived: Crashed after
CONNECT_SECONDS = 10.0

log = logging.getLogger("orkest.runners.dask")


class DaskRunner(TaskRunner):
    """Task runs on a Dask cluster: a local one per flow run, or the one at `address`."""

    name = "dask"

    def __init__(self, address: str | None = None,
                 cluster_kwargs: dict[str, Any] | None = None) -> None:
        if address is not None and cluster_kwargs:
            raise ValueError(
                "DaskRunner: cluster_kwargs configures the local cluster started when no"
                f" address is given; with address={address!r} pass no cluster_kwargs")
        self.address = address
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self._session: _Session | None = None
        self._lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        return {"address": self.address, "cluster_kwargs": dict(self.cluster_kwargs)}

    def duplicate(self) -> DaskRunner:
        return DaskRunner(self.address, self.cluster_kwargs)

    def start(self) -> None:
        self._current()

    def submit(self, job: TaskRunJob, ctx: FlowRunContext, on_done: OnDone) -> None:
        self._current().submit(_Slot(job, ctx, on_done))

    def cancel_all(self) -> None:
        session = self._session
        if session is not None:
            session.cancel()

    def shutdown(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    @property
    def client(self) -> Any:
        """The distributed.Client of the running flow run (None between runs)."""
        session = self._session
        return session.client if session is not None else None

    def _current(self) -> _Session:
        with self._lock:
            if self._session is None:
                self._session = _Session(self.address, self.cluster_kwargs)
            return self._session

    def __repr__(self) -> str:
        where = f"address={self.address!r}" if self.address else f"{self.cluster_kwargs!r}"
        return f"DaskRunner({where})"


@dataclasses.dataclass(eq=False, slots=True)
class _Slot:
    job: TaskRunJob
    ctx: FlowRunContext
    on_done: OnDone
    token: int = 0
    future: Any = None  # the Dask future
    call: tuple | None = None  # its arguments, until the manager sends it (_flush)
    key: str = ""  # its Dask key
    owner: str | None = None  # the execution whose messages count (Dask may run it twice)
    started: bool = False
    deadline: float | None = None  # monotonic: a timed attempt must have reported by then
    report_by: float | None = None  # the Dask task finished; its "done" is due by then


def local_cluster_kwargs(cluster_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Worker processes, one thread each, no dashboard, quiet logs; the user's on top."""
    return {"n_workers": min(os.cpu_count() or 1, 4), "threads_per_worker": 1,
            "processes": True, "dashboard_address": None, "silence_logs": logging.ERROR,
            **cluster_kwargs}


class _Session:
    """One flow run's Client (and local cluster), its event topic and manager thread."""

    def __init__(self, address: str | None, cluster_kwargs: dict[str, Any]) -> None:
        import dask
        from distributed import Client, LocalCluster

        self.cluster = None
        try:
            if address is None:
                # A task whose worker dies is CRASHED (as on the process runner), never run
                # a second time behind the engine's back.
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    self.cluster = LocalCluster(**local_cluster_kwargs(cluster_kwargs))
                self.client = Client(self.cluster, set_as_default=False)
            else:
                self.client = Client(address, set_as_default=False, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            if self.cluster is not None:
                self.cluster.close()
            where = "a local Dask cluster" if address is None else \
                f"the Dask scheduler at {address!r}"
            raise ConfigurationError(
                f"DaskRunner cannot reach {where}: {describe_error(exc)}; check that the"
                " scheduler runs and the address is right") from exc
        self.topic = f"orkest-{uuid.uuid4().hex}"
        self.lock = threading.Lock()
        self.slots: dict[int, _Slot] = {}
        self.completed: list[remote.ClusterState] = []
        self.tokens = itertools.count(1)
        self.packer = remote.JobPacker("Dask")
        self.watching: set[int] = set()  # tokens of slots with a deadline or report_by
        self.next_poll = 0.0  # monotonic time of the next _poll_futures
        self.outbox: list[_Slot] = []  # submitted, not yet sent to the scheduler
        self.inbox: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self.cancelling = False
        self.closed = False
        self.client.subscribe_topic(self.topic, self._on_event)
        self.thread = threading.Thread(target=self._run, name="orkest-dask", daemon=True)
        self.thread.start()

    # -- called from other threads --------------------------------------------------
    def submit(self, slot: _Slot) -> None:
        job = slot.job
        if slot.ctx.cancel_event.is_set():
            self._force(slot, Cancelled(message="Flow run was cancelled"))
            return
        try:
            args, kwargs, refs = remote.lift_inputs(job.args, job.kwargs)
            task_token, task_data = self.packer.task(job, self._ship_task)
            payload = self.packer.pack(job, args, kwargs)
        except SerializationError as error:
            job.task_run.failure_type = "orkest.errors.SerializationError"
            self._force(slot, Failed(message=str(error), data=error))
            return
        with self.lock:
            if self.closed:
                raise RuntimeError("DaskRunner: submit after the flow run's shutdown")
            slot.token = token = next(self.tokens)
            self.slots[token] = slot
            # One bytes argument besides the task and the inputs: Dask pickles each
            # argument apart.
            envelope = pickle.dumps((payload, self.topic, token, task_token),
                                    protocol=pickle.HIGHEST_PROTOCOL)
            slot.call = (envelope, task_data, refs)
            slot.key = f"{job.task_run.name}-{token}-{self.topic}"
            first = not self.outbox
            self.outbox.append(slot)
        if first:
            self.inbox.put(("flush",))

    def _ship_task(self, data: bytes) -> Any:
        """A task's bytes go to the cluster once; each worker fetches them once."""
        return self.client.scatter(data, hash=False)

    def cancel(self) -> None:
        self.inbox.put(("cancel",))

    def close(self) -> None:
        self.inbox.put(("stop",))
        if threading.current_thread() is not self.thread:
            self.thread.join()

    def _on_event(self, event: tuple) -> None:  # on the Client's event loop: hand over
        token, execution, data = event[1]
        self.inbox.put(("event", token, execution, data))

    # -- the manager thread ---------------------------------------------------------
    def _run(self) -> None:
        try:
            while self._step():
                pass
        except BaseException:  # noqa: BLE001 - never leave futures hanging
            log.exception("orkest Dask runner failed; its task runs are recorded CRASHED")
        finally:
            with self.lock:
                self.closed = True
                left = list(self.slots.values())
            for slot in left:
                self._force(slot, Crashed(message="The task runner shut down while the task"
                                                  " run was running") if slot.started
                            else Cancelled(message="The task runner shut down"))
            self._release()

    def _step(self) -> bool:
        timeout = self._next_deadline()
        with self.lock:
            busy = bool(self.slots)
        if busy:
            poll_in = max(0.0, self.next_poll - time.monotonic())
            timeout = poll_in if timeout is None else min(timeout, poll_in)
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            item = ("tick",)
        kind = item[0]
        if kind == "stop":
            return False
        if kind == "event":
            self._on_message(*item[1:])
        elif kind == "flush":
            self._flush()
        elif kind == "cancel":
            self._cancel()
        if busy and time.monotonic() >= self.next_poll:
            self._poll_futures()
        self._enforce_deadlines()
        return True

    def _flush(self) -> None:
        """Send what was submitted since the last flush as one graph (client.map): a map of
        N task runs is a few scheduler updates, not N."""
        with self.lock:
            batch = [s for s in self.outbox if s.token in self.slots]
            self.outbox.clear()
        if not batch:
            return
        envelopes, tasks, inputs = (list(column) for column in
                                    zip(*(slot.call for slot in batch), strict=True))
        try:
            futures = self.client.map(run_on_worker, envelopes, tasks, inputs,
                                      key=[slot.key for slot in batch], pure=False)
        except Exception as exc:  # noqa: BLE001 - e.g. the scheduler is gone
            for slot in batch:
                self._force(slot, Crashed(
                    message=f"Its Dask task could not be submitted: {describe_error(exc)}"))
            return
        for slot, future in zip(batch, futures, strict=True):
            slot.future, slot.call = future, None

    def _poll_futures(self) -> None:
        """Futures that ended without their task's report (a lost worker, an error, a
        cancel by the cluster), found by reading each in-flight future's status every
        FUTURE_POLL_SECONDS: a done-callback per future costs the client's event loop,
        where the scheduler of a local cluster runs too, a coroutine per task."""
        self.next_poll = time.monotonic() + FUTURE_POLL_SECONDS
        with self.lock:
            ended = [token for token, slot in self.slots.items()
                     if slot.report_by is None and slot.future is not None
                     and slot.future.status != "pending"]
        for token in ended:
            self._on_future(token)

    def _watched(self) -> list[_Slot]:
        """The slots with a deadline or a report due (not every slot: thousands may wait)."""
        with self.lock:
            for token in [t for t in self.watching
                          if t not in self.slots or (self.slots[t].deadline is None
                                                     and self.slots[t].report_by is None)]:
                self.watching.discard(token)
            return [self.slots[t] for t in self.watching]

    def _next_deadline(self) -> float | None:
        times = [t for s in self._watched() for t in (s.deadline, s.report_by) if t is not None]
        return max(0.0, min(times) - time.monotonic()) if times else None

    def _on_message(self, token: int, execution: str, data: bytes) -> None:
        message = pickle.loads(data)
        if message[0] == "secrets":  # what a task registered: masked here from now on
            from orkest._internal import masking

            masking.adopt(message[1])
            return
        with self.lock:
            slot = self.slots.get(token)
        if slot is None:
            return  # finished here already (timed out, cancelled): late records are dropped
        if slot.owner is None:
            slot.owner = execution
        elif execution != slot.owner:
            return  # Dask ran it again after a worker was lost: its records would repeat
        kind = message[0]
        if kind == "running":
            _, seconds, batch = message
            slot.started = True
            slot.deadline = None if seconds is None else \
                time.monotonic() + seconds + GRACE_SECONDS
            self.watching.add(token)
            _absorb(slot, batch, final=False)  # type: ignore[arg-type]
        elif kind == "records":
            slot.started = True
            _absorb(slot, message[1], final=False)  # type: ignore[arg-type]
        elif kind == "attempt":
            slot.deadline = None
        elif kind == "done":
            _absorb(slot, message[7], final=True)  # type: ignore[arg-type]
            state = remote.done_state(message)
            if state.type is StateType.COMPLETED:
                run = slot.job.task_run
                state.keep_on_cluster(slot.future, lambda ref, run=run: self._fetch(ref, run))
                self.completed.append(state)
            self._finish(slot, state)
        elif kind == "error":
            _, text, tb, batch = message
            _absorb(slot, batch, final=True)  # type: ignore[arg-type]
            slot.job.task_run.failure_traceback = tb
            self._force(slot, Crashed(message=text))

    def _on_future(self, token: int) -> None:
        with self.lock:
            slot = self.slots.get(token)
        if slot is None:
            return
        status = slot.future.status
        if status == "finished":
            slot.report_by = time.monotonic() + REPORT_SECONDS  # its "done" is on its way
            self.watching.add(token)
        elif status == "error":
            error = slot.future.exception()
            self._force(slot, Crashed(
                message=f"Its Dask task failed (worker lost?): {describe_error(error)}"))
        elif self.cancelling:
            self._force(slot, Cancelled(message="Flow run was cancelled"))
        else:
            self._force(slot, Crashed(message=f"Its Dask task was {status} by the cluster"))

    def _cancel(self) -> None:
        """Pending Dask tasks are cancelled; running ones are interrupted on their worker."""
        self.cancelling = True
        with self.lock:
            slots = list(self.slots.values())
        pending = [s for s in slots if not s.started]
        for slot in pending:
            self._force(slot, Cancelled(message="Flow run was cancelled"))
        sent = [s.future for s in pending if s.future is not None]
        if sent:
            self.client.cancel(sent)
        if len(pending) < len(slots):
            try:
                self.client.run(interrupt_topic, self.topic)
            except Exception as exc:  # noqa: BLE001 - best effort: the engine abandons later
                log.warning("could not interrupt running Dask tasks: %s", describe_error(exc))

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for slot in self._watched():
            if slot.deadline is not None and now >= slot.deadline:
                timeout = slot.job.task.options.timeout_seconds or 0
                error = TaskTimeoutError(
                    f"Task run {slot.job.task_run.name!r} exceeded its timeout of {timeout:g} s"
                    " and did not stop; its Dask task was abandoned")
                slot.job.task_run.failure_type = "orkest.errors.TaskTimeoutError"
                self._force(slot, TimedOut(message=str(error), data=error))
                self.client.cancel([slot.future])
            elif slot.report_by is not None and now >= slot.report_by:
                self._force(slot, Crashed(message="Its Dask task finished without reporting"
                                                  " the task run's final state"))

    def _force(self, slot: _Slot, state: State) -> None:
        """Finish a job its worker could not finish: record `state` here."""
        with self.lock:
            if slot.token and slot.token not in self.slots:
                return
        state = settle_task_state(slot.job.task_run, state, slot.ctx.sink)
        self._finish(slot, state)

    def _finish(self, slot: _Slot, state: State) -> None:
        """Call on_done exactly once per job."""
        with self.lock:
            if slot.token:
                if self.slots.pop(slot.token, None) is None:
                    return
        try:
            slot.on_done(state)
        except Exception:  # noqa: BLE001 - a callback's bug must not stop the runner
            log.exception("on_done of task run %s failed", slot.job.task_run.name)

    def _fetch(self, ref: Any, run: Any) -> Any:
        if ref is None or self.closed:
            raise remote.lost_value_error(run, "Dask")
        try:
            return ref.result()
        except Exception as exc:
            raise SerializationError(
                f"The value of task run {run.name!r} cannot be fetched from the Dask"
                f" cluster: {describe_error(exc)}") from exc

    def _release(self) -> None:
        for state in self.completed:
            state.release()
        self.completed.clear()
        self.packer.clear()  # the scattered tasks leave the cluster
        try:
            self.client.unsubscribe_topic(self.topic)
            self.client.run_on_scheduler(drop_topic, self.topic)
        except Exception as exc:  # noqa: BLE001 - the scheduler may be gone already
            log.debug("could not drop the event topic: %s", describe_error(exc))
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
