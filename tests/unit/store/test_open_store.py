"""open_store(): URL dispatch, one store per (process, URL), lazy SQLAlchemy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import orkest.store
from orkest.errors import ConfigurationError
from orkest.store import (
    FileResultFiles,
    MemoryRunStore,
    open_store,
    reset_stores,
    result_files,
)

SRC = Path(orkest.store.__file__).parents[2]


@pytest.fixture(autouse=True)
def _forget_stores():
    yield
    reset_stores()


def test_memory_url_gives_one_memory_store_per_process():
    store = open_store("memory://")
    assert isinstance(store, MemoryRunStore)
    assert open_store("memory://") is store


def test_default_url_is_sqlite_in_orkest_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORKEST_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ORKEST_DATABASE_URL", raising=False)
    store = open_store()
    assert type(store).__name__ == "SqlRunStore"
    assert (tmp_path / "home" / "orkest.db").exists()
    assert open_store(f"sqlite:///{tmp_path / 'home' / 'orkest.db'}") is store


def test_database_url_setting_is_honoured(monkeypatch):
    monkeypatch.setenv("ORKEST_DATABASE_URL", "memory://")
    assert isinstance(open_store(), MemoryRunStore)


def test_reset_stores_closes_and_forgets():
    store = open_store("memory://")
    reset_stores()
    assert open_store("memory://") is not store


def test_unsupported_url_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="Unsupported database URL 'host/db'"):
        open_store("mysql://user:secret@host/db")


def test_forked_child_opens_its_own_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'orkest.db'}"
    parent = open_store(url)
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        ok = False
        try:
            child = open_store(url)
            ok = child is not parent and open_store(url) is child
            reset_stores()  # closes the child's store only
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert open_store(url) is parent
    assert parent.list_flow_runs() == []  # the parent's connections still work


def test_result_files_default_to_home_results(tmp_path, monkeypatch):
    monkeypatch.setenv("ORKEST_HOME", str(tmp_path))
    files = result_files()
    assert isinstance(files, FileResultFiles)
    assert files.root == tmp_path / "results"
    assert result_files(tmp_path / "x").root == tmp_path / "x"


def test_importing_orkest_store_does_not_import_sqlalchemy():
    code = ("import sys, orkest.store\n"
            "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
            "orkest.store.open_store('memory://')\n"
            "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported by memory://'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=60)
    assert done.returncode == 0, done.stderr
