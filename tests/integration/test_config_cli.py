"""`orkest variable ...` and `orkest secret ...` as people use them: real subprocesses on a
fresh ORKEST_HOME (one per test), read back through orkest.config in this process."""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orkest._internal import masking
from orkest.config import Secret, Variable
from orkest.errors import SecretKeyError
from orkest.store import crypto, open_store

pytestmark = pytest.mark.timeout(120)

COMMAND = [sys.executable, "-m", "orkest.cli.main"]
CANARY = "canary-91d2-never-shown"


@pytest.fixture(autouse=True)
def no_key_from_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(crypto.KEY_ENV, raising=False)
    masking.reset()
    yield
    masking.reset()


def orkest(*args: str, stdin: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    full_env.update(env or {})
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=60,
                          input=stdin if stdin is not None else "", env=full_env)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert CANARY not in result.stdout + result.stderr
    return result.stdout


def fresh_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# -- variables --------------------------------------------------------------------------


def test_variable_set_get_ls_rm() -> None:
    assert "set to 500" in ok(orkest("variable", "set", "batch-size", "500"))
    ok(orkest("variable", "set", "region", "eu-west-1"))  # not JSON: a string
    ok(orkest("variable", "set", "code", '"007"'))  # JSON string: keeps its zeros
    ok(orkest("variable", "set", "cfg", '{"hosts": ["a", "b"], "tls": true}', "--json"))
    assert Variable.get("batch-size") == 500 and Variable.get("region") == "eu-west-1"
    assert Variable.get("code") == "007"
    assert Variable.get("cfg") == {"hosts": ["a", "b"], "tls": True}

    assert json.loads(ok(orkest("variable", "get", "cfg"))) == {"hosts": ["a", "b"],
                                                               "tls": True}
    assert ok(orkest("variable", "get", "region")) == '"eu-west-1"\n'
    assert ok(orkest("variable", "get", "region", "--raw")) == "eu-west-1\n"

    rows = json.loads(ok(orkest("variable", "ls", "--json")))
    assert [r["name"] for r in rows] == ["batch-size", "cfg", "code", "region"]
    assert rows[0]["value"] == 500 and rows[0]["updated_ts"].endswith("Z")
    table = ok(orkest("variable", "ls"))
    assert "Updated" in table
    cfg_line = next(line for line in table.splitlines() if " cfg " in line)
    assert '{"hosts": ["a", "b"], "tls": true}' in cfg_line

    assert "removed" in ok(orkest("variable", "rm", "cfg"))
    assert Variable.get("cfg") is None
    gone = orkest("variable", "rm", "cfg")
    assert gone.returncode == 1 and "No variable 'cfg'" in gone.stderr


def test_long_values_are_shortened_in_the_table() -> None:
    Variable.set("big", ["x" * 50] * 10)
    line = next(r for r in ok(orkest("variable", "ls")).splitlines() if " big " in r)
    assert "..." in line and len(line) < 150


def test_variable_bad_input() -> None:
    missing = orkest("variable", "get", "nowhere")
    assert missing.returncode == 1
    assert "No variable 'nowhere'" in missing.stderr
    assert "orkest variable set nowhere VALUE" in missing.stderr

    not_json = orkest("variable", "set", "cfg", "{oops", "--json")
    assert not_json.returncode == 2 and "--json: '{oops' is not valid JSON" in not_json.stderr
    assert Variable.get("cfg") is None

    bad_name = orkest("variable", "set", "has space", "1")
    assert bad_name.returncode == 2 and "Invalid variable name 'has space'" in bad_name.stderr
    assert "Traceback" not in missing.stderr + not_json.stderr + bad_name.stderr
    assert "No variables" in ok(orkest("variable", "ls"))


# -- secrets ----------------------------------------------------------------------------


def test_secret_set_from_stdin_lists_masked_and_makes_a_private_key(
        orkest_home: Path) -> None:
    key_file = orkest_home / crypto.KEY_FILE
    assert not key_file.exists()
    ok(orkest("secret", "set", "db-password", stdin=CANARY + "\n"))
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Secret("db-password").get() == CANARY  # the final newline was dropped
    ok(orkest("secret", "set", "api-token", "--value", "token-from-option"))

    listed = json.loads(ok(orkest("secret", "ls", "--json")))
    assert [(s["name"], s["value"]) for s in listed] == [("api-token", "***"),
                                                         ("db-password", "***")]
    assert listed[0]["updated_ts"].endswith("Z")
    table = ok(orkest("secret", "ls"))
    assert "Last changed" in table and "token-from-option" not in table
    line = next(r for r in table.splitlines() if " db-password " in r)
    assert "***" in line
    assert CANARY.encode() not in (orkest_home / "orkest.db").read_bytes()

    ok(orkest("secret", "rm", "api-token"))
    assert [s.name for s in open_store().list_secrets()] == ["db-password"]
    gone = orkest("secret", "rm", "api-token")
    assert gone.returncode == 1 and "No secret 'api-token'" in gone.stderr


def test_secret_set_refuses_an_empty_value() -> None:
    empty = orkest("secret", "set", "db-password", stdin="\n")
    assert empty.returncode == 2 and "the value is empty" in empty.stderr
    assert open_store().list_secrets() == []


# Makes its stdin (a pty) the controlling terminal, then becomes the command.
AS_TERMINAL = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
               "os.execv(sys.argv[1], sys.argv[1:])")


def test_secret_set_prompts_twice_without_echo_at_a_terminal() -> None:
    """A real pseudo-terminal as the controlling terminal: the value is typed twice."""
    fd, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", AS_TERMINAL, *COMMAND, "secret", "set", "tty-secret"],
        stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True)
    os.close(terminal)
    seen = b""
    try:
        for _ in range(2):
            seen = read_until(fd, seen, b": ")
            os.write(fd, CANARY.encode() + b"\n")
            seen += b"|"  # the next prompt comes after this mark
        seen = read_until(fd, seen, b"set (encrypted")
    finally:
        code = child.wait(timeout=30)
        os.close(fd)
    assert code == 0, seen
    assert b"Value of secret 'tty-secret'" in seen and b"Repeat for confirmation" in seen
    assert CANARY.encode() not in seen  # not echoed
    assert Secret("tty-secret").get() == CANARY


def read_until(fd: int, seen: bytes, marker: bytes, timeout: float = 30) -> bytes:
    """Read the terminal until `marker` appears after the last '|' mark."""
    deadline = time.monotonic() + timeout
    while marker not in seen.rsplit(b"|", 1)[-1]:
        assert time.monotonic() < deadline, f"no {marker!r} in {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def test_rotate_key_with_the_key_file(orkest_home: Path) -> None:
    ok(orkest("secret", "set", "db-password", "--value", CANARY))
    key_file = orkest_home / crypto.KEY_FILE
    old_id = crypto.current_key(create=False).id
    out = ok(orkest("secret", "rotate-key"))
    new_id = crypto.current_key(create=False).id
    assert new_id != old_id
    assert f"Re-encrypted 1 value(s) with the new key {new_id}" in out
    assert key_file.read_text().strip() not in out
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not (orkest_home / crypto.NEW_KEY_FILE).exists()
    assert [s.key_id for s in open_store().list_secrets()] == [new_id]
    assert Secret("db-password").get() == CANARY


def test_rotate_key_with_the_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = fresh_key(), fresh_key()
    ok(orkest("secret", "set", "db-password", "--value", CANARY,
              env={crypto.KEY_ENV: old}))

    refused = orkest("secret", "rotate-key", env={crypto.KEY_ENV: old})
    assert refused.returncode == 2
    assert "--new-key" in refused.stderr and "ORKEST_SECRET_KEY" in refused.stderr
    malformed = orkest("secret", "rotate-key", "--new-key", "short", env={crypto.KEY_ENV: old})
    assert malformed.returncode == 2 and "--new-key is not valid" in malformed.stderr

    out = ok(orkest("secret", "rotate-key", "--new-key", new, env={crypto.KEY_ENV: old}))
    new_id = crypto.key_id(crypto.decode_key(new, "test"))
    assert f"Re-encrypted 1 value(s) with the new key {new_id}" in out
    assert "set ORKEST_SECRET_KEY=" in out and new not in out and old not in out

    monkeypatch.setenv(crypto.KEY_ENV, new)
    assert Secret("db-password").get() == CANARY
    monkeypatch.setenv(crypto.KEY_ENV, old)
    with pytest.raises(SecretKeyError):
        Secret("db-password").get()


def test_rotate_key_with_a_wrong_key_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    right = fresh_key()
    ok(orkest("secret", "set", "db-password", "--value", CANARY,
              env={crypto.KEY_ENV: right}))
    before = open_store().list_secrets()
    wrong = orkest("secret", "rotate-key", "--new-key", fresh_key(),
                   env={crypto.KEY_ENV: fresh_key()})
    assert wrong.returncode == 1
    assert before[0].key_id in wrong.stderr and "Nothing was decrypted" in wrong.stderr
    assert CANARY not in wrong.stdout + wrong.stderr
    assert open_store().list_secrets() == before
    monkeypatch.setenv(crypto.KEY_ENV, right)
    assert Secret("db-password").get() == CANARY


def test_rotate_key_after_a_rotation_stopped_before_its_commit(orkest_home: Path) -> None:
    """A leftover secret.key.new that encrypted nothing is replaced; nothing is lost."""
    ok(orkest("secret", "set", "db-password", "--value", CANARY))
    crypto.write_key_file(orkest_home / crypto.NEW_KEY_FILE, crypto.new_key())
    out = ok(orkest("secret", "rotate-key"))
    assert "Re-encrypted 1 value(s)" in out and "interrupted" not in out
    assert not (orkest_home / crypto.NEW_KEY_FILE).exists()
    assert Secret("db-password").get() == CANARY


def test_rotate_key_after_a_rotation_stopped_after_its_commit(orkest_home: Path) -> None:
    """Values re-encrypted with secret.key.new, which was never renamed: the next use of
    the key finishes that rotation (the staged key is the one the values need), so nothing
    is lost and `rotate-key` then rotates as usual."""
    ok(orkest("secret", "set", "db-password", "--value", CANARY))
    staged = crypto.new_key()
    crypto.write_key_file(orkest_home / crypto.NEW_KEY_FILE, staged)
    open_store().rotate_secret_key(staged)  # the commit, without the rename after it
    assert Secret("db-password").get() == CANARY
    assert not (orkest_home / crypto.NEW_KEY_FILE).exists()
    assert crypto.current_key(create=False).id == crypto.key_id(staged)

    out = ok(orkest("secret", "rotate-key"))
    assert "Re-encrypted 1 value(s)" in out
    assert not (orkest_home / crypto.NEW_KEY_FILE).exists()
    assert Secret("db-password").get() == CANARY


def test_secret_commands_on_an_open_key_file_say_how_to_fix_it(orkest_home: Path) -> None:
    ok(orkest("secret", "set", "db-password", "--value", CANARY))
    (orkest_home / crypto.KEY_FILE).chmod(0o644)
    refused = orkest("secret", "set", "other", "--value", "other-value")
    assert refused.returncode == 1
    assert f"chmod 600 {orkest_home / crypto.KEY_FILE}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert orkest("secret", "rotate-key").returncode == 1
    assert [s.name for s in open_store().list_secrets()] == ["db-password"]


def test_the_same_verbs_through_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         orkest_home: Path) -> None:
    """With ORKEST_API_URL the CLI and `{{ var.x }}` use the server's store and its key."""
    from orkest.store import reset_stores
    from orkest.templating import render
    from unit.client.live_server import LiveServer

    live = LiveServer(tmp_path / "server").start()
    try:
        monkeypatch.setenv("ORKEST_API_URL", live.url)
        reset_stores()
        ok(orkest("variable", "set", "region", "eu-west-1"))
        assert ok(orkest("variable", "get", "region", "--raw")) == "eu-west-1\n"
        assert render("to {{ var.region }}", {}, name="cmd") == "to eu-west-1"
        ok(orkest("secret", "set", "db-password", stdin=CANARY))
        assert json.loads(ok(orkest("secret", "ls", "--json")))[0]["value"] == "***"
        first_id = open_store().list_secrets()[0].key_id
        out = ok(orkest("secret", "rotate-key"))
        new_id = open_store().list_secrets()[0].key_id
        assert new_id != first_id and f"with the new key {new_id}" in out
        assert Secret("db-password").get() == CANARY
        assert (live.home / crypto.KEY_FILE).exists()
        assert not (orkest_home / crypto.KEY_FILE).exists()  # the client holds no key
    finally:
        live.close()
