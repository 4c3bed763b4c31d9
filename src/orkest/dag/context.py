"""What a DAG task sees while it runs: the task instance (`ti`, XCom) and the context.

XCom values of a task run are its result: a dict of key -> value holding
`return_value` and whatever it pushed. So they are stored, previewed and reused on a
rerun exactly like any task result, and a downstream task pulls them from the results
of its DAG run, handed to it when it starts (also in a child process).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orkest.errors import DagDefinitionError

RETURN_VALUE = "return_value"
CONTEXT_KEYS = frozenset({
    "ti", "task_instance", "ds", "ds_nodash", "ts", "logical_date", "run_id", "params",
    "dag", "dag_id", "task", "task_id", "log", "macros", "try_number",
})


@dataclass(slots=True)
class DagRunInfo:
    """The facts of one DAG run that every task of it needs (small and picklable)."""

    dag_id: str
    run_id: str
    logical_date: dt.datetime
    params: dict[str, Any]
    task_ids: frozenset[str] = field(default_factory=frozenset)
    ds: str = ""  # logical_date as YYYY-MM-DD, formatted once per run
    ts: str = ""

    def __post_init__(self) -> None:
        self.ds = self.logical_date.strftime("%Y-%m-%d")
        self.ts = self.logical_date.isoformat()


class TaskInstance:
    """`ti`: one DAG task's run, as Airflow users know it (xcom_push / xcom_pull)."""

    def __init__(self, task_id: str, info: DagRunInfo, xcoms: Mapping[str, Mapping[str, Any]],
                 upstream_task_ids: Sequence[str], try_number: int = 1) -> None:
        self.task_id = task_id
        self.dag_id = info.dag_id
        self.run_id = info.run_id
        self.logical_date = info.logical_date
        self.try_number = try_number
        self.map_index = -1
        self._info = info
        self._xcoms = xcoms
        self._upstream = tuple(sorted(upstream_task_ids))
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError(f"Task {self.task_id!r}: xcom_push key must be a non-empty "
                             f"string, not {key!r}")
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str | Sequence[str] | None = None,
                  key: str = RETURN_VALUE, default: Any = None) -> Any:
        """One task id: its value; a list: a list of values, in that order.

        With no task_ids, the direct upstream tasks are meant: the value of the only one,
        or a list when there are several. A task that did not push `key` (it was skipped,
        or returned nothing under that key) gives `default`; an id the DAG does not have
        is an error, since it is almost always a typo.
        """
        if task_ids is None:
            ids: Sequence[str] = self._upstream
            if len(ids) == 1:
                return self._one(ids[0], key, default)
            return [self._one(t, key, default) for t in ids]
        if isinstance(task_ids, str):
            return self._one(task_ids, key, default)
        return [self._one(t, key, default) for t in task_ids]

    def _one(self, task_id: str, key: str, default: Any) -> Any:
        if task_id == self.task_id:
            return self.pushed.get(key, default)
        if self._info.task_ids and task_id not in self._info.task_ids:
            known = ", ".join(sorted(self._info.task_ids))
            raise DagDefinitionError(
                f"Task {self.task_id!r}: xcom_pull(task_ids={task_id!r}): DAG "
                f"{self.dag_id!r} has no such task (tasks: {known})")
        values = self._xcoms.get(task_id)
        if values is None:
            return default
        return values.get(key, default)

    def __repr__(self) -> str:
        return f"<TaskInstance {self.dag_id}.{self.task_id} run={self.run_id}>"


def build_context(task: Any, info: DagRunInfo, ti: TaskInstance, log: Any) -> dict[str, Any]:
    """The Airflow-style context dict handed to `execute()` and to templates."""
    ds = info.ds
    return {
        "ti": ti, "task_instance": ti, "ds": ds, "ds_nodash": ds.replace("-", ""),
        "ts": info.ts, "logical_date": info.logical_date, "run_id": info.run_id,
        "params": info.params, "dag": task.dag, "dag_id": info.dag_id, "task": task,
        "task_id": task.task_id, "log": log, "macros": _macros(),
        "try_number": ti.try_number,
    }


@functools.cache
def _macros() -> Any:
    from orkest.templating import build_macros

    return build_macros()


def context_kwargs(fn: Callable[..., Any], context: Mapping[str, Any],
                   given: Mapping[str, Any], positional: int = 0) -> dict[str, Any]:
    """Context values a callable asks for by parameter name (all of them for **kwargs)."""
    takes_all, names = _context_params(fn)
    if takes_all:
        return {k: v for k, v in context.items() if k not in given}
    return {name: context[name] for i, name in names
            if i >= positional and name in context and name not in given}


@functools.lru_cache(maxsize=4096)
def _context_params(fn: Callable[..., Any]) -> tuple[bool, tuple[tuple[int, str], ...]]:
    """(takes **kwargs, (position, name) of parameters that can be passed by keyword)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False, ()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return True, ()
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return False, tuple((i, p.name) for i, p in enumerate(params) if p.kind in keyword_kinds)
