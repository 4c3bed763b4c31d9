"""DAG: Airflow-style explicit graphs, run as orkest flows.

A DAG holds operators and edges and checks its shape as it is built (duplicate ids,
cycles, foreign tasks fail at the line that causes them). Running it goes through a
`DagFlow`, an ordinary Flow whose body hands the graph to the engine: same states,
store, runners, retries, logs and CLI as any `@flow`.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import inspect
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from orkest.core.context import dag_builder_var, get_engine
from orkest.core.flows import Flow, FlowOptions
from orkest.dag.baseoperator import BaseOperator
from orkest.errors import CycleError, DagDefinitionError

DAG_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_PARAM_TYPES = (bool, int, float, str, list, dict)

_current_dag: contextvars.ContextVar[DAG | None] = contextvars.ContextVar(
    "orkest_current_dag", default=None)


def current_dag() -> DAG | None:
    """The DAG of the innermost open `with DAG(...)` block, if any."""
    return _current_dag.get()


class DAG:
    """An explicit graph of operators; a flow when it runs (SPEC §2)."""

    def __init__(
        self,
        dag_id: str,
        schedule: Any = None,
        start_date: dt.datetime | None = None,
        end_date: dt.datetime | None = None,
        catchup: bool = False,
        default_args: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        description: str | None = None,
        max_active_runs: int | None = None,
        *,
        task_runner: Any = None,
        doc_md: str | None = None,
    ) -> None:
        if not isinstance(dag_id, str) or not DAG_ID_PATTERN.match(dag_id):
            raise DagDefinitionError(
                f"Invalid dag_id {dag_id!r}: use 1-250 letters, digits, '_', '-' or '.'")
        if schedule is not None and not isinstance(schedule, str | dt.timedelta) and not \
                hasattr(schedule, "next_runs"):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: schedule must be a cron string, a preset such as '@daily', "
                f"a timedelta or a schedule object, not {schedule!r}")
        self.timetable = _timetable(dag_id, schedule)
        if max_active_runs is not None and (not isinstance(max_active_runs, int)
                                            or max_active_runs < 1):
            raise DagDefinitionError(f"DAG {dag_id!r}: max_active_runs must be >= 1")
        self.dag_id = dag_id
        self.schedule = schedule
        self.start_date = start_date
        self.end_date = end_date
        self.catchup = catchup
        self.default_args = dict(default_args or {})
        self.params = dict(params or {})
        self.tags = list(tags or [])
        self.description = description
        self.doc_md = doc_md
        self.max_active_runs = max_active_runs
        self.task_runner = task_runner
        self.task_dict: dict[str, BaseOperator] = {}
        self._taskflow_counts: dict[str, int] = {}
        self._tokens: list[tuple[Any, Any]] = []
        self._flow: DagFlow | None = None
        self.entrypoint = _defining_file(dag_id)

    # -- building ------------------------------------------------------------------------
    def __enter__(self) -> DAG:
        self._tokens.append((_current_dag.set(self), dag_builder_var.set(self)))
        return self

    def __exit__(self, *exc: object) -> None:
        dag_token, builder_token = self._tokens.pop()
        dag_builder_var.reset(builder_token)
        _current_dag.reset(dag_token)

    def add_task(self, operator: BaseOperator) -> None:
        if operator.dag is self:
            return
        if operator.dag is not None:
            raise DagDefinitionError(
                f"Task {operator.task_id!r} already belongs to DAG {operator.dag.dag_id!r}; "
                f"it cannot be added to {self.dag_id!r} too (create a new operator)")
        if operator.task_id in self.task_dict:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} already has a task with task_id {operator.task_id!r}")
        self.task_dict[operator.task_id] = operator
        operator.dag = self
        self._flow = None

    def add_task_call(self, task: Any, args: tuple, kwargs: dict, wait_for: Any) -> Any:
        """A `@task` called inside `with DAG(...)`: a node whose result flows downstream."""
        from orkest.dag.taskflow import TaskflowOperator

        base = task.name
        count = self._taskflow_counts.get(base, 0)
        self._taskflow_counts[base] = count + 1
        task_id = base if count == 0 else f"{base}__{count}"
        operator = TaskflowOperator(task_id=task_id, task=task, op_args=args, op_kwargs=kwargs,
                                    dag=self)
        if wait_for is not None:
            operator.set_upstream(wait_for)
        return operator.output

    @property
    def tasks(self) -> list[BaseOperator]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def get_task(self, task_id: str) -> BaseOperator:
        try:
            return self.task_dict[task_id]
        except KeyError:
            known = ", ".join(sorted(self.task_dict)) or "none"
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} has no task {task_id!r} (tasks: {known})") from None

    def path_between(self, start: str, goal: str) -> list[str] | None:
        """Task ids from `start` down to `goal` following edges, or None (cycle checks)."""
        if start == goal:
            return [start]
        parents: dict[str, str] = {}
        stack = [start]
        seen = {start}
        while stack:
            node = stack.pop()
            for child in self.task_dict[node].downstream_task_ids:
                if child in seen:
                    continue
                parents[child] = node
                if child == goal:
                    path = [goal]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return path[::-1]
                seen.add(child)
                stack.append(child)
        return None

    def topological_order(self) -> list[str]:
        """Task ids, every task after its upstream tasks; CycleError names a cycle."""
        indegree = {tid: len(op.upstream_task_ids) for tid, op in self.task_dict.items()}
        ready = [tid for tid, n in indegree.items() if n == 0]
        order: list[str] = []
        while ready:
            tid = ready.pop()
            order.append(tid)
            for child in self.task_dict[tid].downstream_task_ids:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if len(order) != len(self.task_dict):
            stuck = sorted(tid for tid, n in indegree.items() if n > 0)
            raise CycleError(f"DAG {self.dag_id!r} has a cycle among: {', '.join(stuck)}")
        return order

    def describe_graph(self) -> dict[str, Any]:
        """Nodes and edges as stored with each run, so a UI can draw it before it starts."""
        nodes = [{"id": tid, "kind": op.kind, "trigger_rule": op.trigger_rule.value}
                 for tid, op in self.task_dict.items()]
        edges = [[tid, child] for tid, op in self.task_dict.items()
                 for child in sorted(op.downstream_task_ids)]
        return {"kind": "dag", "dag_id": self.dag_id, "nodes": nodes, "edges": edges}

    # -- running ---------------------------------------------------------------------------
    @property
    def flow(self) -> DagFlow:
        """The flow that runs this DAG (rebuilt when tasks were added since)."""
        if self._flow is None:
            self._flow = DagFlow(self)
        return self._flow

    def test(self, logical_date: dt.datetime | dt.date | str | None = None,
             params: Mapping[str, Any] | None = None) -> Any:
        """Run the DAG once in this process; the flow run's final State."""
        self.topological_order()  # edges added after `with` are checked here
        logical_ts = _timestamp(logical_date) if logical_date is not None else None
        return get_engine().call_flow(self.flow, (), dict(params or {}), return_state=True,
                                      logical_ts=logical_ts)

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id!r}: {len(self.task_dict)} tasks>"


class DagFlow(Flow):
    """The flow of a DAG: its parameters are the DAG's params, its body runs the graph."""

    def __init__(self, dag: DAG) -> None:
        self.dag = dag

        def run_dag(**parameters: Any) -> None:
            return get_engine().run_graph(dag, parameters)

        run_dag.__signature__ = _params_signature(dag.params)  # type: ignore[attr-defined]
        run_dag.__qualname__ = run_dag.__name__ = dag.dag_id.replace("-", "_")
        options = FlowOptions(name=dag.dag_id, description=dag.description,
                              task_runner=dag.task_runner)
        super().__init__(run_dag, options)
        self.entrypoint = dag.entrypoint

    def describe_graph(self) -> dict[str, Any]:
        return self.dag.describe_graph()

    def __reduce__(self) -> Any:
        return (DagFlow, (self.dag,))


def _timetable(dag_id: str, schedule: Any) -> Any:
    """The Schedule object behind `schedule` (None for manual and @once DAGs), checked now
    so a bad cron fails where the DAG is defined."""
    if schedule is None or schedule == "@once":
        return None
    from orkest.errors import InvalidSchedule
    from orkest.schedules import schedule_from

    try:
        return schedule_from(schedule)
    except InvalidSchedule as exc:
        raise InvalidSchedule(f"DAG {dag_id!r}: {exc}") from None


def _params_signature(params: Mapping[str, Any]) -> inspect.Signature:
    parameters = []
    for name, default in params.items():
        if not name.isidentifier():
            raise DagDefinitionError(f"DAG param {name!r} is not a valid identifier")
        annotation = type(default) if type(default) in _PARAM_TYPES else Any
        if annotation is float:
            annotation = float | int
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                            default=default, annotation=annotation))
    return inspect.Signature(parameters)


def _timestamp(value: dt.datetime | dt.date | str) -> float:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # naive dates are UTC, as in Airflow
    return value.timestamp()


def _defining_file(dag_id: str) -> str | None:
    """Where `orkest flow-run retry` can load this DAG again: "file.py:dag_id"."""
    frame = sys._getframe(2)  # noqa: SLF001 - the caller of DAG(...)
    filename = frame.f_code.co_filename if frame is not None else None
    if not filename or filename.startswith("<"):
        return None
    import os

    return f"{os.path.abspath(filename)}:{dag_id}"


def chain(*items: Any) -> None:
    """`chain(a, b, [c, d], e)`: a >> b >> [c, d] >> e; lists side by side pair up."""
    from orkest.dag.baseoperator import _operators

    items = tuple(_resolve_ids(item, items) for item in items)
    for left, right in zip(items, items[1:], strict=False):
        left_list = isinstance(left, list | tuple)
        right_list = isinstance(right, list | tuple)
        if left_list and right_list:
            if len(left) != len(right):
                raise DagDefinitionError(
                    f"chain(): adjacent lists must have the same length ({len(left)} != "
                    f"{len(right)})")
            for a, b in zip(left, right, strict=True):
                for up in _operators(a):
                    up.set_downstream(b)
            continue
        for up in _operators(left):
            up.set_downstream(right)


def _resolve_ids(item: Any, items: Sequence[Any]) -> Any:
    """Task ids given to chain() as strings, looked up in the DAG being built."""
    if isinstance(item, list | tuple):
        return [_resolve_ids(i, items) for i in item]
    if not isinstance(item, str):
        return item
    dag = current_dag() or next((getattr(getattr(i, "operator", i), "dag", None)
                                 for i in items if not isinstance(i, str | list | tuple)), None)
    if dag is None:
        raise DagDefinitionError(f"chain(): cannot resolve task id {item!r} outside a DAG")
    return dag.get_task(item)


def iter_dags(namespace: Mapping[str, Any]) -> Iterator[DAG]:
    """DAGs among a module's globals (for `orkest run file.py:dag_id`)."""
    for value in namespace.values():
        if isinstance(value, DAG):
            yield value
