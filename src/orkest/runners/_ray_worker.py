"""The Ray side of RayRunner: one task run as a Ray streaming-generator task.

The job runs in a thread of the Ray worker while the task's own (main) thread yields the
process runner's messages (see processes.py) as they come: "running" at once, records every
LIVE_SECONDS, then "done" or "error". The last item yielded is the task's value (None
unless it completed): Ray keeps it in its object store, where a downstream task takes it.
"""

from __future__ import annotations

import pickle
import queue
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import cloudpickle

from orkest._internal import masking
from orkest.core.states import StateType
from orkest.engine.resources import ThreadMeter
from orkest.engine.task_run import TaskRunJob, describe_error, execute
from orkest.runners._process_worker import LIVE_SECONDS, _ChildSink, _unsendable
from orkest.runners._remote_jobs import _final_message, fill_inputs, new_sink

_END = b""  # after the final message: the job's thread is done
_tasks: dict[str, Any] = {}  # task token -> Task: each worker unpickles a task once
_SAFE_TYPES = (bytes, bytearray, str, int, float, bool, type(None))


def run_on_worker(payload: bytes, task_token: str, task_bytes: bytes,
                  *values: Any) -> Iterator[Any]:
    """Yield the job's messages (pickled bytes), then its value."""
    messages: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    sink = new_sink(messages.put)
    outcome: list[Any] = [None]

    def work() -> None:
        try:
            outcome[0] = _run(payload, task_token, task_bytes, list(values), sink)
        finally:
            messages.put(_END)

    threading.Thread(target=work, name="orkest-ray-task", daemon=True).start()
    while True:
        try:
            item = messages.get(timeout=LIVE_SECONDS)
        except queue.Empty:
            sink.ship()  # the records of a task still running, so logs show up live
            continue
        if not item:  # _END
            break
        yield item
    yield outcome[0]


def _run(payload: bytes, token: str, task_bytes: bytes, values: list[Any],
         sink: _ChildSink) -> Any:
    """As _remote_jobs.run_job, plus: the task travels once per worker, and a value that
    cannot go into Ray's object store fails the run before its final state is shipped."""
    from orkest.engine.logs import enable_print_capture

    try:
        task = _tasks.get(token)
        if task is None:
            task = _tasks[token] = pickle.loads(task_bytes)
        rest, args, kwargs, secrets = pickle.loads(payload)
        rest.pop("task", None)  # sent apart, once per worker
        if secrets:  # the flow's secrets, masked here too (in the task's printed output)
            masking.adopt(secrets)
        sink.parent_knows = masking.count()
        job = TaskRunJob(task=task, args=fill_inputs(args, values),
                         kwargs=fill_inputs(kwargs, values), **rest)
    except BaseException as exc:  # noqa: BLE001 - e.g. a module missing on the worker
        sink.ship(("error", f"Cannot load the task run on a Ray worker: "
                            f"{describe_error(exc)}", traceback.format_exc()), final=True)
        return None
    sink.begin(job)
    value = None
    try:
        if job.log_prints:
            enable_print_capture()
        state = execute(job, sink, ThreadMeter(), None, guard_always=True)
        if state.type is StateType.COMPLETED and state.result_ref is None \
                and not isinstance(state.data, _SAFE_TYPES):
            try:  # not persisted: it must still travel (the process runner checks the same)
                cloudpickle.dumps(state.data, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # noqa: BLE001 - fails this run, named
                state = _unsendable(job, state, exc, sink)
        head = _final_message(state)
        if state.type is StateType.COMPLETED:
            value = state.data
    except BaseException as exc:  # noqa: BLE001 - the engine failed: report it
        head = ("error", f"Worker error: {describe_error(exc)}", traceback.format_exc())
    sink.ship(head, final=True)
    return value
