"""The engine port: how tasks and flows (L1) reach the engine (L4) without importing it.

`orkest/__init__.py` installs the engine once; tests may install another.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from orkest.errors import ConfigurationError

if TYPE_CHECKING:
    from orkest.core.flows import Flow
    from orkest.core.futures import TaskFuture
    from orkest.core.tasks import Task


class Engine(Protocol):
    def call_task(
        self, task: Task, args: tuple, kwargs: dict, *, wait_for: Any, return_state: bool
    ) -> Any: ...

    def submit_task(self, task: Task, args: tuple, kwargs: dict, *, wait_for: Any) -> TaskFuture:
        ...

    def map_task(
        self, task: Task, args: tuple, kwargs: dict, *, wait_for: Any
    ) -> list[TaskFuture]: ...

    def call_flow(self, flow: Flow, args: tuple, kwargs: dict, *, return_state: bool,
                  logical_ts: float | None = None) -> Any: ...

    def run_graph(self, graph: Any, parameters: dict[str, Any]) -> Any:
        """Run a DAG's operators as task runs of the current flow run (orkest.dag)."""
        ...


# Set while a `with DAG(...)` block is open: a @task called there defines a node
# instead of running (the DAG layer sits above core, so it plugs in through this).
dag_builder_var: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "orkest_dag_builder", default=None)


_engine: Engine | None = None
_engine_factory: Callable[[], Engine] | None = None


def install_engine(engine: Engine | None = None,
                   factory: Callable[[], Engine] | None = None) -> None:
    """Install an engine, or a factory that builds it on first use (keeps import light)."""
    global _engine, _engine_factory
    _engine, _engine_factory = engine, factory


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        if _engine_factory is None:
            raise ConfigurationError("No orkest engine is installed; import orkest first")
        _engine = _engine_factory()
    return _engine
