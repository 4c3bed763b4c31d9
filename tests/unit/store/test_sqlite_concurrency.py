"""Several processes on one SQLite database: no "database is locked", nothing lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orkest.store
from orkest.store.sql.migrate import HEAD_REVISION

WORKER = Path(__file__).with_name("sqlite_worker.py")
SRC = Path(orkest.store.__file__).parents[2]


def run_workers(url: str, count: int, batches: int, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), url, str(n), str(batches), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for n in range(count)
    ]
    time.sleep(0.5)  # let every interpreter start and wait at the line
    go.touch()
    failures = []
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=100)
        if proc.returncode != 0:
            failures.append(f"worker {n} exited {proc.returncode}:\n{err.decode()}")
    assert not failures, "\n".join(failures)


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_four_processes_writing_at_once_lose_nothing(tmp_path):
    db = tmp_path / "orkest.db"
    workers, batches = 4, 250
    run_workers(f"sqlite:///{db}", workers, batches, tmp_path)
    runs = workers * batches
    assert count(db, "SELECT count(*) FROM flow_runs") == runs
    assert count(db, "SELECT count(*) FROM task_runs") == runs * 3
    assert count(db, "SELECT count(*) FROM logs") == runs * 3
    assert count(db, "SELECT count(*) FROM results") == runs
    set_states = workers * len(range(0, batches, 10))
    assert count(db, "SELECT count(*) FROM state_history") == runs * 6 + set_states
    assert count(db, "SELECT count(*) FROM flow_runs WHERE state_type = 'RUNNING' "
                     "AND heartbeat_ts IS NOT NULL") == set_states
    assert count(db, "SELECT count(*) FROM flow_runs WHERE requested_action IS NOT NULL") == 0


def test_processes_opening_a_fresh_database_at_once_all_succeed(tmp_path):
    db = tmp_path / "fresh" / "orkest.db"  # neither the file nor its directory exists yet
    run_workers(f"sqlite:///{db}", 4, 1, tmp_path)
    assert count(db, "SELECT count(*) FROM flow_runs") == 4
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)]
