"""The RunStore port's writes over HTTP: shapes, transitions, requests, limits, validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orkest.core.records import (
    CacheEntry,
    FlowRun,
    LogLine,
    ResultBlob,
    StateRecord,
    TaskRun,
    WriteBatch,
)
from orkest.core.states import StateType
from orkest.store import wire

S = StateType
RUN_ID = "abcd" + "0" * 28


def flow_run(**kw: Any) -> FlowRun:
    fields: dict[str, Any] = dict(id=RUN_ID, flow_name="etl", name="brave-otter",
                                  state_type=S.PENDING, state_name="Pending", state_ts=100.0,
                                  created_ts=100.0)
    fields.update(kw)
    return FlowRun(**fields)


def post_batch(client: Any, batch: WriteBatch) -> Any:
    return client.post("/api/batches", json=wire.dump_batch(batch))


def test_a_batch_is_stored_as_sent(client: Any, store: Any) -> None:
    run = flow_run(parameters={"x": [1, 2]}, tags=["etl"], graph={"nodes": []})
    task = TaskRun("t" * 32, run.id, "extract", "extract-1", "0", "extract-0", S.RUNNING,
                   "Running", 101.0, 101.0, start_ts=101.0, peak_rss_bytes=2**40)
    batch = WriteBatch(
        flow_runs={run.id: run}, task_runs={task.id: task},
        states=[StateRecord(run.id, "flow", S.PENDING, "Pending", 100.0)],
        logs=[LogLine(run.id, task.id, 101.0, 20, "orkest.task", "hello", "print")],
        results=[ResultBlob("r1", "cloudpickle", b"\x00\x80\xff", 101.0)],
        cache=[CacheEntry("k", "db:cloudpickle:r1", 101.0, None, task.id)])
    response = post_batch(client, batch)
    assert response.status_code == 204, response.text
    assert store.read_flow_run(run.id) == run
    assert store.read_task_run(task.id) == task
    assert [s.name for s in store.read_states(run.id)] == ["Pending"]
    assert store.read_logs(run.id)[0].message == "hello"
    blob = client.get("/api/results/r1").json()
    assert wire.load(ResultBlob, blob) == batch.results[0]
    assert client.get("/api/results/nope").status_code == 404
    entry = client.get("/api/cache/k", params={"now": 102.0}).json()
    assert wire.load(CacheEntry, entry) == batch.cache[0]
    assert client.get("/api/cache/other").status_code == 404


def test_the_newest_snapshot_of_a_run_in_a_batch_wins(client: Any, store: Any) -> None:
    body = wire.dump_batch(WriteBatch(flow_runs={RUN_ID: flow_run()}))
    later = wire.dump(flow_run(state_type=S.RUNNING, state_name="Running", state_ts=105.0))
    body["flow_runs"].append({**later, "a_field_from_a_newer_client": 1})
    assert client.post("/api/batches", json=body).status_code == 204
    assert store.read_flow_run(RUN_ID).state_type is S.RUNNING


def test_set_state_follows_the_named_policy(client: Any, store: Any) -> None:
    post_batch(client, WriteBatch(flow_runs={RUN_ID: flow_run()}))

    def move(state: dict[str, Any], policy: str = "engine", kind: str = "flow",
             run_id: str = RUN_ID[:6]) -> Any:
        return client.post(f"/api/runs/{kind}/{run_id}/state",
                           json={"state": state, "policy": policy})

    running = move({"type": "RUNNING", "ts": 110.0})
    assert running.status_code == 200, running.text
    assert (running.json()["state_type"], running.json()["state_ts"]) == ("RUNNING", 110.0)
    illegal = move({"type": "PENDING"})
    assert illegal.status_code == 409 and "RUNNING to PENDING" in illegal.json()["detail"]
    done = move({"type": "COMPLETED", "name": "Completed", "message": "ok",
                 "result_ref": "inline:json:1"})
    assert (done.json()["end_ts"], done.json()["result_ref"]) == (
        done.json()["state_ts"], "inline:json:1")
    assert move({"type": "PENDING"}, "rerun").json()["end_ts"] is None
    assert move({"type": "CANCELLED"}, "finish-as-cancelled").json()["state_type"] == (
        "CANCELLED")
    assert move({"type": "FAILED"}, "manual").status_code == 200
    assert move({"type": "RUNNING"}, "no-such-policy").status_code == 422
    assert move({"type": "DONE"}).status_code == 422
    assert move({"type": "RUNNING"}, kind="dag").status_code == 422
    assert move({"type": "RUNNING"}, run_id="ffff0000").status_code == 404
    assert [s.type for s in store.read_states(RUN_ID)][0] is S.RUNNING


def test_requests_heartbeats_and_taking(client: Any, store: Any) -> None:
    other = "beef" + "0" * 28
    post_batch(client, WriteBatch(flow_runs={RUN_ID: flow_run(), other: flow_run(id=other)}))
    asked = client.post(f"/api/flow_runs/{RUN_ID[:5]}/requests",
                        json={"action": "resume", "payload": {"ok": True}})
    assert asked.status_code == 204, asked.text
    assert store.read_flow_run(RUN_ID).requested_action == "resume"
    assert client.post(f"/api/flow_runs/{other}/requests",
                       json={"action": "cancel"}).status_code == 204
    assert client.post(f"/api/flow_runs/{other}/requests",
                       json={"action": "explode"}).status_code == 422
    assert client.post("/api/flow_runs/ffff0000/requests",
                       json={"action": "cancel"}).status_code == 404
    taken = client.post("/api/requests/take", json={"flow_run_ids": [RUN_ID, other, "x"]})
    assert taken.json() == {RUN_ID: ["resume", {"ok": True}], other: ["cancel", None]}
    assert client.post("/api/requests/take", json={"flow_run_ids": [RUN_ID]}).json() == {}
    beat = client.post("/api/heartbeats", json={"flow_run_ids": [RUN_ID], "now": 500.5})
    assert beat.status_code == 204
    assert store.read_flow_run(RUN_ID).heartbeat_ts == 500.5
    assert store.read_flow_run(other).heartbeat_ts is None


@pytest.mark.parametrize("body", [
    b'{"flow_runs": [{"id": "x"}]}',  # fields missing
    b'{"flow_runs": "nope"}',
    b'{"states": [{"run_id": "x", "run_kind": "flow", "type": "RUNNING", "name": "R",'
    b' "ts": NaN}]}',
    b'{"states": [{"run_id": "x", "run_kind": "dag", "type": "RUNNING", "name": "R",'
    b' "ts": 1}]}',
    b'{"logs": [{"flow_run_id": null, "task_run_id": null, "ts": 1, "level": 1e400,'
    b' "logger": "x", "message": "m"}]}',
    b'{"logs": [{"flow_run_id": null, "task_run_id": null, "ts": 1,'
    b' "level": 99999999999999999999999, "logger": "x", "message": "m"}]}',
    b'{"results": [{"key": "k", "serializer": "json", "data": "not base64!", "created_ts": 1}]}',
    b"[1, 2]",
    b"{not json",
])
def test_malformed_batches_are_422_and_write_nothing(client: Any, store: Any,
                                                     body: bytes) -> None:
    response = client.post("/api/batches", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)
    assert store.list_flow_runs() == [] and store.read_logs(None, task_run_id="x") == []


def test_a_log_line_over_64_kib_is_413_naming_the_limit(client: Any, store: Any) -> None:
    line = LogLine(RUN_ID, None, 1.0, 20, "t", "é" * (32 * 1024 + 1))  # 2 bytes each
    response = post_batch(client, WriteBatch(logs=[line]))
    assert response.status_code == 413
    assert "65536 bytes (64 KiB)" in response.json()["detail"]
    assert store.read_logs(RUN_ID) == []
    fits = LogLine(RUN_ID, None, 1.0, 20, "t", "x" * 65536)
    assert post_batch(client, WriteBatch(logs=[fits])).status_code == 204


def test_a_body_over_the_limit_is_413_even_without_a_content_length(make_client: Any) -> None:
    client = make_client(api_key="", max_body_bytes=4096)
    big = json.dumps({"logs": [], "pad": "x" * 5000}).encode()
    response = client.post("/api/batches", content=big,
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "4096 bytes" in response.json()["detail"]

    def chunks() -> Any:  # streamed: no Content-Length, only the bytes tell
        for _ in range(5):
            yield b" " * 1000

    streamed = client.post("/api/batches", content=chunks(),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert client.post("/api/batches", json={}).status_code == 204


def test_batches_feed_the_duration_histograms(client: Any) -> None:
    run = flow_run(state_type=S.COMPLETED, state_name="Completed", start_ts=100.0,
                   end_ts=103.0)
    for _ in range(2):  # the same finished run sent twice counts once
        post_batch(client, WriteBatch(flow_runs={run.id: run}))
    text = client.get("/metrics").text
    assert 'orkest_flow_run_duration_seconds_bucket{le="5.0"} 1' in text
    assert "orkest_flow_run_duration_seconds_sum 3.0" in text


def test_nul_characters_are_kept_out_of_text_columns(client: Any, store: Any) -> None:
    """PostgreSQL's text cannot hold NUL: free text gets U+FFFD, any other field is 422."""
    line = LogLine(RUN_ID, None, 1.0, 20, "t", "binary \x00 output")
    assert post_batch(client, WriteBatch(logs=[line])).status_code == 204
    assert store.read_logs(RUN_ID)[0].message == "binary \ufffd output"
    bad = flow_run(id="ab\x00cd")
    response = post_batch(client, WriteBatch(flow_runs={bad.id: bad}))
    assert response.status_code == 422 and "NUL" in response.json()["detail"]
    taken = client.post("/api/requests/take", json={"flow_run_ids": ["a\x00"]})
    assert taken.status_code == 422
