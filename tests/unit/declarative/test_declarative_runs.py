"""Flow files run as DAGs: results flow through `tasks.<id>.result`, parameters are typed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from orkest.declarative import load_flow
from orkest.runners import TaskRunner

pytestmark = pytest.mark.timeout(60)
WriteFile = Callable[[str, str], Path]

STEPS = """
    import json


    def record(out, **values):
        with open(out, "a") as f:
            f.write(json.dumps(values) + "\\n")


    def transform(out, rows, limit, both, params):
        record(out, task="transform", rows=rows, limit=limit, both=both,
               dataset=params["dataset"])
        return {"rows": rows, "count": limit}


    def report(out, summary):
        record(out, task="report", summary=summary)
    """

ETL = """
    name: etl
    parameters:
      dataset: {{type: string, default: sales}}
      limit: {{type: integer, default: 2}}
    tasks:
      - id: extract
        shell: |
          echo "header"
          echo "{{{{ params.dataset }}}}-$WHO-$(cat data.txt)"
        env: {{WHO: "{{{{ params.limit * 2 }}}}"}}
      - id: transform
        python: steps:transform
        with:
          out: {out}
          rows: "{{{{ tasks.extract.result }}}}"
          limit: "{{{{ params.limit }}}}"
          both: ["{{{{ params.limit }}}}", "{{{{ ds }}}}"]
        depends_on: [extract]
      - id: report
        python: steps:report
        with: {{out: {out}, summary: "{{{{ tasks.transform.result }}}}"}}
        depends_on: [transform]
    """


def calls(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def etl_flow(write: WriteFile, tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "calls.jsonl"
    write("steps.py", STEPS)
    write("data.txt", "from-file\n")
    return write("etl.yaml", ETL.format(out=json.dumps(str(out)))), out


def test_python_task_gets_the_shell_result_and_typed_params(write: WriteFile,
                                                            tmp_path: Path) -> None:
    path, out = etl_flow(write, tmp_path)
    state = load_flow(path).test(logical_date="2024-01-02", params={"limit": "5"})
    assert state.type.value == "COMPLETED", state.message
    transform, report = calls(out)
    # the shell task ran in the flow file's folder, with its templated env
    assert transform == {"task": "transform", "rows": "sales-10-from-file", "limit": 5,
                         "both": [5, "2024-01-02"], "dataset": "sales"}
    assert report == {"task": "report",
                      "summary": {"rows": "sales-10-from-file", "count": 5}}
    # what each task ran with is recorded as the task run's inputs, rendered
    from orkest.store import open_store

    store = open_store()
    runs = {t.name: t for t in store.list_task_runs(
        flow_run_id=store.list_flow_runs()[0].id)}
    assert runs["extract"].parameters["bash_command"] == (
        'echo "header"\necho "sales-$WHO-$(cat data.txt)"\n')
    assert runs["extract"].parameters["env"] == {"WHO": "10"}
    assert runs["transform"].parameters["arguments"]["rows"] == "sales-10-from-file"
    assert runs["transform"].parameters["arguments"]["limit"] == 5


def test_same_flow_on_every_runner(write: WriteFile, tmp_path: Path,
                                   runner: TaskRunner) -> None:
    path, out = etl_flow(write, tmp_path)
    dag = load_flow(path)
    dag.task_runner = runner
    state = dag.test(params={"dataset": "stock"})
    assert state.type.value == "COMPLETED", state.message
    assert [c["task"] for c in calls(out)] == ["transform", "report"]
    assert calls(out)[0]["rows"] == "stock-4-from-file"


def test_failed_task_fails_the_run_and_all_done_still_runs(write: WriteFile,
                                                           tmp_path: Path) -> None:
    marker = tmp_path / "cleanup-ran"
    path = write("fail.yaml", f"""
        name: failing
        tasks:
          - id: broken
            shell: "echo oops >&2; exit 3"
          - id: after
            shell: "echo never"
            depends_on: [broken]
          - id: cleanup
            shell: "touch {marker}"
            depends_on: [broken]
            trigger_rule: all_done
        """)
    state = load_flow(path).test()
    assert state.type.value == "FAILED"
    assert marker.exists()


def test_cwd_is_relative_to_the_flow_file(write: WriteFile, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    write("steps.py", STEPS)
    (tmp_path / "sub").mkdir()
    path = write("cwd.yaml", f"""
        name: cwd
        tasks:
          - id: where
            shell: pwd
            cwd: sub
          - id: show
            python: steps:record
            with: {{out: {json.dumps(str(out))}, where: "{{{{ tasks.where.result }}}}"}}
            depends_on: [where]
        """)
    assert load_flow(path).test().type.value == "COMPLETED"
    assert Path(calls(out)[0]["where"]).resolve() == (tmp_path / "sub").resolve()
