"""Migrations: applied on open, a fast path for an up-to-date database, upgrade() by hand."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import orkest.store
from orkest.errors import ConfigurationError
from orkest.store import upgrade
from orkest.store.sql import migrate
from orkest.store.sql.store import SqlRunStore

SRC = Path(orkest.store.__file__).parents[2]


def test_head_revision_constant_is_the_migration_tree_head():
    from alembic.script import ScriptDirectory

    from orkest.store.sql.migrate import MIGRATIONS_DIR

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert scripts.get_heads() == [migrate.HEAD_REVISION]


def test_upgrade_by_hand_then_nothing_to_do(tmp_path):
    url = f"sqlite:///{tmp_path / 'orkest.db'}"
    assert upgrade(url) == (None, migrate.HEAD_REVISION)
    assert upgrade(url) == (migrate.HEAD_REVISION, migrate.HEAD_REVISION)
    assert upgrade("memory://") == (None, None)


def test_opening_an_up_to_date_database_takes_the_fast_path(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'orkest.db'}"
    SqlRunStore(url).close()

    def slow_path(engine):
        raise AssertionError("the slow path ran for an up-to-date database")

    monkeypatch.setattr(migrate, "_upgrade_locked", slow_path)
    SqlRunStore(url).close()


def test_fast_path_does_not_import_alembic(tmp_path):
    db = tmp_path / "orkest.db"
    SqlRunStore(f"sqlite:///{db}").close()
    code = (
        "import sys, time\n"
        "from orkest.store.sql.store import SqlRunStore\n"
        "start = time.perf_counter()\n"
        f"SqlRunStore({f'sqlite:///{db}'!r}).close()\n"
        "print(time.perf_counter() - start)\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr


def test_database_from_a_newer_orkest_is_refused_untouched(tmp_path):
    db = tmp_path / "orkest.db"
    SqlRunStore(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(ConfigurationError, match="'9999'.*newer orkest"):
        SqlRunStore(f"sqlite:///{db}")
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)


def test_fresh_database_gets_every_table(tmp_path):
    db = tmp_path / "orkest.db"
    SqlRunStore(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as raw:
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"alembic_version", "flow_runs", "task_runs", "state_history", "logs",
                     "results", "cache_entries"}
