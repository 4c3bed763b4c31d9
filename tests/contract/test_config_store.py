"""The ConfigStore contract: one suite on SQLite, PostgreSQL and the HTTP client.

The remote backend is RemoteRunStore against a real server subprocess (conftest.py's
live_server, whose key file lives in its own home). The memory store holds no
configuration, so it is not a backend here. Every test starts with empty configuration
tables; a secret "written under another key" is written straight into the same database
by a SQL store whose key file lives elsewhere.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orkest.core.config_records import Automation, BlockRecord
from orkest.errors import BlockError, ObjectNotFound, SecretKeyError, SecretNotFound

BACKENDS = ["sqlite", "postgresql", "remote"]
CONFIG_TABLES = ("variables", "secrets", "blocks", "automation_firings", "automations")
CANARY = "canary-Zq7-do-not-show"


@dataclass
class Backend:
    store: Any
    database_url: str  # the database behind it (the server's, for the remote store)


def _empty(engine: Any) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        for table in CONFIG_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    from orkest.store.sql.store import SqlRunStore

    if request.param == "remote":
        from orkest.client import RemoteRunStore

        server = request.getfixturevalue("live_server")
        server.truncate()
        _empty(server._direct._engine)
        found = Backend(RemoteRunStore(server.url), server.database_url)
    else:
        url = (f"sqlite:///{tmp_path / 'orkest.db'}" if request.param == "sqlite"
               else request.getfixturevalue("postgres_url"))
        found = Backend(SqlRunStore(url), url)
        _empty(found.store._engine)
    yield found
    found.store.close()


@pytest.fixture
def store(backend: Backend) -> Any:
    return backend.store


def _other_key_store(backend: Backend, home: Path) -> Any:
    """A SQL store on the same database whose secret key is another one."""
    from orkest.store.sql.store import SqlRunStore

    other = SqlRunStore(backend.database_url)
    other.key_home = home
    return other


# -- variables -------------------------------------------------------------------------------

JSON_VALUES = {"text": "héllo {{ x }}", "integer": 42, "real": 2.5, "yes": True, "no": False,
               "nothing": None, "items": [1, "two", [3], {"four": 4}],
               "mapping": {"nested": {"list": [None, 1.5]}, "empty": {}}}


def test_variables_keep_every_json_type(store: Any) -> None:
    for name, value in JSON_VALUES.items():
        saved = store.set_variable(name, value, 100.0)
        assert (saved.name, saved.value) == (name, value)
    for name, value in JSON_VALUES.items():
        assert store.read_variable(name).value == value
    listed = store.list_variables()
    assert [v.name for v in listed] == sorted(JSON_VALUES)
    assert {v.name: v.value for v in listed} == JSON_VALUES


def test_variable_replace_keeps_its_creation_time(store: Any) -> None:
    first = store.set_variable("batch", 1, time.time())
    time.sleep(0.01)  # the remote store stamps with the server's clock
    second = store.set_variable("batch", {"size": 2}, time.time() + 1)
    assert second.value == {"size": 2}
    assert second.created_ts == first.created_ts
    assert second.updated_ts > first.updated_ts
    assert store.read_variable("batch").value == {"size": 2}


def test_variables_page_and_delete(store: Any) -> None:
    for i in range(7):
        store.set_variable(f"v{i}", i, 1.0)
    assert [v.name for v in store.list_variables(limit=3, offset=2)] == ["v2", "v3", "v4"]
    assert [v.name for v in store.list_variables(limit=10, offset=5)] == ["v5", "v6"]
    store.delete_variable("v3")
    with pytest.raises(ObjectNotFound, match="v3"):
        store.read_variable("v3")
    with pytest.raises(ObjectNotFound, match="v3"):
        store.delete_variable("v3")
    assert len(store.list_variables()) == 6


# -- secrets ---------------------------------------------------------------------------------

def test_secret_set_reveal_list_delete(store: Any) -> None:
    info = store.set_secret("warehouse-password", CANARY, 100.0)
    assert info.name == "warehouse-password"
    assert not hasattr(info, "value")
    assert store.read_secret_value("warehouse-password") == CANARY
    listed = store.list_secrets()
    assert [s.name for s in listed] == ["warehouse-password"]
    assert CANARY not in repr(listed)

    replaced = store.set_secret("warehouse-password", "second", time.time() + 5)
    assert replaced.created_ts == listed[0].created_ts
    assert store.read_secret_value("warehouse-password") == "second"

    store.delete_secret("warehouse-password")
    assert store.list_secrets() == []
    with pytest.raises(ObjectNotFound, match="warehouse-password"):
        store.delete_secret("warehouse-password")


def test_missing_secret_says_how_to_set_it(store: Any) -> None:
    with pytest.raises(SecretNotFound) as caught:
        store.read_secret_value("api-token")
    message = str(caught.value)
    assert "orkest secret set api-token" in message
    assert "ORKEST_SECRET_API_TOKEN" in message


def test_secret_values_of_any_text(store: Any) -> None:
    values = {"empty": "", "unicode": "pässwörd ✓ 🔑", "long": "x" * 20_000,
              "lines": "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"}
    for name, value in values.items():
        store.set_secret(name, value, 1.0)
    for name, value in values.items():
        assert store.read_secret_value(name) == value


def test_rotation_reencrypts_everything_and_keeps_values(store: Any) -> None:
    store.set_secret("one", "first value", 1.0)
    store.set_secret("two", CANARY, 1.0)
    store.save_block(BlockRecord("database", "main", {"url": "postgres://db"}, ["password"],
                                 "1", 0.0, 0.0, secrets={"password": "pw-1"}),
                     overwrite=False, now=1.0)
    before = {s.name: s.key_id for s in store.list_secrets()}

    assert store.rotate_secret_key() == 3

    after = {s.name: s.key_id for s in store.list_secrets()}
    assert after.keys() == before.keys()
    assert all(after[name] != before[name] for name in before)
    assert store.read_secret_value("one") == "first value"
    assert store.read_secret_value("two") == CANARY
    assert store.read_block("database", "main", with_secrets=True).secrets == {
        "password": "pw-1"}
    store.set_secret("three", "after rotation", 2.0)  # the new key is the one in force
    assert {s.key_id for s in store.list_secrets()} == set(after.values())


def test_wrong_key_decrypts_nothing_and_says_so(backend: Backend, tmp_path: Path) -> None:
    other = _other_key_store(backend, tmp_path / "other-home")
    try:
        other.set_secret("foreign", CANARY, 1.0)
    finally:
        other.close()
    with pytest.raises(SecretKeyError) as caught:
        backend.store.read_secret_value("foreign")
    assert "ORKEST_SECRET_KEY" in str(caught.value)
    assert CANARY not in str(caught.value)
    assert [s.name for s in backend.store.list_secrets()] == ["foreign"]


# -- blocks ----------------------------------------------------------------------------------

def _block(name: str = "main", **changes: Any) -> BlockRecord:
    values: dict[str, Any] = {"block_type": "database", "name": name,
                              "data": {"url": "postgres://db/prod", "pool": 5},
                              "secret_fields": ["password"], "schema_version": "1",
                              "created_ts": 0.0, "updated_ts": 0.0,
                              "secrets": {"password": CANARY}}
    values.update(changes)
    return BlockRecord(**values)


def test_block_save_load_and_list_masked(store: Any) -> None:
    saved = store.save_block(_block(), overwrite=False, now=10.0)
    assert saved.data == {"url": "postgres://db/prod", "pool": 5}
    assert saved.secret_fields == ["password"]
    assert saved.secrets is None

    loaded = store.read_block("database", "main", with_secrets=True)
    assert loaded.secrets == {"password": CANARY}
    assert loaded.schema_version == "1"

    inspected = store.read_block("database", "main")
    assert inspected.secrets is None
    listed = store.list_blocks()
    assert [(b.block_type, b.name) for b in listed] == [("database", "main")]
    assert CANARY not in repr(listed) and CANARY not in repr(inspected)


def test_block_overwrite_is_refused_unless_asked(store: Any) -> None:
    store.save_block(_block(), overwrite=False, now=10.0)
    with pytest.raises(BlockError, match="overwrite"):
        store.save_block(_block(data={"url": "other"}), overwrite=False, now=11.0)
    assert store.read_block("database", "main").data["url"] == "postgres://db/prod"

    replaced = store.save_block(_block(data={"url": "new"}, schema_version="2",
                                       secrets={"password": "pw-2"}),
                                overwrite=True, now=12.0)
    assert replaced.data == {"url": "new"}
    assert replaced.schema_version == "2"
    assert store.read_block("database", "main", with_secrets=True).secrets == {
        "password": "pw-2"}


def test_blocks_by_type_and_delete(store: Any) -> None:
    store.save_block(_block("b"), overwrite=False, now=1.0)
    store.save_block(_block("a"), overwrite=False, now=1.0)
    store.save_block(_block("ops", block_type="webhook", data={"url": "http://hook"},
                            secret_fields=[], secrets={}), overwrite=False, now=1.0)
    assert [(b.block_type, b.name) for b in store.list_blocks()] == [
        ("database", "a"), ("database", "b"), ("webhook", "ops")]
    assert [b.name for b in store.list_blocks(block_type="webhook")] == ["ops"]
    assert store.read_block("webhook", "ops", with_secrets=True).secrets == {}

    store.delete_block("database", "a")
    with pytest.raises(ObjectNotFound, match="database/a"):
        store.read_block("database", "a")
    with pytest.raises(ObjectNotFound, match="database/a"):
        store.delete_block("database", "a")
    assert [b.name for b in store.list_blocks(block_type="database")] == ["b"]


# -- automations ---------------------------------------------------------------------------

def _automation(name: str, **changes: Any) -> Automation:
    values: dict[str, Any] = {"id": uuid.uuid4().hex, "name": name, "block_type": "webhook",
                              "block_name": "ops", "created_ts": 100.0, "flow_name": "etl",
                              "message": "{{ flow_run.name }} ended {{ state }}"}
    values.update(changes)
    return Automation(**values)


def test_automations_save_list_cursor_delete(store: Any) -> None:
    failing = store.save_automation(_automation("on-failure"))
    slow = store.save_automation(_automation("too-long", states=[], running_longer_than=600.0,
                                             enabled=False))
    listed = store.list_automations()
    assert [a.name for a in listed] == ["on-failure", "too-long"]
    assert listed[0] == failing
    assert listed[1].running_longer_than == 600.0
    assert [a.id for a in store.list_automations(enabled=True)] == [failing.id]
    assert [a.id for a in store.list_automations(enabled=False)] == [slow.id]

    store.set_automation_cursor(failing.id, 1234.5)
    assert store.list_automations(enabled=True)[0].last_checked_ts == 1234.5

    failing.message = "changed"
    store.save_automation(failing)
    assert store.list_automations(enabled=True)[0].message == "changed"

    store.delete_automation(slow.id)
    assert [a.id for a in store.list_automations()] == [failing.id]
    with pytest.raises(ObjectNotFound):
        store.delete_automation(slow.id)


def test_automation_firing_is_claimed_once(store: Any) -> None:
    from orkest.core.config_records import AutomationFiring

    rule = store.save_automation(_automation("on-failure"))
    first = AutomationFiring(rule.id, "run-1", "FAILED:1", 10.0)
    assert store.claim_automation_firing(first) is True
    assert store.claim_automation_firing(AutomationFiring(rule.id, "run-1", "FAILED:1",
                                                          11.0)) is False
    assert store.claim_automation_firing(AutomationFiring(rule.id, "run-1", "FAILED:2",
                                                          12.0)) is True
    kinds = [f.kind for f in store.list_automation_firings(rule.id)]
    assert kinds == ["FAILED:2", "FAILED:1"]
    assert [f.kind for f in store.list_automation_firings(limit=1)] == ["FAILED:2"]
