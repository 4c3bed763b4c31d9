"""Keeping store writes off the task's path.

The engine hands records to a sink. The process-wide `Recorder` batches them and a
background thread writes a batch every `FLUSH_SECONDS` in one transaction; a top-level
flow run flushes synchronously when it ends, and so does interpreter exit (atexit), so a
normal exit, an exception or Ctrl-C loses nothing. A `kill -9` loses at most the records
of the last FLUSH_SECONDS (the run itself is then shown CRASHED: its process is gone).

The same thread polls the store for requests (cancel, resume) addressed to the flow runs
this process owns, and heartbeats them.

Every batch is masked (engine/redaction.py) right before it is written: a secret value
this process has registered never reaches the store, the API or an unsent file.

When the store cannot be reached (StoreUnavailable: the API server is down), the run goes
on: the background thread keeps the batch and retries with capped, jittered exponential
backoff; a synchronous flush (the end of a top-level flow) keeps trying for
ORKEST_API_FLUSH_TIMEOUT seconds, then saves what is left to ORKEST_HOME/unsent/ as JSON
lines of batches and logs a warning; `orkest.client.replay_unsent()` sends them later.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from orkest import settings
from orkest._internal import masking
from orkest.core.records import CacheEntry, FlowRun, LogLine, ResultBlob, StateRecord, TaskRun
from orkest.core.records import WriteBatch as Batch
from orkest.engine.limits import renew_leases
from orkest.engine.redaction import mask_batch
from orkest.engine.unsent import backoff, describe_runs, spill_batch
from orkest.errors import StoreError, StoreUnavailable

FLUSH_SECONDS = 0.2
POLL_SECONDS = float(os.environ.get("ORKEST_POLL_SECONDS", "0.5"))
HEARTBEAT_SECONDS = 10.0
MAX_LOG_BYTES = 60_000  # under the API server's 64 KiB per line

log = logging.getLogger("orkest.recorder")


class RecordSink(Protocol):
    def flow_run(self, run: FlowRun) -> None: ...
    def task_run(self, run: TaskRun) -> None: ...
    def state(self, record: StateRecord) -> None: ...
    def log(self, line: LogLine) -> None: ...
    def result(self, blob: ResultBlob) -> None: ...
    def cache(self, entry: CacheEntry) -> None: ...


class BufferSink:
    """Collects records in a child process, to be shipped to the parent's recorder."""

    def __init__(self) -> None:
        self.batch = Batch()

    def flow_run(self, run: FlowRun) -> None:
        self.batch.flow_runs[run.id] = run

    def task_run(self, run: TaskRun) -> None:
        self.batch.task_runs[run.id] = run

    def state(self, record: StateRecord) -> None:
        self.batch.states.append(record)

    def log(self, line: LogLine) -> None:
        self.batch.logs.append(line)

    def result(self, blob: ResultBlob) -> None:
        self.batch.results.append(blob)

    def cache(self, entry: CacheEntry) -> None:
        self.batch.cache.append(entry)

    def take(self) -> Batch:
        batch, self.batch = self.batch, Batch()
        return batch


RequestHandler = Callable[[str, Any], None]


class Recorder:
    """Batches records for one store and writes them in the background.

    Producers only append to deques (atomic in CPython, no lock): a task run's records
    never wait for a lock that the writer or another task holds.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._flow_runs: deque[FlowRun] = deque()
        self._task_runs: deque[TaskRun] = deque()
        self._states: deque[StateRecord] = deque()
        self._logs: deque[LogLine] = deque()
        self._results: deque[ResultBlob] = deque()
        self._cache: deque[CacheEntry] = deque()
        self._pending_results: dict[str, ResultBlob] = {}
        self._unwritten: Batch | None = None  # a batch whose write failed, retried first
        self._write_lock = threading.Lock()  # one writer at a time keeps batches in order
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._owned: dict[str, RequestHandler] = {}  # flow runs this process drives
        self._last_poll = 0.0
        self._last_heartbeat = 0.0
        self._failures = 0
        self._retry_at = 0.0  # time.monotonic() before which the background does not write
        self._down_since: float | None = None  # when the store became unreachable
        self._closed = False
        self._listeners: tuple[Callable[[str, Any], None], ...] = ()

    def add_listener(self, listener: Callable[[str, Any], None]) -> None:
        """Call `listener("flow"|"task", run)` on every run snapshot (live progress views)."""
        self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Callable[[str, Any], None]) -> None:
        self._listeners = tuple(x for x in self._listeners if x is not listener)

    def _notify(self, kind: str, run: Any) -> None:
        for listener in self._listeners:
            try:
                listener(kind, run)
            except Exception:  # noqa: BLE001, S110 - a display must not break a run
                pass

    # -- the sink ---------------------------------------------------------------------
    def flow_run(self, run: FlowRun) -> None:
        self._flow_runs.append(run)
        if self._thread is None:
            self._ensure_thread()
        if self._listeners:
            self._notify("flow", run)

    def task_run(self, run: TaskRun) -> None:
        self._task_runs.append(run)
        if self._listeners:
            self._notify("task", run)

    def state(self, record: StateRecord) -> None:
        self._states.append(record)

    def log(self, line: LogLine) -> None:
        self._logs.append(line)

    def result(self, blob: ResultBlob) -> None:
        self._pending_results[blob.key] = blob
        self._results.append(blob)

    def cache(self, entry: CacheEntry) -> None:
        self._cache.append(entry)

    def absorb(self, batch: Batch) -> None:
        """Take a batch made elsewhere (a child process) as if recorded here."""
        for blob in batch.results:
            self._pending_results[blob.key] = blob
        self._flow_runs.extend(batch.flow_runs.values())
        self._task_runs.extend(batch.task_runs.values())
        self._states.extend(batch.states)
        self._logs.extend(batch.logs)
        self._results.extend(batch.results)
        self._cache.extend(batch.cache)
        if self._thread is None:
            self._ensure_thread()
        if self._listeners:
            for run in batch.task_runs.values():
                self._notify("task", run)

    # -- reads that must see what is not written yet ----------------------------------
    def pending_result(self, key: str) -> ResultBlob | None:
        return self._pending_results.get(key)

    def lookup_cache(self, key: str, now: float) -> CacheEntry | None:
        unwritten = list(self._cache)
        if self._unwritten is not None:
            unwritten = self._unwritten.cache + unwritten
        for entry in reversed(unwritten):
            if entry.key == key and (entry.expires_ts is None or entry.expires_ts > now):
                return entry
        try:
            return self.store.lookup_cache(key, now)
        except StoreUnavailable:  # a miss: the task runs rather than waiting for the server
            return None

    # -- ownership of flow runs (requests, heartbeats) --------------------------------
    def own(self, flow_run_id: str, handler: RequestHandler) -> None:
        self._owned[flow_run_id] = handler
        if self._thread is None:
            self._ensure_thread()

    def disown(self, flow_run_id: str) -> None:
        self._owned.pop(flow_run_id, None)

    # -- writing ----------------------------------------------------------------------
    def _drain(self) -> Batch:
        batch = self._unwritten or Batch()
        self._unwritten = None
        # Snapshots first: a state record drained now belongs to a run whose snapshot was
        # appended before it, so the row exists by the time the state is written.
        _drain_into(self._flow_runs, batch.flow_runs)
        _drain_into(self._task_runs, batch.task_runs)
        first_log = len(batch.logs)
        for source, target in ((self._states, batch.states), (self._logs, batch.logs),
                               (self._results, batch.results), (self._cache, batch.cache)):
            popleft, append = source.popleft, target.append
            for _ in range(len(source)):
                append(popleft())
        for line in batch.logs[first_log:]:
            if len(line.message) > MAX_LOG_BYTES // 4:  # cheap test first; most are short
                line.message = clip_log_message(line.message)
        if masking.active():  # the one place every record passes before it is stored
            mask_batch(batch)
        return batch

    def _write_pending(self) -> Exception | None:
        """One attempt at writing what is recorded; on failure the batch is kept (lock held)."""
        batch = self._drain()
        if not len(batch):
            return None
        try:
            self.store.write(batch)
        except Exception as exc:  # noqa: BLE001 - kept, retried and reported by the callers
            self._unwritten = batch
            return exc
        self._forget_results(batch)
        self._failures, self._retry_at, self._down_since = 0, 0.0, None
        return None

    def _forget_results(self, batch: Batch) -> None:
        pending = self._pending_results
        for blob in batch.results:
            if pending.get(blob.key) is blob:
                pending.pop(blob.key, None)

    def flush(self) -> None:
        """Write everything recorded so far.

        An unreachable store is retried with backoff until ORKEST_API_FLUSH_TIMEOUT seconds
        after it went away (so a long outage does not hold up every flow that ends), then
        what is left is spilled to a file and reported (the run is not failed for it); any
        other failure is retried briefly and raised as StoreError.
        """
        with self._write_lock:
            attempt = 0
            while (error := self._write_pending()) is not None:
                attempt += 1
                if isinstance(error, StoreUnavailable):
                    if self._down_since is None:
                        self._down_since = time.monotonic()
                    remaining = (self._down_since + settings.current().api_flush_timeout
                                 - time.monotonic())
                    if remaining <= 0:
                        self._spill(error)
                        break
                    time.sleep(min(backoff(attempt), remaining))
                    continue
                if attempt >= 5:
                    self._failures += 1
                    raise StoreError(
                        f"Cannot write runs to the store ({error}); {len(self._unwritten or ())}"
                        " records are kept in memory and retried"
                    ) from error
                time.sleep(0.05 * attempt)

    def _spill(self, error: Exception) -> None:
        """Save the unwritten batch under ORKEST_HOME/unsent/ and say so (lock held)."""
        batch, self._unwritten = self._unwritten, None
        if batch is None or not len(batch):
            return
        runs = describe_runs(batch)
        try:
            path = spill_batch(batch)
        except OSError as exc:
            log.warning("orkest: %d records of %s could not be recorded (%s) nor saved (%s); "
                        "they are lost", len(batch), runs, error, exc)
            return
        self._forget_results(batch)
        log.warning("orkest: %d records of %s could not be recorded (%s); saved them to %s. "
                    "Send them with `orkest.client.replay_unsent()` once the server is back.",
                    len(batch), runs, error, path)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="orkest-recorder",
                                                daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if time.monotonic() >= self._retry_at:
                self._background_write()
            if self._owned:
                self._service_owned(time.time())

    def _background_write(self) -> None:
        """One write attempt; after a failure the next one waits a growing, jittered delay."""
        try:
            with self._write_lock:
                error = self._write_pending()
        except Exception as exc:  # noqa: BLE001 - the writer must survive
            error = exc
        if error is None:
            return
        if isinstance(error, StoreUnavailable) and self._down_since is None:
            self._down_since = time.monotonic()
        self._failures += 1
        self._retry_at = time.monotonic() + backoff(self._failures)
        if self._failures in (1, 10, 100) or self._failures % 1000 == 0:
            kept = len(self._unwritten or ())
            sys.stderr.write(f"orkest: cannot write runs to the store ({error}); {kept} "
                             f"records are kept in memory and retried\n")

    def _service_owned(self, now: float) -> None:
        owned = dict(self._owned)
        try:
            if now - self._last_poll >= POLL_SECONDS:
                self._last_poll = now
                for run_id, (action, payload) in self.store.take_requests(list(owned)).items():
                    handler = owned.get(run_id)
                    if handler is not None:
                        handler(action, payload)
            if now - self._last_heartbeat >= HEARTBEAT_SECONDS:
                self._last_heartbeat = now
                self.store.heartbeat(list(owned), now)
            # Concurrency slots held by these runs' tasks keep their lease while this
            # process lives (engine/limits.py; a no-op unless it holds slots).
            renew_leases(self.store, list(owned), now)
        except Exception as exc:  # noqa: BLE001 - a failed poll is retried next round
            log.debug("polling requests failed: %r", exc)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._closed = True
            self._wake.set()


def clip_log_message(message: str) -> str:
    """At most MAX_LOG_BYTES of UTF-8, marked when cut: one huge line (a dumped payload)
    must not make a whole batch too large for a store or an API server to take."""
    data = message.encode("utf-8", "surrogatepass")
    if len(data) <= MAX_LOG_BYTES:
        return message
    kept = data[:MAX_LOG_BYTES - 100].decode("utf-8", "ignore")
    return f"{kept}\n... [cut: the message had {len(data):,} bytes; lines keep {MAX_LOG_BYTES:,}]"


def _drain_into(source: deque, target: dict[str, Any]) -> None:
    popleft = source.popleft
    for _ in range(len(source)):
        run = popleft()
        target[run.id] = run


_recorders: dict[tuple[int, str], Recorder] = {}
_recorders_lock = threading.Lock()


def get_recorder(store: Any, key: str) -> Recorder:
    """One recorder per store per process (a forked child makes its own)."""
    rkey = (os.getpid(), key)
    recorder = _recorders.get(rkey)
    if recorder is None:
        with _recorders_lock:
            recorder = _recorders.get(rkey)
            if recorder is None:
                recorder = _recorders[rkey] = Recorder(store)
    return recorder


def flush_all() -> None:
    for (pid, _), recorder in list(_recorders.items()):
        if pid == os.getpid():
            try:
                recorder.flush()
            except StoreError as exc:
                sys.stderr.write(f"orkest: records lost at exit: {exc}\n")


def reset_recorders() -> None:
    """Flush and forget every recorder (tests switch ORKEST_HOME between cases)."""
    with _recorders_lock:
        recorders = list(_recorders.values())
        _recorders.clear()
    for recorder in recorders:
        try:
            recorder.close()
        except StoreError:
            pass


atexit.register(flush_all)
