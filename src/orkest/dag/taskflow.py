"""`@task` functions called inside `with DAG(...)`: nodes whose results flow downstream.

The call returns an XComArg, a reference to the node's future `return_value` (or, with
`["key"]`, to a value it pushed). Passing an XComArg into another call or operator
argument adds the edge; at run time it is replaced by the pulled value.
"""

from __future__ import annotations

from typing import Any

from orkest.dag.baseoperator import BaseOperator
from orkest.dag.context import RETURN_VALUE, context_kwargs


class XComArg:
    """A reference to a DAG task's XCom value, usable as an argument and with >> / <<."""

    __slots__ = ("operator", "key")

    def __init__(self, operator: BaseOperator, key: str = RETURN_VALUE) -> None:
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        return XComArg(self.operator, key)

    def resolve(self, ti: Any) -> Any:
        return ti.xcom_pull(task_ids=self.operator.task_id, key=self.key)

    def __rshift__(self, other: Any) -> Any:
        return self.operator >> other

    def __lshift__(self, other: Any) -> Any:
        return self.operator << other

    def __rrshift__(self, other: Any) -> XComArg:
        other >> self.operator
        return self

    def __rlshift__(self, other: Any) -> XComArg:
        other << self.operator
        return self

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, {self.key!r})"


def find_xcom_args(value: Any, found: list[XComArg]) -> None:
    if isinstance(value, XComArg):
        found.append(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            find_xcom_args(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            find_xcom_args(item, found)


def resolve_xcom_args(value: Any, ti: Any) -> Any:
    if isinstance(value, XComArg):
        return value.resolve(ti)
    if isinstance(value, list | tuple):
        return type(value)(resolve_xcom_args(v, ti) for v in value)
    if isinstance(value, dict):
        return {k: resolve_xcom_args(v, ti) for k, v in value.items()}
    return value


class TaskflowOperator(BaseOperator):
    """A `@task` function as a DAG node; its options (retries, timeout) carry over."""

    def __init__(self, task_id: str, task: Any, op_args: tuple = (), op_kwargs: dict | None = None,
                 **kwargs: Any) -> None:
        options = task.options
        kwargs.setdefault("retries", options.retries)
        delay = options.retry_delay_seconds
        kwargs.setdefault("retry_delay", delay[0] if isinstance(delay, tuple) else delay)
        if options.timeout_seconds is not None:
            kwargs.setdefault("execution_timeout", options.timeout_seconds)
        super().__init__(task_id=task_id, **kwargs)
        self.task = task
        self.op_args = tuple(op_args)
        self.op_kwargs = dict(op_kwargs or {})
        found: list[XComArg] = []
        find_xcom_args(self.op_args, found)
        find_xcom_args(self.op_kwargs, found)
        for ref in found:
            ref.operator >> self

    @property
    def kind(self) -> str:
        return "task"

    def execute(self, context: dict[str, Any]) -> Any:
        ti = context["ti"]
        args = resolve_xcom_args(self.op_args, ti)
        kwargs = resolve_xcom_args(self.op_kwargs, ti)
        kwargs.update(context_kwargs(self.task.fn, context, kwargs, positional=len(args)))
        return self.task.fn(*args, **kwargs)

