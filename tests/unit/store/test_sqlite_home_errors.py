"""An unusable ORKEST_HOME or orkest.db is a ConfigurationError that says what to do,
and orkest never deletes or rewrites a file that is already there."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import traceback
from pathlib import Path

import pytest

from orkest.errors import ConfigurationError
from orkest.store import open_store, reset_stores
from orkest.store.sql.store import SqlRunStore

NOBODY = 65534


@pytest.fixture(autouse=True)
def _forget_stores():
    yield
    reset_stores()


def test_missing_home_is_created(tmp_path, monkeypatch):
    home = tmp_path / "a" / "b" / "home"
    monkeypatch.setenv("ORKEST_HOME", str(home))
    monkeypatch.delenv("ORKEST_DATABASE_URL", raising=False)
    open_store().list_flow_runs()
    assert (home / "orkest.db").is_file()


def test_home_that_cannot_be_created(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("ORKEST_HOME", str(blocker / "home"))
    monkeypatch.delenv("ORKEST_DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError) as info:
        open_store()
    message = str(info.value)
    assert str(blocker / "home") in message and "ORKEST_HOME" in message
    assert blocker.read_text() == "not a directory"


def test_corrupt_database_is_reported_and_left_alone(tmp_path):
    db = tmp_path / "orkest.db"
    garbage = b"this is not an sqlite database, it is a shopping list\n" * 100
    db.write_bytes(garbage)
    before = db.stat()
    with pytest.raises(ConfigurationError) as info:
        SqlRunStore(f"sqlite:///{db}")
    message = str(info.value)
    assert str(db) in message
    assert "not a database" in message and "move it aside" in message
    assert db.read_bytes() == garbage
    assert db.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orkest.db"]


def run_unprivileged(fn) -> str:
    """Call fn() as a user without write access to what root created; returns "ok" or
    "ExcType: message". Root ignores directory permissions, so as root the call runs in
    a forked child that drops to uid nobody (everything it needs is imported already)."""
    if os.geteuid() != 0:
        try:
            fn()
            return "ok"
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            return f"{type(exc).__name__}: {exc}"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(read_end)
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                fn()
                result = "ok"
            except Exception as exc:  # noqa: BLE001
                result = f"{type(exc).__name__}: {exc}"
            os.write(write_end, result.encode())
        except BaseException:  # noqa: BLE001
            os.write(write_end, traceback.format_exc().encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        result = pipe.read().decode()
    os.waitpid(pid, 0)
    return result


@pytest.fixture
def public_tmp():
    """A directory every user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="orkest-ro-"))
    path.chmod(0o755)
    yield path
    for p in path.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


def _warm_up(tmp_path: Path) -> None:
    # Load every lazily imported module before dropping privileges in a child.
    SqlRunStore(f"sqlite:///{tmp_path / 'warm.db'}").close()


def test_read_only_home_without_a_database(public_tmp, tmp_path):
    _warm_up(tmp_path)
    home = public_tmp / "home"
    home.mkdir(mode=0o555)
    home.chmod(0o555)
    result = run_unprivileged(lambda: SqlRunStore(f"sqlite:///{home / 'orkest.db'}"))
    assert result.startswith("ConfigurationError:"), result
    assert str(home) in result and "read-only" in result and "ORKEST_HOME" in result
    assert list(home.iterdir()) == []


def test_read_only_home_with_an_existing_database(public_tmp, tmp_path):
    _warm_up(tmp_path)
    home = public_tmp / "home"
    home.mkdir()
    db = home / "orkest.db"
    SqlRunStore(f"sqlite:///{db}").close()
    db.chmod(0o666)
    for extra in home.iterdir():
        extra.chmod(0o666)
    home.chmod(0o555)
    content = db.read_bytes()
    result = run_unprivileged(lambda: SqlRunStore(f"sqlite:///{db}"))
    assert result.startswith("ConfigurationError:"), result
    assert str(home) in result and "read-only" in result
    assert db.read_bytes() == content


def test_home_below_a_read_only_directory_cannot_be_created(public_tmp, tmp_path):
    _warm_up(tmp_path)
    parent = public_tmp / "locked"
    parent.mkdir()
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH
                 | stat.S_IXOTH)
    home = parent / "home"
    result = run_unprivileged(lambda: SqlRunStore(f"sqlite:///{home / 'orkest.db'}"))
    assert result.startswith("ConfigurationError:"), result
    assert f"Cannot create the directory {home}" in result
