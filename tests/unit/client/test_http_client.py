"""RemoteRunStore without a server: URLs, encoding, status codes, paging, batch splitting."""

from __future__ import annotations

import datetime
import json

import httpx
import pytest

from orkest.client import RemoteRunStore
from orkest.client import store as remote
from orkest.client.http import encode, normalize_api_url
from orkest.core.records import FlowRun, LogLine, StateRecord, TaskRun, WriteBatch
from orkest.core.states import Running, StateType
from orkest.core.transitions import ENGINE_POLICY
from orkest.errors import (
    ConfigurationError,
    InvalidStateTransition,
    ObjectNotFound,
    StoreError,
)
from orkest.store import StoreUnavailable, open_store, reset_stores, wire


def fake(handler, key: str | None = None) -> RemoteRunStore:
    return RemoteRunStore("http://api.test/api", key, transport=httpx.MockTransport(handler))


def answer(status: int, body: object = None) -> httpx.Response:
    return httpx.Response(status, json=body) if body is not None else httpx.Response(status)


def flow_run(i: int = 0) -> FlowRun:
    return FlowRun(f"{i:032x}", "etl", f"run-{i}", StateType.PENDING, "Pending", 1.0, 1.0)


@pytest.mark.parametrize(("given", "expected"), [
    ("http://127.0.0.1:4200/api", "http://127.0.0.1:4200/api"),
    ("http://127.0.0.1:4200/api/", "http://127.0.0.1:4200/api"),
    ("http://127.0.0.1:4200", "http://127.0.0.1:4200/api"),
    ("https://orkest.example/prefix/api", "https://orkest.example/prefix/api"),
])
def test_api_url_is_normalized(given: str, expected: str) -> None:
    assert normalize_api_url(given) == expected


def test_a_url_that_is_not_http_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="ORKEST_API_URL"):
        normalize_api_url("127.0.0.1:4200")


def test_encoding_is_compact_and_keeps_what_json_cannot_hold_as_the_stores_do() -> None:
    assert encode({"a": [1, 2]}) == b'{"a":[1,2]}'
    value = {"day": datetime.date(2026, 1, 2), "t": (1, 2), "bad": float("nan")}
    assert json.loads(encode(value)) == {"day": "2026-01-02", "t": [1, 2], "bad": "nan"}


def test_write_posts_the_wire_batch_with_json_content_type() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(204)

    batch = WriteBatch(flow_runs={flow_run().id: flow_run()},
                       states=[StateRecord(flow_run().id, "flow", StateType.PENDING, "P", 1.0)])
    store = fake(handler, "s3cret")
    store.write(batch)
    store.write(WriteBatch())  # nothing to send: no request
    assert len(seen) == 1
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/api/batches")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert wire.load_batch(json.loads(request.content)) == batch


def test_a_batch_too_big_for_one_request_is_split_in_order(monkeypatch) -> None:
    monkeypatch.setattr(remote, "MAX_BODY_BYTES", 2000)
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(204)

    runs = [flow_run(i) for i in range(10)]
    batch = WriteBatch(flow_runs={r.id: r for r in runs},
                       logs=[LogLine(runs[0].id, None, 1.0, 20, "x", "m" * 50)] * 10)
    fake(handler).write(batch)
    assert len(bodies) > 1
    assert all(len(json.dumps(b)) < 4000 for b in bodies)
    sent = [r["id"] for b in bodies for r in b["flow_runs"]]
    assert sent == [r.id for r in runs]
    assert sum(len(b["logs"]) for b in bodies) == 10
    assert not any(b["flow_runs"] for b in bodies[bodies.index(
        next(b for b in bodies if b["logs"])) + 1:])  # runs go before the lines


@pytest.mark.parametrize(("status", "detail", "error", "match"), [
    (404, "No flow run with id 'abcd'.", ObjectNotFound, "No flow run"),
    (409, "The id prefix 'abcd' matches 3 flow runs; give more characters.", ObjectNotFound,
     "matches 3 flow runs"),
    (409, "engine may not move a run from COMPLETED to RUNNING", InvalidStateTransition,
     "COMPLETED"),
    (422, "limit: must be <= 500", StoreError, "limit"),
    (500, "Internal Server Error", StoreUnavailable, "500"),
    (503, "busy", StoreUnavailable, "busy"),
])
def test_status_codes_become_the_errors_local_stores_raise(status, detail, error, match):
    store = fake(lambda request: answer(status, {"detail": detail}))
    with pytest.raises(error, match=match):
        store.read_flow_run("abcd")


def test_a_missing_or_wrong_key_names_orkest_api_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return answer(401, {"detail": "Missing or invalid API key"})

    with pytest.raises(ConfigurationError, match="ORKEST_API_KEY is not set here"):
        fake(handler).list_flow_runs()
    with pytest.raises(ConfigurationError, match="not the server's key"):
        fake(handler, "wrong").list_flow_runs()


def test_an_unreachable_server_is_store_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(StoreUnavailable, match="Cannot reach the orkest server"):
        fake(handler).write(WriteBatch(flow_runs={flow_run().id: flow_run()}))


def test_lists_are_paged_to_any_limit(monkeypatch) -> None:
    monkeypatch.setattr(remote, "FLOW_RUN_PAGE", 3)
    runs = [wire.dump(flow_run(i)) for i in range(8)]
    asked: list[tuple[int, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
        asked.append((limit, offset))
        assert request.url.params.get_list("state") == ["RUNNING", "FAILED"]
        return answer(200, {"items": runs[offset:offset + limit], "total": len(runs)})

    store = fake(handler)
    got = store.list_flow_runs(state_types=[StateType.RUNNING, StateType.FAILED], limit=7,
                               offset=1)
    assert [r.name for r in got] == [f"run-{i}" for i in range(1, 8)]
    assert asked == [(3, 1), (3, 4), (1, 7)]
    asked.clear()
    assert len(store.list_flow_runs(state_types=[StateType.RUNNING, StateType.FAILED],
                                    limit=100)) == 8
    assert asked == [(3, 0), (3, 3), (3, 6)]  # a short page ends it
    asked.clear()
    assert store.list_flow_runs(state_types=[]) == []  # nothing can match: no request
    assert store.count_flow_runs(state_types=[]) == 0
    assert asked == []


def test_set_state_sends_the_state_and_policy_and_reads_the_run() -> None:
    seen: list[dict] = []
    task = TaskRun("t" * 32, None, "x", "x-1", "0", "x-0", StateType.RUNNING, "Running", 5.0,
                   1.0)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/runs/task/" + "t" * 32 + "/state"
        seen.append(json.loads(request.content))
        return answer(200, wire.dump(task))

    got = fake(handler).set_state("t" * 32, "task", Running(ts=5.0), ENGINE_POLICY)
    assert got == task
    assert seen == [{"state": {"type": "RUNNING", "name": "Running", "message": None,
                               "ts": 5.0, "result_ref": None}, "policy": "engine"}]
    with pytest.raises(ValueError, match="run_kind"):
        fake(handler).set_state("x", "dag", Running(), ENGINE_POLICY)


def test_missing_results_cache_and_logs_are_empty_answers() -> None:
    store = fake(lambda request: answer(404, {"detail": "not found"}))
    assert store.read_result("k") is None
    assert store.lookup_cache("k", 1.0) is None
    assert store.read_states("x" * 32) == []
    assert store.read_logs(None, task_run_id="x" * 32) == []
    with pytest.raises(ValueError, match="flow_run_id or a task_run_id"):
        store.read_logs(None)


def test_an_api_url_setting_makes_open_store_remote(monkeypatch) -> None:
    monkeypatch.setenv("ORKEST_API_URL", "http://127.0.0.1:9/api")
    reset_stores()
    try:
        store = open_store()
        assert isinstance(store, RemoteRunStore)
        assert store.api_url == "http://127.0.0.1:9/api"
        from orkest.engine import current_recorder

        assert current_recorder().store is store  # the engine records through the server
        assert not isinstance(open_store("memory://"), RemoteRunStore)  # explicit: direct
    finally:
        reset_stores()


def test_db_upgrade_refuses_an_api_url() -> None:
    from orkest.store import upgrade

    with pytest.raises(ConfigurationError, match="API server, not a database"):
        upgrade("http://127.0.0.1:4200/api")


def test_the_server_can_still_open_its_database(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ORKEST_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("ORKEST_DATABASE_URL", "memory://")
    reset_stores()
    try:
        assert not isinstance(open_store(direct=True), RemoteRunStore)
        assert not isinstance(open_store("memory://", direct=True), RemoteRunStore)
        assert isinstance(open_store(), RemoteRunStore)  # the configured store: the server
    finally:
        reset_stores()
