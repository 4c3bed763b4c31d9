"""The engine port: how tasks and flows (L1) reach the engine (L4) without importing it.

`orkest/__init__.py` installs the engine once; tests may install another.
"""

from __future__ import annotations

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

    def call_flow(self, flow: Flow, args: tuple, kwargs: dict, *, return_state: bool) -> Any:
        ...


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
