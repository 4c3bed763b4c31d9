"""Where task runs execute: in the flow's thread, a thread pool, processes, clusters.

Same flow code on every runner; each runner is one module. Dask and Ray load lazily.
"""

from __future__ import annotations

from typing import Any

from orkest.runners.base import TaskRunner
from orkest.runners.processes import ProcessPoolRunner
from orkest.runners.sequential import SequentialRunner
from orkest.runners.threads import ThreadPoolRunner

__all__ = ["DaskRunner", "ProcessPoolRunner", "RayRunner", "SequentialRunner", "TaskRunner",
           "ThreadPoolRunner"]


def __getattr__(name: str) -> Any:
    if name == "DaskRunner":
        from orkest.runners.dask import DaskRunner

        return DaskRunner
    if name == "RayRunner":
        from orkest.runners.ray import RayRunner

        return RayRunner
    raise AttributeError(f"module 'orkest.runners' has no attribute {name!r}")
