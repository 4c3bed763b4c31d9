"""Variables, secrets and blocks over HTTP: what each route answers, and that no answer
but /reveal and /load ever carries a secret value (searched for in the raw text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orkest.store import crypto
from orkest.store.memory import MemoryRunStore

CANARY = "canary-Hx81-never-shown"
KEY = "s3cret-api-key"


def _no_canary(*responses: Any) -> None:
    for response in responses:
        assert CANARY not in response.text, f"{response.request.url}: {response.text}"


# -- variables -------------------------------------------------------------------------------

def test_variable_crud(client: Any) -> None:
    put = client.put("/api/variables/batch_size", json={"value": {"rows": 500, "x": [1]}})
    assert put.status_code == 200
    assert put.json()["value"] == {"rows": 500, "x": [1]}
    client.put("/api/variables/alpha", json={"value": None})
    listed = client.get("/api/variables").json()
    assert [v["name"] for v in listed["items"]] == ["alpha", "batch_size"]
    assert listed["total"] == 2 and listed["items"][0]["value"] is None
    assert client.get("/api/variables/batch_size").json()["value"]["rows"] == 500
    assert client.delete("/api/variables/batch_size").status_code == 204
    missing = client.get("/api/variables/batch_size")
    assert missing.status_code == 404
    assert "orkest variable set batch_size" in missing.json()["detail"]
    assert client.delete("/api/variables/batch_size").status_code == 404


def test_variable_total_counts_past_the_page(client: Any) -> None:
    for i in range(5):
        client.put(f"/api/variables/v{i}", json={"value": i})
    page = client.get("/api/variables", params={"limit": 2, "offset": 1}).json()
    assert [v["name"] for v in page["items"]] == ["v1", "v2"]
    assert page["total"] == 5


@pytest.mark.parametrize("method,path", [
    ("PUT", "/api/variables/bad name"), ("GET", "/api/variables/1st"),
    ("PUT", "/api/secrets/has space"), ("POST", "/api/secrets/9lives/reveal"),
    ("GET", "/api/blocks/data base/main"), ("PUT", "/api/blocks/database/-x"),
])
def test_bad_names_are_422_naming_them(client: Any, method: str, path: str) -> None:
    body = {"value": "v"} if method == "PUT" and "blocks" not in path else {"data": {}}
    response = client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert "Invalid" in response.json()["detail"] and "name" in response.json()["detail"]


def test_variable_value_must_be_json(client: Any) -> None:
    response = client.put("/api/variables/ratio", content=b'{"value": NaN}',
                          headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "ratio" in response.json()["detail"]
    missing = client.put("/api/variables/ratio", json={})
    assert missing.status_code == 422 and "value" in missing.json()["detail"]


# -- secrets ---------------------------------------------------------------------------------

def test_secret_is_never_in_a_listing_or_an_answer(client: Any) -> None:
    put = client.put("/api/secrets/warehouse", json={"value": CANARY})
    assert put.status_code == 200
    assert put.json()["value"] == "***" and put.json()["name"] == "warehouse"
    listed = client.get("/api/secrets")
    item = listed.json()["items"][0]
    assert item["name"] == "warehouse" and item["value"] == "***"
    assert item["updated_ts"] >= item["created_ts"] > 0
    _no_canary(put, listed, client.get("/api/openapi.json"))

    revealed = client.post("/api/secrets/warehouse/reveal")
    assert revealed.json() == {"value": CANARY}

    assert client.delete("/api/secrets/warehouse").status_code == 204
    assert client.get("/api/secrets").json() == {"items": [], "total": 0}


def test_missing_secret_is_404_saying_how_to_set_it(client: Any) -> None:
    response = client.post("/api/secrets/db-password/reveal")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "orkest secret set db-password" in detail and "ORKEST_SECRET_DB_PASSWORD" in detail
    assert client.delete("/api/secrets/db-password").status_code == 404


def test_secret_value_must_be_text_and_is_not_echoed(client: Any) -> None:
    response = client.put("/api/secrets/pin", json={"value": 987654321})
    assert response.status_code == 422
    assert "987654321" not in response.text


def test_wrong_key_is_409_and_decrypts_nothing(client: Any, store: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    client.put("/api/secrets/token", json={"value": CANARY})
    client.put("/api/blocks/database/main", json={
        "data": {"url": "x"}, "secrets": {"password": CANARY}, "secret_fields": ["password"]})
    monkeypatch.setenv("ORKEST_SECRET_KEY", crypto.encode_key(crypto.new_key()))
    answers = [client.post("/api/secrets/token/reveal"),
               client.post("/api/blocks/database/main/load"),
               client.post("/api/secrets/rotate-key", json={})]
    for response in answers:
        assert response.status_code == 409, response.text
        assert "Nothing was decrypted" in response.json()["detail"] or \
            "ORKEST_SECRET_KEY" in response.json()["detail"]
    _no_canary(*answers)
    monkeypatch.delenv("ORKEST_SECRET_KEY")
    assert client.post("/api/secrets/token/reveal").json() == {"value": CANARY}


def test_rotate_key_file_on_the_server(client: Any) -> None:
    client.put("/api/secrets/a", json={"value": "one"})
    client.put("/api/secrets/b", json={"value": CANARY})
    before = {s["key_id"] for s in client.get("/api/secrets").json()["items"]}
    rotated = client.post("/api/secrets/rotate-key")
    assert rotated.json() == {"reencrypted": 2}
    after = {s["key_id"] for s in client.get("/api/secrets").json()["items"]}
    assert len(after) == 1 and after != before
    assert client.post("/api/secrets/b/reveal").json() == {"value": CANARY}
    # A new key given to a server whose key is a file would be lost: refused.
    given = client.post("/api/secrets/rotate-key",
                        json={"new_key": crypto.encode_key(crypto.new_key())})
    assert given.status_code == 422 and "ORKEST_SECRET_KEY" in given.json()["detail"]
    assert client.post("/api/secrets/b/reveal").json() == {"value": CANARY}


def test_rotate_key_from_the_environment_needs_the_new_key(
        client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_SECRET_KEY", crypto.encode_key(crypto.new_key()))
    client.put("/api/secrets/a", json={"value": CANARY})
    refused = client.post("/api/secrets/rotate-key", json={})
    assert refused.status_code == 409 and "--new-key" in refused.json()["detail"]
    bad = client.post("/api/secrets/rotate-key", json={"new_key": "short"})
    assert bad.status_code == 409 and "32 bytes" in bad.json()["detail"]

    new = crypto.encode_key(crypto.new_key())
    assert client.post("/api/secrets/rotate-key", json={"new_key": new}).json() == {
        "reencrypted": 1}
    monkeypatch.setenv("ORKEST_SECRET_KEY", new)
    assert client.post("/api/secrets/a/reveal").json() == {"value": CANARY}


# -- blocks ----------------------------------------------------------------------------------

BLOCK = {"data": {"url": "postgresql://db/prod", "port": 5432},
         "secrets": {"password": CANARY}, "secret_fields": ["password"],
         "schema_version": "2"}


def test_block_routes_mask_secret_fields(client: Any) -> None:
    put = client.put("/api/blocks/database/prod", json=BLOCK)
    assert put.status_code == 200
    assert put.json()["secrets"] == {"password": "***"}
    one = client.get("/api/blocks/database/prod")
    assert one.json()["data"] == BLOCK["data"]
    assert one.json()["secrets"] == {"password": "***"}
    assert one.json()["schema_version"] == "2"
    assert "block_schema" in one.json()
    listed = client.get("/api/blocks")
    by_type = client.get("/api/blocks", params={"block_type": "database"})
    other_type = client.get("/api/blocks", params={"block_type": "webhook"})
    assert [b["name"] for b in by_type.json()["items"]] == ["prod"]
    assert other_type.json() == {"items": [], "total": 0}
    _no_canary(put, one, listed, by_type)

    loaded = client.post("/api/blocks/database/prod/load")
    assert loaded.json()["secrets"] == {"password": CANARY}


def test_block_overwrite_refused_with_409(client: Any) -> None:
    assert client.put("/api/blocks/database/prod", json=BLOCK).status_code == 200
    again = client.put("/api/blocks/database/prod", json={"data": {"url": "other"}})
    assert again.status_code == 409
    assert "overwrite" in again.json()["detail"]
    replaced = client.put("/api/blocks/database/prod", params={"overwrite": "true"},
                          json={"data": {"url": "other"}})
    assert replaced.status_code == 200 and replaced.json()["secret_fields"] == []
    assert client.get("/api/blocks/database/prod").json()["data"] == {"url": "other"}


def test_block_missing_and_delete(client: Any) -> None:
    missing = client.get("/api/blocks/database/nope")
    assert missing.status_code == 404 and "database/nope" in missing.json()["detail"]
    assert client.post("/api/blocks/database/nope/load").status_code == 404
    client.put("/api/blocks/database/prod", json=BLOCK)
    assert client.delete("/api/blocks/database/prod").status_code == 204
    assert client.delete("/api/blocks/database/prod").status_code == 404


# -- every route: the key, and stores without configuration -----------------------------------

ROUTES = [("GET", "/api/variables"), ("PUT", "/api/variables/x"), ("GET", "/api/secrets"),
          ("PUT", "/api/secrets/x"), ("POST", "/api/secrets/x/reveal"),
          ("POST", "/api/secrets/rotate-key"), ("GET", "/api/blocks"),
          ("POST", "/api/blocks/t/x/load"), ("DELETE", "/api/blocks/t/x")]


def test_every_route_needs_the_key(make_client: Callable[..., Any]) -> None:
    client = make_client(api_key=KEY)
    client.put("/api/secrets/x", json={"value": CANARY},
               headers={"authorization": f"Bearer {KEY}"})
    for method, path in ROUTES:
        refused = client.request(method, path, json={"value": "v"})
        assert refused.status_code == 401, (method, path)
        wrong = client.request(method, path, json={"value": "v"},
                               headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401, (method, path)
        _no_canary(refused, wrong)
    revealed = client.post("/api/secrets/x/reveal", headers={"authorization": f"Bearer {KEY}"})
    assert revealed.json() == {"value": CANARY}


def test_memory_store_answers_501(make_client: Callable[..., Any]) -> None:
    client = make_client(store=MemoryRunStore(), api_key="")
    for method, path in ROUTES:
        response = client.request(method, path, json={"value": "v"})
        assert response.status_code == 501, (method, path, response.text)
        assert "ORKEST_DATABASE_URL" in response.json()["detail"]


def test_block_of_a_known_class_comes_with_its_schema(client: Any) -> None:
    from orkest.config import DatabaseConnection

    client.put(f"/api/blocks/{DatabaseConnection.block_type}/warehouse", json={"data": {}})
    known = client.get(f"/api/blocks/{DatabaseConnection.block_type}/warehouse").json()
    assert set(DatabaseConnection.model_fields) <= set(known["block_schema"]["properties"])
    client.put("/api/blocks/home-made/x", json={"data": {}})
    assert client.get("/api/blocks/home-made/x").json()["block_schema"] is None
