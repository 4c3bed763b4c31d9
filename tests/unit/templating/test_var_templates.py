"""`{{ var.name }}` in every template: plain rendering, Bash operators in a DAG, YAML flows,
and the parameter templates of triggers; a missing variable says how to set it."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from orkest import DAG
from orkest.config import Variable
from orkest.errors import TemplateError
from orkest.operators import BashOperator
from orkest.store import open_store
from orkest.templating import render, render_native, render_structure

pytestmark = pytest.mark.timeout(60)


def test_attribute_and_item_access() -> None:
    Variable.set("region", "eu-west-1")
    Variable.set("batch-size", 500)
    out = render("{{ var.region }}:{{ var['batch-size'] * 2 }}", {}, name="cmd")
    assert out == "eu-west-1:1000"


def test_objects_and_arrays_render_as_json_and_stay_reachable() -> None:
    Variable.set("cfg", {"hosts": ["a", "b"], "port": 5432, "tls": True})
    assert render("{{ var.cfg }}", {}, name="cmd") == (
        '{"hosts": ["a", "b"], "port": 5432, "tls": true}')
    assert render("{{ var.cfg.hosts }} {{ var.cfg.port }}", {}, name="cmd") == (
        '["a", "b"] 5432')
    assert render("{{ var.cfg | tojson }}", {}, name="cmd").startswith('{"hosts"')
    native = render_native("{{ var.cfg }}", {}, name="arg")
    assert native == {"hosts": ["a", "b"], "port": 5432, "tls": True}
    assert render_native("{{ var.cfg.port }}", {}, name="arg") == 5432


def test_every_render_reads_the_value_set_last() -> None:
    Variable.set("n", 1)
    assert render("n={{ var.n }}", {}, name="cmd") == "n=1"
    Variable.set("n", 2)
    assert render("n={{ var.n }}", {}, name="cmd") == "n=2"


def test_a_missing_variable_names_it_and_says_how_to_set_it() -> None:
    for template, renderer in (("echo {{ var.warehouse }}", render),
                               ("{{ var['warehouse'] }}", render_native),
                               ("{{ var.warehouse.url }}", render)):
        with pytest.raises(TemplateError) as info:
            renderer(template, {}, name="bash_command", task_id="load")
        message = str(info.value)
        assert message.startswith("Template 'bash_command' of task 'load': ")
        assert "No variable 'warehouse'" in message
        assert "orkest variable set warehouse VALUE" in message


def test_default_and_is_defined_work_as_for_any_undefined_name() -> None:
    assert render("{{ var.absent | default('fallback') }}", {}, name="cmd") == "fallback"
    assert render("{{ var.absent is defined }}", {}, name="cmd") == "False"
    Variable.set("present", "x")
    assert render("{{ var.present is defined }}", {}, name="cmd") == "True"


def test_a_bad_name_and_private_attributes_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="Invalid variable name 'has space'"):
        render("{{ var['has space'] }}", {}, name="cmd")
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ var.__class__ }}", {}, name="cmd")


def test_a_context_value_named_var_wins() -> None:
    assert render("{{ var }}", {"var": "mine"}, name="cmd") == "mine"


def test_render_structure_reaches_var_inside_dicts_and_lists() -> None:
    Variable.set("bucket", "s3://data")
    out = render_structure({"paths": ["{{ var.bucket }}/a"], "n": 1}, {}, name="p",
                           native=True)
    assert out == {"paths": ["s3://data/a"], "n": 1}


# -- in the places templates are used ---------------------------------------------------


def test_a_bash_operator_runs_with_var_on_every_runner(runner: Any) -> None:
    Variable.set("target", "warehouse-eu")
    Variable.set("limits", {"rows": 10})
    with DAG("var-bash", task_runner=runner) as dag:
        BashOperator(task_id="show", env={"LIMITS": "{{ var.limits }}"},
                     bash_command='echo "to {{ var.target }}"; echo "$LIMITS"')
    state = dag.test()
    assert state.is_completed(), state.message
    store = open_store()
    run = store.list_flow_runs()[0]
    [task_run] = store.list_task_runs(flow_run_id=run.id)
    assert task_run.parameters["bash_command"] == 'echo "to warehouse-eu"; echo "$LIMITS"'
    printed = [line.message for line in store.read_logs(run.id, task_run_id=task_run.id)
               if line.source == "stdout"]
    assert printed == ["to warehouse-eu", '{"rows": 10}']


def test_a_bash_operator_with_a_missing_variable_fails_saying_so() -> None:
    with DAG("var-missing") as dag:
        BashOperator(task_id="show", bash_command="echo {{ var.nowhere }}")
    state = dag.test()
    assert not state.is_completed()
    store = open_store()
    [task_run] = store.list_task_runs(flow_run_id=store.list_flow_runs()[0].id)
    assert task_run.failure_type is not None and "TemplateError" in task_run.failure_type
    assert "orkest variable set nowhere VALUE" in (task_run.state_message or "")


def test_a_yaml_flow_uses_var_in_shell_and_python_tasks(tmp_path: Path) -> None:
    from orkest.declarative import load_flow

    (tmp_path / "var_steps.py").write_text(textwrap.dedent("""
        def load(dsn, options):
            return {"dsn": dsn, "batch": options["batch"]}
        """))
    flow_file = tmp_path / "var_flow.yaml"
    flow_file.write_text(textwrap.dedent("""
        name: var-flow
        tasks:
          - id: extract
            shell: "echo {{ var.source }}-{{ var['batch.size'] }}"
          - id: load
            python: var_steps:load
            with:
              dsn: "{{ var.dsn }}/{{ tasks.extract.result }}"
              options: "{{ var.options }}"
            depends_on: [extract]
        """))
    Variable.set("source", "crm")
    Variable.set("batch.size", 50)
    Variable.set("dsn", "postgres://db")
    Variable.set("options", {"batch": 7})
    try:
        state = load_flow(flow_file).test()
    finally:
        sys.modules.pop("var_steps", None)
        while str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))
    assert state.is_completed(), state.message
    store = open_store()
    runs = {t.name: t for t in store.list_task_runs(
        flow_run_id=store.list_flow_runs()[0].id)}
    assert runs["extract"].parameters["bash_command"] == "echo crm-50"
    assert runs["load"].parameters["arguments"] == {"dsn": "postgres://db/crm-50",
                                                    "options": {"batch": 7}}


def test_trigger_parameter_templates_read_variables(tmp_path: Path) -> None:
    from orkest._internal.loading import load_object
    from orkest.services import deployments
    from orkest.services.triggers import emit_event
    from orkest.triggers import Event

    flows = tmp_path / "var_trigger_flows.py"
    flows.write_text(textwrap.dedent("""
        import orkest

        @orkest.flow
        def ingest(path: str = "", bucket: str = "", limits: dict | None = None) -> str:
            return path
        """))
    store = open_store()
    target = f"{flows}:ingest"
    good = deployments.save(store, deployments.build_deployment(
        load_object(target), "good", entrypoint=target, triggers=[Event("arrived", parameters={
            "path": "{{ var.bucket }}/{{ event.file }}", "bucket": "{{ var.bucket }}",
            "limits": "{{ var.limits }}"})]))
    missing = deployments.save(store, deployments.build_deployment(
        load_object(target), "missing", entrypoint=target, triggers=[Event(
            "arrived", parameters={"path": "{{ var.not_set }}"})]))
    Variable.set("bucket", "s3://in")
    Variable.set("limits", {"rows": 3})
    event = emit_event(store, "arrived", {"file": "a.csv"})
    [run_id] = event.flow_run_ids
    run = store.read_flow_run(run_id)
    assert run.deployment_id == good.id
    assert run.parameters == {"path": "s3://in/a.csv", "bucket": "s3://in",
                              "limits": {"rows": 3}}
    assert all(r.deployment_id != missing.id for r in store.list_flow_runs(limit=100))
