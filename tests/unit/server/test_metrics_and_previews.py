"""/metrics in Prometheus' text format, and result previews of every kind of reference."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from orkest.core.records import FlowRun, ResultBlob, TaskRun, WriteBatch
from orkest.core.states import StateType
from orkest.store import result_files

S = StateType
SAMPLE = re.compile(r'^([a-z_]+)(?:\{([a-z_]+)="([^"]*)"\})? (-?[0-9.e+-]+|\+Inf)$')


def parse(text: str) -> dict[str, dict[str, Any]]:
    """Every sample line as {name: {label value or "": number}}; comments checked too."""
    samples: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        found = SAMPLE.match(line)
        assert found, f"not a Prometheus sample: {line!r}"
        name, _label, value, number = found.groups()
        samples.setdefault(name, {})[value or ""] = float(number)
    return samples


def finished(i: int, seconds: float) -> tuple[FlowRun, TaskRun]:
    run = FlowRun(f"run{i}" + "0" * 28, "etl", f"r{i}", S.COMPLETED, "Completed", 10.0, 1.0,
                  start_ts=1.0, end_ts=1.0 + seconds)
    task = TaskRun(f"task{i}" + "0" * 27, run.id, "t", "t-1", str(i), f"t-{i}", S.FAILED,
                   "Failed", 1.0, 1.0, start_ts=1.0, end_ts=1.0 + seconds / 100)
    return run, task


def write(store: Any, *pairs: tuple[FlowRun, TaskRun]) -> None:
    store.write(WriteBatch(flow_runs={r.id: r for r, _ in pairs},
                           task_runs={t.id: t for _, t in pairs}))


def test_metrics_parse_and_count_runs_by_state_and_duration(client: Any, store: Any) -> None:
    write(store, finished(1, 2.0), finished(2, 20.0))
    store.write(WriteBatch(flow_runs={"live" + "0" * 28: FlowRun(
        "live" + "0" * 28, "etl", "live", S.RUNNING, "Running", 5.0, 5.0, start_ts=5.0)}))
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse(response.text)
    assert samples["orkest_flow_runs"]["COMPLETED"] == 2
    assert samples["orkest_flow_runs"]["RUNNING"] == 1
    assert samples["orkest_flow_runs"]["FAILED"] == 0
    assert set(samples["orkest_flow_runs"]) == {t.value for t in StateType}
    flows = samples["orkest_flow_run_duration_seconds_bucket"]
    assert (flows["1.0"], flows["5.0"], flows["30.0"], flows["+Inf"]) == (0, 1, 2, 2)
    assert samples["orkest_flow_run_duration_seconds_sum"][""] == pytest.approx(22.0)
    assert samples["orkest_flow_run_duration_seconds_count"][""] == 2
    tasks = samples["orkest_task_run_duration_seconds_bucket"]
    assert (tasks["0.01"], tasks["0.025"], tasks["0.25"], tasks["+Inf"]) == (0, 1, 2, 2)
    buckets = list(tasks.values())
    assert buckets == sorted(buckets)  # cumulative
    assert samples["orkest_active_workers"][""] == 0
    # Scraping again counts nothing twice; a run finished since is counted once.
    write(store, finished(3, 0.2))
    again = parse(client.get("/metrics").text)
    assert again["orkest_flow_run_duration_seconds_count"][""] == 3
    assert again["orkest_flow_run_duration_seconds_bucket"]["0.5"] == 1


def preview(client: Any, ref: str, status: int = 200) -> dict[str, Any]:
    response = client.get("/api/results/preview", params={"ref": ref})
    assert response.status_code == status, response.text
    return response.json()


def test_previews_of_inline_database_and_file_results(client: Any, store: Any,
                                                      orkest_home: Path) -> None:
    assert preview(client, "inline:json:42") == {"ref": "inline:json:42", "type": "int",
                                                 "preview": "42", "truncated": False}
    assert preview(client, 'inline:json:"hi"')["preview"] == "'hi'"
    store.write(WriteBatch(results=[
        ResultBlob("small", "cloudpickle", pickle.dumps({"a": [1, 2]}), 1.0),
        ResultBlob("long", "json", b'"' + b"x" * 5000 + b'"', 1.0)]))
    assert preview(client, "db:cloudpickle:small")["preview"] == "{'a': [1, 2]}"
    long = preview(client, "db:json:long")
    assert (long["type"], len(long["preview"]), long["truncated"]) == ("str", 2000, True)
    files = result_files(orkest_home / "results")
    files.put("big", pickle.dumps(list(range(100_000))))
    big = preview(client, "file:cloudpickle:big")
    assert big["type"] == "list" and big["truncated"] and len(big["preview"]) <= 2000
    assert big["preview"].startswith("[0, 1, 2")


@pytest.mark.parametrize(("ref", "status", "reason"), [
    ("db:cloudpickle:gone", 404, "not in the store"),
    ("file:cloudpickle:gone", 404, "gone"),
    ("nonsense", 422, "not a result reference"),
    ("s3:json:key", 422, "Unknown result location"),
    ("file:json:../../etc/passwd", 422, "Invalid result key"),
    ("inline:json:{not json", 422, "not valid JSON"),
    ("db:yaml:yaml", 422, "Unknown result serializer"),
    ("db:cloudpickle:alien", 422, "No module named 'no_such_module_here'"),
    ("db:cloudpickle:garbage", 422, "cannot be read back"),
])
def test_previews_that_cannot_be_shown_say_why(client: Any, store: Any, ref: str, status: int,
                                                reason: str) -> None:
    store.write(WriteBatch(results=[
        ResultBlob("alien", "cloudpickle", b"cno_such_module_here\nThing\n.", 1.0),
        ResultBlob("garbage", "cloudpickle", b"\x80\x05not a pickle", 1.0),
        ResultBlob("yaml", "yaml", b"a: 1", 1.0)]))
    assert reason in preview(client, ref, status)["detail"]
