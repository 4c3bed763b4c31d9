"""BaseOperator: one node of a DAG, its options, its edges (`>>`, `<<`) and default_args.

An operator is a definition. When a DAG runs, each operator becomes one task run of the
DAG's flow run, with the operator's retries and timeout, through the same engine as any
`@task`. Subclasses implement `execute(context)`; its return value is the XCom
`return_value` that downstream tasks pull.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from orkest.dag.trigger_rules import TriggerRule
from orkest.errors import CycleError, DagDefinitionError

if TYPE_CHECKING:
    from orkest.dag.dag import DAG

TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
DEFAULT_RETRY_DELAY = timedelta(seconds=300)  # Airflow's default, kept for migrating users
_UNSET: Any = object()


def _seconds(name: str, task_id: str, value: timedelta | float | int | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(f"Task {task_id!r}: {name} must be a timedelta or a number of "
                        f"seconds, not {value!r}")
    if seconds < 0:
        raise ValueError(f"Task {task_id!r}: {name} must not be negative ({value!r})")
    return seconds


def _apply_default_args(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap a subclass __init__ so the DAG's default_args fill what the call left out.

    As in Airflow, a default_args key is used only by operators whose __init__ (or
    BaseOperator's) takes it; other keys are ignored rather than refused.
    """
    names = set(inspect.signature(init).parameters) | _BASE_PARAMETERS

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_defaults_applied", False):
            return init(self, *args, **kwargs)  # an inner super().__init__ call
        self._defaults_applied = True
        from orkest.dag.dag import current_dag

        dag = kwargs.get("dag") or current_dag()
        if dag is not None and dag.default_args:
            for key, value in dag.default_args.items():
                if key in names and key not in kwargs:
                    kwargs[key] = value
        return init(self, *args, **kwargs)

    return wrapper


class BaseOperator:
    """A DAG node. Subclasses set `template_fields` and implement `execute(context)`."""

    template_fields: Sequence[str] = ()
    # Fields rendered natively: a value that is one {{ expression }} keeps its type.
    template_fields_native: Sequence[str] = ()
    # How a field is named in template errors, when users know it by another name.
    template_labels: Mapping[str, str] = {}
    ui_color: str = "#ffffff"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _apply_default_args(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(
        self,
        task_id: str,
        *,
        retries: int | None = None,
        retry_delay: timedelta | float = DEFAULT_RETRY_DELAY,
        retry_exponential_backoff: bool = False,
        execution_timeout: timedelta | float | None = None,
        trigger_rule: TriggerRule | str = TriggerRule.ALL_SUCCESS,
        dag: DAG | None = None,
        owner: str | None = None,
        email: str | Sequence[str] | None = None,
        doc: str | None = None,
        doc_md: str | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(f"{type(self).__name__}({task_id!r}) got unexpected arguments: "
                            f"{', '.join(sorted(unknown))}")
        if not isinstance(task_id, str) or not TASK_ID_PATTERN.match(task_id):
            raise DagDefinitionError(
                f"Invalid task_id {task_id!r}: use 1-250 letters, digits, '_', '-' or '.'")
        self.task_id = task_id
        if retries is None:
            retries = 0
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"Task {task_id!r}: retries must be a whole number >= 0, "
                             f"not {retries!r}")
        self.retries = retries
        self.retry_delay = _seconds("retry_delay", task_id, retry_delay) or 0.0
        self.retry_exponential_backoff = bool(retry_exponential_backoff)
        self.execution_timeout = _seconds("execution_timeout", task_id, execution_timeout)
        if self.execution_timeout == 0:
            raise ValueError(f"Task {task_id!r}: execution_timeout must be > 0")
        try:
            self.trigger_rule = TriggerRule.parse(trigger_rule)
        except ValueError as exc:
            raise DagDefinitionError(f"Task {task_id!r}: {exc}") from None
        self.owner = owner
        self.email = email
        self.doc = doc_md or doc
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self.dag: DAG | None = None
        self._task: Any = None  # the engine's Task for this node, made on first run
        from orkest.dag.dag import current_dag

        target = dag if dag is not None else current_dag()
        if target is not None:
            target.add_task(self)

    # -- what a run does ------------------------------------------------------------------
    def execute(self, context: dict[str, Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(context)")

    def template_context(self, context: dict[str, Any]) -> dict[str, Any]:
        """The context templates and `execute` see; subclasses may add names to it."""
        return context

    def skip_after(self, return_value: Any) -> tuple[set[str], bool]:
        """Task ids to skip once this task completed, and whether to skip their descendants
        too (ignoring their trigger rules). Branching operators override it."""
        return set(), False

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def output(self) -> Any:
        """An XComArg for this task's return value (pass it to another task's arguments)."""
        from orkest.dag.taskflow import XComArg

        return XComArg(self)

    # -- edges -------------------------------------------------------------------------------
    def set_downstream(self, other: BaseOperator | Iterable[Any]) -> None:
        for node in _operators(other):
            _link(self, node)

    def set_upstream(self, other: BaseOperator | Iterable[Any]) -> None:
        for node in _operators(other):
            _link(node, self)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> BaseOperator:
        """`[a, b] >> self`."""
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> BaseOperator:
        """`[a, b] << self`."""
        self.set_downstream(other)
        return self

    @property
    def upstream_list(self) -> list[BaseOperator]:
        return [self._dag_checked().task_dict[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[BaseOperator]:
        return [self._dag_checked().task_dict[t] for t in sorted(self.downstream_task_ids)]

    def _dag_checked(self) -> DAG:
        if self.dag is None:
            raise DagDefinitionError(f"Task {self.task_id!r} is not in a DAG")
        return self.dag

    # -- shipping to workers -----------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Without the DAG: a task run ships its operator alone, not every operator."""
        state = dict(self.__dict__)
        state["dag"] = None
        state["_task"] = None
        state.pop("_template_plan", None)
        return state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.task_id!r}>"


_BASE_PARAMETERS = set(inspect.signature(BaseOperator.__init__).parameters) - {"self"}
BaseOperator.__init__ = _apply_default_args(BaseOperator.__init__)  # type: ignore[method-assign]


def _operators(value: Any) -> list[BaseOperator]:
    """Operators in `value`: one operator, an XComArg of one, or an iterable of those."""
    node = getattr(value, "operator", value)
    if isinstance(node, BaseOperator):
        return [node]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        found: list[BaseOperator] = []
        for item in value:
            found.extend(_operators(item))
        return found
    raise TypeError(f"Cannot set a dependency on {value!r}: expected an operator or a list "
                    "of operators")


def _link(upstream: BaseOperator, downstream: BaseOperator) -> None:
    if upstream is downstream:
        raise CycleError(f"Task {upstream.task_id!r} cannot depend on itself")
    dag = upstream.dag or downstream.dag
    if dag is None:
        raise DagDefinitionError(
            f"Cannot link {upstream.task_id!r} >> {downstream.task_id!r}: neither is in a DAG "
            "(create operators inside `with DAG(...)` or pass dag=)")
    for node in (upstream, downstream):
        if node.dag is None:
            dag.add_task(node)
        elif node.dag is not dag:
            raise DagDefinitionError(
                f"Cannot link {upstream.task_id!r} >> {downstream.task_id!r}: they belong to "
                f"different DAGs ({upstream.dag.dag_id!r}, {downstream.dag.dag_id!r})")  # type: ignore[union-attr]
    if downstream.task_id in upstream.downstream_task_ids:
        return
    path = dag.path_between(downstream.task_id, upstream.task_id)
    if path is not None:
        cycle = " >> ".join([upstream.task_id, *path])
        raise CycleError(f"DAG {dag.dag_id!r} would have a cycle: {cycle}")
    upstream.downstream_task_ids.add(downstream.task_id)
    downstream.upstream_task_ids.add(upstream.task_id)
