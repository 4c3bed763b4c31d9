"""`orkest run flow.yaml` and `orkest schema flow`, as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

COMMAND = [sys.executable, "-m", "orkest.cli.main"]

pytestmark = pytest.mark.timeout(120)

FLOW = """
    name: cli-etl
    parameters:
      dataset: {{type: string, default: sales}}
      limit: {{type: integer, default: 1}}
    tasks:
      - id: extract
        shell: "echo {{{{ params.dataset }}}}"
      - id: load
        python: steps:load
        with: {{rows: "{{{{ tasks.extract.result }}}}", limit: "{{{{ params.limit }}}}",
                out: {out}}}
        depends_on: [extract]
    """

STEPS = """
    def load(rows, limit, out):
        if rows == "broken":
            raise RuntimeError("warehouse is down")
        with open(out, "w") as f:
            f.write(f"{rows}*{limit}={rows * limit}")
    """


def orkest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=90,
                          env=os.environ.copy())


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    (tmp_path / "steps.py").write_text(textwrap.dedent(STEPS))
    path = tmp_path / "etl.yaml"
    out = json.dumps(str(tmp_path / "loaded.txt"))
    path.write_text(textwrap.dedent(FLOW.format(out=out)))
    return path


def test_run_a_flow_file_with_typed_params(flow_file: Path) -> None:
    done = orkest("run", str(flow_file), "--param", "dataset=ab", "--param", "limit=3")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout.lower()
    assert (flow_file.parent / "loaded.txt").read_text() == "ab*3=ababab"


def test_failed_run_exits_1(flow_file: Path) -> None:
    failed = orkest("run", str(flow_file), "--param", "dataset=broken")
    assert failed.returncode == 1
    assert "warehouse is down" in failed.stdout + failed.stderr


def test_bad_parameter_exits_2_naming_it(flow_file: Path) -> None:
    bad = orkest("run", str(flow_file), "--param", "limit=many")
    assert bad.returncode == 2
    assert "limit" in bad.stderr


def test_invalid_file_exits_2_with_the_problems(flow_file: Path) -> None:
    text = flow_file.read_text().replace("depends_on: [extract]", "depends_on: [extrct]")
    flow_file.write_text(text)
    invalid = orkest("run", str(flow_file))
    assert invalid.returncode == 2
    assert (f"{flow_file}: tasks[1].depends_on[0] (line 13): unknown task 'extrct'; "
            "known tasks: extract, load") in invalid.stderr


def test_schema_flow_prints_json() -> None:
    result = orkest("schema", "flow")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert "tasks" in schema["properties"]
    assert schema["properties"]["tasks"]["items"] == {"$ref": "#/$defs/TaskSpec"}
