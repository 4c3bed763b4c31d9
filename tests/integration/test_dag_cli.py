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


SLOW_DAG = '''
from orkest import DAG
from orkest.operators import BashOperator, EmptyOperator

with DAG("slow-dag") as dag:
    sleep = BashOperator(task_id="sleep",
                         bash_command="sleep 300 & echo $! > {pid_file}; sleep 300")
    sleep >> EmptyOperator(task_id="after")
'''


def test_cancel_a_running_dag_kills_its_command(tmp_path: Path) -> None:
    import time

    from orkest.store import open_store

    pid_file = tmp_path / "child.pid"
    path = tmp_path / "slow.py"
    path.write_text(SLOW_DAG.format(pid_file=pid_file))
    env = {**os.environ, "ORKEST_POLL_SECONDS": "0.1"}
    proc = subprocess.Popen([*COMMAND, "run", f"{path}:slow-dag"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        while not open_store().list_flow_runs(flow_name="slow-dag"):  # flushed within 0.2 s
            assert time.monotonic() < deadline, "the flow run was never recorded"
            time.sleep(0.05)
        run_id = open_store().list_flow_runs(flow_name="slow-dag")[0].id
        cancelled = orkest("flow-run", "cancel", run_id)
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
        proc.communicate(timeout=30)
        assert proc.returncode == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    doc = json.loads(orkest("flow-run", "inspect", run_id, "--json").stdout)
    assert doc["state_type"] == "CANCELLED"
    assert {t["name"]: t["state_type"] for t in doc["task_runs"]} == {"sleep": "CANCELLED"}
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the command's background child outlived the cancel"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
