"""Running a DAG inside its flow run: trigger rules, skips, and XCom hand-over.

The flow run (engine/flow_run.py) owns states, retries, timeouts and cancellation; this
module is its body for a DAG. One loop in the flow's thread decides, as upstream tasks
finish, whether each task runs (submitted to the flow's runner like any `.submit()`),
is skipped, or is UpstreamFailed (recorded without running). A task's XComs are its
result, so a rerun from failure reuses them with the result.

Final state rule (documented in docs/dags.md): the DAG run FAILS when any task ended
FAILED, CRASHED or CANCELLED, whatever ran after it (an ALL_DONE cleanup that succeeds
does not hide the failure, unlike Airflow's leaf-based rule); tasks skipped or
UpstreamFailed alone do not fail it.
"""

from __future__ import annotations

import copy
import datetime as dt
import queue
from typing import Any

from orkest.core.futures import TaskFuture
from orkest.core.states import Skipped, State, StateType, UpstreamFailed
from orkest.core.tasks import Task, TaskOptions
from orkest.dag.baseoperator import BaseOperator
from orkest.dag.context import RETURN_VALUE, DagRunInfo, TaskInstance, build_context
from orkest.dag.dag import DAG
from orkest.dag.trigger_rules import Decision, UpstreamCounts, decide
from orkest.engine.context import current_flow_run, task_run_var
from orkest.engine.logs import get_run_logger
from orkest.engine.submission import Dispatcher, NodeRun
from orkest.errors import CancelledRun, FailedRun, TaskTimeoutError

_FAILED_TYPES = frozenset({StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})
_IN_PROCESS_RUNNERS = frozenset({"sequential", "threads"})
_RENDERED_LIMIT = 10_000  # characters of a rendered template kept with the run


class NodeCall:
    """What a DAG task run needs wherever it runs: its operator, the run's facts, XComs."""

    __slots__ = ("operator", "info", "xcoms")

    def __init__(self, operator: BaseOperator, info: DagRunInfo,
                 xcoms: dict[str, dict[str, Any]]) -> None:
        self.operator = operator
        self.info = info
        self.xcoms = xcoms

    def __getstate__(self) -> tuple:
        return (self.operator, self.info, self.xcoms)

    def __setstate__(self, state: tuple) -> None:
        self.operator, self.info, self.xcoms = state

    def __repr__(self) -> str:
        return f"<NodeCall {self.operator.task_id}>"


def run_operator(call: NodeCall) -> dict[str, Any]:
    """The function of every DAG task run: render templates, execute, collect XComs."""
    operator, info = call.operator, call.info
    task_ctx = task_run_var.get()
    run = task_ctx.task_run if task_ctx is not None else None
    ti = TaskInstance(operator.task_id, info, call.xcoms, sorted(operator.upstream_task_ids),
                      try_number=run.run_count if run is not None else 1)
    log = get_run_logger()
    context = operator.template_context(build_context(operator, info, ti, log))
    if operator.template_fields:
        operator, rendered = render_fields(operator, context)
        context["task"] = operator
        if run is not None:
            run.parameters = rendered
    value = operator.execute(context)
    return {**ti.pushed, RETURN_VALUE: value}


def render_fields(operator: BaseOperator, context: dict[str, Any]
                  ) -> tuple[BaseOperator, dict[str, Any]]:
    """`operator` with its template fields rendered (a copy, when any has a template),
    and what the fields became (kept as the task run's inputs)."""
    templated, static = _template_plan(operator)
    if not templated:
        return operator, dict(static)
    from orkest.templating import render_structure

    rendered_op = copy.copy(operator)
    rendered = dict(static)
    for name in templated:
        value = render_structure(getattr(operator, name), context,
                                 name=operator.template_labels.get(name, name),
                                 task_id=operator.task_id,
                                 native=name in operator.template_fields_native)
        setattr(rendered_op, name, value)
        rendered[name] = _keepable(value)
    return rendered_op, rendered


def _template_plan(operator: BaseOperator) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Which fields hold templates, and the kept form of those that do not: worked out
    once per operator, since a definition does not change between its runs."""
    plan = operator.__dict__.get("_template_plan")
    if plan is None:
        templated: list[str] = []
        static: dict[str, Any] = {}
        for name in operator.template_fields:
            value = getattr(operator, name)
            if value is None or value == [] or value == {}:
                continue
            if _has_template(value):
                templated.append(name)
            else:
                static[name] = _keepable(value)
        plan = operator.__dict__["_template_plan"] = (tuple(templated), static)
    return plan


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_template(v) for v in value)
    return False


def _keepable(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= _RENDERED_LIMIT else value[:_RENDERED_LIMIT] + "..."
    if isinstance(value, dict):
        return {str(k): _keepable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_keepable(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return repr(value)[:_RENDERED_LIMIT]


def task_for(operator: BaseOperator) -> Task:
    """The engine Task of one operator (made once; its key is stable across reruns)."""
    task = operator._task  # noqa: SLF001 - the DAG layer leaves this slot to the engine
    if task is None:
        delay: float | tuple[float, ...] = operator.retry_delay
        if operator.retry_exponential_backoff and operator.retries:
            delay = tuple(operator.retry_delay * 2 ** i for i in range(operator.retries))
        options = TaskOptions(name=operator.task_id, retries=operator.retries,
                              retry_delay_seconds=delay,
                              timeout_seconds=operator.execution_timeout)
        task = Task(run_operator, options)
        operator._task = task  # noqa: SLF001
    return task


def run_dag(dag: DAG, parameters: dict[str, Any], dispatcher: Dispatcher) -> None:
    """The body of a DAG's flow run."""
    return _DagRun(dag, parameters, dispatcher).run()


class _DagRun:
    def __init__(self, dag: DAG, parameters: dict[str, Any], dispatcher: Dispatcher) -> None:
        self.dag = dag
        self.order = dag.topological_order()  # CycleError for edges added after `with`
        self.flow_ctx = current_flow_run()
        self.dispatcher = dispatcher
        flow_run = self.flow_ctx.flow_run
        ts = flow_run.logical_ts if flow_run.logical_ts is not None else flow_run.created_ts
        self.info = DagRunInfo(dag.dag_id, flow_run.id,
                               dt.datetime.fromtimestamp(ts, dt.UTC), dict(parameters),
                               frozenset(dag.task_dict))
        self.share_xcoms = self.flow_ctx.runner.name in _IN_PROCESS_RUNNERS
        self.counts = {tid: UpstreamCounts(len(op.upstream_task_ids))
                       for tid, op in dag.task_dict.items()}
        self.futures: dict[str, TaskFuture] = {}
        self.forced: dict[str, str] = {}
        self.xcoms: dict[str, dict[str, Any]] = {}
        self.finished: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.ready: list[BaseOperator] = []
        self.in_flight = 0

    def run(self) -> None:
        for tid in self.order:
            self._consider(tid)
        remaining = len(self.order)
        cancel = self.flow_ctx.cancel_event
        while remaining:
            if cancel.is_set() and self.in_flight == 0:
                break  # what has not started never will
            self._dispatch_ready()
            try:
                tid = self.finished.get(timeout=0.5)  # a timeout keeps it interruptible
            except queue.Empty:
                continue
            while True:  # take every finished task before deciding what to start
                remaining -= 1
                self._on_finished(tid)
                try:
                    tid = self.finished.get_nowait()
                except queue.Empty:
                    break
        self._raise_failures()

    def _dispatch_ready(self) -> None:
        """Start what is ready: on an in-process runner, a lone ready task with nothing
        else running runs right here (a chain never pays a thread hand-off)."""
        ready, self.ready = self.ready, []
        if self.flow_ctx.cancel_event.is_set():
            return
        if len(ready) == 1 and self.in_flight == 0 and self.share_xcoms:
            operator = ready[0]
            call = NodeCall(operator, self.info, self.xcoms)
            self.in_flight += 1
            self._track(operator.task_id, self.dispatcher.run_now(
                task_for(operator), (call,), self.flow_ctx, self._node(operator)))
            return
        for operator in ready:
            self._launch(operator)

    # -- deciding ---------------------------------------------------------------------
    def _consider(self, tid: str) -> None:
        if tid in self.futures or self.flow_ctx.cancel_event.is_set():
            return
        operator = self.dag.task_dict[tid]
        reason = self.forced.get(tid)
        if reason is not None:
            self._record(operator, Skipped(message=reason))
            return
        decision = decide(operator.trigger_rule, self.counts[tid])
        if decision is None:
            return
        if decision is Decision.RUN:
            self.futures[tid] = None  # type: ignore[assignment] - decided, starting soon
            self.ready.append(operator)
        elif decision is Decision.SKIP:
            self._record(operator, Skipped(message=self._why(operator, "skipped")))
        else:
            self._record(operator, UpstreamFailed(message=self._why(operator, "failed")))

    def _why(self, operator: BaseOperator, outcome: str) -> str:
        c = self.counts[operator.task_id]
        return (f"Trigger rule {operator.trigger_rule.value} not met: {c.success} upstream "
                f"succeeded, {c.failed} failed, {c.skipped} skipped")

    def _node(self, operator: BaseOperator) -> NodeRun:
        upstream = [self.futures[u].task_run.id for u in sorted(operator.upstream_task_ids)
                    if self.futures.get(u) is not None]
        return NodeRun(operator.task_id, upstream)

    def _launch(self, operator: BaseOperator) -> None:
        xcoms = self.xcoms if self.share_xcoms else dict(self.xcoms)
        call = NodeCall(operator, self.info, xcoms)
        self.in_flight += 1
        future = self.dispatcher.submit(task_for(operator), (call,), {}, None, self.flow_ctx,
                                        node=self._node(operator))
        self._track(operator.task_id, future)

    def _record(self, operator: BaseOperator, state: State) -> None:
        self.in_flight += 1
        future = self.dispatcher.record_final(task_for(operator), state, self.flow_ctx,
                                              self._node(operator))
        self._track(operator.task_id, future)

    def _track(self, tid: str, future: TaskFuture) -> None:
        future.observed = True  # the DAG run reports failures itself (_raise_failures)
        self.futures[tid] = future
        future.add_done_callback(lambda _: self.finished.put(tid))

    # -- reacting -----------------------------------------------------------------------
    def _on_finished(self, tid: str) -> None:
        self.in_flight -= 1
        operator = self.dag.task_dict[tid]
        state = self.futures[tid].state
        if state.type is StateType.COMPLETED:
            kind = "success"
            values = state.result()
            self.xcoms[tid] = values if isinstance(values, dict) else {RETURN_VALUE: values}
            skip, transitive = operator.skip_after(self.xcoms[tid].get(RETURN_VALUE))
            for target in skip:
                self._force_skip(target, f"Skipped by {tid!r}", transitive)
        elif state.type in _FAILED_TYPES or state.name == "UpstreamFailed":
            kind = "failed"
        else:
            kind = "skipped"
        for child in operator.downstream_task_ids:
            counts = self.counts[child]
            setattr(counts, kind, getattr(counts, kind) + 1)
            self._consider(child)

    def _force_skip(self, tid: str, reason: str, transitive: bool) -> None:
        if tid in self.futures or tid in self.forced:
            return
        self.forced[tid] = reason
        self._consider(tid)  # recorded now: it is skipped whatever else happens upstream
        if transitive:
            for child in self.dag.task_dict[tid].downstream_task_ids:
                self._force_skip(child, reason, transitive)

    def _raise_failures(self) -> None:
        if self.flow_ctx.cancel_event.is_set():  # a cancel (or the flow's timeout) ends it
            guard = getattr(self.flow_ctx.control, "flow_guard", None)
            fired = getattr(guard, "fired", None)
            raise fired if isinstance(fired, CancelledRun | TaskTimeoutError) else \
                CancelledRun("Flow run was cancelled")
        failed = [(tid, f.state) for tid, f in self.futures.items()
                  if f is not None and f.state.type in _FAILED_TYPES]
        if not failed:
            return
        first_tid, first = failed[0]
        details = "; ".join(f"{tid}: {state.type.value} ({state.message or state.name})"
                            for tid, state in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        error = FailedRun(f"DAG {self.dag.dag_id!r}: {len(failed)} task(s) did not "
                          f"succeed: {details}{more}")
        cause = first.data if isinstance(first.data, BaseException) else None
        raise error from cause
