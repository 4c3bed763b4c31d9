"""From a task call in a flow to a dispatched job: records, dependencies, cache, reruns.

Everything here runs in the thread that calls the task (or in the thread that completed
a task's last upstream), and is the part of a task run's overhead users feel most: it
builds one record, three states at most, and no store round trip unless a cache key or
a rerun asks for one.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from orkest._internal.ids import new_id
from orkest.core.futures import FutureList, TaskFuture, collect_futures, resolve_futures, unmapped
from orkest.core.params import summarize
from orkest.core.records import TaskRun
from orkest.core.states import Cached, Cancelled, State, StateType, UpstreamFailed
from orkest.core.tasks import Task
from orkest.engine import limits
from orkest.engine.context import FlowRunContext, ResultSettings
from orkest.engine.resources import ThreadMeter
from orkest.engine.task_run import TaskRunJob, execute, set_task_state
from orkest.errors import MissingContext, UpstreamTaskFailed

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _positional_names(task: Task) -> tuple[str, ...]:
    names = task.__dict__.get("_orkest_positional")
    if names is None:
        names = tuple(p.name for p in task.signature.parameters.values() if p.kind in _POSITIONAL)
        task.__dict__["_orkest_positional"] = names
    return names


def _summarize_inputs(task: Task, args: tuple, kwargs: dict) -> dict[str, Any]:
    names = _positional_names(task)
    if len(args) <= len(names):
        summary = {name: summarize(value) for name, value in zip(names, args, strict=False)}
    else:
        summary = {names[i] if i < len(names) else f"*{i}": summarize(v)
                   for i, v in enumerate(args)}
    for key, value in kwargs.items():
        summary[key] = summarize(value)
    return summary


def new_task_run(task: Task, flow_ctx: FlowRunContext | None, args: tuple, kwargs: dict,
                 upstream: list[TaskFuture], runner_name: str | None, *,
                 node: NodeRun | None = None) -> TaskRun:
    dynamic_key = flow_ctx.next_dynamic_key(task.task_key) if flow_ctx is not None else "0"
    prior = flow_ctx.prior.get((task.task_key, dynamic_key)) if flow_ctx and flow_ctx.prior \
        else None
    if prior is not None and prior.state_type is StateType.COMPLETED and prior.result_ref:
        return prior  # a rerun keeps the earlier attempt's completed run and its result
    now = time.time()
    run = TaskRun(
        id=prior.id if prior is not None else new_id(),
        flow_run_id=flow_ctx.flow_run.id if flow_ctx is not None else None,
        task_name=task.name,
        task_key=task.task_key,
        dynamic_key=dynamic_key,
        name=f"{task.name}-{dynamic_key}",
        state_type=StateType.PENDING,
        state_name="Pending",
        state_ts=now,
        created_ts=prior.created_ts if prior is not None else now,
        tags=sorted(task.options.tags) if task.options.tags else [],
        parameters=_summarize_inputs(task, args, kwargs) if (args or kwargs) and node is None
        else {},
        upstream=[f.task_run.id for f in upstream] if upstream else [],
        run_count=prior.run_count if prior is not None else 0,
        retries=task.options.retries,
        runner=runner_name,
    )
    if node is not None:
        run.name = node.name
        run.upstream = list(node.upstream_ids)
    return run


class NodeRun:
    """How a graph node's task run differs from a task call's: its name is the node id,
    its upstream edges come from the graph (they do not gate it: trigger rules do), and
    its inputs are filled in when it runs (rendered templates), not summarized here."""

    __slots__ = ("name", "upstream_ids")

    def __init__(self, name: str, upstream_ids: list[str]) -> None:
        self.name = name
        self.upstream_ids = upstream_ids


def _reused_state(run: TaskRun) -> State | None:
    """The final state of a run taken over from an earlier attempt, else None."""
    if run.state_type is StateType.COMPLETED:
        return State(StateType.COMPLETED, run.state_name, run.state_message, run.state_ts,
                     result_ref=run.result_ref)
    return None


def _result_settings(task: Task, flow_ctx: FlowRunContext | None,
                     default: ResultSettings) -> ResultSettings:
    options = task.options
    base = flow_ctx.results if flow_ctx is not None else default
    if options.persist_result is None and options.result_serializer == "cloudpickle":
        return base
    persist = options.persist_result if options.persist_result is not None else base.persist
    return ResultSettings(persist, options.result_serializer, base.results_dir)


def _upstream_of(args: tuple, kwargs: dict, wait_for: Any) -> list[TaskFuture]:
    found: list[TaskFuture] = []
    for arg in args:
        if isinstance(arg, TaskFuture | list | tuple | dict | set | frozenset):
            collect_futures(arg, found)
    for arg in kwargs.values():
        if isinstance(arg, TaskFuture | list | tuple | dict | set | frozenset):
            collect_futures(arg, found)
    if wait_for is not None:
        collect_futures(list(wait_for) if not isinstance(wait_for, TaskFuture) else wait_for,
                        found)
    return found


class Dispatcher:
    """Turns task calls into task runs for one process (installed as part of the engine)."""

    def __init__(self, default_results: Any, recorder_for: Any) -> None:
        self._default_results = default_results  # () -> ResultSettings for standalone runs
        self._recorder_for = recorder_for  # () -> Recorder for standalone runs

    # -- the three ways to run a task -------------------------------------------------
    def call(self, task: Task, args: tuple, kwargs: dict, wait_for: Any, return_state: bool,
             flow_ctx: FlowRunContext | None) -> Any:
        if flow_ctx is None:
            return self._standalone(task, args, kwargs, return_state)
        upstream = _upstream_of(args, kwargs, wait_for)
        run = new_task_run(task, flow_ctx, args, kwargs, upstream, "inline")
        flow_ctx.inline_runs.append(run)
        state = _reused_state(run)
        if state is None:
            flow_ctx.sink.task_run(run)
            flow_ctx.sink.state(_pending_record(run))
            state = self._prepare(task, run, args, kwargs, upstream, flow_ctx)
        if isinstance(state, TaskRunJob):
            state = _execute_here(state, flow_ctx)
        if return_state:
            return state
        return state.result()

    def submit(self, task: Task, args: tuple, kwargs: dict, wait_for: Any,
               flow_ctx: FlowRunContext | None, node: NodeRun | None = None) -> TaskFuture:
        if flow_ctx is None:
            raise MissingContext(
                f"{task.name}.submit() needs a running flow; call {task.name}() to run it"
                " as a standalone task run"
            )
        upstream = _upstream_of(args, kwargs, wait_for) if node is None else []
        run = new_task_run(task, flow_ctx, args, kwargs, upstream, flow_ctx.runner.name,
                           node=node)
        future = TaskFuture(run)
        flow_ctx.futures.append(future)
        reused = _reused_state(run)
        if reused is not None:
            future.set_final(reused)
            return future
        sink = flow_ctx.sink
        sink.task_run(run)
        sink.state(_pending_record(run))
        waiting = [f for f in upstream if not f.done()]
        if not waiting:
            self._dispatch(task, run, future, args, kwargs, upstream, flow_ctx)
            return future
        remaining = [len(waiting)]

        def upstream_done(_: TaskFuture) -> None:
            remaining[0] -= 1  # callbacks of one future list run one at a time (see below)
            if remaining[0] == 0:
                self._dispatch(task, run, future, args, kwargs, upstream, flow_ctx)

        _chain_callbacks(waiting, upstream_done)
        return future

    def map(self, task: Task, args: tuple, kwargs: dict, wait_for: Any,
            flow_ctx: FlowRunContext | None) -> FutureList:
        iterables: dict[int | str, list[Any]] = {}
        for key, value in [*enumerate(args), *kwargs.items()]:
            if isinstance(value, TaskFuture):
                value = value.result()
            if isinstance(value, unmapped) or isinstance(value, str | bytes | dict):
                continue
            if isinstance(value, Iterable):
                iterables[key] = list(value)
        if not iterables:
            raise TypeError(
                f"{task.name}.map() needs at least one iterable argument to map over"
                " (wrap constants in unmapped())"
            )
        lengths = {key: len(items) for key, items in iterables.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{_label(task, k)} has {n}" for k, n in lengths.items())
            raise ValueError(f"{task.name}.map() got iterables of different lengths: {detail}")
        count = next(iter(lengths.values()))
        plain_args = [a.value if isinstance(a, unmapped) else a for a in args]
        plain_kwargs = {k: v.value if isinstance(v, unmapped) else v for k, v in kwargs.items()}
        futures = FutureList()
        for i in range(count):
            call_args = tuple(iterables[j][i] if j in iterables else a
                              for j, a in enumerate(plain_args))
            call_kwargs = {k: iterables[k][i] if k in iterables else v
                           for k, v in plain_kwargs.items()}
            futures.append(self.submit(task, call_args, call_kwargs, wait_for, flow_ctx))
        return futures

    def run_now(self, task: Task, args: tuple, flow_ctx: FlowRunContext,
                node: NodeRun) -> TaskFuture:
        """Run a graph node in this thread, with no hand-off to the runner: a DAG does
        this when the node is the only thing it can run (a chain), where a hand-off
        would be pure latency."""
        run = new_task_run(task, flow_ctx, args, {}, [], "inline", node=node)
        future = TaskFuture(run)
        flow_ctx.futures.append(future)
        state = _reused_state(run)
        if state is None:
            flow_ctx.sink.task_run(run)
            flow_ctx.sink.state(_pending_record(run))
            prepared = self._prepare(task, run, args, {}, [], flow_ctx)
            state = _execute_here(prepared, flow_ctx) \
                if isinstance(prepared, TaskRunJob) else prepared
        future.set_final(state)
        return future

    def record_final(self, task: Task, state: State, flow_ctx: FlowRunContext,
                     node: NodeRun) -> TaskFuture:
        """A graph node that will not run (skipped, upstream failed): a task run that goes
        from PENDING straight to `state`, recorded like any other."""
        run = new_task_run(task, flow_ctx, (), {}, [], flow_ctx.runner.name, node=node)
        future = TaskFuture(run)
        flow_ctx.futures.append(future)
        reused = _reused_state(run)
        if reused is not None:  # a rerun keeps what completed before
            future.set_final(reused)
            return future
        sink = flow_ctx.sink
        sink.task_run(run)
        sink.state(_pending_record(run))
        future.set_final(set_task_state(run, state, sink))
        return future

    # -- before a job runs --------------------------------------------------------------
    def _prepare(self, task: Task, run: TaskRun, args: tuple, kwargs: dict,
                 upstream: list[TaskFuture], flow_ctx: FlowRunContext, *,
                 for_runner: bool = False) -> TaskRunJob | State:
        """A job ready to execute, or the final state when no execution is needed.

        for_runner: the job goes to the flow's runner (not executed in this process), so
        upstream values a cluster runner keeps may stay on its cluster.
        """
        sink = flow_ctx.sink
        if flow_ctx.cancel_event.is_set():
            return set_task_state(run, Cancelled(message="Flow run was cancelled"), sink)
        if upstream:
            # Values a cluster runner keeps stay there, unless a cache key must be computed
            # from them here.
            keep = for_runner and task.options.cache_key_fn is None
            try:
                args = resolve_futures(args, keep_remote=keep) if args else args
                kwargs = resolve_futures(kwargs, keep_remote=keep) if kwargs else kwargs
                for future in upstream:
                    final = future.state
                    if final.type is not StateType.COMPLETED:
                        raise UpstreamTaskFailed(
                            f"upstream task run {future.task_run.name!r} ended"
                            f" {final.type.value} ({final.name})")
            except UpstreamTaskFailed as exc:
                return set_task_state(run, UpstreamFailed(message=str(exc), data=exc), sink)
        options = task.options
        cache_key = None
        if options.cache_key_fn is not None:
            cache_key = self._cache_key(task, run, args, kwargs, flow_ctx)
            if cache_key is not None:
                run.cache_key = cache_key
                hit = flow_ctx.sink.lookup_cache(cache_key, time.time())  # type: ignore[attr-defined]
                if hit is not None:
                    state = Cached(result_ref=hit.result_ref,
                                   message=f"Result from cache key {cache_key[:12]}")
                    return set_task_state(run, state, sink)
        expires = options.cache_expiration
        return TaskRunJob(
            task, run, args, kwargs, _result_settings(task, flow_ctx, flow_ctx.results),
            options.log_prints if options.log_prints is not None else flow_ctx.log_prints,
            cache_key, expires.total_seconds() if isinstance(expires, timedelta) else None,
        )

    def _cache_key(self, task: Task, run: TaskRun, args: tuple, kwargs: dict,
                   flow_ctx: FlowRunContext) -> str | None:
        from orkest.engine.context import TaskRunContext

        bound = task.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        context = TaskRunContext(task, run, flow_ctx.sink, flow_ctx.log_prints, flow_ctx)
        key = task.options.cache_key_fn(context, dict(bound.arguments))  # type: ignore[misc]
        return None if key is None else str(key)

    def _dispatch(self, task: Task, run: TaskRun, future: TaskFuture, args: tuple,
                  kwargs: dict, upstream: list[TaskFuture], flow_ctx: FlowRunContext) -> None:
        try:
            prepared = self._prepare(task, run, args, kwargs, upstream, flow_ctx,
                                     for_runner=True)
        except BaseException as exc:  # noqa: BLE001 - a cache_key_fn bug fails this run only
            from orkest.engine.task_run import _fail

            future.set_final(_fail(run, exc, flow_ctx.sink))
            return
        if isinstance(prepared, TaskRunJob):
            # Tag concurrency limits (engine/limits.py): a task with a limited tag waits for
            # its slots off this thread; every other task goes straight to the runner.
            if run.tags and limits.submit_when_free(prepared, flow_ctx, future):
                return
            flow_ctx.runner.submit(prepared, flow_ctx, future.set_final)
        else:
            future.set_final(prepared)

    # -- outside a flow -----------------------------------------------------------------
    def _standalone(self, task: Task, args: tuple, kwargs: dict, return_state: bool) -> Any:
        """A task called outside any flow is still a tracked task run of its own."""
        recorder = self._recorder_for()
        run = new_task_run(task, None, args, kwargs, [], "inline")
        recorder.task_run(run)
        recorder.state(_pending_record(run))
        options = task.options
        results = self._default_results()
        if options.persist_result is not None or options.result_serializer != "cloudpickle":
            results = ResultSettings(
                options.persist_result if options.persist_result is not None
                else results.persist, options.result_serializer, results.results_dir)
        job = TaskRunJob(task, run, args, kwargs, results, bool(options.log_prints))
        try:
            state = execute(job, recorder, ThreadMeter(), None)
        finally:
            recorder.flush()
        return state if return_state else state.result()


def _execute_here(job: TaskRunJob, flow_ctx: FlowRunContext) -> State:
    """Execute a called (not submitted) task in this thread; a task with a limited tag
    first waits here for its concurrency slots and gives them back when it ends."""
    if not job.task_run.tags:
        return execute(job, flow_ctx.sink, ThreadMeter(), flow_ctx)
    cancelled = limits.wait_inline(job, flow_ctx)
    if cancelled is not None:
        return cancelled
    try:
        return execute(job, flow_ctx.sink, ThreadMeter(), flow_ctx)
    finally:
        limits.release(job.task_run.id)


def _pending_record(run: TaskRun) -> Any:
    from orkest.core.records import StateRecord

    return StateRecord(run.id, "task", StateType.PENDING, "Pending", run.state_ts)


def _label(task: Task, key: int | str) -> str:
    if isinstance(key, str):
        return repr(key)
    names = _positional_names(task)
    return repr(names[key]) if key < len(names) else f"argument {key}"


def _chain_callbacks(futures: list[TaskFuture], callback: Any) -> None:
    """Call `callback` once per future, serialized so a shared countdown stays exact."""
    import threading

    lock = threading.Lock()

    def locked(future: TaskFuture) -> None:
        with lock:
            callback(future)

    for future in futures:
        future.add_done_callback(locked)

