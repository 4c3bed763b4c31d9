"""The runner interface: a runner only decides where `execute(job)` happens.

A runner gets a picklable TaskRunJob and a callback for the final State; everything else
(dependencies, caching, reruns, records) is the engine's. That is why a new runner, such
as Dask or Ray, is one small file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orkest.core.states import State
    from orkest.engine.context import FlowRunContext
    from orkest.engine.task_run import TaskRunJob

OnDone = Callable[["State"], None]


class TaskRunner(ABC):
    """Configured once on a flow; each flow run works with its own `duplicate()`."""

    name: str = "runner"

    @abstractmethod
    def duplicate(self) -> TaskRunner:
        """A fresh, unstarted runner with the same configuration."""

    def start(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Acquire resources (lazily is fine); called when a flow run starts."""

    @abstractmethod
    def submit(self, job: TaskRunJob, ctx: FlowRunContext, on_done: OnDone) -> None:
        """Run `job` somewhere and call `on_done(final_state)` exactly once."""

    def cancel_all(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Best effort: stop the task runs in progress (the flow run is being cancelled)."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release resources; called when the flow run ends (all futures are done)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __reduce__(self) -> Any:
        return (type(self).duplicate_from_config, (self.config(),))

    def config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def duplicate_from_config(cls, config: dict[str, Any]) -> TaskRunner:
        return cls(**config)
