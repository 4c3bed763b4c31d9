"""`orkest concurrency-limit create|ls|rm` as people use it: real subprocesses, one
ORKEST_HOME per test, the store read back directly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from orkest.store import open_store

COMMAND = [sys.executable, "-m", "orkest.cli.main", "concurrency-limit"]


def orkest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_create_update_list_and_remove_a_limit() -> None:
    created = orkest("create", "db", "--limit", "2")
    assert created.returncode == 0, created.stderr
    assert "created" in created.stdout and "'db'" in created.stdout
    updated = orkest("create", "db", "--limit", "5")
    assert updated.returncode == 0, updated.stderr
    assert "updated" in updated.stdout and "at most 5" in updated.stdout
    assert orkest("create", "api", "--limit", "1").returncode == 0

    # A slot held by a task run shows as active; one whose lease ran out does not.
    store = open_store()
    now = time.time()
    assert store.acquire_concurrency_slots(["db"], "task-run-1", None, now, 60)
    assert store.acquire_concurrency_slots(["db"], "task-run-2", None, now - 120, 60)

    listed = orkest("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["tag"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"api", "db"}
    assert rows["db"]["limit"] == 5 and rows["db"]["active"] == 1
    assert rows["api"]["limit"] == 1 and rows["api"]["active"] == 0

    table = orkest("ls")
    assert table.returncode == 0, table.stderr
    assert "Active slots" in table.stdout
    db_line = next(line for line in table.stdout.splitlines() if " db " in line)
    assert [cell.strip() for cell in db_line.split("│")][1:4] == ["db", "5", "1"]

    removed = orkest("rm", "db")
    assert removed.returncode == 0, removed.stderr
    assert [x.tag for x in store.list_concurrency_limits(time.time())] == ["api"]


def test_empty_list_says_how_to_make_a_limit() -> None:
    listed = orkest("ls")
    assert listed.returncode == 0
    assert "No concurrency limits" in listed.stdout
    assert json.loads(orkest("ls", "--json").stdout) == []


def test_bad_limits_are_usage_errors_naming_the_option() -> None:
    for bad in ("0", "-3"):
        result = orkest("create", "db", "--limit", bad)
        assert result.returncode == 2
        assert "--limit" in result.stderr and bad in result.stderr
    missing = orkest("create", "db")
    assert missing.returncode == 2 and "--limit" in missing.stderr
    assert open_store().list_concurrency_limits(time.time()) == []


def test_removing_an_unknown_tag_fails_clearly() -> None:
    result = orkest("rm", "nope")
    assert result.returncode == 1
    assert "No concurrency limit for tag 'nope'" in result.stderr
    assert "concurrency-limit ls" in result.stderr
