"""What the engine knows about the runs in progress, carried in context variables."""

from __future__ import annotations

import contextvars
import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orkest.errors import MissingContext

if TYPE_CHECKING:
    from orkest.core.flows import Flow
    from orkest.core.futures import TaskFuture
    from orkest.core.records import FlowRun, TaskRun
    from orkest.core.tasks import Task
    from orkest.engine.interrupts import Guard
    from orkest.engine.recorder import RecordSink
    from orkest.runners.base import TaskRunner


@dataclass(slots=True)
class ResultSettings:
    """How results are kept, resolved from task and flow options (picklable for children)."""

    persist: bool | None
    serializer: str
    results_dir: Path


@dataclass(eq=False)
class FlowRunContext:
    flow: Flow
    flow_run: FlowRun
    runner: TaskRunner
    sink: RecordSink
    store: Any
    parent: FlowRunContext | None
    results: ResultSettings
    log_prints: bool
    # Task runs of an earlier attempt of this flow run, by (task_key, dynamic_key):
    # completed ones with a stored result are not executed again.
    prior: dict[tuple[str, str], TaskRun] = field(default_factory=dict)
    futures: list[TaskFuture] = field(default_factory=list)
    inline_runs: list[TaskRun] = field(default_factory=list)  # called, not submitted
    cancel_event: threading.Event = field(default_factory=threading.Event)
    guards: set[Guard] = field(default_factory=set)
    control: Any = None  # the FlowRunControl that applies this run's state changes
    _counters: dict[str, Any] = field(default_factory=dict)

    def next_dynamic_key(self, task_key: str) -> str:
        counter = self._counters.get(task_key)
        if counter is None:
            counter = self._counters.setdefault(task_key, itertools.count())
        return str(next(counter))


@dataclass(eq=False, slots=True)
class TaskRunContext:
    task: Task
    task_run: TaskRun
    sink: RecordSink
    log_prints: bool
    flow_ctx: FlowRunContext | None = None


flow_run_var: contextvars.ContextVar[FlowRunContext | None] = contextvars.ContextVar(
    "orkest_flow_run", default=None
)
task_run_var: contextvars.ContextVar[TaskRunContext | None] = contextvars.ContextVar(
    "orkest_task_run", default=None
)


def current_flow_run() -> FlowRunContext:
    ctx = flow_run_var.get()
    if ctx is None:
        raise MissingContext("This must be called from inside a running flow")
    return ctx
