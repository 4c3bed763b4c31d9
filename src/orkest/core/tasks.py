"""The `@task` decorator and the Task definition (not a run: runs are TaskRun records)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cached_property, update_wrapper
from typing import Any, Generic, ParamSpec, TypeVar, overload

from orkest.core.context import dag_builder_var, get_engine
from orkest.core.results import check_serializer

P = ParamSpec("P")
R = TypeVar("R")

Hook = Callable[..., None]


def _check_delays(value: float | Sequence[float]) -> float | tuple[float, ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"retry_delay_seconds must be >= 0, not {value}")
        return float(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        delays = tuple(value)
        if not delays or any(
            not isinstance(d, int | float) or isinstance(d, bool) or d < 0 for d in delays
        ):
            raise ValueError(
                f"retry_delay_seconds must be a number or a non-empty list of numbers >= 0,"
                f" not {value!r}"
            )
        return tuple(float(d) for d in delays)
    raise TypeError(f"retry_delay_seconds must be a number or a list of numbers, not {value!r}")


def _check_hooks(name: str, hooks: Iterable[Hook] | None) -> tuple[Hook, ...]:
    if hooks is None:
        return ()
    if callable(hooks):
        hooks = [hooks]
    result = tuple(hooks)
    for hook in result:
        if not callable(hook):
            raise TypeError(f"{name} takes a list of callables, got {hook!r}")
    return result


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Everything `@task(...)` accepts, checked once at decoration time."""

    name: str
    description: str | None = None
    tags: frozenset[str] = frozenset()
    retries: int = 0
    retry_delay_seconds: float | tuple[float, ...] = 0.0
    retry_jitter_factor: float | None = None
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    timeout_seconds: float | None = None
    cache_key_fn: Callable[..., str | None] | None = None
    cache_expiration: timedelta | None = None
    persist_result: bool | None = None  # None: persist when serializable (see docs/concepts)
    result_serializer: str = "cloudpickle"
    log_prints: bool | None = None  # None: inherit from the flow
    on_failure: tuple[Hook, ...] = ()
    on_completion: tuple[Hook, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # room for DAG operators

    def __post_init__(self) -> None:
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or self.retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, not {self.retries!r}")
        object.__setattr__(self, "retry_delay_seconds", _check_delays(self.retry_delay_seconds))
        if self.retry_jitter_factor is not None and self.retry_jitter_factor < 0:
            raise ValueError("retry_jitter_factor must be >= 0")
        retry_on = self.retry_on
        if isinstance(retry_on, type):
            retry_on = (retry_on,)
        retry_on = tuple(retry_on)
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in retry_on):
            raise TypeError(f"retry_on takes exception types, got {self.retry_on!r}")
        object.__setattr__(self, "retry_on", retry_on)
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be > 0, not {self.timeout_seconds!r}")
        if self.cache_key_fn is not None and not callable(self.cache_key_fn):
            raise TypeError("cache_key_fn must be a callable (context, parameters) -> str | None")
        if self.cache_expiration is not None and not isinstance(self.cache_expiration, timedelta):
            raise TypeError("cache_expiration must be a datetime.timedelta")
        check_serializer(self.result_serializer)
        object.__setattr__(self, "tags", frozenset(self.tags))
        object.__setattr__(self, "on_failure", _check_hooks("on_failure", self.on_failure))
        object.__setattr__(self, "on_completion",
                           _check_hooks("on_completion", self.on_completion))

    def retry_delay(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based); a list repeats its last value."""
        delays = self.retry_delay_seconds
        if isinstance(delays, tuple):
            return delays[min(attempt, len(delays)) - 1]
        return delays


class Task(Generic[P, R]):
    """A function made observable: every call becomes a tracked task run."""

    def __init__(self, fn: Callable[P, R], options: TaskOptions) -> None:
        if not callable(fn):
            raise TypeError(f"@task decorates a function, not {fn!r}")
        self.fn = fn
        self.options = options
        # Stable across processes and reruns: identifies "the same task" in a flow run.
        self.task_key = f"{options.name}:{getattr(fn, '__qualname__', options.name)}"
        update_wrapper(self, fn)  # type: ignore[arg-type]

    @cached_property
    def signature(self) -> inspect.Signature:
        """Computed on first use: DAGs make a task per operator and rarely need it."""
        return inspect.signature(self.fn)

    @property
    def name(self) -> str:
        return self.options.name

    @property
    def tags(self) -> frozenset[str]:
        return self.options.tags

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy of this task with some options changed (same function)."""
        unknown = set(changes) - set(TaskOptions.__dataclass_fields__)
        if unknown:
            raise TypeError(f"with_options() got unknown options: {', '.join(sorted(unknown))}")
        return Task(self.fn, replace(self.options, **changes))

    def __call__(self, *args: Any, wait_for: Any = None, return_state: bool = False,
                 **kwargs: Any) -> Any:
        builder = dag_builder_var.get()
        if builder is not None:  # inside `with DAG(...)`: the call defines a node
            return builder.add_task_call(self, args, kwargs, wait_for)
        return get_engine().call_task(self, args, kwargs, wait_for=wait_for,
                                      return_state=return_state)

    def submit(self, *args: Any, wait_for: Any = None, **kwargs: Any) -> Any:
        return get_engine().submit_task(self, args, kwargs, wait_for=wait_for)

    def map(self, *args: Any, wait_for: Any = None, **kwargs: Any) -> Any:
        return get_engine().map_task(self, args, kwargs, wait_for=wait_for)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"

    def __reduce__(self) -> Any:
        return (Task, (self.fn, self.options))


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *, name: str | None = None, **options: Any
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[..., Any] | None = None, /, *, name: str | None = None,
         **options: Any) -> Any:
    """Declare a task: `@task` or `@task(retries=3, ...)` (options in SPEC §1)."""
    unknown = set(options) - set(TaskOptions.__dataclass_fields__) - {"name"}
    if unknown:
        raise TypeError(f"@task() got unknown options: {', '.join(sorted(unknown))}")

    def decorate(func: Callable[..., Any]) -> Task[Any, Any]:
        task_name = name or getattr(func, "__name__", "task")
        return Task(func, TaskOptions(name=task_name, **options))

    return decorate(fn) if fn is not None else decorate
