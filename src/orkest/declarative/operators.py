"""The operators a flow file's tasks become: a shell command and a Python function.

Their templates see the usual DAG context plus `tasks`, the results of the task's upstream
tasks (`tasks.extract.result`: a python task's return value, a shell task's last stdout
line). The engine renders an operator's `template_fields` with the plain DAG context,
which they extend with `tasks` through `template_context`, so the rendered values are
recorded as the task run's inputs like any operator's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orkest.dag.baseoperator import BaseOperator
from orkest.declarative.targets import context_arguments, import_target
from orkest.errors import FlowFileError
from orkest.operators.bash import BashOperator


@dataclass(frozen=True, slots=True)
class UpstreamResult:
    """`tasks.<id>` in a template: `.result` is what that task returned (None if skipped)."""

    result: Any


def with_tasks(context: dict[str, Any], upstream_ids: Iterable[str]) -> dict[str, Any]:
    """The context plus `tasks`: the results of the given upstream tasks, by id."""
    ti = context["ti"]
    tasks = {task_id: UpstreamResult(ti.xcom_pull(task_ids=task_id))
             for task_id in upstream_ids}
    return {**context, "tasks": tasks}


class FlowShellOperator(BashOperator):
    """`shell:`: a command run with bash in the flow file's folder (or `cwd` under it).

    `env` is added to the inherited environment (a command needs PATH), and the command,
    `env` values and `cwd` are templates that also see `tasks`. Otherwise it is a
    BashOperator: the last stdout line is the result, exit code 99 skips the task, other
    non-zero codes fail it.
    """

    template_labels = {"bash_command": "shell"}

    def __init__(self, task_id: str, bash_command: str, *, folder: str,
                 upstream_ids: Iterable[str] = (), env: Mapping[str, str] | None = None,
                 cwd: str | None = None, **kwargs: Any) -> None:
        super().__init__(task_id=task_id, bash_command=bash_command, env=env,
                         append_env=True, cwd=cwd, **kwargs)
        self.folder = folder
        self.upstream_ids = tuple(upstream_ids)

    def template_context(self, context: dict[str, Any]) -> dict[str, Any]:
        return with_tasks(context, self.upstream_ids)

    def execute(self, context: dict[str, Any]) -> str | None:
        located = copy.copy(self)  # self may be the shared definition: never change it
        located.cwd = str(Path(self.folder, self.cwd)) if self.cwd else self.folder
        return BashOperator.execute(located, context)


class FlowPythonOperator(BaseOperator):
    """`python: module:function`: called with the rendered `with` values as keyword
    arguments, plus any context value (params, ti, ds, tasks...) it names as a parameter.

    A `with` value that is one `{{ expression }}` keeps its type (a list stays a list).
    """

    template_fields = ("arguments",)
    template_fields_native = ("arguments",)
    template_labels = {"arguments": "with"}
    ui_color = "#ffefeb"

    def __init__(self, task_id: str, *, target: str, folder: str,
                 arguments: Mapping[str, Any] | None = None,
                 upstream_ids: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(task_id=task_id, **kwargs)
        self.target = target
        self.folder = folder
        self.arguments = dict(arguments or {})
        self.upstream_ids = tuple(upstream_ids)

    def template_context(self, context: dict[str, Any]) -> dict[str, Any]:
        return with_tasks(context, self.upstream_ids)

    def execute(self, context: dict[str, Any]) -> Any:
        try:
            fn = import_target(self.folder, self.target)
        except FlowFileError as exc:
            raise FlowFileError(f"task {self.task_id!r}: cannot use python "
                                f"{self.target!r}: {exc}") from None
        kwargs = dict(self.arguments)
        kwargs.update(context_arguments(fn, context, kwargs))
        return fn(**kwargs)
