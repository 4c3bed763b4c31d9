"""orkest: workflow automation and orchestration.

Public names only; nothing happens at import (no database, no thread, no network).
"""

from orkest import engine as _engine
from orkest.core.flows import Flow, flow
from orkest.core.futures import TaskFuture, unmapped
from orkest.core.states import State, StateType
from orkest.core.tasks import Task, task
from orkest.engine.logs import get_run_logger
from orkest.engine.pause import pause_flow_run

__version__ = "0.1.0"

__all__ = [
    "Flow",
    "State",
    "StateType",
    "Task",
    "TaskFuture",
    "flow",
    "get_run_logger",
    "pause_flow_run",
    "task",
    "unmapped",
]

_engine.install()
