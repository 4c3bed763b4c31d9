"""The engine: runs flows and tasks against the ports (never against SQL directly)."""

from __future__ import annotations

from typing import Any

from orkest import settings
from orkest.core import results as core_results
from orkest.core.context import install_engine
from orkest.core.flows import Flow
from orkest.core.futures import TaskFuture
from orkest.core.tasks import Task
from orkest.engine.context import ResultSettings, flow_run_var
from orkest.engine.flow_run import default_entrypoint, new_flow_run, run_flow
from orkest.engine.recorder import Recorder, get_recorder
from orkest.engine.results import make_loader
from orkest.engine.submission import Dispatcher


def current_recorder() -> Recorder:
    """The recorder of the store the settings in force name (the API server when
    ORKEST_API_URL is set, else the database)."""
    from orkest.store import open_store

    current = settings.current()
    return get_recorder(open_store(), current.api_url or current.database_url)


def _default_results() -> ResultSettings:
    return ResultSettings(None, "cloudpickle", settings.current().results_dir)


class LocalEngine:
    """Runs flows in this process; tasks go where the flow's runner sends them."""

    def __init__(self) -> None:
        self.dispatcher = Dispatcher(_default_results, current_recorder)

    def call_task(self, task: Task, args: tuple, kwargs: dict, *, wait_for: Any,
                  return_state: bool) -> Any:
        return self.dispatcher.call(task, args, kwargs, wait_for, return_state,
                                    flow_run_var.get())

    def submit_task(self, task: Task, args: tuple, kwargs: dict, *, wait_for: Any) -> TaskFuture:
        return self.dispatcher.submit(task, args, kwargs, wait_for, flow_run_var.get())

    def map_task(self, task: Task, args: tuple, kwargs: dict, *, wait_for: Any) -> Any:
        return self.dispatcher.map(task, args, kwargs, wait_for, flow_run_var.get())

    def call_flow(self, flow: Flow, args: tuple, kwargs: dict, *, return_state: bool,
                  logical_ts: float | None = None) -> Any:
        params = flow.parameters.bind(args, kwargs)
        if flow.options.validate_parameters:
            params = flow.parameters.validate(params)
        state = start_flow_run(flow, params, logical_ts=logical_ts)
        return state if return_state else state.result()

    def run_graph(self, graph: Any, parameters: dict[str, Any]) -> Any:
        from orkest.engine.dag_run import run_dag

        return run_dag(graph, parameters, self.dispatcher)


def start_flow_run(flow: Flow, parameters: dict[str, Any], *, flow_run: Any = None,
                   entrypoint: str | None = None, prior: dict | None = None,
                   is_rerun: bool = False, logical_ts: float | None = None,
                   claimed: bool = False) -> Any:
    """Run `flow` with already validated parameters; the final State.

    The CLI passes its own `flow_run` record (to show its id first) and, for a rerun,
    the earlier attempt's task runs in `prior`. A worker passes `claimed=True` for a run
    the store holds PENDING already, so that no second "Pending" is recorded.
    """
    parent = flow_run_var.get()
    if parent is not None:
        recorder = parent.sink
    else:
        recorder = current_recorder()
    run = flow_run or new_flow_run(flow, parameters, parent,
                                   entrypoint or default_entrypoint(flow), logical_ts)
    return run_flow(flow, run, parameters, recorder=recorder,  # type: ignore[arg-type]
                    results_dir=settings.current().results_dir, parent=parent, prior=prior,
                    is_rerun=is_rerun, claimed=claimed)


def install() -> LocalEngine:
    engine = LocalEngine()
    install_engine(engine)
    core_results.install_loader(make_loader(current_recorder))
    return engine
