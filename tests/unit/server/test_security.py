"""The API key, CORS, request hygiene, and which database the server serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orkest.errors import ConfigurationError
from orkest.server import create_app

KEY = "s3cret-key-for-tests"


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(make_client: Any) -> Any:
    return make_client(api_key=KEY)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/flow_runs"), ("GET", "/api/flows"), ("GET", "/api/flow_runs/abcd"),
    ("POST", "/api/batches"), ("POST", "/api/flow_runs/abcd/cancel"),
    ("GET", "/api/results/preview?ref=inline:json:1"), ("GET", "/metrics"),
    ("GET", "/api/no/such/route"), ("GET", "/api/flow-runs"),
])
def test_every_api_route_and_metrics_need_the_key(keyed: Any, method: str, path: str) -> None:
    missing = keyed.request(method, path)
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["detail"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = keyed.request(method, path, headers=auth("not-the-key"))
    assert wrong.status_code == 401
    assert "invalid_token" in wrong.headers["www-authenticate"]
    assert keyed.request(method, path, headers={"Authorization": KEY}).status_code == 401
    right = keyed.request(method, path, headers=auth())
    assert right.status_code != 401


def test_the_key_is_case_insensitive_in_its_scheme_only(keyed: Any) -> None:
    assert keyed.get("/api/flows", headers={"Authorization": f"bearer {KEY}"}).status_code == 200
    assert keyed.get("/api/flows", headers=auth(KEY.upper())).status_code == 401


def test_health_docs_and_the_ui_need_no_key(keyed: Any) -> None:
    assert keyed.get("/api/health").json()["status"] == "ok"
    document = keyed.get("/api/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/api/flow_runs"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/api/health"]["get"]
    assert keyed.get("/api/docs").status_code == 200
    assert keyed.get("/").status_code == 200


def test_the_key_comes_from_the_environment(make_client: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_API_KEY", KEY)
    client = make_client()
    assert client.get("/api/flows").status_code == 401
    assert client.get("/api/flows", headers=auth()).status_code == 200
    assert make_client(api_key="").get("/api/flows").status_code == 200


def test_cors_answers_only_listed_origins(make_client: Any) -> None:
    client = make_client(api_key="", cors_origins=["https://ops.example.com"])
    allowed = client.get("/api/flows", headers={"Origin": "https://ops.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://ops.example.com"
    other = client.get("/api/flows", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options("/api/flows", headers={
        "Origin": "https://ops.example.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    plain = make_client(api_key="")
    assert "access-control-allow-origin" not in plain.get(
        "/api/flows", headers={"Origin": "https://ops.example.com"}).headers


def test_cors_refuses_a_wildcard_and_reads_the_environment(
        monkeypatch: pytest.MonkeyPatch, make_client: Any) -> None:
    with pytest.raises(ConfigurationError, match="wildcard"):
        create_app(cors_origins=["*"])
    monkeypatch.setenv("ORKEST_API_CORS_ORIGINS", "https://a.example, https://b.example/")
    client = make_client(api_key="")
    assert client.get("/api/flows", headers={"Origin": "https://b.example"}).headers[
        "access-control-allow-origin"] == "https://b.example"
    monkeypatch.setenv("ORKEST_API_CORS_ORIGINS", "https://*.example.com")
    with pytest.raises(ConfigurationError, match="wildcard"):
        create_app()


def test_the_body_limit_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_API_MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigurationError, match="ORKEST_API_MAX_BODY_BYTES"):
        create_app()
    monkeypatch.setenv("ORKEST_API_MAX_BODY_BYTES", "10")
    with pytest.raises(ConfigurationError, match="at least 1024"):
        create_app()


def test_a_nul_in_the_path_or_query_is_422(client: Any) -> None:
    assert client.get("/api/flow_runs/ab%00cd").status_code == 422
    assert client.get("/api/flow_runs?flow_name=a%00b").status_code == 422


def test_the_server_serves_its_database_even_with_orkest_api_url_set(
        make_client: Any, monkeypatch: pytest.MonkeyPatch, orkest_home: Path) -> None:
    monkeypatch.setenv("ORKEST_API_URL", "http://127.0.0.1:9/api")  # nothing listens there
    client = make_client(api_key="")
    assert client.get("/api/flow_runs").json()["total"] == 0
    assert (orkest_home / "orkest.db").exists()
    with pytest.raises(ConfigurationError, match="needs a database"):
        create_app(database_url="http://127.0.0.1:9/api")
