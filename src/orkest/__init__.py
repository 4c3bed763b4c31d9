"""orkest: workflow automation and orchestration.

Public names only; nothing happens at import (no database, no thread, no network), and
the engine itself loads on the first flow or task call.
"""

from typing import Any

from orkest._internal.hooks import register as _register_hook
from orkest._internal.store_schemes import register as _register_store_scheme
from orkest.core.context import install_engine as _install_engine
from orkest.core.flows import Flow, flow
from orkest.core.futures import TaskFuture, unmapped
from orkest.core.states import State, StateType
from orkest.core.tasks import Task, task

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "Flow",
    "State",
    "StateType",
    "Task",
    "TaskFuture",
    "TriggerRule",
    "flow",
    "get_run_logger",
    "pause_flow_run",
    "task",
    "unmapped",
]

# Names that live above core (the DAG layer, the engine) are imported on first access.
_LAZY = {
    "DAG": "orkest.dag",
    "TriggerRule": "orkest.dag",
    "get_run_logger": "orkest.engine.logs",
    "pause_flow_run": "orkest.engine.pause",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orkest' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _build_engine() -> Any:
    import orkest.engine

    return orkest.engine.install()


def _open_remote_store(url: str) -> Any:
    """http(s) store URLs (ORKEST_API_URL) open the API client, which loads httpx then."""
    from orkest.client import open_remote_store

    return open_remote_store(url)


_install_engine(factory=_build_engine)
_register_store_scheme("http", _open_remote_store)
_register_store_scheme("https", _open_remote_store)


def _deploy(*args: Any, **kwargs: Any) -> Any:
    from orkest.services.deployments import deploy

    return deploy(*args, **kwargs)


def _serve(*args: Any, **kwargs: Any) -> Any:
    from orkest.services.serve import serve

    return serve(*args, **kwargs)


def _read_variable(name: Any) -> Any:
    """`{{ var.name }}` in templates: ObjectNotFound (saying how to set it) when missing."""
    from orkest.config.values import check_name, config_store

    return config_store().read_variable(check_name("variable", name)).value


_register_hook("deploy", _deploy)
_register_hook("serve", _serve)
_register_hook("variable", _read_variable)
