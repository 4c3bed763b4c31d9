"""Where task runs execute: in the flow's thread, a thread pool, or worker processes.

Same flow code on every runner; each runner is one module. DaskRunner (runners/dask.py,
the `dask` extra) and RayRunner (runners/ray.py, the `ray` extra) load on first use, so
importing this package never imports dask or ray.
"""

from __future__ import annotations

from typing import Any

from orkest.runners.base import TaskRunner
from orkest.runners.processes import ProcessPoolRunner
from orkest.runners.sequential import SequentialRunner
from orkest.runners.threads import ThreadPoolRunner

__all__ = ["DaskRunner", "ProcessPoolRunner", "RayRunner", "SequentialRunner", "TaskRunner",
           "ThreadPoolRunner"]

_LAZY = {"DaskRunner": "orkest.runners.dask", "RayRunner": "orkest.runners.ray"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orkest.runners' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
