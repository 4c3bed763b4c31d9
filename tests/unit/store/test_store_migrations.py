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
                     "results", "cache_entries", "deployments", "work_pools", "workers",
                     "events", "concurrency_limits", "concurrency_slots", "variables",
                     "secrets", "blocks", "automations", "automation_firings"}


def test_upgrade_from_0001_keeps_runs_and_adds_the_graph(tmp_path):
    """A database written before DAGs (revision 0001) upgrades in place, losing nothing."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from orkest.store.sql.migrate import MIGRATIONS_DIR

    db = tmp_path / "orkest.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("path_separator", "os")
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    engine.dispose()
    with sqlite3.connect(db) as raw:
        columns = [r[1] for r in raw.execute("PRAGMA table_info(flow_runs)")]
        assert "graph" not in columns
        raw.execute(
            "INSERT INTO flow_runs (id, flow_name, name, state_type, state_name, state_ts, "
            "created_ts, parameters, tags, run_count, retries) VALUES ('old-run', 'etl', "
            "'calm-otter', 'COMPLETED', 'Completed', 1.0, 1.0, '{}', '[]', 1, 0)")
    store = SqlRunStore(f"sqlite:///{db}")
    try:
        old = store.read_flow_run("old-run")
        assert (old.flow_name, old.state_name, old.graph) == ("etl", "Completed", None)
    finally:
        store.close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (
            migrate.HEAD_REVISION,)
