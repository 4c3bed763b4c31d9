"""`orkest deploy` and `orkest deployment ...` as people use them: real subprocesses on the
embedded SQLite database of a fresh ORKEST_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

COMMAND = [sys.executable, "-m", "orkest.cli.main"]


def orkest(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.py"
    path.write_text(textwrap.dedent("""
        import orkest
        from orkest import DAG
        from orkest.operators import EmptyOperator

        @orkest.flow
        def nightly_report(day: str = "today", copies: int = 1) -> str:
            return f"{day}:{copies}"

        with DAG("warehouse", schedule="0 3 * * *", catchup=True, max_active_runs=2,
                 tags=["dwh"]) as warehouse:
            EmptyOperator(task_id="start")
    """))
    return path


def test_deploy_ls_inspect_run(flow_file: Path) -> None:
    done = orkest("deploy", f"{flow_file}:nightly_report", "--name", "nightly",
                  "--cron", "0 2 * * *", "--timezone", "Europe/Berlin", "--param", "copies=3",
                  "--tag", "reports")
    assert done.returncode == 0, done.stderr
    assert "Deployed nightly-report/nightly" in done.stdout
    assert "At 02:00, every day (Europe/Berlin)" in done.stdout
    assert "Next runs:" in done.stdout

    listed = orkest("deployment", "ls")
    assert "nightly-report/nightly" in listed.stdout and "At 02:00, every day" in listed.stdout

    doc = json.loads(orkest("deployment", "inspect", "nightly-report/nightly",
                            "--json").stdout)
    assert doc["parameters"] == {"copies": 3} and doc["tags"] == ["reports"]
    assert doc["schedule_descriptions"] == ["At 02:00, every day (Europe/Berlin)"]
    assert len(doc["next_runs"]) == 5
    assert all(t.endswith(("T00:00:00Z", "T01:00:00Z")) for t in doc["next_runs"])
    assert doc["parameter_schema"]["properties"]["copies"]["type"] == "integer"

    ran = orkest("deployment", "run", "nightly-report/nightly", "--param", "day=monday")
    assert ran.returncode == 0, ran.stderr
    assert "Created flow run" in ran.stdout and "work pool 'default'" in ran.stdout
    runs = json.loads(orkest("flow-run", "ls", "--json").stdout)
    assert runs[0]["state_type"] == "SCHEDULED"
    assert runs[0]["parameters"] == {"copies": 3, "day": "monday"}
    assert runs[0]["deployment_id"] == doc["id"]


def test_a_dag_deploys_with_its_own_schedule_catchup_and_limit(flow_file: Path) -> None:
    done = orkest("deploy", f"{flow_file}:warehouse")
    assert done.returncode == 0, done.stderr
    doc = json.loads(orkest("deployment", "inspect", "warehouse/default", "--json").stdout)
    assert doc["schedules"] == [{"cron": "0 3 * * *", "timezone": "UTC"}]
    assert doc["catchup"] is True and doc["concurrency_limit"] == 2 and doc["tags"] == ["dwh"]


def test_a_yaml_flow_deploys_with_its_schedule_block(tmp_path: Path) -> None:
    path = tmp_path / "etl.yaml"
    path.write_text(textwrap.dedent("""
        name: yaml-etl
        schedule:
          cron: "*/15 * * * *"
          timezone: America/New_York
        tasks:
          - id: hello
            shell: echo hello
    """))
    done = orkest("deploy", str(path), "--name", "quarterly")
    assert done.returncode == 0, done.stderr
    doc = json.loads(orkest("deployment", "inspect", "yaml-etl/quarterly", "--json").stdout)
    assert doc["schedules"] == [{"cron": "*/15 * * * *", "timezone": "America/New_York"}]
    assert doc["entrypoint"] == str(path.resolve())


def test_pause_resume_and_backfill(flow_file: Path) -> None:
    assert orkest("deploy", f"{flow_file}:nightly_report", "--cron", "0 2 * * *"
                  ).returncode == 0
    paused = orkest("deployment", "pause", "nightly-report/default")
    assert paused.returncode == 0 and "Paused nightly-report/default" in paused.stdout
    doc = json.loads(orkest("deployment", "inspect", "nightly-report/default", "--json").stdout)
    assert doc["paused"] is True
    assert orkest("deployment", "resume", "nightly-report/default").returncode == 0
    filled = orkest("deployment", "backfill", "nightly-report/default", "--start",
                    "2026-01-01", "--end", "2026-01-04")
    assert filled.returncode == 0, filled.stderr
    assert "Created 3 run(s); 0 slot(s) had a run already" in filled.stdout
    runs = json.loads(orkest("flow-run", "ls", "--json").stdout)
    assert sorted(r["logical_ts"] for r in runs) == [
        "2026-01-01T02:00:00Z", "2026-01-02T02:00:00Z", "2026-01-03T02:00:00Z"]
    again = orkest("deployment", "backfill", "nightly-report/default", "--start",
                   "2026-01-01", "--end", "2026-01-04")
    assert "Created 0 run(s); 3 slot(s) had a run already" in again.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--cron", "0 25 * * *"], "hour"),
    (["--cron", "0 2 * * *", "--timezone", "Mars/Olympus"], "Mars/Olympus"),
    (["--param", "colour=red"], "no parameter 'colour'"),
    (["--name", "a/b"], "'a/b'"),
    (["--interval", "-5"], "--interval must be a positive"),
])
def test_bad_deploy_input_names_what_is_wrong(flow_file: Path, args: list[str],
                                              message: str) -> None:
    done = orkest("deploy", f"{flow_file}:nightly_report", *args)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "No deployments found" in orkest("deployment", "ls").stdout


def test_unknown_deployment_and_bad_backfill_dates(flow_file: Path) -> None:
    missing = orkest("deployment", "run", "nightly-report/nope")
    assert missing.returncode == 1
    assert "No deployment 'nightly-report/nope'" in missing.stderr
    assert orkest("deploy", f"{flow_file}:nightly_report", "--cron", "@daily").returncode == 0
    bad = orkest("deployment", "backfill", "nightly-report/default", "--start", "yesterday",
                 "--end", "2026-01-01")
    assert bad.returncode == 2 and "--start 'yesterday' is not an ISO date" in bad.stderr
