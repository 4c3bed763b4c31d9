"""What a cluster runner (Dask, Ray) shares: a job's bytes, its run on a cluster worker,
and the final State the flow process builds from the worker's report.

It reuses the process runner's protocol (processes.py): the worker side runs the job with
the same _ChildSink, whose messages ("running", "records", "attempt", "secrets", "done",
"error") go through `send_bytes` of whatever transport the runner has, and the flow side
absorbs them with the same functions. One difference: a completed value is NOT in the
"done" message. It stays on the cluster as the cluster's own future, which a downstream
task takes as an input (worker to worker), and the flow process fetches it only when user
code asks for it (ClusterState.result()).
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import cloudpickle

from orkest._internal import masking
from orkest.core.states import State, StateType
from orkest.engine.resources import ThreadMeter
from orkest.engine.task_run import TaskRunJob, describe_error, execute
from orkest.errors import SerializationError
from orkest.runners._process_worker import LIVE_SECONDS, _ChildSink, _unsendable
from orkest.runners.processes import _load_data, _ship_user_modules_by_value

if TYPE_CHECKING:
    from orkest.core.tasks import Task
    from orkest.engine.task_run import TaskRun

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_CONTAINERS = (list, tuple, dict, set, frozenset)
_MAX_DEPTH = 5  # as deep as the engine resolves futures in inputs (core/futures.py)


class OnCluster:
    """An input that is another task's value still on the cluster (see remote_input)."""

    __slots__ = ("ref",)

    def __init__(self, ref: Any) -> None:
        self.ref = ref  # the cluster's future (a Dask Future, a Ray ObjectRef)


@dataclasses.dataclass(frozen=True, slots=True)
class _InputSlot:
    """Where an OnCluster input was, in the job's bytes: filled in on the worker."""

    index: int


class ClusterState(State):
    """A final State whose completed value may live only on the cluster, fetched on demand.

    `remote_input()` is how the engine, resolving a downstream task's inputs, keeps the
    value on the cluster: it gets the cluster's future instead of the value.
    """

    __slots__ = ("_ref", "_fetch")

    def keep_on_cluster(self, ref: Any, fetch: Callable[[Any], Any]) -> None:
        self._ref = ref
        self._fetch = fetch  # (ref) -> value; raises once the cluster is released

    def release(self) -> None:
        """The runner shut down: the cluster's copy is gone (a persisted one is not)."""
        self._ref = None

    def remote_input(self) -> OnCluster | None:
        if self.type is StateType.COMPLETED and getattr(self, "_ref", None) is not None:
            return OnCluster(self._ref)
        return None

    def result(self, raise_on_failure: bool = True) -> Any:
        if (self.type is StateType.COMPLETED and not self.has_data()
                and self.result_ref is None and hasattr(self, "_fetch")):
            self.data = self._fetch(getattr(self, "_ref", None))
        return super().result(raise_on_failure)


def lift_inputs(args: tuple, kwargs: dict) -> tuple[tuple, dict, list[Any]]:
    """Args and kwargs with each OnCluster replaced by a slot, and the futures in order."""
    refs: list[Any] = []

    def lift(value: Any, depth: int) -> Any:
        if isinstance(value, OnCluster):
            refs.append(value.ref)
            return _InputSlot(len(refs) - 1)
        return _map_containers(value, depth, lift)

    return lift(args, 0), lift(kwargs, 0), refs


def fill_inputs(value: Any, values: list[Any], depth: int = 0) -> Any:
    """On the worker: each slot gets its value (the cluster moved it here)."""
    if isinstance(value, _InputSlot):
        return values[value.index]
    return _map_containers(value, depth, lambda v, d: fill_inputs(v, values, d))


def _map_containers(value: Any, depth: int, fn: Callable[[Any, int], Any]) -> Any:
    if depth > _MAX_DEPTH or not isinstance(value, _CONTAINERS):
        return value
    if isinstance(value, dict):
        return {k: fn(v, depth + 1) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(fn(v, depth + 1) for v in value))
    return type(value)(fn(v, depth + 1) for v in value)


class JobPacker:
    """A flow run's jobs as bytes for cluster workers.

    A task travels once: its bytes get a token, the runner ships them to the cluster once
    (Dask scatters them, Ray puts them in its object store) and a worker unpickles them
    once per token (task_for). The engine's own fields go through plain pickle (C, fast);
    only user values need cloudpickle.
    """

    def __init__(self, runner: str) -> None:
        self.runner = runner
        self.prefix = uuid.uuid4().hex[:12]
        self.lock = threading.Lock()
        self.tasks: dict[int, tuple[Task, str, Any]] = {}  # id(task) -> task, token, shipped

    def task(self, job: TaskRunJob, ship: Callable[[bytes], Any]) -> tuple[str, Any]:
        """The token of the job's task and what `ship(task_bytes)` returned the first time.

        The entry keeps the task alive, so ids stay unique while it is known.
        """
        with self.lock:
            known = self.tasks.get(id(job.task))
            if known is None:
                _ship_user_modules_by_value()
                try:
                    data = cloudpickle.dumps(job.task, protocol=_PROTOCOL)
                except Exception as exc:  # noqa: BLE001 - reported as this run's failure
                    raise SerializationError(
                        f"Task run {job.task_run.name!r} cannot be sent to {self.runner}: "
                        f"its task {job.task.name!r} cannot be pickled "
                        f"({describe_error(exc)})") from exc
                token = f"{self.prefix}-{len(self.tasks)}"
                known = self.tasks[id(job.task)] = (job.task, token, ship(data))
            return known[1], known[2]

    def pack(self, job: TaskRunJob, args: tuple, kwargs: dict) -> bytes:
        """The job minus its task, with the flow's registered secrets; SerializationError
        if it cannot travel (an unpicklable argument fails that task run only)."""
        try:
            _ship_user_modules_by_value()
            rest = {name: getattr(job, name) for name in _REST_FIELDS}
            try:
                rest_bytes = pickle.dumps(rest, protocol=_PROTOCOL)
            except Exception:  # noqa: BLE001 - a field plain pickle cannot handle
                rest_bytes = cloudpickle.dumps(rest, protocol=_PROTOCOL)
            # Plain values (the usual map over numbers, names, paths) with C pickle; anything
            # else with cloudpickle, which sends what a worker cannot import by value.
            dumps = pickle.dumps if _plain((args, kwargs)) else cloudpickle.dumps
            values = dumps((args, kwargs), protocol=_PROTOCOL)
            return pickle.dumps((rest_bytes, values, tuple(masking.registered())),
                                protocol=_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - reported as the run's failure
            raise SerializationError(
                f"Task run {job.task_run.name!r} cannot be sent to a {self.runner} worker: "
                f"{describe_error(exc)}; pass picklable arguments or use ThreadPoolRunner"
            ) from exc

    def clear(self) -> None:
        with self.lock:
            self.tasks.clear()


_REST_FIELDS = tuple(f.name for f in dataclasses.fields(TaskRunJob)
                     if f.name not in ("task", "args", "kwargs"))
_PLAIN_TYPES = (int, float, str, bytes, bool, type(None))
_PLAIN_MAX = 64  # items looked at before a value counts as not plain


def _plain(value: Any, depth: int = 0) -> bool:
    """Built-in scalars in built-in containers only: plain pickle sends them as well."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return True
    if depth > 3 or kind not in (tuple, list, dict) or len(value) > _PLAIN_MAX:
        return False
    if kind is dict:
        return all(type(k) in _PLAIN_TYPES and _plain(v, depth + 1) for k, v in value.items())
    return all(_plain(item, depth + 1) for item in value)


_loaded: OrderedDict[str, Task] = OrderedDict()  # on a worker: token -> Task
_loaded_lock = threading.Lock()
_LOADED_MAX = 256


def task_for(token: str, task_bytes: bytes) -> Task:
    """On a worker: the task of this token, unpickled the first time only."""
    with _loaded_lock:
        task = _loaded.get(token)
        if task is not None:
            _loaded.move_to_end(token)
            return task
    task = pickle.loads(task_bytes)
    with _loaded_lock:
        _loaded[token] = task
        while len(_loaded) > _LOADED_MAX:
            _loaded.popitem(last=False)
    return task


class _Transport:
    """What _ChildSink needs of a pipe: send_bytes."""

    __slots__ = ("send_bytes",)

    def __init__(self, send_bytes: Callable[[bytes], None]) -> None:
        self.send_bytes = send_bytes


def new_sink(send_bytes: Callable[[bytes], None]) -> _ChildSink:
    """A sink whose attempts announce themselves at the first live tick (see _ChildSink)."""
    return _ChildSink(_Transport(send_bytes), lazy_running=True)  # type: ignore[arg-type]


_SAFE_TYPES = (bytes, bytearray, str, int, float, bool, type(None))


class _Ticker:
    """One thread per worker process: every LIVE_SECONDS, each running job's sink ticks
    (announces a long attempt, ships its records) so logs show up while it runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sinks: set[_ChildSink] = set()
        self.thread: threading.Thread | None = None

    @contextmanager
    def live(self, sink: _ChildSink) -> Iterator[None]:
        with self.lock:
            self.sinks.add(sink)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="orkest-ship",
                                               daemon=True)
                self.thread.start()
        try:
            yield
        finally:
            with self.lock:
                self.sinks.discard(sink)

    def _run(self) -> None:
        while True:
            time.sleep(LIVE_SECONDS)
            with self.lock:
                sinks = list(self.sinks)
            for sink in sinks:
                try:
                    sink.tick()
                except Exception:  # noqa: BLE001, S112 - the worker is closing
                    continue


ticker = _Ticker()


def run_job(payload: bytes, token: str, task_bytes: bytes, values: list[Any],
            sink: _ChildSink, where: str, check_value: bool = False,
            on_final: Callable[[], None] | None = None) -> Any:
    """On a cluster worker: run the job's attempts, ship its records, return its value.

    The value (None unless COMPLETED) is what the cluster keeps as the task's output.
    With `check_value`, a value that cannot be pickled (for a store that always pickles
    it, as Ray's) fails the run before its final state is shipped. `on_final` runs just
    before the final message is shipped (Ray switches its transport there).
    """
    from orkest.engine.logs import enable_print_capture

    try:
        rest_bytes, value_bytes, secrets = pickle.loads(payload)
        if secrets:  # the flow's secrets, masked here too (in the task's printed output)
            masking.adopt(secrets)
        sink.parent_knows = masking.count()
        task = task_for(token, task_bytes)
        args, kwargs = pickle.loads(value_bytes)
        job = TaskRunJob(task=task, args=fill_inputs(args, values),
                         kwargs=fill_inputs(kwargs, values), **pickle.loads(rest_bytes))
    except BaseException as exc:  # noqa: BLE001 - e.g. a module missing on the worker
        if on_final is not None:
            on_final()
        sink.ship(("error", f"Cannot load the task run on a {where} worker: "
                            f"{describe_error(exc)}", traceback.format_exc()), final=True)
        return None
    sink.begin(job)
    value = None
    try:
        if job.log_prints:
            enable_print_capture()
        state = execute(job, sink, ThreadMeter(), None, guard_always=True)
        if check_value and state.type is StateType.COMPLETED and state.result_ref is None \
                and not isinstance(state.data, _SAFE_TYPES):
            try:  # not persisted: it must still travel (the process runner checks the same)
                cloudpickle.dumps(state.data, protocol=_PROTOCOL)
            except Exception as exc:  # noqa: BLE001 - fails this run, named
                state = _unsendable(job, state, exc, sink)
        head = _final_message(state)
        if state.type is StateType.COMPLETED:
            value = state.data
    except BaseException as exc:  # noqa: BLE001 - the engine failed: report it
        head = ("error", f"Worker error: {describe_error(exc)}", traceback.format_exc())
    if on_final is not None:
        on_final()
    sink.ship(head, final=True)
    return value


def _final_message(state: State) -> tuple:
    """As the process runner's, but a completed value stays here (it is the task's output)."""
    data = None
    if state.has_data() and state.type is not StateType.COMPLETED:
        try:
            data = cloudpickle.dumps(state.data, protocol=_PROTOCOL)
            if isinstance(state.data, BaseException):
                pickle.loads(data)  # an exception that cannot be rebuilt is caught here
        except Exception:  # noqa: BLE001 - sent as text instead
            error = state.data
            data = cloudpickle.dumps(RuntimeError(describe_error(error))
                                     if isinstance(error, BaseException) else None)
    return ("done", state.type.value, state.name, state.message, state.ts, state.result_ref,
            data)


def done_state(message: tuple) -> ClusterState:
    """The flow side of a "done" message (the records are absorbed by the caller)."""
    _, type_value, name, text, ts, ref, data = message[:7]
    state = ClusterState(StateType(type_value), name, text, ts, result_ref=ref)
    if data is not None:
        state.data = _load_data(data)
    return state


def lost_value_error(run: TaskRun, runner: str) -> SerializationError:
    return SerializationError(
        f"Task run {run.name!r} returned a value that was not persisted and lived only on the"
        f" {runner} cluster, released when the flow run ended; call .result() inside the"
        f" flow, or let the result be persisted (persist_result=True)")
