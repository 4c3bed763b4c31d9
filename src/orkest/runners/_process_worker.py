"""The child side of ProcessPoolRunner: a worker process that runs one job at a time.

It runs in its MAIN thread (timeouts interrupt even a sleep), never opens the store, and
ships its records back to the parent: at once when an attempt starts, every LIVE_SECONDS
while it runs, and the rest with the final state. See processes.py for the messages.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from orkest._internal import masking
from orkest.core.states import TERMINAL_TYPES, Failed, State, StateType
from orkest.engine.recorder import BufferSink
from orkest.engine.task_run import TaskRunJob, describe_error, execute, set_task_state
from orkest.errors import SerializationError

LIVE_SECONDS = 0.5  # how often a child ships the records of a running task
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class _ChildSink(BufferSink):
    """A BufferSink that the shipping thread drains while the task still appends to it."""

    def __init__(self, conn: Connection, lazy_running: bool = False) -> None:
        super().__init__()
        self.conn = conn
        self.lock = threading.Lock()  # guards self.batch and the attempt's flags
        self.send_lock = threading.Lock()  # one message at a time, taken and sent in order
        self.run: Any = None
        self.timeout: float | None = None
        self.held = False  # the final state is recorded: the rest travels with "done"
        self.parent_knows = 0  # masking.count() when the parent last learnt our secrets
        # Cluster runners, where each message is a round trip through a scheduler: an
        # attempt is announced ("running") at the first live tick it is still running at,
        # so a short task sends one message in all. A pipe is cheap: the process runner
        # announces at once.
        self.lazy_running = lazy_running
        self.running_since: float | None = None  # lazy: running, not announced yet
        self.announced = False  # this attempt's "running" went out

    def begin(self, job: TaskRunJob) -> None:
        self.run, self.timeout = job.task_run, job.task.options.timeout_seconds
        with self.lock:
            self.running_since, self.announced = None, False

    def send(self, message: tuple) -> None:
        data = pickle.dumps(message, protocol=_PROTOCOL)
        with self.send_lock:
            self.conn.send_bytes(data)

    def ship(self, head: tuple = ("records",), final: bool = False) -> None:
        """Send what was recorded so far after `head`; taken and sent under one lock.

        Secrets the task registered go first, so the parent masks them in these records
        and in whatever it records later from the task's outcome (its exception text).
        """
        with self.send_lock:
            if masking.count() > self.parent_knows:
                self.parent_knows = masking.count()
                self.conn.send_bytes(pickle.dumps(("secrets", tuple(masking.registered())),
                                                  protocol=_PROTOCOL))
            with self.lock:
                if not final and self.held and head[0] != "records":
                    batch = type(self.batch)()  # the final ship carries the records
                elif not final and head[0] == "records" and (self.held or not len(self.batch)):
                    return
                else:
                    batch = self.take()
                if final:
                    self.held = False
            self.conn.send_bytes(pickle.dumps((*head, batch), protocol=_PROTOCOL))

    def task_run(self, run: Any) -> None:
        with self.lock:
            self.batch.task_runs[run.id] = run

    def state(self, record: Any) -> None:
        run = self.run
        with self.lock:
            self.batch.states.append(record)
            if run is None or record.run_id != run.id:
                return
            if record.type in TERMINAL_TYPES:
                self.held = True
            elif record.type is StateType.RUNNING:
                self.batch.task_runs[run.id] = run  # already RUNNING: set before this call
        if record.type is StateType.RUNNING:
            if self.lazy_running:
                with self.lock:
                    self.running_since = time.monotonic()
                return
            # At once: the store shows it running, and a kill cannot lose that history.
            self.announced = True
            self.ship(("running", self.timeout))
            return
        with self.lock:
            self.running_since = None
            announced, self.announced = self.announced, False
        if self.timeout is not None and (announced or not self.lazy_running):
            self.send(("attempt",))  # not running: no deadline while it waits

    def tick(self) -> None:
        """The live shipper's call: announce an attempt still running, or ship its records.

        "running" carries what is left of the timeout, so the parent's hard deadline is
        the same as if it had been announced when the attempt began.
        """
        with self.lock:
            since, self.running_since = self.running_since, None
            if since is not None and not self.held:
                self.announced = True
            else:
                since = None
        if since is None:
            self.ship()
            return
        left = None if self.timeout is None else \
            max(0.0, self.timeout - (time.monotonic() - since))
        self.ship(("running", left))

    def log(self, line: Any) -> None:
        with self.lock:
            self.batch.logs.append(line)

    def result(self, blob: Any) -> None:
        with self.lock:
            self.batch.results.append(blob)

    def cache(self, entry: Any) -> None:
        with self.lock:
            self.batch.cache.append(entry)


def child_main(conn: Connection) -> None:
    """A worker: run jobs one at a time in this (main) thread until told to stop."""
    from orkest.engine.logs import enable_print_capture
    from orkest.engine.resources import ProcessMeter

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    sink = _ChildSink(conn)
    tasks: dict[int, Any] = {}  # token -> Task, as sent once by the parent
    threading.Thread(target=_ship_live, args=(sink, os.getppid()), name="orkest-ship",
                     daemon=True).start()
    sink.send(("ready",))
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not data:
            return
        try:
            token, task_bytes, rest, values, secrets = pickle.loads(data)
            if secrets:  # the parent's, masked here too (in the task's printed output)
                masking.adopt(secrets)
                sink.parent_knows = masking.count()
            if task_bytes is not None:
                tasks[token] = pickle.loads(task_bytes)
            args, kwargs = pickle.loads(values)
            job = TaskRunJob(task=tasks[token], args=args, kwargs=kwargs, **pickle.loads(rest))
        except BaseException as exc:  # noqa: BLE001 - e.g. a module missing in the child
            sink.ship(("error", f"Cannot load the task run in a worker process: "
                                f"{describe_error(exc)}", traceback.format_exc()), final=True)
            continue
        sink.begin(job)
        try:
            if job.log_prints:
                enable_print_capture()
            state = execute(job, sink, ProcessMeter(), None)
            head = _final_message(job, state, sink)
        except BaseException as exc:  # noqa: BLE001 - the engine failed: report, stay alive
            head = ("error", f"Worker error: {describe_error(exc)}", traceback.format_exc())
        sink.ship(head, final=True)
        sys.stdout.flush()


def _final_message(job: TaskRunJob, state: State, sink: _ChildSink) -> tuple:
    data = None
    if state.has_data() and (state.type is not StateType.COMPLETED or state.result_ref is None):
        try:
            data = cloudpickle.dumps(state.data, protocol=_PROTOCOL)
            if isinstance(state.data, BaseException):
                pickle.loads(data)  # an exception that cannot be rebuilt is caught here
        except Exception as exc:  # noqa: BLE001 - replaced below
            if isinstance(state.data, BaseException):
                error = state.data
                data = cloudpickle.dumps(RuntimeError(describe_error(error)))
            else:
                state = _unsendable(job, state, exc, sink)
                data = cloudpickle.dumps(state.data, protocol=_PROTOCOL)
    return ("done", state.type.value, state.name, state.message, state.ts, state.result_ref,
            data)


def _unsendable(job: TaskRunJob, state: State, exc: Exception, sink: _ChildSink) -> State:
    """A completed value that cannot travel back fails the run (it is not yet shipped)."""
    run = job.task_run
    with sink.lock:
        states = sink.batch.states
        if states and states[-1].run_id == run.id and states[-1].type in TERMINAL_TYPES:
            states.pop()
        sink.batch.cache = [c for c in sink.batch.cache if c.task_run_id != run.id]
    run.state_type, run.end_ts = StateType.RUNNING, None
    error = SerializationError(
        f"Task run {run.name!r} returned a {type(state.data).__qualname__}, which cannot be"
        f" sent back from its worker process ({describe_error(exc)}); return a picklable"
        f" value or use ThreadPoolRunner")
    run.failure_type = "orkest.errors.SerializationError"
    return set_task_state(run, Failed(message=str(error), data=error), sink)


def _ship_live(sink: _ChildSink, parent_pid: int) -> None:
    while True:
        time.sleep(LIVE_SECONDS)
        if os.getppid() != parent_pid:  # the parent died: nobody will read our results
            os._exit(1)
        try:
            sink.tick()
        except OSError:
            os._exit(1)
