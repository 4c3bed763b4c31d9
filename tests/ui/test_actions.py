"""The run actions from the browser: resume with input, retry, mark completed / failed."""

from __future__ import annotations

import textwrap

from playwright.sync_api import expect

from orkest.core.states import StateType
from orkest.store import open_store
from ui.support import wait_for_flow_run

APPROVAL_FLOW = '''
from pydantic import BaseModel
from orkest import flow, pause_flow_run, task

class Approval(BaseModel):
    approved: bool
    by: str

@task
def prepare() -> int:
    return 3

@task
def publish(rows: int, who: str) -> str:
    return f"{rows} rows published, approved by {who}"

@flow(name="ui-approval")
def approval() -> str:
    rows = prepare()
    answer = pause_flow_run(timeout=120, wait_for_input=Approval)
    return publish(rows, answer.by)
'''

FLAKY_DAG = '''
from pathlib import Path
from orkest import DAG
from orkest.operators import PythonOperator

SWITCH = Path({switch!r})

def load():
    if SWITCH.exists():
        raise RuntimeError("the warehouse is down")
    return "loaded"

with DAG("ui-flaky") as dag:
    extract = PythonOperator(task_id="extract", python_callable=lambda: [1, 2, 3])
    extract >> PythonOperator(task_id="load", python_callable=load)
'''


def confirm(page, message: str | None = None) -> None:
    expect(page.locator("#confirm-dialog")).to_be_visible()
    if message is not None:
        page.locator("#dialog-message").fill(message)
    page.locator("#dialog-confirm").click()
    expect(page.locator("#confirm-dialog")).to_have_count(0)


def test_resume_a_paused_flow_with_input(server, page, run_flow, shot, tmp_path):
    path = tmp_path / "approval.py"
    path.write_text(textwrap.dedent(APPROVAL_FLOW))
    proc = run_flow(f"{path}:approval")
    run = wait_for_flow_run("ui-approval")
    page.goto(f"{server.url}/#/runs/{run.id}")
    state = page.locator("#run-state")
    expect(state).to_have_attribute("data-state", "PAUSED", timeout=20_000)
    expect(page.locator("#run-message")).to_contain_text("Approval")
    resume = page.locator("#action-resume")
    expect(resume).to_be_enabled()

    resume.click()
    area = page.locator("#dialog-json")
    area.fill("{approved: yes}")
    page.locator("#dialog-confirm").click()
    expect(page.locator("#confirm-dialog [role=alert]")).to_contain_text("Not valid JSON")
    area.fill('{"approved": true, "by": "ada"}')
    shot(page, "resume-dialog")
    page.locator("#dialog-confirm").click()

    expect(state).to_have_attribute("data-state", "COMPLETED", timeout=20_000)
    expect(page.locator("#result-preview")).to_contain_text("3 rows published, approved by ada")
    assert proc.wait(timeout=30) == 0
    shot(page, "resumed")


def test_retry_then_mark_failed_and_completed(server, page, run_flow, shot, tmp_path):
    switch = tmp_path / "fail"
    switch.touch()
    path = tmp_path / "flaky.py"
    path.write_text(textwrap.dedent(FLAKY_DAG.format(switch=str(switch))))
    assert run_flow(f"{path}:ui-flaky").wait(timeout=60) == 1
    run = wait_for_flow_run("ui-flaky")

    page.goto(f"{server.url}/#/runs/{run.id}")
    state = page.locator("#run-state")
    expect(state).to_have_attribute("data-state", "FAILED")
    expect(page.locator('#graph-svg [data-node="load"]')).to_have_attribute("data-state",
                                                                            "FAILED")
    # Fix the cause, then retry from the UI: the server reruns it in a new process.
    switch.unlink()
    page.locator("#action-retry").click()
    confirm(page)
    expect(state).to_have_attribute("data-state", "COMPLETED", timeout=60_000)
    expect(page.locator('#graph-svg [data-node="load"]')).to_have_attribute(
        "data-state", "COMPLETED")
    expect(page.locator("#run-meta")).to_contain_text("Attempts2")
    shot(page, "retried")

    # Marks by hand, with a message.
    page.locator("#action-fail").click()
    confirm(page, "numbers were wrong")
    expect(state).to_have_attribute("data-state", "FAILED")
    expect(page.locator("#run-message")).to_contain_text("numbers were wrong")
    page.locator("#action-complete").click()
    confirm(page)
    expect(state).to_have_attribute("data-state", "COMPLETED")
    assert open_store().read_flow_run(run.id).state_type is StateType.COMPLETED
    shot(page, "marked")
