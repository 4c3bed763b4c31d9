"""The worker loop: claim runs of one pool, run each in a child, watch them, heartbeat.

One thread does everything, in short rounds (so that the worker can fork children safely):
1. collect children that exited and settle their runs (a child that died without
   finishing its run leaves it CRASHED, rerun while attempts remain; a cancelled one
   CANCELLED);
2. claim up to the free slots (`store.claim_flow_runs`, atomic across workers) and start a
   child per run; the claim is one indexed query, asked every `poll_seconds` while slots
   are free, and at once when a child ends;
3. watch the children's runs: a cancel request not obeyed within `cancel_grace_seconds`
   gets SIGTERM to the child's process group, then SIGKILL `kill_grace_seconds` later;
4. heartbeat the Worker record and run the reaper every few seconds.

Stopping (Ctrl-C or SIGTERM): no more claims, claimed runs not started are handed back,
running children finish. A second Ctrl-C terminates the children (their runs are recorded
CRASHED and go back to the pool while attempts remain).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orkest._internal.ids import new_id
from orkest.core.deployments import Worker
from orkest.core.records import FlowRun
from orkest.core.states import ACTIVE_TYPES, TERMINAL_TYPES, Cancelled, Crashed, StateType
from orkest.errors import InvalidStateTransition, ObjectNotFound, StoreError
from orkest.worker.process import Child, default_start_method, start_child

EXIT_STOPPED = 0
EXIT_FORCED = 130
_SETTLEABLE = (*ACTIVE_TYPES, StateType.PENDING)


@dataclass
class WorkerOptions:
    """How a worker behaves; the defaults suit production, tests shorten the waits."""

    pool: str
    concurrency: int = 1
    name: str | None = None
    poll_seconds: float = 0.05
    heartbeat_seconds: float = 5.0
    reap_seconds: float = 5.0
    watch_seconds: float = 0.5
    cancel_grace_seconds: float = 10.0
    kill_grace_seconds: float = 5.0
    start_method: str = field(default_factory=default_start_method)


Report = Callable[[str], None]


class WorkerLoop:
    """A worker of one pool; `run()` blocks until it is stopped."""

    def __init__(self, store: Any, options: WorkerOptions, report: Report | None = None) -> None:
        self.store = store
        self.options = options
        self.report = report or (lambda line: None)
        self.id = new_id()
        self.hostname = socket.gethostname()
        self.name = options.name or f"{self.hostname}-{os.getpid()}"
        self.started_ts = time.time()
        self.children: dict[str, Child] = {}
        self.stopping = False
        self.forced = False
        self._wake_read: int | None = None
        self._next = {"claim": 0.0, "heartbeat": 0.0, "reap": 0.0, "watch": 0.0}

    # -- control from outside -------------------------------------------------------------

    def request_stop(self, *, force: bool = False) -> None:
        """Stop claiming; with force, terminate the children too. Signal-handler safe."""
        self.forced = self.forced or force
        self.stopping = True

    def install_signal_handlers(self) -> Callable[[], None]:
        """Ctrl-C/SIGTERM stop gracefully, a second one forcefully; SIGCHLD wakes the loop."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def on_stop(signum: int, frame: Any) -> None:
            first = not self.stopping
            self.request_stop(force=not first)
            if first:
                self.report("Stopping: no new runs; waiting for running ones to finish "
                            "(Ctrl-C again to terminate them)")
            else:
                self.report("Terminating running flow runs")

        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)}
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        self._wake_read = read

        def restore() -> None:
            signal.set_wakeup_fd(previous_fd)
            for signum, handler in saved.items():
                signal.signal(signum, handler)
            self._wake_read = None
            os.close(read)
            os.close(write)

        return restore

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        """Work until stopped; EXIT_STOPPED after a graceful stop, EXIT_FORCED otherwise."""
        self._heartbeat(time.time(), "online")
        terminated = False
        try:
            while True:
                now = time.time()
                finished = self._collect_exits(now)
                if self.stopping and not self.children:
                    break
                if self.forced and not terminated:
                    terminated = True
                    for child in self.children.values():
                        child.terminate(time.monotonic())
                if not self.stopping and (finished or now >= self._next["claim"]):
                    self._claim(now)
                self._periodic(now)
                self._sleep()
        finally:
            self._heartbeat(time.time(), "stopped")
        return EXIT_FORCED if self.forced else EXIT_STOPPED

    def _periodic(self, now: float) -> None:
        mono = time.monotonic()
        if self.children and mono >= self._next["watch"]:
            self._next["watch"] = mono + self.options.watch_seconds
            self._watch(mono)
        if self.children:
            self._escalate(mono)
        if mono >= self._next["heartbeat"]:
            self._heartbeat(now, "online")
        if mono >= self._next["reap"]:
            self._next["reap"] = mono + self.options.reap_seconds
            self._reap(now)

    def _sleep(self) -> None:
        timeout = self.options.poll_seconds
        if self._wake_read is None:
            time.sleep(timeout)
            return
        try:
            ready, _, _ = select.select([self._wake_read], [], [], timeout)
        except InterruptedError:
            return
        if ready:
            try:
                while os.read(self._wake_read, 512):
                    pass
            except BlockingIOError:
                pass

    # -- claiming and starting ------------------------------------------------------------

    def _claim(self, now: float) -> None:
        self._next["claim"] = now + self.options.poll_seconds
        free = self.options.concurrency - len(self.children)
        if free <= 0:
            return
        try:
            claimed = self.store.claim_flow_runs(self.options.pool, self.id, limit=free, now=now)
        except StoreError as exc:
            self.report(f"Cannot claim runs: {exc}")
            self._next["claim"] = now + max(1.0, self.options.poll_seconds)
            return
        for run in claimed:
            if self.stopping:
                self._hand_back(run)
                continue
            self._start(run)

    def _start(self, run: FlowRun) -> None:
        try:
            child = start_child(run.id, run.name, self.options.start_method)
        except OSError as exc:
            self.report(f"Cannot start a process for flow run {run.name} ({run.id}): {exc}")
            self._hand_back(run)
            return
        self.children[run.id] = child
        self.report(f"Started flow run {run.name} ({run.id}) of {run.flow_name} "
                    f"in process {child.pid}")

    def _hand_back(self, run: FlowRun) -> None:
        try:
            if self.store.release_flow_run(run.id, self.id, time.time()):
                self.report(f"Handed back flow run {run.name} ({run.id})")
        except StoreError as exc:
            self.report(f"Cannot hand back flow run {run.id}: {exc}")

    # -- children ending ------------------------------------------------------------------

    def _collect_exits(self, now: float) -> bool:
        ended = [c for c in self.children.values() if c.poll() is not None]
        for child in ended:
            del self.children[child.flow_run_id]
            try:
                self._settle(child, now)
            except StoreError as exc:
                self.report(f"Cannot record the end of flow run {child.flow_run_id}: {exc}")
        return bool(ended)

    def _settle(self, child: Child, now: float) -> None:
        """Make sure the run of an ended child is finished, and say how it ended."""
        from orkest.services.reaper import finish_task_runs, finishing_policy, retry_crashed

        run = self.store.read_flow_run(child.flow_run_id)
        attempts = run.run_count
        if run.worker_id == self.id and run.state_type in _SETTLEABLE:
            if run.state_type is StateType.PENDING:
                attempts += 1  # it died before recording its start: count that attempt
            cancelled = child.cancel_seen is not None or run.state_type is \
                StateType.CANCELLING or run.requested_action == "cancel"
            how = describe_exit(child.exit_code)
            state = (Cancelled(message=f"Cancelled; its process {how}") if cancelled else
                     Crashed(message=f"Process {child.pid} {how} before the run finished"))
            # A policy the API server knows by name (a worker may talk only to it); a run
            # that finished meanwhile keeps its own outcome.
            try:
                run = self.store.set_state(run.id, "flow", state, finishing_policy(state.type))
            except (InvalidStateTransition, ObjectNotFound):
                run = self.store.read_flow_run(child.flow_run_id)
            else:
                finish_task_runs(self.store, run.id, lambda: state.copy())
        retried = False
        if run.state_type is StateType.CRASHED and run.worker_id == self.id:
            retried = retry_crashed(self.store, run, now, run.state_message or "Crashed",
                                    attempts=attempts)
        took = time.monotonic() - child.started
        why = "" if run.state_type is StateType.COMPLETED or not run.state_message else \
            f": {run.state_message.splitlines()[0][:300]}"
        self.report(f"Finished flow run {child.flow_run_name} ({run.id}) in {took:.2f} s: "
                    f"{run.state_type.value} ({run.state_name}{why})"
                    + ("; rescheduled for another attempt" if retried else ""))

    # -- watching running children --------------------------------------------------------

    def _watch(self, mono: float) -> None:
        """Read the runs of live children: a cancel request starts the grace period."""
        for child in list(self.children.values()):
            try:
                run = self.store.read_flow_run(child.flow_run_id)
            except (StoreError, ObjectNotFound):
                continue
            wants_cancel = run.state_type is StateType.CANCELLING or \
                run.requested_action == "cancel"
            if wants_cancel and child.cancel_seen is None:
                child.cancel_seen = mono
            if run.state_type in TERMINAL_TYPES and child.finished_seen is None:
                child.finished_seen = mono

    def _escalate(self, mono: float) -> None:
        """SIGTERM after the grace period, SIGKILL after the kill grace."""
        grace, kill_grace = self.options.cancel_grace_seconds, self.options.kill_grace_seconds
        for child in self.children.values():
            if child.term_sent is None:
                since = min((t for t in (child.cancel_seen, child.finished_seen)
                             if t is not None), default=None)
                if since is not None and mono - since >= grace:
                    self.report(f"Flow run {child.flow_run_name} ({child.flow_run_id}) did "
                                f"not stop within {grace:g} s: terminating process "
                                f"{child.pid}")
                    child.terminate(mono)
            elif child.kill_sent is None and mono - child.term_sent >= kill_grace:
                self.report(f"Process {child.pid} ignored SIGTERM for {kill_grace:g} s: "
                            "killing it")
                child.kill(mono)

    # -- heartbeats and the reaper --------------------------------------------------------

    def _heartbeat(self, now: float, status: str) -> None:
        self._next["heartbeat"] = time.monotonic() + self.options.heartbeat_seconds
        record = Worker(id=self.id, name=self.name, work_pool=self.options.pool,
                        hostname=self.hostname, pid=os.getpid(), started_ts=self.started_ts,
                        heartbeat_ts=now, concurrency=self.options.concurrency,
                        running=len(self.children), status=status)
        try:
            self.store.worker_heartbeat(record)
        except StoreError as exc:
            self.report(f"Heartbeat failed: {exc}")

    def _reap(self, now: float) -> None:
        from orkest.services.reaper import reap_orphans

        try:
            reaped = reap_orphans(self.store, now)
        except StoreError as exc:
            self.report(f"Reaper failed: {exc}")
            return
        for run_id in reaped:
            self.report(f"Flow run {run_id} lost its process: marked CRASHED")


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"
