"""Invalid flow files: one FlowFileError naming the file, the field path, the line, and why."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from orkest.declarative import load_flow, load_flow_spec
from orkest.errors import CycleError, FlowFileError

WriteFile = Callable[[str, str], Path]


def problem_of(path: Path) -> FlowFileError:
    with pytest.raises(FlowFileError) as info:
        load_flow_spec(path)
    return info.value


def flow(tasks: str, head: str = "") -> str:
    """A flow file with the given tasks section (tasks start on line 3 + head lines)."""
    return "name: f\n" + textwrap.dedent(head) + "tasks:\n" + textwrap.dedent(tasks)


CASES = {
    "unknown key with a suggestion": (
        flow("""\
            - id: a
              shell: "true"
            - id: b
              shell: "true"
              depend_on: [a]
            """),
        "tasks[1].depend_on", 7, "unknown field 'depend_on'; did you mean 'depends_on'?"),
    "unknown top-level key": (
        "name: f\ntask: 1\ntasks:\n  - {id: a, shell: 'true'}\n", "task", 2,
        "unknown field 'task'; did you mean 'tasks'?"),
    "neither shell nor python": (
        flow("""\
            - id: a
              retries: 1
            """),
        "tasks[0]", 3, "task 'a' needs `shell` (a command) or `python`"),
    "both shell and python": (
        flow("""\
            - id: a
              shell: "true"
              python: os:getcwd
            """),
        "tasks[0].python", 5, "has both `shell` and `python`"),
    "duplicate task id": (
        flow("""\
            - id: a
              shell: "true"
            - id: a
              shell: "false"
            """),
        "tasks[1].id", 5, "duplicate task id 'a' (already used by tasks[0])"),
    "invalid task id": (
        flow("""\
            - id: "a b"
              shell: "true"
            """),
        "tasks[0].id", 3, "letters, digits"),
    "unknown depends_on": (
        flow("""\
            - id: extract
              shell: "true"
            - id: transform
              shell: "true"
              depends_on: [extract]
            - id: notify
              shell: "true"
              depends_on: [transform, extrct]
            """),
        "tasks[2].depends_on[1]", 10,
        "unknown task 'extrct'; known tasks: extract, transform, notify"),
    "bad trigger_rule": (
        flow("""\
            - id: a
              shell: "true"
              trigger_rule: all_dne
            """),
        "tasks[0].trigger_rule", 5, "did you mean 'all_done'?"),
    "bad parameter type": (
        flow("""\
            - id: a
              shell: "true"
            """, head="""\
            parameters:
              n: {type: int, default: 1}
            """),
        "parameters.n.type", 3, "'integer'"),
    "default of the wrong type": (
        flow("""\
            - id: a
              shell: "true"
            """, head="""\
            parameters:
              n: {type: integer, default: many}
            """),
        "parameters.n.default", 3, "default 'many' is not of type integer"),
    "negative retries": (
        flow("""\
            - id: a
              shell: "true"
              retries: -1
            """),
        "tasks[0].retries", 5, "greater than or equal to 0"),
    "bad cron": (
        flow("""\
            - id: a
              shell: "true"
            """, head="""\
            schedule: {cron: "0 2 * *"}
            """),
        "schedule.cron", 2, "five fields"),
    "duplicate key": (
        flow("""\
            - id: a
              shell: "true"
              shell: "false"
            """),
        "tasks[0].shell", 5, "duplicate key 'shell' (first given on line 4)"),
    "template naming a task that is not upstream": (
        flow("""\
            - id: extract
              shell: "true"
            - id: report
              shell: "echo {{ tasks.extract.result }}"
            """),
        "tasks[1].shell", 6, "'extract' is not upstream of 'report'; add it to depends_on"),
    "template naming an unknown parameter": (
        flow("""\
            - id: a
              shell: "echo {{ params.datset }}"
            """, head="""\
            parameters:
              dataset: {type: string, default: x}
            """),
        "tasks[0].shell", 6, "no parameter 'datset'; declared: dataset; did you mean"),
    "template syntax error": (
        flow("""\
            - id: a
              env: {X: "{{ params.x "}
              shell: "true"
            """),
        "tasks[0].env.X", 4, "template syntax error"),
    "template with an unknown filter": (
        flow("""\
            - id: a
              shell: "echo {{ ds | shout }}"
            """),
        "tasks[0].shell", 4, "No filter named 'shout'"),
    "template naming an unknown task": (
        flow("""\
            - id: extract
              shell: "true"
            - id: b
              shell: "echo {{ tasks.extrat.result }}"
              depends_on: [extract]
            """),
        "tasks[1].shell", 6, "no task 'extrat'; known tasks: extract, b; did you mean"),
    "template using a task without .result": (
        flow("""\
            - id: extract
              shell: "true"
            - id: b
              python: os:getenv
              with: {key: "{{ tasks.extract }}"}
              depends_on: [extract]
            """),
        "tasks[1].with.key", 7, "use tasks.extract.result"),
    "template using its own result": (
        flow("""\
            - id: a
              shell: "echo {{ tasks.a.result }}"
            """),
        "tasks[0].shell", 4, "a task cannot use its own result"),
    "YAML booleans in a string enum": (
        flow("""\
            - id: a
              shell: "true"
            """, head="""\
            parameters:
              answer: {type: string, enum: [yes, no]}
            """),
        "parameters.answer.enum", 3, "not: True, False (quote them to make them strings)"),
    "with on a shell task": (
        flow("""\
            - id: a
              shell: "true"
              with: {x: 1}
            """),
        "tasks[0].with", 5, "a shell command uses templates"),
    "empty file": ("", "", None, "the file is empty"),
    "a list instead of a mapping": ("- id: a\n", "", 1, "expected a mapping"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_problem_names_file_field_and_line(write: WriteFile, case: str) -> None:
    text, field, line, fragment = CASES[case]
    path = write("flow.yaml", text)
    error = problem_of(path)
    message = str(error)
    assert fragment in message
    assert message.startswith(f"{path}: {field}" if field else str(path))
    if line is not None:
        assert f"(line {line})" in message
    assert (error.path, error.field or "", error.line) == (str(path), field, line)


def test_every_problem_is_reported_at_once_one_per_line(write: WriteFile) -> None:
    path = write("many.yaml", flow("""\
        - id: a
          shell: "true"
          depend_on: [b]
        - id: b
          shell: "true"
          trigger_rule: sometimes
        - id: c
          depends_on: [zz]
        """))
    error = problem_of(path)
    lines = str(error).splitlines()
    assert error.problems == lines[1:]  # type: ignore[attr-defined]
    assert lines[0] == f"{path}: 4 problems"
    assert [line.split(": ")[1] for line in lines[1:]] == [
        "tasks[0].depend_on (line 5)", "tasks[1].trigger_rule (line 8)",
        "tasks[2] (line 9)", "tasks[2].depends_on[0] (line 10)"]


def test_a_cycle_is_a_cycle_error_naming_its_tasks(write: WriteFile) -> None:
    path = write("cycle.yaml", flow("""\
        - id: start
          shell: "true"
        - id: a
          shell: "true"
          depends_on: [start, c]
        - id: b
          shell: "true"
          depends_on: [a]
        - id: c
          shell: "true"
          depends_on: [b]
        """))
    with pytest.raises(CycleError) as info:
        load_flow(path)
    error = info.value
    assert isinstance(error, FlowFileError)
    assert str(error) == (f"{path}: tasks[1].depends_on[1] (line 7): dependency cycle: "
                          "a >> b >> c >> a (tasks in it: a, b, c)")


def test_a_task_depending_on_itself_is_a_cycle(write: WriteFile) -> None:
    path = write("self.yaml", flow("""\
        - id: a
          shell: "true"
          depends_on: [a]
        """))
    with pytest.raises(CycleError, match=r"depends_on\[0\] \(line 5\): task 'a' cannot "):
        load_flow_spec(path)


def test_yaml_syntax_error_has_line_and_column(write: WriteFile) -> None:
    path = write("broken.yaml", 'name: f\ntasks:\n  - id: a\n    shell: "echo\n')
    message = str(problem_of(path))
    assert message.startswith(f"{path} (line 5, column 1): invalid YAML: ")
    assert "quoted scalar that starts on line 4, column 12" in message


def test_json_syntax_error_has_line_and_column(write: WriteFile) -> None:
    path = write("broken.json", '{\n  "name": "f",\n  "tasks": [\n    {"id": "a",}\n  ]\n}\n')
    error = problem_of(path)
    assert str(error).startswith(f"{path} (line 4, column 16): invalid JSON: ")
    assert error.line == 4


def test_json_problems_carry_lines_too(write: WriteFile) -> None:
    data = {"name": "f", "tasks": [{"id": "extract", "shell": "true"},
                                   {"id": "load", "shell": "true",
                                    "depends_on": ["extract", "extrct"]}]}
    path = write("flow.json", json.dumps(data, indent="\t"))
    assert str(problem_of(path)) == (
        f"{path}: tasks[1].depends_on[1] (line 13): unknown task 'extrct'; known tasks: "
        "extract, load; did you mean 'extract'?")


def test_json_duplicate_keys_are_errors(write: WriteFile) -> None:
    path = write("dup.json", '{"name": "f",\n "name": "g",\n "tasks": []}')
    message = str(problem_of(path))
    assert f"{path}: name (line 2): duplicate key 'name' (first given on line 1)" in message
    assert "tasks (line 3): List should have at least 1 item" in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    error = problem_of(missing)
    assert str(error) == f"{missing}: no such file"
    assert error.path == str(missing)
    assert error.problems == [str(error)]  # type: ignore[attr-defined]


def test_yaml_anchors_and_merge_keys_work(write: WriteFile) -> None:
    path = write("anchors.yaml", """
        name: f
        defaults: &opts {retries: 1}
        tasks:
          - {id: a, shell: "true", <<: *opts}
          - {id: b, shell: "true", <<: *opts, retries: 3, depends_on: [a]}
        """)
    assert [t.retries for t in load_flow_spec(path).tasks] == [1, 3]


def test_other_suffixes_are_refused(write: WriteFile) -> None:
    path = write("flow.toml", "name = 'f'\n")
    assert "must end in .yaml, .yml or .json" in str(problem_of(path))


# -- python targets ----------------------------------------------------------------------

def python_flow(target: str, with_: str = "") -> str:
    return flow(f"""\
        - id: a
          python: {target}
        {with_}""")


def test_python_module_not_found(write: WriteFile) -> None:
    path = write("flow.yaml", python_flow("mypkg.missing:run"))
    assert str(problem_of(path)).startswith(
        f"{path}: tasks[0].python (line 4): cannot use 'mypkg.missing:run': no module named "
        "'mypkg'")


def test_python_function_not_found_suggests_a_name(write: WriteFile) -> None:
    write("mypkg/__init__.py", "")
    write("mypkg/etl.py", "def transform(rows):\n    return rows\n")
    path = write("flow.yaml", python_flow("mypkg.etl:transfrom", "  with: {rows: 1}\n"))
    assert str(problem_of(path)) == (
        f"{path}: tasks[0].python (line 4): cannot use 'mypkg.etl:transfrom': 'mypkg.etl' "
        "has no attribute 'transfrom'; did you mean 'transform'?")


def test_python_module_that_fails_to_import(write: WriteFile) -> None:
    write("boom.py", "raise RuntimeError('no database')\n")
    path = write("flow.yaml", python_flow("boom:run"))
    assert "importing 'boom' failed: RuntimeError: no database" in str(problem_of(path))


def test_with_keys_must_fit_the_function(write: WriteFile) -> None:
    write("steps.py", "def load(rows, limit=10, *, params=None):\n    return rows\n")
    path = write("flow.yaml", python_flow("steps:load", "  with: {row: 1}\n"))
    lines = str(problem_of(path)).splitlines()[1:]
    assert lines == [
        f"{path}: tasks[0].with.row (line 5): load() takes no argument 'row'",
        f"{path}: tasks[0].with (line 5): load() needs a value for rows; give it under "
        "`with:`"]


def test_templates_may_reach_tasks_dynamically_and_transitively(write: WriteFile) -> None:
    path = write("flow.yaml", flow("""\
        - id: a
          shell: "true"
        - id: b
          shell: "true"
          depends_on: [a]
        - id: c
          shell: "echo {{ tasks['a'].result }} {% for t in tasks %}{{ t }}{% endfor %}"
          depends_on: [b]
        """))
    assert [t.id for t in load_flow_spec(path).tasks] == ["a", "b", "c"]


def test_bad_python_target_shape(write: WriteFile) -> None:
    path = write("flow.yaml", python_flow("steps.load"))
    assert "expected module:function" in str(problem_of(path))
