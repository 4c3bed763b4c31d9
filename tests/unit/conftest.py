"""Engine and DAG suites run on every local runner: same flow code, same outcomes."""

from __future__ import annotations

import sys
from collections.abc import Callable

import cloudpickle
import pytest

from orkest.runners import ProcessPoolRunner, SequentialRunner, TaskRunner, ThreadPoolRunner

RUNNERS: dict[str, Callable[[], TaskRunner]] = {
    "sequential": SequentialRunner,
    "threads": lambda: ThreadPoolRunner(max_workers=4),
    "processes": lambda: ProcessPoolRunner(max_workers=2),
}


@pytest.fixture(params=list(RUNNERS))
def runner(request: pytest.FixtureRequest) -> TaskRunner:
    # Test modules are not importable from a spawned child: ship their functions by value.
    cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])
    return RUNNERS[request.param]()
