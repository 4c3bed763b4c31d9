"""Variables and secrets through orkest.config on a real SQLite store, and every bad input
of a secret: missing, wrong key, malformed key, open key file, environment override."""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from orkest._internal import masking
from orkest.config import Secret, Variable
from orkest.errors import SecretKeyError, SecretNotFound
from orkest.store import crypto, open_store

CANARY = "canary-7f3a-do-not-leak"


@pytest.fixture(autouse=True)
def no_key_from_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(crypto.KEY_ENV, raising=False)
    masking.reset()
    yield
    masking.reset()


def fresh_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def stored_secret_rows(home: Path) -> list[tuple[str, bytes, str]]:
    with sqlite3.connect(home / "orkest.db") as db:
        return [(name, bytes(blob), key) for name, blob, key in db.execute(
            "SELECT name, ciphertext, key_id FROM secrets ORDER BY name")]


# -- variables --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [500, 2.5, "text", True, None, [1, "a"], {"a": {"b": [1]}}])
def test_variables_keep_json_values(value: object) -> None:
    Variable.set("v", value)
    assert Variable.get("v", default="unset") == value


def test_a_missing_variable_gives_the_default_and_set_replaces() -> None:
    assert Variable.get("absent") is None
    assert Variable.get("absent", default=7) == 7
    Variable.set("n", 1)
    Variable.set("n", 2)
    assert Variable.get("n") == 2
    Variable.delete("n")
    assert Variable.get("n", default="gone") == "gone"


@pytest.mark.parametrize("value", [float("nan"), {1, 2}, object()])
def test_a_value_that_is_not_json_is_refused_naming_the_variable(value: object) -> None:
    with pytest.raises(ValueError, match="Variable 'bad': the value must be JSON"):
        Variable.set("bad", value)
    assert Variable.get("bad") is None


@pytest.mark.parametrize("name", ["", "has space", "1starts-with-digit", "x" * 201, 5])
def test_bad_names_are_refused_saying_what_a_name_may_hold(name: object) -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        Variable.set(name, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="letters, digits"):
        Secret(name)  # type: ignore[arg-type]


# -- secrets: the happy path ------------------------------------------------------------


def test_the_key_file_is_made_with_mode_0600_on_first_use(orkest_home: Path) -> None:
    key_file = orkest_home / crypto.KEY_FILE
    Variable.set("not-a-secret", 1)
    assert not key_file.exists()  # variables need no key
    Secret.set("db-password", CANARY)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Secret("db-password").get() == CANARY
    assert CANARY.encode() not in (orkest_home / "orkest.db").read_bytes()
    [(name, blob, key_id)] = stored_secret_rows(orkest_home)
    assert name == "db-password" and CANARY.encode() not in blob
    assert key_id == crypto.current_key(create=False).id


def test_listing_secrets_never_holds_a_value() -> None:
    Secret.set("api-token", CANARY)
    [info] = open_store().list_secrets()
    assert info.name == "api-token" and info.updated_ts >= info.created_ts
    assert CANARY not in repr(info)


def test_a_value_read_is_masked_from_then_on() -> None:
    Secret.set("api-token", CANARY)
    masking.reset()  # as in a fresh process that only reads it
    assert masking.mask(f"token={CANARY}") == f"token={CANARY}"
    Secret("api-token").get()
    assert masking.mask(f"token={CANARY}") == "token=***"


def test_the_environment_overrides_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    Secret.set("db-password", "from-the-store")
    monkeypatch.setenv("ORKEST_SECRET_DB_PASSWORD", "from-the-environment")
    assert Secret("db-password").get() == "from-the-environment"
    assert masking.mask("x from-the-environment") == "x ***"


def test_an_environment_override_needs_neither_the_store_nor_a_key(
        orkest_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORKEST_SECRET_ONLY_IN_ENV", "env-value")
    monkeypatch.setenv(crypto.KEY_ENV, "not a key")  # would fail if the store were asked
    assert Secret("only.in-env").get() == "env-value"
    assert not (orkest_home / crypto.KEY_FILE).exists()


# -- secrets: bad input -----------------------------------------------------------------


def test_a_missing_secret_names_it_and_says_how_to_set_it() -> None:
    with pytest.raises(SecretNotFound) as info:
        Secret("warehouse-password").get()
    message = str(info.value)
    assert "'warehouse-password'" in message
    assert "orkest secret set warehouse-password" in message
    assert "ORKEST_SECRET_WAREHOUSE_PASSWORD" in message


def test_a_wrong_key_decrypts_nothing_and_loses_nothing(
        orkest_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    right, wrong = fresh_key(), fresh_key()
    right_id = crypto.key_id(crypto.decode_key(right, "test"))
    wrong_id = crypto.key_id(crypto.decode_key(wrong, "test"))
    monkeypatch.setenv(crypto.KEY_ENV, right)
    Secret.set("db-password", CANARY)
    before = stored_secret_rows(orkest_home)
    masking.reset()

    monkeypatch.setenv(crypto.KEY_ENV, wrong)
    with pytest.raises(SecretKeyError) as info:
        Secret("db-password").get()
    message = str(info.value)
    assert right_id in message and wrong_id in message and crypto.KEY_ENV in message
    assert "Nothing was decrypted" in message and CANARY not in message
    assert masking.registered() == frozenset()  # no plaintext reached this process
    # Writing with the wrong key would strand the value: a rotation refuses too.
    with pytest.raises(SecretKeyError):
        open_store().rotate_secret_key(crypto.new_key())
    assert stored_secret_rows(orkest_home) == before

    monkeypatch.setenv(crypto.KEY_ENV, right)
    assert Secret("db-password").get() == CANARY


def test_a_malformed_key_in_the_environment_is_named_and_nothing_is_stored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("too-short", "%%%% not base64 %%%%", base64.urlsafe_b64encode(b"x" * 31).decode()):
        monkeypatch.setenv(crypto.KEY_ENV, bad)
        with pytest.raises(SecretKeyError, match="ORKEST_SECRET_KEY is not valid: it must "
                                                 "be 32 bytes"):
            Secret.set("db-password", CANARY)
    assert open_store().list_secrets() == []


def test_a_malformed_key_file_is_named(orkest_home: Path) -> None:
    key_file = orkest_home / crypto.KEY_FILE
    orkest_home.mkdir(parents=True, exist_ok=True)
    crypto.write_key_file(key_file, b"k" * 32)
    key_file.write_text("garbage\n")
    with pytest.raises(SecretKeyError, match=f"{key_file} is not valid"):
        Secret.set("db-password", CANARY)


def test_a_key_file_readable_by_others_is_refused_with_the_chmod_hint(
        orkest_home: Path) -> None:
    Secret.set("db-password", CANARY)
    key_file = orkest_home / crypto.KEY_FILE
    key_file.chmod(0o644)
    with pytest.raises(SecretKeyError) as info:
        Secret("db-password").get()
    assert f"chmod 600 {key_file}" in str(info.value) and "644" in str(info.value)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        Secret.set("other", "value-2")
    key_file.chmod(0o600)
    assert Secret("db-password").get() == CANARY
    assert [s.name for s in open_store().list_secrets()] == ["db-password"]


def test_a_value_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ValueError, match="Secret 'n': the value must be a string, not int"):
        Secret.set("n", 5)  # type: ignore[arg-type]
