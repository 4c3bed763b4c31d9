"""Task and flow definitions: options are checked when declared, copies are independent."""

from __future__ import annotations

import datetime as dt

import pytest

from orkest import flow, task
from orkest.core.tasks import TaskOptions
from orkest.runners import ThreadPoolRunner


def test_task_keeps_the_function_and_its_options() -> None:
    @task(name="extract-orders", tags=["db", "etl"], retries=2, description="reads orders")
    def extract(day: str) -> str:
        """Docstring kept."""
        return day

    assert extract.fn("x") == "x"
    assert extract.name == "extract-orders"
    assert extract.tags == frozenset({"db", "etl"})
    assert extract.__doc__ == "Docstring kept."
    assert extract.options.description == "reads orders"


def test_with_options_copies_without_touching_the_original() -> None:
    @task(retries=1)
    def step() -> int:
        return 1

    louder = step.with_options(retries=5, name="step-5", timeout_seconds=3)
    assert (louder.options.retries, louder.name, louder.options.timeout_seconds) == (
        5, "step-5", 3)
    assert (step.options.retries, step.name) == (1, "step")
    assert louder.fn is step.fn
    with pytest.raises(TypeError, match="retriez"):
        step.with_options(retriez=2)

    @flow(name="original")
    def f() -> None:
        pass

    assert f.with_options(name="copy", retries=2).name == "copy" and f.name == "original"


@pytest.mark.parametrize(("options", "message"), [
    ({"retries": -1}, "retries"),
    ({"retries": 1.5}, "retries"),
    ({"retry_delay_seconds": [1, -2]}, "retry_delay_seconds"),
    ({"retry_delay_seconds": "soon"}, "retry_delay_seconds"),
    ({"timeout_seconds": 0}, "timeout_seconds"),
    ({"retry_on": [ValueError, "oops"]}, "retry_on"),
    ({"cache_key_fn": "not callable"}, "cache_key_fn"),
    ({"cache_expiration": 60}, "cache_expiration"),
    ({"result_serializer": "yaml"}, "result_serializer"),
    ({"on_failure": [42]}, "on_failure"),
    ({"retriez": 3}, "retriez"),
])
def test_bad_task_options_are_refused_when_declared(options, message) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        @task(**options)
        def nope() -> None:
            pass


def test_bad_flow_options_are_refused_when_declared() -> None:
    with pytest.raises(TypeError, match="task_runner"):
        flow(task_runner="threads")(lambda: None)
    with pytest.raises(ValueError, match="timeout_seconds"):
        flow(timeout_seconds=-1)(lambda: None)
    with pytest.raises(ValueError, match="max_workers"):
        ThreadPoolRunner(max_workers=0)


def test_retry_delays_per_attempt_repeat_the_last() -> None:
    options = TaskOptions(name="t", retries=5, retry_delay_seconds=[1, 2, 4])
    assert [options.retry_delay(n) for n in range(1, 6)] == [1, 2, 4, 4, 4]
    assert TaskOptions(name="t", retry_delay_seconds=3).retry_delay(7) == 3
    assert TaskOptions(name="t", cache_expiration=dt.timedelta(1)).cache_expiration


def test_flow_name_defaults_to_the_function_name_with_dashes() -> None:
    @flow
    def nightly_sales_etl() -> None:
        pass

    assert nightly_sales_etl.name == "nightly-sales-etl"
