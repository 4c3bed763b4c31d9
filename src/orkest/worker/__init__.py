"""Workers: processes that claim the runs of one work pool and run each in a child process.

`orkest worker start --pool NAME` builds a `WorkerLoop` (loop.py). Each claimed run gets
its own child (process.py), which loads the deployment's flow (loading.py) and drives the
run with the engine (execute.py). See docs/workers.md.
"""

from __future__ import annotations

from orkest.worker.loop import WorkerLoop, WorkerOptions

__all__ = ["WorkerLoop", "WorkerOptions"]
