"""DAG runs on every local runner: XCom, context, templates, Bash, branching, sensors."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest

from orkest import DAG, TriggerRule, task
from orkest.operators import (
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    FileSensor,
    PythonOperator,
    ShortCircuitOperator,
)
from orkest.store import open_store

pytestmark = pytest.mark.timeout(60)


def last_runs() -> dict[str, object]:
    store = open_store()
    flow_run = store.list_flow_runs()[0]
    return {t.name: t for t in store.list_task_runs(flow_run_id=flow_run.id)}


def outcome(run: object) -> tuple[str, str]:
    return run.state_type.value, run.state_name  # type: ignore[attr-defined]


def logs_of(run: object) -> list[tuple[str, str]]:
    lines = open_store().read_logs(run.flow_run_id, task_run_id=run.id)  # type: ignore[attr-defined]
    return [(line.source, line.message) for line in lines]


def test_tutorial_shape_with_templated_bash(runner, tmp_path: Path) -> None:
    """Airflow's tutorial: t1 >> [t2, t3], Bash with {{ ds }} and params."""
    with DAG("tutorial", params={"dataset": "sales"}, task_runner=runner,
             default_args={"retries": 1, "retry_delay": 0}) as dag:
        t1 = BashOperator(task_id="print_date", bash_command="echo start; date -u +%Y")
        t2 = BashOperator(task_id="templated",
                          bash_command="echo '{{ ds }} {{ ds_nodash }} {{ params.dataset }}'")
        t3 = BashOperator(task_id="env", bash_command='echo "$TARGET" && pwd',
                          env={"TARGET": "{{ params.dataset }}-{{ ds }}"}, append_env=True,
                          cwd=str(tmp_path))
        t4 = BashOperator(task_id="ids", bash_command="echo {{ run_id }} {{ logical_date }}")
        t1 >> [t2, t3]
        t1 >> t4
    state = dag.test(logical_date=dt.datetime(2026, 3, 4, 5, 6), params={"dataset": "crm"})
    assert state.is_completed(), state.message
    runs = last_runs()
    assert {n: outcome(r) for n, r in runs.items()} == {
        n: ("COMPLETED", "Completed") for n in ("print_date", "templated", "env", "ids")}
    assert ("stdout", "2026-03-04 20260304 crm") in logs_of(runs["templated"])
    # the rendered command is stored with the run, and logged
    assert runs["templated"].parameters["bash_command"] == "echo '2026-03-04 20260304 crm'"
    assert runs["env"].parameters["env"] == {"TARGET": "crm-2026-03-04"}
    assert ("stdout", "crm-2026-03-04") in logs_of(runs["env"])
    assert ("stdout", str(tmp_path)) in logs_of(runs["env"])
    assert runs["templated"].upstream == [runs["print_date"].id]
    flow_run = open_store().list_flow_runs()[0]
    assert flow_run.logical_ts == dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC).timestamp()
    assert ("stdout", f"{flow_run.id} 2026-03-04 05:06:00+00:00") in logs_of(runs["ids"])


def test_xcom_push_pull_and_context_injection(runner) -> None:
    def produce(ti, run_id, ds, logical_date, params):
        ti.xcom_push(key="meta", value={"run": run_id, "ds": ds, "n": params["n"]})
        assert isinstance(logical_date, dt.datetime)
        return [1, 2, 3]

    def consume(ti):
        rows = ti.xcom_pull(task_ids="produce")
        meta = ti.xcom_pull(task_ids="produce", key="meta")
        both = ti.xcom_pull(task_ids=["produce", "produce"])
        return {"sum": sum(rows), "meta": meta, "both": both, "implicit": ti.xcom_pull()}

    def everything(**context):
        return sorted(k for k in ("ti", "ds", "params", "run_id", "logical_date")
                      if k in context)

    with DAG("xcoms", params={"n": 2}, task_runner=runner) as dag:
        p = PythonOperator(task_id="produce", python_callable=produce)
        c = PythonOperator(task_id="consume", python_callable=consume)
        e = PythonOperator(task_id="everything", python_callable=everything)
        p >> c >> e
    state = dag.test(logical_date="2026-01-02")
    assert state.is_completed(), state.message
    flow_run = open_store().list_flow_runs()[0]
    consumed = last_runs()["consume"]
    value = open_store_result(consumed)
    assert value["return_value"]["sum"] == 6
    assert value["return_value"]["meta"] == {"run": flow_run.id, "ds": "2026-01-02", "n": 2}
    assert value["return_value"]["both"] == [[1, 2, 3], [1, 2, 3]]
    assert value["return_value"]["implicit"] == [1, 2, 3]
    assert open_store_result(last_runs()["everything"])["return_value"] == [
        "ds", "logical_date", "params", "run_id", "ti"]


def open_store_result(run: object) -> object:
    from orkest.core.results import load

    return load(run.result_ref)  # type: ignore[attr-defined]


def test_xcom_pull_of_an_unknown_task_is_an_error(runner) -> None:
    def typo(ti):
        return ti.xcom_pull(task_ids="extrct")

    with DAG("typo", task_runner=runner) as dag:
        EmptyOperator(task_id="extract") >> PythonOperator(task_id="use", python_callable=typo)
    state = dag.test()
    assert state.is_failed()
    assert "no such task" in last_runs()["use"].state_message
    assert "extrct" in state.message


def test_branching(runner) -> None:
    def choose(params):
        return "big" if params["rows"] > 10 else ["small", "report"]

    with DAG("branching", params={"rows": 5}, task_runner=runner) as dag:
        branch = BranchPythonOperator(task_id="choose", python_callable=choose)
        big, small, report = (EmptyOperator(task_id=x) for x in ("big", "small", "report"))
        after_big = EmptyOperator(task_id="after_big")
        join = EmptyOperator(task_id="join",
                             trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        branch >> [big, small, report]
        big >> after_big >> join
        [small, report] >> join
    assert dag.test().is_completed()
    got = {n: outcome(r) for n, r in last_runs().items()}
    assert got["big"] == ("SKIPPED", "Skipped")
    assert got["after_big"] == ("SKIPPED", "Skipped")  # skip propagates under ALL_SUCCESS
    assert got["small"] == got["report"] == got["join"] == ("COMPLETED", "Completed")
    assert dag.test(params={"rows": 50}).is_completed()
    got = {n: outcome(r) for n, r in last_runs().items()}
    assert got["small"] == ("SKIPPED", "Skipped") and got["after_big"][0] == "COMPLETED"


def test_branch_to_a_task_that_is_not_downstream_fails_clearly(runner) -> None:
    with DAG("bad-branch", task_runner=runner) as dag:
        b = BranchPythonOperator(task_id="b", python_callable=lambda: "elsewhere")
        b >> EmptyOperator(task_id="next")
        EmptyOperator(task_id="elsewhere")
    state = dag.test()
    assert state.is_failed()
    assert "not directly downstream" in last_runs()["b"].state_message


def test_short_circuit(runner) -> None:
    with DAG("short", task_runner=runner) as dag:
        gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: [])
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b", trigger_rule=TriggerRule.ALL_DONE)
        gate >> a >> b
    assert dag.test().is_completed()
    assert {n: outcome(r)[0] for n, r in last_runs().items()} == {
        "gate": "COMPLETED", "a": "SKIPPED", "b": "SKIPPED"}


def test_failing_dag_with_all_done_cleanup(runner, tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"

    def fail():
        raise ValueError("bad input file")

    with DAG("cleanup", task_runner=runner) as dag:
        load = PythonOperator(task_id="load", python_callable=fail)
        report = EmptyOperator(task_id="report")
        cleanup = BashOperator(task_id="cleanup", bash_command=f"touch {marker}",
                               trigger_rule=TriggerRule.ALL_DONE)
        load >> report >> cleanup
    state = dag.test()
    assert state.is_failed()  # the cleanup succeeding does not hide the failure
    assert "load" in state.message and "bad input file" in state.message
    runs = last_runs()
    assert outcome(runs["load"]) == ("FAILED", "Failed")
    assert outcome(runs["report"]) == ("SKIPPED", "UpstreamFailed")
    assert outcome(runs["cleanup"]) == ("COMPLETED", "Completed") and marker.exists()


def test_bash_failure_skip_code_and_xcom(runner) -> None:
    with DAG("bash", task_runner=runner) as dag:
        out = BashOperator(task_id="out", bash_command="echo one; echo two")
        skip = BashOperator(task_id="skip", bash_command="exit 99")
        fail = BashOperator(task_id="fail", bash_command="echo oops >&2; exit 3")
        custom = BashOperator(task_id="custom", bash_command="exit 4", skip_on_exit_code=[4])
        use = PythonOperator(task_id="use", python_callable=lambda ti: ti.xcom_pull("out"))
        out >> use
        del skip, fail, custom  # independent tasks: they only need to be in the DAG
    state = dag.test()
    assert state.is_failed()
    runs = last_runs()
    assert outcome(runs["skip"]) == ("SKIPPED", "Skipped")
    assert outcome(runs["custom"]) == ("SKIPPED", "Skipped")
    assert outcome(runs["fail"]) == ("FAILED", "Failed")
    assert "exit code 3" in runs["fail"].state_message
    assert "oops" in runs["fail"].state_message
    assert ("stderr", "oops") in logs_of(runs["fail"])
    assert open_store_result(runs["use"])["return_value"] == "two"
    assert runs["fail"].failure_type == "orkest.errors.CommandFailed"


def test_bash_timeout_kills_the_process_group(runner, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    command = f"sleep 300 & echo $! > {pid_file}; sleep 300"
    with DAG("slow", task_runner=runner) as dag:
        BashOperator(task_id="slow", bash_command=command, execution_timeout=1.0)
    started = time.monotonic()
    state = dag.test()
    assert time.monotonic() - started < 20
    assert state.is_failed()
    run = last_runs()["slow"]
    assert outcome(run) == ("FAILED", "TimedOut")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the background child of the command survived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: its parent (bash) was killed and init will reap it
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_retries_with_default_args(runner, tmp_path: Path) -> None:
    marker = tmp_path / "attempts"

    def flaky():
        from helpers import note_call

        if note_call(marker) < 3:
            raise RuntimeError("not yet")
        return "done"

    with DAG("retrying", task_runner=runner,
             default_args={"retries": 2, "retry_delay": dt.timedelta(0)}) as dag:
        PythonOperator(task_id="flaky", python_callable=flaky)
    assert dag.test().is_completed()
    run = last_runs()["flaky"]
    assert run.run_count == 3 and outcome(run) == ("COMPLETED", "Completed")


def test_file_sensor(runner, tmp_path: Path) -> None:
    target = tmp_path / "incoming" / "data.csv"

    def arrive() -> None:
        time.sleep(0.5)
        target.parent.mkdir()
        target.write_text("a,b\n")

    with DAG("sensing", task_runner=runner, params={"name": "data"}) as dag:
        sense = FileSensor(task_id="wait", filepath=str(tmp_path / "incoming/{{ params.name }}.*"),
                           poke_interval=0.1, timeout=20)
        never = FileSensor(task_id="never", filepath=str(tmp_path / "missing"),
                           poke_interval=0.1, timeout=0.3, soft_fail=True)
        hard = FileSensor(task_id="hard", filepath=str(tmp_path / "missing"),
                          poke_interval=0.1, timeout=0.3)
        sense >> EmptyOperator(task_id="process")
        del never, hard
    threading.Thread(target=arrive).start()
    state = dag.test()
    runs = last_runs()
    assert outcome(runs["wait"]) == ("COMPLETED", "Completed")
    assert outcome(runs["process"]) == ("COMPLETED", "Completed")
    assert outcome(runs["never"]) == ("SKIPPED", "Skipped")
    assert outcome(runs["hard"]) == ("FAILED", "TimedOut")
    assert "no file matched" in runs["hard"].state_message
    assert state.is_failed()


def test_taskflow_nodes_pass_data(runner) -> None:
    @task
    def extract(n: int) -> list[int]:
        return list(range(n))

    @task
    def total(rows: list[int], params) -> int:
        return sum(rows) * params["factor"]

    with DAG("taskflow-run", params={"factor": 10}, task_runner=runner) as dag:
        result = total(extract(4))
        result >> BashOperator(task_id="show",
                               bash_command="echo {{ ti.xcom_pull(task_ids='total') }}")
    assert dag.test().is_completed()
    runs = last_runs()
    assert open_store_result(runs["total"])["return_value"] == 60
    assert ("stdout", "60") in logs_of(runs["show"])


def test_graph_is_stored_with_the_run(runner) -> None:
    with DAG("graphed", task_runner=runner) as dag:
        EmptyOperator(task_id="a") >> BashOperator(task_id="z", bash_command="true")
    assert dag.test().is_completed()
    graph = open_store().list_flow_runs()[0].graph
    assert graph == dag.describe_graph()
    assert graph["edges"] == [["a", "z"]]
    assert [n["kind"] for n in graph["nodes"]] == ["EmptyOperator", "BashOperator"]


def test_template_error_names_template_task_and_name(runner) -> None:
    with DAG("templ", task_runner=runner) as dag:
        BashOperator(task_id="echo", bash_command="echo {{ params.missing }}")
    state = dag.test()
    assert state.is_failed()
    message = last_runs()["echo"].state_message
    assert "bash_command" in message and "echo" in message and "missing" in message


def test_always_runs_without_waiting(runner, tmp_path: Path) -> None:
    def slow():
        time.sleep(1.0)
        return "slow"

    with DAG("always", task_runner=runner) as dag:
        s = PythonOperator(task_id="slow", python_callable=slow)
        s >> EmptyOperator(task_id="always", trigger_rule=TriggerRule.ALWAYS)
    assert dag.test().is_completed()
    runs = last_runs()
    if runner.name != "sequential":  # one task at a time cannot overlap anything
        assert runs["always"].end_ts < runs["slow"].end_ts
