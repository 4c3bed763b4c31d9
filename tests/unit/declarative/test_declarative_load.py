"""Valid flow files: YAML and JSON read alike; defaults, schedule and parameters are kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from orkest import TriggerRule
from orkest.declarative import load_flow, load_flow_spec
from orkest.errors import ParameterValidationError
from orkest.operators import BashOperator

WriteFile = Callable[[str, str], Path]

NIGHTLY = """
    name: nightly-etl
    description: Nightly load
    parameters:
      dataset: {type: string, default: sales, description: Which dataset}
      limit: {type: integer, default: 10}
      mode: {type: string, enum: [full, delta], default: full}
      since: {type: string}
    schedule: {cron: "0 2 * * *", timezone: Europe/Berlin}
    defaults: {retries: 2, retry_delay_seconds: 5}
    tags: [etl]
    tasks:
      - id: extract
        shell: "echo {{ params.dataset }}"
        env: {KEY: value, PORT: 8080}
      - id: transform
        python: steps:transform
        with: {rows: "{{ tasks.extract.result }}", limit: "{{ params.limit }}"}
        depends_on: [extract]
      - id: notify
        shell: "echo done"
        depends_on: [transform]
        trigger_rule: all_done
        retries: 0
        timeout_seconds: 30
    """

STEPS = """
    def transform(rows, limit):
        return rows * limit
    """


@pytest.fixture
def nightly(write: WriteFile) -> Path:
    write("steps.py", STEPS)
    return write("nightly.yaml", NIGHTLY)


def test_yaml_and_json_files_give_the_same_spec(nightly: Path, write: WriteFile) -> None:
    data = yaml.safe_load(nightly.read_text())
    as_json = write("nightly.json", json.dumps(data, indent="\t"))
    from_yaml = load_flow_spec(nightly)
    assert load_flow_spec(as_json) == from_yaml
    assert [t.id for t in from_yaml.tasks] == ["extract", "transform", "notify"]
    assert from_yaml.tasks[1].with_ == {"rows": "{{ tasks.extract.result }}",
                                        "limit": "{{ params.limit }}"}
    assert from_yaml.tasks[0].env == {"KEY": "value", "PORT": "8080"}  # numbers as text
    assert from_yaml.parameters["since"].has_default is False
    assert from_yaml.parameters["dataset"].default == "sales"


def test_dag_has_the_tasks_edges_and_defaults(nightly: Path) -> None:
    dag = load_flow(nightly)
    assert dag.dag_id == "nightly-etl"
    assert dag.tags == ["etl"]
    assert dag.description == "Nightly load"
    extract, transform, notify = (dag.task_dict[t] for t in ("extract", "transform", "notify"))
    assert isinstance(extract, BashOperator)
    assert transform.upstream_task_ids == {"extract"}
    assert notify.upstream_task_ids == {"transform"}
    # defaults fill what a task leaves out; a task's own value wins
    assert (extract.retries, extract.retry_delay) == (2, 5.0)
    assert (notify.retries, notify.retry_delay) == (0, 5.0)
    assert notify.execution_timeout == 30.0
    assert notify.trigger_rule is TriggerRule.ALL_DONE
    assert extract.trigger_rule is TriggerRule.ALL_SUCCESS
    assert extract.append_env is True  # env adds to the inherited environment


def test_schedule_is_kept_as_data_not_run(nightly: Path) -> None:
    dag = load_flow(nightly)
    assert dag.schedule is None
    assert dag.schedule_spec is not None
    assert (dag.schedule_spec.cron, dag.schedule_spec.timezone) == ("0 2 * * *",
                                                                   "Europe/Berlin")
    assert dag.entrypoint == str(nightly.resolve())


def test_no_retries_and_no_delay_without_defaults(write: WriteFile) -> None:
    path = write("plain.yaml", """
        name: plain
        tasks:
          - id: only
            shell: "true"
        """)
    only = load_flow(path).task_dict["only"]
    assert (only.retries, only.retry_delay, only.execution_timeout) == (0, 0.0, None)


def params_of(path: Path, given: dict) -> dict:
    flow = load_flow(path).flow
    return flow.parameters.validate(flow.parameters.bind((), given))


def test_parameters_are_typed_and_coerced(nightly: Path) -> None:
    assert params_of(nightly, {"since": "2024-01-01", "limit": "5"}) == {
        "dataset": "sales", "limit": 5, "mode": "full", "since": "2024-01-01"}
    # numbers from `--param day=20240101` become text for a string parameter
    assert params_of(nightly, {"since": 20240101})["since"] == "20240101"


@pytest.mark.parametrize(("given", "culprit"), [
    ({"since": "x", "limit": "many"}, "limit"),
    ({"since": "x", "limit": True}, "limit"),
    ({"since": "x", "mode": "partial"}, "mode"),
    ({"since": "x", "dataset_name": "y"}, "dataset_name"),
    ({}, "since"),
])
def test_bad_parameters_name_the_parameter(nightly: Path, given: dict, culprit: str) -> None:
    with pytest.raises(ParameterValidationError) as info:
        params_of(nightly, given)
    assert culprit in [name for name, _ in info.value.problems]
    assert culprit in str(info.value)


def test_dag_test_validates_parameters_before_running(nightly: Path) -> None:
    with pytest.raises(ParameterValidationError, match="limit"):
        load_flow(nightly).test(params={"since": "x", "limit": "many"})


def test_dollar_schema_key_is_allowed_for_editors(write: WriteFile) -> None:
    path = write("with-schema.json", json.dumps({
        "$schema": "./flow.schema.json", "name": "j",
        "tasks": [{"id": "a", "shell": "true"}]}))
    assert load_flow_spec(path).name == "j"
