"""`orkest run file.py:dag_id` and `orkest flow-run retry` on a DAG, as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

COMMAND = [sys.executable, "-m", "orkest.cli.main"]

DAG_FILE = '''
from pathlib import Path
from orkest import DAG, TriggerRule
from orkest.operators import BashOperator, PythonOperator

WORK = Path({work!r})

def extract(ti):
    with (WORK / "extract.calls").open("a") as f:
        f.write("x")
    return [1, 2, 3]

def load(ti, params):
    with (WORK / "load.calls").open("a") as f:
        f.write("x")
    if (WORK / "fail").exists():
        raise RuntimeError("warehouse is down")
    return sum(ti.xcom_pull(task_ids="extract")) * params["factor"]

with DAG("nightly-etl", params={{"factor": 2}}) as pipeline:
    e = PythonOperator(task_id="extract", python_callable=extract)
    l = PythonOperator(task_id="load", python_callable=load)
    done = BashOperator(task_id="announce",
                        bash_command="echo loaded {{{{ ti.xcom_pull(task_ids='load') }}}}")
    e >> l >> done
'''


def orkest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=90,
                          env=os.environ.copy())


def write_dag(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.py"
    path.write_text(textwrap.dedent(DAG_FILE.format(work=str(tmp_path))))
    return path


def test_run_dag_by_id_and_by_name_then_retry(tmp_path: Path) -> None:
    path = write_dag(tmp_path)
    (tmp_path / "fail").touch()
    first = orkest("run", f"{path}:nightly-etl", "--param", "factor=5")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "warehouse is down" in first.stdout + first.stderr
    runs = json.loads(orkest("flow-run", "ls", "--json").stdout)
    run_id = runs[0]["id"]
    assert runs[0]["flow_name"] == "nightly-etl"

    (tmp_path / "fail").unlink()
    retried = orkest("flow-run", "retry", run_id)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "Recovered" in retried.stdout
    assert (tmp_path / "extract.calls").read_text() == "x"  # its XCom was reused
    assert (tmp_path / "load.calls").read_text() == "xx"
    tasks = json.loads(orkest("task-run", "ls", "--flow-run", run_id, "--json").stdout)
    announce = next(t for t in tasks if t["name"] == "announce")
    assert announce["state_type"] == "COMPLETED"
    logs = orkest("flow-run", "logs", run_id).stdout
    assert "loaded 30" in logs  # (1+2+3) * 5: the parameter survived the retry

    by_name = orkest("run", f"{path}:pipeline")  # the variable name works as well
    assert by_name.returncode == 0, by_name.stdout + by_name.stderr


def test_unknown_dag_and_bad_param_exit_2(tmp_path: Path) -> None:
    path = write_dag(tmp_path)
    unknown = orkest("run", f"{path}:nightly")
    assert unknown.returncode == 2
    assert "no flow or DAG 'nightly'" in unknown.stderr and "nightly-etl" in unknown.stderr
    bad = orkest("run", f"{path}:nightly-etl", "--param", "factor=lots")
    assert bad.returncode == 2 and "factor" in bad.stderr
    stray = orkest("run", f"{path}:nightly-etl", "--param", "colour=red")
    assert stray.returncode == 2 and "colour" in stray.stderr
    assert json.loads(orkest("flow-run", "ls", "--json").stdout) == []
