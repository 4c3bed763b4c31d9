"""The `@flow` decorator and the Flow definition."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import update_wrapper
from typing import Any, Generic, ParamSpec, TypeVar, overload

from orkest._internal.hooks import call as call_hook
from orkest.core.context import get_engine
from orkest.core.params import ParameterModel
from orkest.core.results import check_serializer
from orkest.core.tasks import Hook, _check_delays, _check_hooks

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class FlowOptions:
    name: str
    version: str | None = None
    description: str | None = None
    retries: int = 0
    retry_delay_seconds: float | tuple[float, ...] = 0.0
    timeout_seconds: float | None = None
    task_runner: Any = None  # a runners.TaskRunner; None means ThreadPoolRunner()
    log_prints: bool = False
    validate_parameters: bool = True
    persist_result: bool | None = None
    result_serializer: str = "cloudpickle"
    on_failure: tuple[Hook, ...] = ()
    on_completion: tuple[Hook, ...] = ()
    on_cancellation: tuple[Hook, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or self.retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, not {self.retries!r}")
        object.__setattr__(self, "retry_delay_seconds", _check_delays(self.retry_delay_seconds))
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be > 0, not {self.timeout_seconds!r}")
        if self.task_runner is not None and not hasattr(self.task_runner, "submit"):
            raise TypeError(
                f"task_runner must be a runner such as ThreadPoolRunner(), not {self.task_runner!r}"
            )
        check_serializer(self.result_serializer)
        for hook_name in ("on_failure", "on_completion", "on_cancellation"):
            object.__setattr__(self, hook_name, _check_hooks(hook_name, getattr(self, hook_name)))

    def retry_delay(self, attempt: int) -> float:
        delays = self.retry_delay_seconds
        if isinstance(delays, tuple):
            return delays[min(attempt, len(delays)) - 1]
        return delays


class Flow(Generic[P, R]):
    """A function whose calls are tracked flow runs, with tasks as their steps."""

    def __init__(self, fn: Callable[P, R], options: FlowOptions) -> None:
        if not callable(fn):
            raise TypeError(f"@flow decorates a function, not {fn!r}")
        self.fn = fn
        self.options = options
        self.signature = _signature(fn)
        self.parameters = ParameterModel(options.name, self.signature)
        update_wrapper(self, fn)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        return self.options.name

    @property
    def version(self) -> str | None:
        return self.options.version

    def with_options(self, **changes: Any) -> Flow[P, R]:
        unknown = set(changes) - set(FlowOptions.__dataclass_fields__)
        if unknown:
            raise TypeError(f"with_options() got unknown options: {', '.join(sorted(unknown))}")
        return Flow(self.fn, replace(self.options, **changes))

    def __call__(self, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:
        return get_engine().call_flow(self, args, kwargs, return_state=return_state)

    def deploy(self, name: str, *, schedules: Any = (), triggers: Any = (),
               parameters: dict[str, Any] | None = None, work_pool: str = "default",
               concurrency_limit: int | None = None, catchup: bool = False,
               tags: Any = (), **options: Any) -> Any:
        """Register a deployment `FLOW_NAME/name` that the scheduler, triggers and workers
        run (SPEC §5); the stored Deployment. Same again updates it."""
        return call_hook("deploy", self, name, schedules=schedules, triggers=triggers,
                         parameters=parameters, work_pool=work_pool,
                         concurrency_limit=concurrency_limit, catchup=catchup, tags=tags,
                         **options)

    def serve(self, name: str, *, schedules: Any = (), triggers: Any = (),
              parameters: dict[str, Any] | None = None, **options: Any) -> None:
        """Deploy, then schedule and run it in this one process until Ctrl-C (no server)."""
        call_hook("serve", self, name, schedules=schedules, triggers=triggers,
                  parameters=parameters, **options)

    def __repr__(self) -> str:
        return f"Flow({self.name!r})"

    def __reduce__(self) -> Any:
        return (Flow, (self.fn, self.options))


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    """The signature with string annotations (`from __future__ import annotations`)
    resolved in the function's module, so that parameters validate by their real types;
    as written when a name cannot be resolved (defined later, or only for type checkers)."""
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception:  # noqa: BLE001 - NameError, SyntaxError...: keep the strings
        return inspect.signature(fn)


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(*, name: str | None = None, **options: Any) -> Callable[[Callable[P, R]], Flow[P, R]]:
    ...


def flow(fn: Callable[..., Any] | None = None, /, *, name: str | None = None,
         **options: Any) -> Any:
    """Declare a flow: `@flow` or `@flow(name=..., task_runner=..., ...)` (SPEC §1)."""
    unknown = set(options) - set(FlowOptions.__dataclass_fields__) - {"name"}
    if unknown:
        raise TypeError(f"@flow() got unknown options: {', '.join(sorted(unknown))}")

    def decorate(func: Callable[..., Any]) -> Flow[Any, Any]:
        flow_name = name or getattr(func, "__name__", "flow").replace("_", "-")
        return Flow(func, FlowOptions(name=flow_name, **options))

    return decorate(fn) if fn is not None else decorate
