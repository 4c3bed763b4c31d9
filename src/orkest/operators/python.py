"""Operators that call Python: PythonOperator, BranchPythonOperator, ShortCircuitOperator."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orkest.dag.baseoperator import BaseOperator
from orkest.dag.context import context_kwargs


class PythonOperator(BaseOperator):
    """Calls `python_callable(*op_args, **op_kwargs)`, plus the context values it names."""

    template_fields: Sequence[str] = ("op_args", "op_kwargs", "templates_dict")
    ui_color = "#ffefeb"

    def __init__(self, task_id: str, python_callable: Callable[..., Any],
                 op_args: Sequence[Any] | None = None,
                 op_kwargs: Mapping[str, Any] | None = None,
                 templates_dict: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not callable(python_callable):
            raise TypeError(f"Task {task_id!r}: python_callable must be callable, not "
                            f"{python_callable!r}")
        if op_kwargs is not None and not isinstance(op_kwargs, Mapping):
            raise TypeError(f"Task {task_id!r}: op_kwargs must be a dict, not {op_kwargs!r}")
        super().__init__(task_id=task_id, **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = dict(templates_dict) if templates_dict is not None else None

    def execute(self, context: dict[str, Any]) -> Any:
        if self.templates_dict is not None:
            context = {**context, "templates_dict": self.templates_dict}
        kwargs = dict(self.op_kwargs)
        kwargs.update(context_kwargs(self.python_callable, context, kwargs,
                                     positional=len(self.op_args)))
        return self.python_callable(*self.op_args, **kwargs)


class BranchPythonOperator(PythonOperator):
    """The callable returns the task id (or ids) to follow; other direct downstream tasks
    are SKIPPED, and trigger rules carry the skip further."""

    ui_color = "#ffefa8"

    def execute(self, context: dict[str, Any]) -> Any:
        chosen = super().execute(context)
        ids = _branch_ids(chosen, self.task_id)
        unknown = sorted(ids - self.downstream_task_ids)
        if unknown:
            known = ", ".join(sorted(self.downstream_task_ids)) or "none"
            raise ValueError(f"Branch {self.task_id!r} chose {', '.join(unknown)}, which "
                             f"is not directly downstream of it (downstream: {known})")
        return chosen

    def skip_after(self, return_value: Any) -> tuple[set[str], bool]:
        return self.downstream_task_ids - _branch_ids(return_value, self.task_id), False


def _branch_ids(chosen: Any, task_id: str) -> set[str]:
    if chosen is None:
        return set()
    if isinstance(chosen, str):
        return {chosen}
    if isinstance(chosen, Sequence | set | frozenset) and all(isinstance(c, str)
                                                             for c in chosen):
        return set(chosen)
    raise TypeError(f"Branch {task_id!r} must return a task id, a list of task ids or None, "
                    f"not {chosen!r}")


class ShortCircuitOperator(PythonOperator):
    """A falsy return value skips everything downstream (by default ignoring the
    downstream tasks' trigger rules, as Airflow does); a truthy one lets the DAG go on."""

    ui_color = "#f0f0f0"

    def __init__(self, task_id: str, python_callable: Callable[..., Any],
                 ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(task_id=task_id, python_callable=python_callable, **kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def skip_after(self, return_value: Any) -> tuple[set[str], bool]:
        if return_value:
            return set(), False
        return set(self.downstream_task_ids), self.ignore_downstream_trigger_rules
