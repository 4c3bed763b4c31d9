"""TaskFuture: the handle `.submit()` and `.map()` return, and how inputs are resolved.

A lightweight future (no per-future lock or Condition): one module lock guards callback
registration, and an Event is made only when somebody actually waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from orkest.core.states import State, StateType
from orkest.errors import UpstreamTaskFailed

if TYPE_CHECKING:
    from orkest.core.records import TaskRun

_lock = threading.Lock()


class TaskFuture:
    """The eventual final State of one task run."""

    __slots__ = ("task_run", "_final", "_event", "_callbacks", "observed")

    def __init__(self, task_run: TaskRun) -> None:
        self.task_run = task_run
        self._final: State | None = None
        self._event: threading.Event | None = None
        self._callbacks: list[Callable[[TaskFuture], None]] | None = None
        # Set when user code saw the outcome (result(), an awaited call): an unobserved
        # failure fails the flow run instead of passing silently.
        self.observed = False

    @property
    def task_run_id(self) -> str:
        return self.task_run.id

    @property
    def state(self) -> State:
        final = self._final
        return final if final is not None else self.task_run.state

    def done(self) -> bool:
        return self._final is not None

    def wait(self, timeout: float | None = None) -> bool:
        if self._final is not None:
            return True
        with _lock:
            if self._final is not None:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        if not self.wait(timeout):
            raise TimeoutError(
                f"Task run {self.task_run.name!r} did not finish within {timeout} s"
            )
        self.observed = True
        assert self._final is not None
        return self._final.result(raise_on_failure=raise_on_failure)

    def add_done_callback(self, callback: Callable[[TaskFuture], None]) -> None:
        with _lock:
            if self._final is None:
                if self._callbacks is None:
                    self._callbacks = [callback]
                else:
                    self._callbacks.append(callback)
                return
        callback(self)

    def set_final(self, state: State) -> None:
        """Called by the engine when the task run reaches a final state; the first wins
        (a task abandoned after a cancel may still report back later)."""
        with _lock:
            if self._final is not None:
                return
            self._final = state
            callbacks, self._callbacks = self._callbacks, None
            event = self._event
        if event is not None:
            event.set()
        if callbacks:
            for callback in callbacks:
                callback(self)

    def __repr__(self) -> str:
        return f"TaskFuture({self.task_run.name!r}, {self.state!r})"


class FutureList(list):
    """What `.map()` returns: a list of futures that can be waited on as one."""

    def wait(self, timeout: float | None = None) -> None:
        for future in self:
            future.wait(timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[Any]:
        return [f.result(timeout, raise_on_failure=raise_on_failure) for f in self]


class unmapped:  # noqa: N801 - reads as a marker in calls: load.map(xs, unmapped(day))
    """Pass this value whole to every mapped task run instead of iterating over it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_CONTAINERS = (list, tuple, dict, set, frozenset)


def collect_futures(value: Any, into: list[TaskFuture], depth: int = 0) -> None:
    """Append every TaskFuture found in value (lists, tuples, sets, dict values)."""
    if isinstance(value, TaskFuture):
        into.append(value)
    elif depth < 4 and isinstance(value, _CONTAINERS):
        items: Iterable[Any] = value.values() if isinstance(value, dict) else value
        for item in items:
            if isinstance(item, TaskFuture) or isinstance(item, _CONTAINERS):
                collect_futures(item, into, depth + 1)


def resolve_futures(value: Any, depth: int = 0, keep_remote: bool = False) -> Any:
    """Replace futures by their results; raise UpstreamTaskFailed if one did not complete.

    keep_remote: a result that a cluster runner keeps on its cluster (its state offers
    `remote_input()`) becomes the runner's stand-in instead of being fetched here, so a
    value passed from task to task moves worker to worker (docs/scaling.md).
    """
    if isinstance(value, TaskFuture):
        value.wait()
        state = value.state
        if state.type is not StateType.COMPLETED:
            raise UpstreamTaskFailed(
                f"upstream task run {value.task_run.name!r} ended {state.type.value}"
                f" ({state.name})"
            )
        if keep_remote:
            remote_input = getattr(state, "remote_input", None)
            stand_in = remote_input() if remote_input is not None else None
            if stand_in is not None:
                return stand_in
        return state.result()
    if depth >= 4:
        return value
    again = depth + 1
    if isinstance(value, list):
        return [resolve_futures(v, again, keep_remote) for v in value]
    if isinstance(value, tuple):
        items = (resolve_futures(v, again, keep_remote) for v in value)
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {k: resolve_futures(v, again, keep_remote) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return type(value)(resolve_futures(v, again, keep_remote) for v in value)
    return value
