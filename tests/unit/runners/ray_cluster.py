"""A local Ray shared by a test module, and RayRunners that use it.

Import the two *_fixture functions into a test module to run it on Ray: Ray starts once
per module (ray.init costs seconds), small and quiet (no dashboard, a 100 MB object store,
no usage stats, nothing downloaded), and stops at the module's end. Without the `ray`
extra they skip, naming it; CI installs it (`.[dev]`), so there they run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orkest.runners import TaskRunner

RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage report sent, no prompt
    "RAY_AUTH_MODE": "disabled",  # no token written to ~/.ray for a loopback-only test Ray
    "RAY_DEDUP_LOGS": "0",
    "RAY_RUNTIME_ENV_SKIP_LOCAL_GC": "1",
}
RAY_INIT = {
    "num_cpus": 2,  # a 2-core machine's worth of workers
    "object_store_memory": 100 * 1024 * 1024,
    "include_dashboard": False,
    "log_to_driver": False,
    "logging_level": "WARNING",
}


@pytest.fixture(scope="module", name="ray_session")
def ray_session_fixture() -> Iterator[TaskRunner]:
    """A RayRunner holding the module's local Ray: other runners reuse it, none stops it."""
    pytest.importorskip("ray", reason="RayRunner needs the `ray` extra")
    from orkest.runners import RayRunner

    with pytest.MonkeyPatch.context() as patch:
        for name, value in RAY_ENV.items():
            patch.setenv(name, value)
        holder = RayRunner(init_kwargs=RAY_INIT)
        holder.start()
        try:
            yield holder
        finally:
            holder.shutdown()


@pytest.fixture(name="ray_runner")
def ray_runner_fixture(ray_session: TaskRunner) -> TaskRunner:
    from orkest.runners import RayRunner

    return RayRunner()
