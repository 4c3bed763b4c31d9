"""The deployments, work pools, workers and limits API as people and the UI use it, on a
real SQLite store (the port routes are covered by tests/contract/test_orchestration_store.py
through the HTTP client)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from orkest.core.deployments import Deployment
from orkest.core.states import StateType
from orkest.store import wire

SCHEMA = {"type": "object", "properties": {"day": {"type": "string"},
                                           "n": {"type": "integer"}},
          "required": ["day"]}


def body(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"flow_name": "etl", "name": "nightly",
                            "entrypoint": "flows/etl.py:etl", "parameter_schema": SCHEMA,
                            "parameters": {"day": "2026-01-01"},
                            "schedules": [{"cron": "0 2 * * *",
                                           "timezone": "Europe/Paris"}]}
    data.update(kw)
    return data


@pytest.fixture
def deployed(client: Any) -> dict[str, Any]:
    response = client.put("/api/deployments", json=body())
    assert response.status_code == 201, response.text
    return response.json()


class TestDeployments:
    def test_put_creates_then_updates_keeping_the_id(self, client: Any,
                                                     deployed: dict[str, Any]) -> None:
        assert deployed["full_name"] == "etl/nightly"
        assert deployed["schedule_descriptions"] == ["At 02:00, every day (Europe/Paris)"]
        again = client.put("/api/deployments", json=body(entrypoint="flows/v2.py:etl",
                                                         id="another-id"))
        assert again.status_code == 200
        assert again.json()["id"] == deployed["id"]
        assert again.json()["entrypoint"] == "flows/v2.py:etl"
        assert client.get("/api/work-pools/default").status_code == 200  # created with it

    def test_items_show_next_runs_in_the_schedule_zone(self, client: Any,
                                                       deployed: dict[str, Any]) -> None:
        page = client.get("/api/deployments").json()
        assert (page["total"], page["limit"], page["offset"]) == (1, 100, 0)
        item = page["items"][0]
        assert item == client.get("/api/deployments/etl/nightly").json() | {
            "next_runs": item["next_runs"]}
        slots = [dt.datetime.fromisoformat(s) for s in item["next_runs"]]
        assert len(slots) == 5 and slots == sorted(slots)
        assert all(s.astimezone(dt.UTC) > dt.datetime.now(dt.UTC) for s in slots)
        assert all((s.hour, s.minute) == (2, 0) for s in slots)  # 02:00 Paris time
        lean = client.get("/api/deployments", params={"details": "false"}).json()["items"][0]
        assert "next_runs" not in lean and wire.load(Deployment, lean).id == deployed["id"]

    def test_read_by_id_prefix_and_name_and_404(self, client: Any,
                                                deployed: dict[str, Any]) -> None:
        for ref in (deployed["id"], deployed["id"][:8], "etl/nightly"):
            assert client.get(f"/api/deployments/{ref}").json()["id"] == deployed["id"]
        missing = client.get("/api/deployments/etl/weekly")
        assert missing.status_code == 404 and "etl/weekly" in missing.json()["detail"]

    def test_filters(self, client: Any, deployed: dict[str, Any]) -> None:
        client.put("/api/deployments", json=body(name="gpu", work_pool="gpu"))
        names = lambda **q: [i["name"] for i in client.get(  # noqa: E731
            "/api/deployments", params=q).json()["items"]]
        assert names() == ["gpu", "nightly"]
        assert names(work_pool="gpu") == ["gpu"]
        assert names(paused="true") == []
        assert names(flow_name="other") == []

    @pytest.mark.parametrize(("change", "field"), [
        ({"schedules": [{"cron": "61 * * * *"}]}, "minute"),
        ({"parameters": {"nope": 1}}, "nope"),
        ({"name": "a/b"}, "name"),
        ({"triggers": [{"path": "/tmp"}]}, "triggers[0]"),
        ({"concurrency_limit": 0}, "concurrency_limit"),
        ({"priority": 2**40}, "priority"),
    ])
    def test_bad_definitions_are_422_naming_the_field(self, client: Any,
                                                      change: dict[str, Any],
                                                      field: str) -> None:
        response = client.put("/api/deployments", json=body(**change))
        assert response.status_code == 422
        assert field in response.text

    def test_an_id_of_another_deployment_is_409(self, client: Any,
                                                deployed: dict[str, Any]) -> None:
        response = client.put("/api/deployments", json=body(name="other", id=deployed["id"]))
        assert response.status_code == 409 and "etl/nightly" in response.json()["detail"]

    def test_pausing_drops_waiting_runs_and_resuming_brings_next_runs(
            self, client: Any, store: Any, deployed: dict[str, Any]) -> None:
        slots = client.post("/api/deployments/etl/nightly/backfill", json={
            "start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"}).json()
        by_hand = client.post("/api/deployments/etl/nightly/runs", json={}).json()
        paused = client.patch("/api/deployments/etl/nightly", json={"paused": True})
        assert paused.status_code == 200
        assert paused.json()["paused"] is True and paused.json()["next_runs"] == []
        left = [r.id for r in store.list_flow_runs()]
        assert left == [by_hand["id"]] and len(slots["created"]) == 2  # asked-for runs stay
        resumed = client.patch(f"/api/deployments/{deployed['id']}", json={"paused": False})
        assert len(resumed.json()["next_runs"]) == 5

    def test_patch_takes_paused_only(self, client: Any, deployed: dict[str, Any]) -> None:
        response = client.patch("/api/deployments/etl/nightly",
                                json={"paused": True, "work_pool": "x"})
        assert response.status_code == 422 and "work_pool" in response.text
        assert client.get("/api/deployments/etl/nightly").json()["paused"] is False

    def test_run_by_hand(self, client: Any, store: Any, deployed: dict[str, Any]) -> None:
        before = time.time()
        response = client.post("/api/deployments/etl/nightly/runs",
                               json={"parameters": {"n": 3}, "idempotency_key": "k1"})
        assert response.status_code == 201
        run = response.json()
        assert run["state_type"] == "SCHEDULED" and run["deployment_id"] == deployed["id"]
        assert run["parameters"] == {"day": "2026-01-01", "n": 3}
        assert before <= run["scheduled_ts"] <= time.time()
        assert store.read_flow_run(run["id"]).state_type is StateType.SCHEDULED
        again = client.post("/api/deployments/etl/nightly/runs",
                            json={"idempotency_key": "k1"})
        assert again.status_code == 422 and "k1" in again.json()["detail"]

    def test_its_runs_newest_first(self, client: Any, deployed: dict[str, Any]) -> None:
        client.put("/api/deployments", json=body(name="other"))
        ids = [client.post("/api/deployments/etl/nightly/runs", json={}).json()["id"]
               for _ in range(3)]
        client.post("/api/deployments/etl/other/runs", json={})
        page = client.get("/api/deployments/etl/nightly/runs", params={"limit": 2}).json()
        assert page["total"] == 3
        assert [r["id"] for r in page["items"]] == ids[::-1][:2]

    def test_run_with_an_unknown_parameter_is_422_naming_it(
            self, client: Any, deployed: dict[str, Any]) -> None:
        response = client.post("/api/deployments/etl/nightly/runs",
                               json={"parameters": {"colour": "red"}})
        assert response.status_code == 422 and "colour" in response.json()["detail"]
        missing = client.post("/api/deployments/etl/nightly/runs",
                              json={"parameters": {"day": None}})
        assert missing.status_code == 201  # given, even as null: the flow checks types

    def test_backfill_creates_one_run_per_slot_once(self, client: Any,
                                                    deployed: dict[str, Any]) -> None:
        span = {"start": "2026-03-01T00:00:00+01:00", "end": "2026-03-04T00:00:00+01:00"}
        first = client.post("/api/deployments/etl/nightly/backfill", json=span)
        assert first.status_code == 200 and len(first.json()["created"]) == 3
        again = client.post("/api/deployments/etl/nightly/backfill", json=span).json()
        assert again == {"created": [], "skipped": 3}
        runs = client.get("/api/flow_runs", params={"flow_name": "etl"}).json()["items"]
        logical = sorted(dt.datetime.fromtimestamp(r["logical_ts"], dt.UTC) for r in runs)
        assert [t.isoformat() for t in logical] == [
            "2026-03-01T01:00:00+00:00", "2026-03-02T01:00:00+00:00",
            "2026-03-03T01:00:00+00:00"]

    @pytest.mark.parametrize(("span", "word"), [
        ({"start": "2026-03-04T00:00:00", "end": "2026-03-01T00:00:00"}, "end"),
        ({"start": "0001-01-01T00:00:00", "end": "2026-03-01T00:00:00"}, "start"),
        ({"start": "2000-01-01T00:00:00", "end": "2100-01-01T00:00:00"}, "10000"),
    ])
    def test_bad_backfill_ranges_are_422(self, client: Any, deployed: dict[str, Any],
                                         span: dict[str, str], word: str) -> None:
        response = client.post("/api/deployments/etl/nightly/backfill", json=span)
        assert response.status_code == 422 and word in response.json()["detail"]

    def test_delete(self, client: Any, deployed: dict[str, Any]) -> None:
        assert client.delete("/api/deployments/etl/nightly").status_code == 204
        assert client.get("/api/deployments/etl/nightly").status_code == 404
        assert client.delete("/api/deployments/etl/nightly").status_code == 404


class TestPoolsWorkersLimits:
    def test_work_pools(self, client: Any) -> None:
        created = client.put("/api/work-pools", json={"name": "gpu", "concurrency_limit": 2})
        assert created.status_code == 201 and created.json()["concurrency_limit"] == 2
        updated = client.put("/api/work-pools", json={"name": "gpu", "paused": True})
        assert updated.status_code == 200
        assert updated.json()["created_ts"] == created.json()["created_ts"]
        assert [p["name"] for p in client.get("/api/work-pools").json()["items"]] == ["gpu"]
        assert client.get("/api/work-pools/cpu").status_code == 404

    def test_workers(self, client: Any) -> None:
        worker = {"name": "w", "work_pool": "gpu", "hostname": "h", "pid": 7,
                  "started_ts": 1.0, "concurrency": 2}
        assert client.put("/api/workers/w1", json=worker).status_code == 204
        items = client.get("/api/workers", params={"work_pool": "gpu"}).json()["items"]
        assert [(w["id"], w["status"]) for w in items] == [("w1", "online")]
        assert items[0]["heartbeat_ts"] == pytest.approx(time.time(), abs=60)
        clash = client.put("/api/workers/w1", json={**worker, "id": "w2"})
        assert clash.status_code == 422

    def test_concurrency_limits(self, client: Any) -> None:
        assert client.put("/api/concurrency-limits/db", json={"limit": 1}).json()["limit"] == 1
        taken = client.post("/api/concurrency-slots/acquire",
                            json={"tags": ["db"], "holder": "h1"}).json()
        assert taken == {"acquired": True}
        assert client.post("/api/concurrency-slots/acquire",
                           json={"tags": ["db"], "holder": "h2"}).json() == {
            "acquired": False}
        assert client.get("/api/concurrency-limits").json()["items"][0]["active"] == 1
        assert client.delete("/api/concurrency-limits/db").status_code == 204
        assert client.delete("/api/concurrency-limits/db").status_code == 404

    def test_hyphenated_port_routes_reach_the_same_handlers(self, client: Any) -> None:
        assert client.post("/api/flow-runs/mark-late", json={}).json() == {
            "flow_run_ids": []}
        created = client.post("/api/flow-runs/create-scheduled", json={"flow_runs": []})
        assert created.json() == {"created": [], "skipped": 0}

    def test_a_run_id_that_exists_is_409(self, client: Any) -> None:
        run = {"id": "r" * 32, "flow_name": "etl", "name": "n", "state_type": "SCHEDULED",
               "state_name": "Scheduled", "state_ts": 1.0, "created_ts": 1.0}
        url = "/api/flow-runs/create-scheduled"
        assert client.post(url, json={"flow_runs": [run]}).json()["created"] == [run["id"]]
        assert client.post(url, json={"flow_runs": [run]}).status_code == 409
        assert client.post(url, json={"flow_runs": [run, run]}).status_code == 422


def test_a_memory_store_answers_501(make_client: Any) -> None:
    from orkest.store.memory import MemoryRunStore

    client = make_client(store=MemoryRunStore(), api_key="")
    response = client.get("/api/deployments")
    assert response.status_code == 501 and "SQLite" in response.json()["detail"]
