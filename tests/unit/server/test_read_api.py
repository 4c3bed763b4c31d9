"""Reading through the API what real flows and DAGs recorded: lists, filters, pages, ids."""

from __future__ import annotations

from typing import Any

import pytest

from orkest import DAG, flow, get_run_logger, task
from orkest.core.records import FlowRun, LogLine, StateRecord, TaskRun, WriteBatch
from orkest.core.states import StateType
from orkest.operators import PythonOperator

S = StateType


@task
def double(x: int) -> int:
    get_run_logger().info("doubling %s", x)
    return 2 * x


@task
def explode() -> None:
    raise ValueError("boom")


@flow(log_prints=True)
def numbers(n: int = 3) -> int:
    print(f"summing {n} numbers")
    return sum(f.result() for f in double.map(range(n)))


@flow
def broken() -> None:
    double(1)
    explode()


def _extract() -> list[int]:
    return [1, 2, 3]


def write_runs(store: Any, *runs: FlowRun | TaskRun, **lists: Any) -> None:
    batch = WriteBatch(**lists)
    for run in runs:
        (batch.flow_runs if isinstance(run, FlowRun) else batch.task_runs)[run.id] = run
    store.write(batch)


def flow_run(id: str, **kw: Any) -> FlowRun:
    fields: dict[str, Any] = dict(flow_name="etl", name=f"run-{id}", state_type=S.COMPLETED,
                                  state_name="Completed", state_ts=100.0, created_ts=100.0)
    fields.update(kw)
    return FlowRun(id=id, **fields)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_python_flow_reads_back_whole(client: Any) -> None:
    assert numbers(3) == 6
    runs = ok(client.get("/api/flow_runs"))
    assert runs["total"] == 1 and (runs["limit"], runs["offset"]) == (50, 0)
    run = runs["items"][0]
    assert (run["flow_name"], run["state_type"], run["parameters"]) == (
        "numbers", "COMPLETED", {"n": 3})
    assert ok(client.get(f"/api/flow_runs/{run['id'][:8]}"))["id"] == run["id"]

    tasks = ok(client.get(f"/api/flow_runs/{run['id']}/task_runs"))
    assert tasks["total"] == 3
    assert [t["name"] for t in tasks["items"]] == ["double-0", "double-1", "double-2"]
    assert {t["state_type"] for t in tasks["items"]} == {"COMPLETED"}
    one = ok(client.get(f"/api/task_runs/{tasks['items'][1]['id']}"))
    assert (one["task_name"], one["flow_run_id"]) == ("double", run["id"])

    states = ok(client.get(f"/api/flow_runs/{run['id']}/states"))
    assert [s["type"] for s in states] == ["PENDING", "RUNNING", "COMPLETED"]
    task_states = ok(client.get(f"/api/task_runs/{one['id']}/states"))
    assert [s["type"] for s in task_states][-1] == "COMPLETED"

    logs = ok(client.get(f"/api/flow_runs/{run['id']}/logs"))
    messages = [line["message"] for line in logs["items"]]
    assert "summing 3 numbers" in messages and "doubling 1" in messages
    assert logs["next_after_id"] == logs["items"][-1]["id"]
    assert ok(client.get(f"/api/task_runs/{one['id']}/logs"))["items"][0]["message"] == (
        "doubling 1")
    preview = ok(client.get("/api/results/preview", params={"ref": run["result_ref"]}))
    assert (preview["type"], preview["preview"], preview["truncated"]) == ("int", "6", False)


def test_a_failed_flow_shows_its_failure(client: Any) -> None:
    with pytest.raises(ValueError):
        broken()
    run = ok(client.get("/api/flow_runs", params={"state": "FAILED"}))["items"][0]
    failed = ok(client.get(f"/api/flow_runs/{run['id']}/task_runs",
                           params={"state": ["FAILED", "CRASHED"]}))
    assert failed["total"] == 1
    assert "ValueError: boom" in failed["items"][0]["failure_traceback"]
    everything = ok(client.get("/api/task_runs", params={"flow_run_id": run["id"][:6]}))
    assert everything["total"] == 2


def test_a_dag_run_carries_its_graph(client: Any) -> None:
    with DAG("nightly") as dag:
        extract = PythonOperator(task_id="extract", python_callable=_extract)
        load = PythonOperator(task_id="load", python_callable=lambda ti: sum(
            ti.xcom_pull(task_ids="extract")))
        extract >> load
    assert dag.test().is_completed()
    run = ok(client.get("/api/flow_runs", params={"flow_name": "nightly"}))["items"][0]
    detail = ok(client.get(f"/api/flow_runs/{run['id']}"))
    assert detail["graph"] is not None
    assert "extract" in str(detail["graph"]) and "load" in str(detail["graph"])
    tasks = ok(client.get(f"/api/flow_runs/{run['id']}/task_runs"))["items"]
    assert [t["task_name"] for t in tasks] == ["extract", "load"]
    assert tasks[1]["upstream"]
    flows = ok(client.get("/api/flows"))
    assert [f["name"] for f in flows["items"]] == ["nightly"]


def test_filters_pages_and_counts(client: Any, store: Any) -> None:
    runs = [flow_run(f"run{i:02d}" + "0" * 26, created_ts=1000.0 + i,
                     flow_name="a" if i % 2 else "b",
                     state_type=[S.COMPLETED, S.FAILED, S.RUNNING][i % 3],
                     tags=["daily"] if i < 4 else [],
                     parent_flow_run_id="parent" if i == 5 else None) for i in range(12)]
    write_runs(store, *runs)
    ids = lambda r: [x["id"][:5] for x in r["items"]]  # noqa: E731
    newest = ok(client.get("/api/flow_runs", params={"limit": 3}))
    assert ids(newest) == ["run11", "run10", "run09"] and newest["total"] == 12
    page2 = ok(client.get("/api/flow_runs", params={"limit": 3, "offset": 3}))
    assert ids(page2) == ["run08", "run07", "run06"] and page2["total"] == 12
    assert ok(client.get("/api/flow_runs", params={"offset": 50}))["items"] == []
    assert ok(client.get("/api/flow_runs", params={"offset": 50}))["total"] == 12
    assert ok(client.get("/api/flow_runs", params={"flow_name": "a"}))["total"] == 6
    failed = ok(client.get("/api/flow_runs", params=[("state", "FAILED"),
                                                     ("state", "RUNNING")]))
    assert failed["total"] == 8
    assert ids(ok(client.get("/api/flow_runs", params={"tag": "daily"}))) == [
        "run03", "run02", "run01", "run00"]
    window = {"created_after": 1002.0, "created_before": 1004.0}
    assert ids(ok(client.get("/api/flow_runs", params=window))) == ["run03", "run02"]
    assert ids(ok(client.get("/api/flow_runs", params={"parent_flow_run_id": "parent"}))) == [
        "run05"]
    assert ok(client.get("/api/counts/flow_runs", params={"flow_name": "b", "tag": "daily"})
              ) == {"count": 2}
    flows = ok(client.get("/api/flows", params={"limit": 1, "offset": 1}))
    assert flows == {"items": [{"name": "b", "run_count": 6, "last_run_ts": 1010.0}],
                     "limit": 1, "offset": 1}


@pytest.mark.parametrize(("path", "params"), [
    ("/api/flow_runs", {"limit": 501}),
    ("/api/flow_runs", {"limit": -1}),
    ("/api/flow_runs", {"offset": -1}),
    ("/api/flow_runs", {"offset": 10**12}),
    ("/api/flow_runs", {"state": "DONE"}),
    ("/api/flow_runs", {"created_after": "nan"}),
    ("/api/flow_runs", {"created_before": "yesterday"}),
    ("/api/flows", {"limit": 501}),
    ("/api/task_runs", {"limit": 20_001}),
    ("/api/flow_runs/abcd/logs", {"after_id": -1}),
    ("/api/flow_runs/abcd/logs", {"limit": 10_001}),
    ("/api/stats/dashboard", {"bucket_seconds": 0}),
    ("/api/stats/dashboard", {"since": "inf"}),
    ("/api/results/preview", {}),
])
def test_bad_queries_are_422_with_a_readable_detail(client: Any, path: str,
                                                    params: dict[str, Any]) -> None:
    body = ok(client.get(path, params=params), 422)
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["errors"][0]["loc"][0] == "query"


def test_ids_are_full_or_unique_prefixes(client: Any, store: Any) -> None:
    write_runs(store, flow_run("abcd1111" + "0" * 24), flow_run("abcd2222" + "0" * 24),
               TaskRun("fedc1234" + "0" * 24, "abcd1111" + "0" * 24, "t", "t-1", "0", "t-0",
                       S.COMPLETED, "Completed", 1.0, 1.0))
    assert ok(client.get("/api/flow_runs/abcd2"))["id"].startswith("abcd2222")
    assert ok(client.get("/api/task_runs/fedc"))["id"].startswith("fedc1234")
    assert ok(client.get("/api/flow_runs/abcd1/task_runs"))["total"] == 1
    ambiguous = ok(client.get("/api/flow_runs/abcd"), 409)
    assert "matches 2 flow runs" in ambiguous["detail"]
    assert "at least 4" in ok(client.get("/api/flow_runs/abc"), 404)["detail"]
    for path in ("/api/flow_runs/ffff0000", "/api/task_runs/ffff0000",
                 "/api/flow_runs/ffff0000/task_runs", "/api/flow_runs/ffff0000/states",
                 "/api/task_runs/ffff0000/states"):
        assert ok(client.get(path), 404)["detail"].startswith("No ")
    assert ok(client.get("/api/flow_runs/abcd/states"), 409)
    assert ok(client.get("/api/nothing/here"), 404)["detail"].startswith("No API route")


def test_logs_tail_with_a_cursor_and_a_level_filter(client: Any, store: Any) -> None:
    run = flow_run("logs0000" + "0" * 24)
    task_id = "task0000" + "0" * 24
    lines = [LogLine(run.id, task_id if i % 2 else None, float(i), 40 if i % 5 == 0 else 20,
                     "t", f"line {i}") for i in range(30)]
    write_runs(store, run, logs=lines)
    seen: list[str] = []
    cursor = 0
    while True:
        got = ok(client.get(f"/api/flow_runs/{run.id[:8]}/logs",
                            params={"after_id": cursor, "limit": 7}))
        seen += [line["message"] for line in got["items"]]
        if not got["items"]:
            assert got["next_after_id"] == cursor
            break
        cursor = got["next_after_id"]
    assert seen == [f"line {i}" for i in range(30)]
    errors = ok(client.get(f"/api/flow_runs/{run.id}/logs",
                           params={"min_level": 40, "limit": 4}))
    assert [x["message"] for x in errors["items"]] == ["line 0", "line 5", "line 10", "line 15"]
    rest = ok(client.get(f"/api/flow_runs/{run.id}/logs",
                         params={"min_level": 40, "after_id": errors["next_after_id"]}))
    assert [x["message"] for x in rest["items"]] == ["line 20", "line 25"]
    assert rest["next_after_id"] == cursor  # the cursor passed the lines it skipped
    only_task = ok(client.get(f"/api/flow_runs/{run.id}/logs",
                              params={"task_run_id": task_id}))
    assert len(only_task["items"]) == 15
    # Lines may arrive before their task run: its id still finds them.
    assert len(ok(client.get(f"/api/task_runs/{task_id}/logs"))["items"]) == 15
    assert len(ok(client.get("/api/logs", params={"task_run_id": task_id}))["items"]) == 15
    assert len(ok(client.get("/api/logs", params={"flow_run_id": run.id}))["items"]) == 30
    ok(client.get("/api/logs"), 422)


def test_dashboard_counts_buckets_failure_rate_and_slowest_tasks(client: Any,
                                                                  store: Any) -> None:
    runs = [flow_run(f"dash{i}" + "0" * 27, created_ts=1000.0 + 30 * i,
                     state_type=[S.COMPLETED, S.FAILED, S.RUNNING, S.CRASHED][i % 4])
            for i in range(8)]
    tasks = [TaskRun(f"t{i}" + "0" * 30, runs[0].id, name, f"{name}-1", str(i), f"{name}-{i}",
                     S.COMPLETED, "Completed", 1.0, 1000.0, start_ts=0.0, end_ts=seconds)
             for i, (name, seconds) in enumerate([("load", 4.0), ("load", 2.0),
                                                  ("extract", 1.0)])]
    write_runs(store, *runs, *tasks, states=[StateRecord(runs[0].id, "flow", S.COMPLETED,
                                                         "Completed", 1.0)])
    board = ok(client.get("/api/stats/dashboard",
                          params={"since": 1000.0, "bucket_seconds": 120}))
    assert board["total"] == 8
    assert board["failure_rate"] == pytest.approx(4 / 6)
    assert {(c["bucket_ts"], c["state_type"]): c["count"] for c in board["runs_by_state"]} == {
        (960.0, "COMPLETED"): 1, (960.0, "FAILED"): 1, (960.0, "RUNNING"): 1,
        (1080.0, "CRASHED"): 1, (1080.0, "COMPLETED"): 1, (1080.0, "FAILED"): 1,
        (1080.0, "RUNNING"): 1, (1200.0, "CRASHED"): 1}
    assert [(t["task_name"], t["runs"], t["mean_seconds"]) for t in board["slowest_tasks"]] == [
        ("load", 2, 3.0), ("extract", 1, 1.0)]
    empty = ok(client.get("/api/stats/dashboard"))  # the last 24 h: these are older
    assert (empty["total"], empty["failure_rate"], empty["runs_by_state"]) == (0, 0.0, [])
    assert ok(client.get("/api/stats/dashboard",
                         params={"since": 0, "slowest_limit": 1}))["slowest_tasks"][0][
        "task_name"] == "load"


def test_health_and_the_hyphenated_spellings_of_the_spec(client: Any) -> None:
    assert ok(client.get("/api/health")) == {"status": "ok", "version": "0.1.0",
                                             "database": "sqlite"}
    assert ok(client.get("/api/flow-runs"))["total"] == 0
    assert ok(client.get("/api/task-runs"))["total"] == 0
    assert ok(client.get("/api/flow-runs/abcd0000"), 404)
    document = ok(client.get("/api/openapi.json"))
    assert "/api/flow_runs/{flow_run_id}/task_runs" in document["paths"]
    page = client.get("/api/docs")
    assert page.status_code == 200 and 'fetch("openapi.json")' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from outside
