"""A pool of threads, lighter than concurrent.futures: no Future per task run.

Threads start lazily, up to max_workers, and stop when the flow run ends.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import TYPE_CHECKING, Any

from orkest.core.states import Crashed
from orkest.engine.resources import ThreadMeter
from orkest.engine.task_run import execute
from orkest.runners.base import OnDone, TaskRunner

if TYPE_CHECKING:
    from orkest.engine.context import FlowRunContext
    from orkest.engine.task_run import TaskRunJob


class ThreadPoolRunner(TaskRunner):
    name = "threads"

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, not {max_workers}")
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        return {"max_workers": self.max_workers}

    def duplicate(self) -> ThreadPoolRunner:
        return ThreadPoolRunner(self.max_workers)

    def submit(self, job: TaskRunJob, ctx: FlowRunContext, on_done: OnDone) -> None:
        self._queue.put((job, ctx, on_done))
        # Start threads up to max_workers as work arrives (no idle bookkeeping: a
        # Semaphore here cost ~14 us per submit under contention).
        if len(self._threads) < self.max_workers:
            with self._lock:
                if len(self._threads) < self.max_workers:
                    thread = threading.Thread(target=self._work, daemon=True,
                                              name=f"orkest-task-{len(self._threads)}")
                    self._threads.append(thread)
                    thread.start()

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            job, ctx, on_done = item
            try:
                state = execute(job, ctx.sink, ThreadMeter(), ctx, guard_always=True)
            except BaseException as exc:  # noqa: BLE001 - never lose a future
                state = Crashed(message=f"Runner error: {exc!r}", data=exc)
            on_done(state)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        self._threads = []
