"""The shipped flow.schema.json: generated from the models, and it accepts what they accept.

jsonschema is not a dependency, so a small checker below covers the keywords the schema
uses (and fails loudly on any other, so a new keyword cannot be silently ignored).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from orkest.cli.main import cli
from orkest.declarative.spec import schema_text

WriteFile = Callable[[str, str], Path]
SHIPPED = files("orkest.declarative").joinpath("flow.schema.json")
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}
_IGNORED = {"title", "description", "default", "$schema"}


def errors(schema: dict, value: Any, root: dict, at: str = "") -> list[str]:
    """Where `value` breaks `schema` (a small JSON Schema 2020-12 subset)."""
    found: list[str] = []
    for key, rule in schema.items():
        if key in _IGNORED or key == "$defs":
            continue
        if key == "$ref":
            found += errors(root["$defs"][rule.rsplit("/", 1)[1]], value, root, at)
        elif key == "type":
            found += [] if _TYPES[rule](value) else [f"{at}: not {rule}"]
        elif key == "enum":
            found += [] if value in rule else [f"{at}: not in {rule}"]
        elif key == "anyOf":
            found += [] if any(not errors(s, value, root, at) for s in rule) else \
                [f"{at}: matches no anyOf"]
        elif key == "oneOf":
            matches = sum(not errors(s, value, root, at) for s in rule)
            found += [] if matches == 1 else [f"{at}: matches {matches} of oneOf"]
        elif key == "not":
            found += [f"{at}: matches not"] if not errors(rule, value, root, at) else []
        elif isinstance(value, dict) and key in ("properties", "additionalProperties",
                                                 "required", "propertyNames"):
            found += _object_errors(key, rule, schema, value, root, at)
        elif isinstance(value, list) and key in ("items", "minItems"):
            if key == "minItems" and len(value) < rule:
                found.append(f"{at}: fewer than {rule} items")
            if key == "items":
                for i, item in enumerate(value):
                    found += errors(rule, item, root, f"{at}[{i}]")
        elif isinstance(value, str) and key in ("pattern", "minLength"):
            if key == "pattern" and not re.search(rule, value):
                found.append(f"{at}: does not match {rule}")
            if key == "minLength" and len(value) < rule:
                found.append(f"{at}: shorter than {rule}")
        elif _TYPES["number"](value) and key in ("minimum", "exclusiveMinimum"):
            if value < rule or (key == "exclusiveMinimum" and value == rule):
                found.append(f"{at}: below {key} {rule}")
        elif key not in ("properties", "additionalProperties", "required", "propertyNames",
                         "items", "minItems", "pattern", "minLength", "minimum",
                         "exclusiveMinimum"):
            raise AssertionError(f"the test checker does not know {key!r}; extend it")
    return found


def _object_errors(key: str, rule: Any, schema: dict, value: dict, root: dict,
                   at: str) -> list[str]:
    if key == "properties":
        return [e for name, sub in rule.items() if name in value
                for e in errors(sub, value[name], root, f"{at}.{name}")]
    if key == "required":
        return [f"{at}: missing {name}" for name in rule if name not in value]
    if key == "propertyNames":
        return [e for name in value for e in errors(rule, name, root, f"{at}<{name}>")]
    extra = [name for name in value if name not in schema.get("properties", {})]
    if rule is False:
        return [f"{at}.{name}: not allowed" for name in extra]
    if isinstance(rule, dict):
        return [e for name in extra for e in errors(rule, value[name], root, f"{at}.{name}")]
    return []


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SHIPPED.read_text("utf-8"))


def test_shipped_schema_is_what_the_models_generate_now() -> None:
    assert SHIPPED.read_text("utf-8") == schema_text(), (
        "flow.schema.json is stale: run `python -m orkest.declarative.spec`")


VALID = """
    $schema: ./flow.schema.json
    name: nightly-etl
    parameters:
      dataset: {type: string, default: sales, enum: [sales, stock]}
      limit: {type: integer}
    schedule: {cron: "0 2 * * *", timezone: Europe/Berlin}
    defaults: {retries: 2, retry_delay_seconds: 5}
    tags: [etl]
    tasks:
      - id: extract
        shell: "echo {{ params.dataset }}"
        env: {KEY: value}
        cwd: data
      - id: transform
        python: steps:transform
        with: {rows: "{{ tasks.extract.result }}"}
        depends_on: [extract]
      - id: notify
        shell: "echo done"
        depends_on: [transform]
        trigger_rule: all_done
        timeout_seconds: 30
    """


def test_example_files_are_valid_under_the_schema(schema: dict, write: WriteFile) -> None:
    from orkest.declarative import load_flow_spec

    write("steps.py", "def transform(rows):\n    return rows\n")
    path = write("nightly.yaml", VALID)
    load_flow_spec(path)  # the models accept it ...
    data = yaml.safe_load(path.read_text())
    assert errors(schema, data, schema) == []  # ... and so does the schema
    assert errors(schema, {"name": "x", "schedule": {"interval_seconds": 60},
                           "tasks": [{"id": "a", "python": "m:f"}]}, schema) == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["tasks"][1].update(depend_on=["extract"]), ".tasks[1].depend_on: not allowed"),
    (lambda d: d["tasks"][0].update(python="m:f"), ".tasks[0]: matches 0 of oneOf"),
    (lambda d: d["tasks"][2].pop("shell"), ".tasks[2]: matches 0 of oneOf"),
    (lambda d: d["tasks"][2].update(trigger_rule="sometimes"), ".tasks[2].trigger_rule"),
    (lambda d: d["tasks"][0].update(id="a b"), ".tasks[0].id: does not match"),
    (lambda d: d["parameters"]["limit"].update(type="int"), ".parameters.limit.type"),
    (lambda d: d["parameters"].update({"bad-name": {"type": "string"}}), "<bad-name>"),
    (lambda d: d["schedule"].update(rrule="FREQ=DAILY"), ".schedule: matches no anyOf"),
    (lambda d: d.update(tasks=[]), ".tasks: fewer than 1 items"),
    (lambda d: d.pop("name"), ": missing name"),
])
def test_the_schema_rejects_what_the_models_reject(schema: dict, change: Callable,
                                                  expected: str) -> None:
    data = yaml.safe_load(VALID)
    change(data)
    found = errors(schema, data, schema)
    assert any(expected in e for e in found), found


def test_schema_command_prints_the_schema_as_json() -> None:
    result = CliRunner().invoke(cli, ["schema", "flow"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == json.loads(SHIPPED.read_text("utf-8"))
    assert "tasks" in printed["properties"]
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
