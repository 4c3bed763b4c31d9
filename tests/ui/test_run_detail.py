"""A run watched in the browser: live graph, a failed task's traceback, cancel from the UI."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import expect

from orkest.core.states import StateType
from orkest.store import open_store
from ui.support import ROOT, wait_for_flow_run

GREEN = "rgb(46, 157, 91)"  # --s-COMPLETED

LIVE_DAG = '''
import time
from orkest import DAG
from orkest.operators import EmptyOperator, PythonOperator

DAG_ID = "ui-live-etl"

def work(seconds, log):
    log.info("working for %.1f s", seconds)
    time.sleep(seconds)
    log.info("done")
    return seconds

def step(task_id, seconds):
    return PythonOperator(task_id=task_id, python_callable=work, op_args=[seconds])

with DAG(DAG_ID, tags=["ui", "nightly"], params={"dataset": "sales"}) as dag:
    extract = step("extract", 2.5)
    checks = [step("clean", 1.0), step("enrich", 1.5), step("validate", 0.5)]
    join = EmptyOperator(task_id="join")
    load = step("load", 1.0)
    report = step("report", 0.5)
    extract >> checks >> join >> [load, report]
'''

FAILING_DAG = '''
from orkest import DAG, TriggerRule
from orkest.operators import BashOperator, PythonOperator

def extract(log):
    log.info("read 3 rows")
    return [1, 2, 3]

def transform(ti):
    rows = ti.xcom_pull(task_ids="extract")
    raise ValueError(f"row {rows[-1] * 14} is malformed")

with DAG("ui-failing-etl", tags=["ui"]) as dag:
    e = PythonOperator(task_id="extract", python_callable=extract)
    t = PythonOperator(task_id="transform", python_callable=transform)
    l = PythonOperator(task_id="load", python_callable=lambda: None)
    note = BashOperator(task_id="notify", bash_command="echo done >&2",
                        trigger_rule=TriggerRule.ALL_DONE)
    e >> t >> l >> note
'''

SLOW_DAG = '''
import time
from orkest import DAG
from orkest.operators import PythonOperator

def wait():
    for _ in range(1200):
        time.sleep(0.05)

with DAG("ui-cancel-me", tags=["ui"]) as dag:
    first = PythonOperator(task_id="first", python_callable=lambda: 1)
    slow = PythonOperator(task_id="slow", python_callable=wait)
    after = PythonOperator(task_id="after", python_callable=lambda: 2)
    first >> slow >> after
'''


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def go(page, hash_route: str) -> None:
    """Navigate inside the app (a hash change, never a reload)."""
    page.evaluate("route => { location.hash = route }", hash_route)


@pytest.mark.parametrize("tracking", ["database", "api"])
def test_graph_turns_green_live(server, page, run_flow, shot, tmp_path, tracking):
    """The engine records the run in the database, or through the server (ORKEST_API_URL)."""
    dag_id = "nightly-etl" if tracking == "database" else "nightly-etl-via-api"
    dag = write(tmp_path, "live_dag.py", LIVE_DAG.replace('"ui-live-etl"', repr(dag_id)))
    page.goto(server.url + "/#/runs")
    expect(page.locator("#runs-body")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    proc = run_flow(f"{dag}:{dag_id}", remote=tracking == "api")
    run = wait_for_flow_run(dag_id)
    go(page, f"#/runs/{run.id}")

    extract = page.locator('#graph-svg [data-node="extract"]')
    load = page.locator('#graph-svg [data-node="load"]')
    # The DAG's graph is drawn before its tasks run; then states arrive by polling.
    expect(load).to_have_count(1)
    expect(extract).to_have_attribute("data-state", "RUNNING", timeout=20_000)
    assert load.get_attribute("data-state") in ("NONE", "PENDING")
    shot(page, "running")
    expect(extract).to_have_attribute("data-state", "COMPLETED", timeout=20_000)
    stripe = extract.locator("rect.stripe")
    assert stripe.evaluate("e => getComputedStyle(e).fill") == GREEN
    expect(load).to_have_attribute("data-state", "COMPLETED", timeout=30_000)
    expect(page.locator("#run-state")).to_have_attribute("data-state", "COMPLETED")
    assert proc.wait(timeout=30) == 0
    # Every node green, the timeline and the table filled, all without a reload.
    for node in ("extract", "clean", "enrich", "validate", "join", "load", "report"):
        expect(page.locator(f'#graph-svg [data-node="{node}"]')).to_have_attribute(
            "data-state", "COMPLETED")
    expect(page.locator("#task-table .vrow")).to_have_count(7)
    expect(page.locator("#logs")).to_contain_text("enrich │ working for 1.5 s")
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator("#action-cancel")).to_be_disabled()
    expect(page.locator("#run-parameters")).to_contain_text('"dataset": "sales"')
    page.wait_for_timeout(300)
    shot(page, "completed")
    if os.environ.get("ORKEST_DOCS_SCREENSHOTS") == "1" and tracking == "database":
        image = ROOT / "docs" / "images" / "run-detail.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1400, "height": 1300})
        page.evaluate("window.scrollTo(0, 0)")
        shutil.copy(shot(page, "docs", full_page=False), image)


def test_failed_task_traceback(server, page, run_flow, shot, tmp_path):
    dag = write(tmp_path, "failing_dag.py", FAILING_DAG)
    proc = run_flow(f"{dag}:ui-failing-etl")
    assert proc.wait(timeout=60) == 1
    run = wait_for_flow_run("ui-failing-etl")

    page.goto(f"{server.url}/#/runs/{run.id}")
    expect(page.locator("#run-state")).to_have_attribute("data-state", "FAILED")
    expect(page.locator('#graph-svg [data-node="transform"]')).to_have_attribute(
        "data-state", "FAILED")
    expect(page.locator('#graph-svg [data-node="load"]')).to_have_attribute(
        "data-state", "SKIPPED")
    expect(page.locator('#graph-svg [data-node="notify"]')).to_have_attribute(
        "data-state", "COMPLETED")
    expect(page.locator("#run-message")).to_contain_text("transform")
    expect(page.locator("#logs")).to_contain_text("read 3 rows")
    shot(page, "run")

    # Open the failed task from its graph node.
    page.locator('#graph-svg [data-node="transform"] a').click()
    expect(page.locator("#task-name")).to_have_text("transform")
    traceback = page.locator("#traceback")
    expect(traceback).to_contain_text("ValueError: row 42 is malformed")
    expect(traceback).to_contain_text("Traceback (most recent call last)")
    states = page.locator("#task-states tbody tr")
    expect(states.last).to_have_attribute("data-state", "FAILED")
    assert states.count() >= 2  # pending/running before it failed
    shot(page, "traceback")

    # Back to the run, then the completed extract task and its result preview.
    page.go_back()
    page.locator('#graph-svg [data-node="extract"] a').click()
    expect(page.locator("#task-state")).to_have_attribute("data-state", "COMPLETED")
    expect(page.locator("#result-preview")).to_contain_text("1, 2, 3")
    expect(page.locator("#logs")).to_contain_text("read 3 rows")
    shot(page, "result")


def test_cancel_a_running_flow_from_the_ui(server, page, run_flow, shot, tmp_path):
    dag = write(tmp_path, "slow_dag.py", SLOW_DAG)
    proc = run_flow(f"{dag}:ui-cancel-me")
    run = wait_for_flow_run("ui-cancel-me")
    page.goto(f"{server.url}/#/runs/{run.id}")
    expect(page.locator('#graph-svg [data-node="slow"]')).to_have_attribute(
        "data-state", "RUNNING", timeout=20_000)
    expect(page.locator("#action-resume")).to_be_disabled()

    page.locator("#action-cancel").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    page.locator("#dialog-message").fill("stopped from the browser test")
    shot(page, "confirm")
    page.locator("#dialog-confirm").click()
    expect(dialog).to_have_count(0)

    expect(page.locator("#run-state")).to_have_attribute("data-state", "CANCELLED",
                                                          timeout=30_000)
    expect(page.locator("#action-cancel")).to_be_disabled()
    expect(page.locator("#action-retry")).to_be_enabled()
    assert proc.wait(timeout=30) != 0
    assert open_store().read_flow_run(run.id).state_type is StateType.CANCELLED
    expect(page.locator('#graph-svg [data-node="after"]')).not_to_have_attribute(
        "data-state", "COMPLETED")
    shot(page, "cancelled")
