"""Runner tests: test modules are not importable from a spawned child, so ship by value."""

from __future__ import annotations

import sys

import cloudpickle
import pytest


@pytest.fixture(autouse=True)
def _ship_test_module_by_value(request: pytest.FixtureRequest) -> None:
    cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])
