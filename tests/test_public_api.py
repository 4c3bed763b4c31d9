"""The public surface of SPEC.md: names importable, listed, and nothing else drifting in."""

from __future__ import annotations

import orkest
import orkest.runners

# SPEC: "the most used names ... also from `orkest` itself". Variable and Secret arrive
# with issue #6; add them here when they land.
SPEC_TOP_LEVEL = {"flow", "task", "get_run_logger", "State", "StateType", "unmapped",
                  "pause_flow_run", "DAG", "TriggerRule"}
RUNNERS = {"SequentialRunner", "ThreadPoolRunner", "ProcessPoolRunner"}  # Dask, Ray: #7


def test_all_is_sorted_and_importable() -> None:
    assert orkest.__all__ == sorted(orkest.__all__)
    for name in orkest.__all__:
        assert getattr(orkest, name) is not None


def test_spec_names_are_exported() -> None:
    assert SPEC_TOP_LEVEL <= set(orkest.__all__)


def test_exports_are_exactly_these() -> None:
    assert set(orkest.__all__) == SPEC_TOP_LEVEL | {"Flow", "Task", "TaskFuture"}


def test_runner_names() -> None:
    assert RUNNERS <= set(orkest.runners.__all__)
    for name in RUNNERS:
        assert getattr(orkest.runners, name)


def test_operator_names() -> None:
    import orkest.operators

    assert {"BaseOperator", "PythonOperator", "BashOperator", "BranchPythonOperator",
            "ShortCircuitOperator", "EmptyOperator", "FileSensor"} <= set(
        orkest.operators.__all__)
    for name in orkest.operators.__all__:
        assert getattr(orkest.operators, name) is not None
