"""A validated FlowSpec as a runnable DAG.

The DAG's flow takes the declared parameters as a typed signature (required ones too), so
`dag.test(params=...)` and `orkest run file.yaml --param k=v` validate and coerce them
like any flow's. The schedule is kept as data (`schedule_spec`) for deployments; nothing
here runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orkest.core.params import ParameterModel
from orkest.dag.dag import DAG, DagFlow
from orkest.declarative.operators import FlowPythonOperator, FlowShellOperator
from orkest.declarative.params import parameter_signature
from orkest.declarative.spec import FlowSpec, ScheduleSpec, TaskOptionsSpec, TaskSpec


class FlowFileDag(DAG):
    """The DAG of a flow file: `spec` is what the file says, `source_path` where it is."""

    def __init__(self, spec: FlowSpec, source_path: Path) -> None:
        defaults = {name: p.default for name, p in spec.parameters.items() if p.has_default}
        super().__init__(spec.name, params=defaults, tags=spec.tags,
                         description=spec.description)
        self.spec = spec
        self.source_path = source_path.resolve()
        self.schedule_spec: ScheduleSpec | None = spec.schedule
        self.entrypoint = str(self.source_path)  # what a rerun loads again

    @property
    def flow(self) -> DagFlow:
        if self._flow is None:
            self._flow = FlowFileDagFlow(self)
        return self._flow


class FlowFileDagFlow(DagFlow):
    """A DAG's flow whose parameters are the declared ones, with their types."""

    def __init__(self, dag: FlowFileDag) -> None:
        super().__init__(dag)
        signature = parameter_signature(dag.spec.parameters)
        self.fn.__signature__ = signature  # type: ignore[attr-defined]
        self.signature = signature
        self.parameters = ParameterModel(self.name, signature)

    def __reduce__(self) -> Any:
        return (FlowFileDagFlow, (self.dag,))


def build_dag(spec: FlowSpec, source_path: Path) -> FlowFileDag:
    """One operator per task, edges from depends_on, `defaults` filled in."""
    dag = FlowFileDag(spec, source_path)
    folder = str(dag.source_path.parent)
    upstream = {task.id: task.depends_on for task in spec.tasks}
    for task in spec.tasks:
        options = _options(task, spec.defaults)
        ancestors = sorted(_ancestors(task.id, upstream))
        if task.shell is not None:
            FlowShellOperator(task.id, task.shell, folder=folder, upstream_ids=ancestors,
                              env=task.env, cwd=task.cwd, dag=dag, doc=task.description,
                              **options)
        else:
            FlowPythonOperator(task.id, target=task.python or "", folder=folder,
                               arguments=task.with_, upstream_ids=ancestors, dag=dag,
                               doc=task.description, **options)
    for task in spec.tasks:
        for up in task.depends_on:
            dag.task_dict[task.id].set_upstream(dag.task_dict[up])
    return dag


def _options(task: TaskSpec, defaults: TaskOptionsSpec) -> dict[str, Any]:
    """Operator options: the task's own, else `defaults:`, else no retries and no delay."""

    def pick(name: str) -> Any:
        value = getattr(task, name)
        return value if value is not None else getattr(defaults, name)

    options: dict[str, Any] = {"retries": pick("retries") or 0,
                               "retry_delay": pick("retry_delay_seconds") or 0.0}
    if pick("timeout_seconds") is not None:
        options["execution_timeout"] = pick("timeout_seconds")
    if pick("trigger_rule") is not None:
        options["trigger_rule"] = pick("trigger_rule")
    return options


def _ancestors(task_id: str, upstream: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(upstream[task_id])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(upstream[node])
    return seen
