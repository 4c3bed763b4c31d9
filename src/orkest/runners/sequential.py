"""Run each task run at once, in the thread that submits it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orkest.engine.resources import ThreadMeter
from orkest.engine.task_run import execute
from orkest.runners.base import OnDone, TaskRunner

if TYPE_CHECKING:
    from orkest.engine.context import FlowRunContext
    from orkest.engine.task_run import TaskRunJob


class SequentialRunner(TaskRunner):
    name = "sequential"

    def duplicate(self) -> SequentialRunner:
        return SequentialRunner()

    def submit(self, job: TaskRunJob, ctx: FlowRunContext, on_done: OnDone) -> None:
        on_done(execute(job, ctx.sink, ThreadMeter(), ctx))
