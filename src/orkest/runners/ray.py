"""Run each task run as a Ray task: a local Ray for the flow run, or a running cluster.

The job travels as the process runner's job does and reports with the same messages
(_ray_worker.py): a plain Ray task returns its report and its value; one that runs past a
live tick also posts its live messages to the session's Mailbox actor. One manager thread
(_ray_tasks.py) reads reports as they finish and the Mailbox, enforces hard deadlines and
cancels.
A completed value stays in Ray's object store: a downstream task on this runner gets the
ObjectRef (worker to worker); the flow process fetches the value only when user code asks.

`import ray` below is the real Ray: this module's own name only exists as
orkest.runners.ray (absolute imports).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ray

from orkest.core.states import Cancelled, Failed
from orkest.engine.task_run import describe_error
from orkest.errors import ConfigurationError, SerializationError
from orkest.runners._ray_tasks import RUNNER_NAME, _Manager, _Slot
from orkest.runners._ray_worker import MAILBOX_NAMESPACE, Mailbox, run_on_worker
from orkest.runners._remote_jobs import JobPacker, lift_inputs
from orkest.runners.base import OnDone, TaskRunner

if TYPE_CHECKING:
    from orkest.engine.context import FlowRunContext
    from orkest.engine.task_run import TaskRunJob

INLINE_TASK_BYTES = 64 * 1024

class RayRunner(TaskRunner):
    """Task runs as Ray tasks: on a local Ray started for the flow run (no `address`), or
    on the running cluster at `address` (never shut down by us). `init_kwargs` go to
    `ray.init()`. If Ray is already initialized in this process, that Ray is used."""

    name = RUNNER_NAME

    def __init__(self, address: str | None = None,
                 init_kwargs: dict[str, Any] | None = None) -> None:
        if init_kwargs is not None and not isinstance(init_kwargs, dict):
            raise ConfigurationError(
                f"RayRunner init_kwargs must be a dict of ray.init() arguments, not "
                f"{type(init_kwargs).__name__}")
        if init_kwargs and "address" in init_kwargs:
            raise ConfigurationError(
                "RayRunner: pass the cluster as address=..., not in init_kwargs")
        self.address = address
        self.init_kwargs = dict(init_kwargs or {})
        self._lock = threading.Lock()
        self._manager: _Manager | None = None
        self._joined = False  # this runner holds a use of the process's Ray session
        self._packer = JobPacker("Ray")  # a task goes to the object store once

    def config(self) -> dict[str, Any]:
        return {"address": self.address, "init_kwargs": dict(self.init_kwargs)}

    def duplicate(self) -> RayRunner:
        return RayRunner(self.address, self.init_kwargs)

    def start(self) -> None:
        with self._lock:
            if not self._joined:
                _session.join(self.address, self.init_kwargs)
                self._joined = True

    def submit(self, job: TaskRunJob, ctx: FlowRunContext, on_done: OnDone) -> None:
        self.start()
        slot = _Slot(job, ctx, on_done)
        with self._lock:
            if self._manager is None:
                self._manager = _Manager(*_session.mailbox())
            manager = self._manager
        manager.track(slot)
        if ctx.cancel_event.is_set():
            manager.force(slot, Cancelled(message="Flow run was cancelled"))
            return
        try:
            args, kwargs, refs = lift_inputs(job.args, job.kwargs)
            task_token, task_data = self._packer.task(job, _ship_task)
            payload = self._packer.pack(job, args, kwargs)
            inline = isinstance(task_data, bytes)
            # One bytes argument: each argument costs Ray a serialization on both sides.
            envelope = pickle.dumps((payload, manager.mailbox_name, manager.box, slot.token,
                                     task_token, task_data if inline else None),
                                    protocol=pickle.HIGHEST_PROTOCOL)
            slot.report, slot.value = _remote_fn().remote(
                envelope, *refs) if inline else _remote_fn().remote(envelope, task_data, *refs)
        except Exception as exc:  # noqa: BLE001 - this run fails, named; others go on
            error = exc if isinstance(exc, SerializationError) else SerializationError(
                f"Task run {job.task_run.name!r} cannot be sent to Ray: {describe_error(exc)}")
            job.task_run.failure_type = "orkest.errors.SerializationError"
            manager.force(slot, Failed(message=str(error), data=error))
            return
        manager.launched(slot)

    def cancel_all(self) -> None:
        manager = self._manager
        if manager is not None:
            manager.cancel()

    def shutdown(self) -> None:
        with self._lock:
            manager, self._manager = self._manager, None
            joined, self._joined = self._joined, False
            self._packer.clear()
        if manager is not None:
            manager.stop()
        if joined:
            _session.leave()

    def __repr__(self) -> str:
        where = f"address={self.address!r}" if self.address else "local"
        return f"RayRunner({where})"


class _Session:
    """The process's one Ray connection, shared by the runners that use it: started (or
    connected) by the first, shut down when the last leaves, and only if we started it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.owned = False
        self._mailbox: Any = None

    def mailbox(self) -> tuple[Any, str]:
        """The session's Mailbox actor (see _ray_worker.py) and its name, started on first
        use. Tasks get the name, not the handle: a worker looks the actor up once, where a
        handle in every task's arguments costs each task a borrower registration."""
        with self.lock:
            if self._mailbox is None:
                name = f"orkest-mailbox-{uuid.uuid4().hex}"
                self._mailbox = (ray.remote(num_cpus=0)(Mailbox).options(
                    name=name, namespace=MAILBOX_NAMESPACE).remote(), name)
            return self._mailbox

    def join(self, address: str | None, init_kwargs: dict[str, Any]) -> None:
        with self.lock:
            if not ray.is_initialized():
                kwargs: dict[str, Any] = {"address": address} if address else {
                    "num_cpus": os.cpu_count() or 1, "include_dashboard": False}
                kwargs.update(init_kwargs)
                # As the process runner's children: a local Ray's workers import what this
                # process can (a flow's own modules next to it, say). Through the raylet's
                # environment, which its workers inherit, not a runtime_env: a job with one
                # cannot use the workers Ray prestarts and starts its own, each through the
                # runtime-env agent.
                paths = "" if address else _driver_paths()
                try:
                    with _environment(PYTHONPATH=paths or None):
                        ray.init(**kwargs)
                except Exception as exc:
                    where = f"the Ray cluster at {address!r}" if address else "a local Ray"
                    raise ConfigurationError(
                        f"RayRunner could not start or reach {where}: {describe_error(exc)};"
                        f" check address= and init_kwargs={init_kwargs!r}") from exc
                self.owned = True
            self.users += 1

    def leave(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users > 0 or not self.owned:
                return
            self.owned = False
            self._mailbox = None  # an actor owned by this driver: it ends with the session
            ray.shutdown()  # a local Ray stops; a cluster's only loses this driver


@contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """os.environ with `values` set (None: left as it is) while Ray starts its processes."""
    saved = {name: os.environ.get(name) for name, value in values.items() if value is not None}
    for name in saved:
        os.environ[name] = values[name]  # type: ignore[assignment]
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _driver_paths() -> str:
    """This process's import path minus the interpreter's own (workers have those)."""
    own = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.curdir)
        if os.path.isdir(path) and not any(path == p or path.startswith(p + os.sep)
                                           for p in own):
            paths.append(path)
    extra = os.environ.get("PYTHONPATH")
    return os.pathsep.join(dict.fromkeys([*paths, *(extra.split(os.pathsep) if extra else [])]))


def _ship_task(data: bytes) -> Any:
    """A small task travels inline with each Ray task (cheaper than an ObjectRef argument,
    which every task must resolve); a large one goes to the object store once."""
    return data if len(data) <= INLINE_TASK_BYTES else ray.put(data)


_session = _Session()
_remote: Any = None


def _remote_fn() -> Any:
    global _remote
    if _remote is None:
        # max_retries=0: a task whose worker died is CRASHED, never silently run twice.
        _remote = ray.remote(num_returns=2, max_retries=0)(run_on_worker)
    return _remote
