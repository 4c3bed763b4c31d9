"""Where task runs execute: in the flow's thread, a thread pool, or worker processes.

Same flow code on every runner; each runner is one module. (Dask and Ray runners are
issue #7: each will be one more module here.)
"""

from __future__ import annotations

from orkest.runners.base import TaskRunner
from orkest.runners.processes import ProcessPoolRunner
from orkest.runners.sequential import SequentialRunner
from orkest.runners.threads import ThreadPoolRunner

__all__ = ["ProcessPoolRunner", "SequentialRunner", "TaskRunner", "ThreadPoolRunner"]
