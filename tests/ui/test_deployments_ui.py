"""Deployments in the browser: the schedule in words, next runs, the generated Run form,
pause and resume — seeded through the real store, checked through it again."""

from __future__ import annotations

import importlib.util
import time

import pytest
from playwright.sync_api import expect

from orkest.schedules import Cron
from orkest.services.deployments import build_deployment, save
from orkest.store import open_store

# A user's flow file: typed parameters (no `from __future__ import annotations` here, so
# the types are real objects), deployed from the file like `orkest deploy` does.
FLOW_SOURCE = '''
from typing import Literal
from orkest import flow

@flow(name="ui-report")
def report(region: str, days: int = 7, ratio: float = 0.5, dry_run: bool = False,
           mode: Literal["fast", "full"] = "fast", extra: list[int] | None = None) -> str:
    return f"{region}:{days}"
'''

SCHEDULE = Cron("0 2 * * *", timezone="Europe/Paris")


@pytest.fixture(scope="module")
def report_flow(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("flows") / "report_flow.py"
    path.write_text(FLOW_SOURCE)
    spec = importlib.util.spec_from_file_location("ui_report_flow", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.report, f"{path}:report"


@pytest.fixture
def deployment(server, report_flow):
    """A deployment of `report` on a cron schedule, saved in the server's database."""
    flow, entrypoint = report_flow
    built = build_deployment(flow, f"nightly-{time.monotonic_ns()}", entrypoint=entrypoint,
                             schedules=[SCHEDULE], work_pool="ui-pool",
                             parameters={"region": "eu"})
    return save(open_store(), built)


def runs_of(deployment_id: str) -> list:
    return [r for r in open_store().list_flow_runs(flow_name="ui-report", limit=500)
            if r.deployment_id == deployment_id]


def wait_until(condition, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not true within {timeout} s")


def test_list_shows_schedule_in_words_and_toggles_pause(server, page, shot, deployment):
    page.goto(f"{server.url}/#/deployments")
    row = page.locator(f'#deployments-table tr[data-deployment-id="{deployment.id}"]')
    expect(row).to_contain_text(deployment.full_name)
    expect(row.locator('[data-col="schedule"]')).to_contain_text(SCHEDULE.describe())
    expect(row.locator('[data-col="next-run"]')).to_contain_text(":00")
    expect(row).to_contain_text("ui-pool")
    expect(row.locator('[data-col="paused"]')).to_have_text("Active")
    expect(page.locator('nav [data-nav="deployments"]')).to_have_attribute("aria-current", "page")
    shot(page, "deployments")

    row.locator("button.toggle-paused").click()
    expect(row).to_have_attribute("data-paused", "true")
    expect(row.locator('[data-col="paused"]')).to_have_text("Paused")
    assert open_store().read_deployment(deployment.id).paused is True
    expect(row.locator('[data-col="next-run"]')).to_have_text("none while paused")
    row.locator("button.toggle-paused").click()
    expect(row).to_have_attribute("data-paused", "false")
    assert open_store().read_deployment(deployment.id).paused is False


def test_detail_shows_next_runs_and_pauses(server, page, shot, deployment):
    page.goto(f"{server.url}/#/deployments/{deployment.id}")
    expect(page.locator("#deployment-name")).to_have_text(deployment.full_name)
    expect(page.locator("#deployment-schedules")).to_contain_text(SCHEDULE.describe())
    next_runs = page.locator("#deployment-next-runs li[data-iso]")
    expect(next_runs).to_have_count(5)
    expected = [t.strftime("%Y-%m-%d %H:%M") for t in SCHEDULE.next_runs(5)]
    assert [text.split(" +")[0] for text in next_runs.all_inner_texts()] == expected
    expect(page.locator('#deployment-params-table tr[data-param="region"]')).to_contain_text('"eu"')
    expect(page.locator("#deployment-meta")).to_contain_text("ui-pool")
    if deployment.code_hash:
        expect(page.locator("#deployment-code-hash")).to_have_text(deployment.code_hash)
    shot(page, "deployment-detail")

    toggle = page.locator("#deployment-toggle")
    toggle.click()
    expect(page.locator("#deployment-status")).to_have_attribute("data-paused", "true")
    assert open_store().read_deployment(deployment.id).paused is True
    expect(toggle).to_have_text("Resume")
    toggle.click()
    expect(page.locator("#deployment-status")).to_have_attribute("data-paused", "false")
    assert open_store().read_deployment(deployment.id).paused is False


def test_run_form_is_generated_checked_and_creates_a_run(server, page, shot, deployment):
    page.goto(f"{server.url}/#/deployments/{deployment.id}")
    expect(page.locator("#deployment-run")).to_be_enabled()
    page.locator("#deployment-run").click()
    dialog = page.locator("#run-form-dialog")
    expect(dialog).to_be_visible()

    # One field per parameter, of its type, defaults filled in, the required one marked.
    expect(dialog.locator("#param-region")).to_have_value("eu")  # the deployment's value
    expect(dialog.locator('[data-param="region"] .required')).to_have_count(1)
    expect(dialog.locator('[data-param="days"] .required')).to_have_count(0)
    expect(dialog.locator("#param-days")).to_have_value("7")
    expect(dialog.locator("#param-ratio")).to_have_value("0.5")
    expect(dialog.locator("#param-dry_run")).to_have_attribute("type", "checkbox")
    expect(dialog.locator("#param-dry_run")).not_to_be_checked()
    assert dialog.locator("#param-mode").evaluate("e => e.tagName") == "SELECT"
    assert dialog.locator("#param-mode option").all_inner_texts() == ["fast", "full"]
    assert dialog.locator("#param-extra").evaluate("e => e.tagName") == "TEXTAREA"

    # Wrong types: a message on each field, and nothing is sent.
    dialog.locator("#param-days").fill("seven")
    dialog.locator("#param-extra").fill("[1, 2")
    dialog.locator("#param-region").fill("")
    dialog.locator("#run-form-submit").click()
    expect(dialog.locator("#param-days-error")).to_contain_text("days must be a whole number")
    expect(dialog.locator("#param-extra-error")).to_contain_text("not valid JSON")
    expect(dialog.locator("#param-region-error")).to_contain_text("region is required")
    expect(dialog.locator("#run-form-error")).to_contain_text("Fix the 3 fields")
    shot(page, "run-form-errors")
    page.wait_for_timeout(300)  # a request, had one been sent, would have landed by now
    assert runs_of(deployment.id) == []
    assert "/runs/" not in page.url

    dialog.locator("#param-region").fill("us")
    dialog.locator("#param-days").fill("3")
    dialog.locator("#param-extra").fill("[4, 5]")
    dialog.locator("#param-mode").select_option(label="full")
    dialog.locator("#param-dry_run").check()
    dialog.locator("#run-form-submit").click()

    runs = wait_until(lambda: runs_of(deployment.id), what="a run of the deployment")
    assert len(runs) == 1
    run = runs[0]
    assert run.parameters == {"region": "us", "days": 3, "ratio": 0.5, "dry_run": True,
                              "mode": "full", "extra": [4, 5]}
    expect(page).to_have_url(f"{server.url}/#/runs/{run.id}")
    expect(page.locator("#run-name")).to_have_text(run.name)
    expect(page.locator("#run-deployment")).to_have_text(deployment.full_name)
    expect(page.locator("#run-work-pool")).to_have_text("ui-pool")
    if run.code_hash:
        expect(page.locator("#run-code-hash")).to_have_text(run.code_hash)
    shot(page, "run-of-deployment")

    # The run shows among the deployment's recent runs.
    page.locator("#run-deployment").click()
    expect(page.locator(f'#deployment-runs tr[data-run-id="{run.id}"]')).to_be_visible()


def test_deployment_not_found(server, page):
    page.goto(f"{server.url}/#/deployments/no-such-deployment")
    expect(page.locator("main h1")).to_have_text("Deployment not found")


def test_run_form_shows_the_servers_refusal(server, page, deployment):
    page.goto(f"{server.url}/#/deployments/{deployment.id}")
    page.locator("#deployment-run").click()
    expect(page.locator("#param-region")).to_have_value("eu")
    open_store().delete_deployment(deployment.id)  # gone while the form is open
    page.locator("#run-form-submit").click()
    expect(page.locator("#run-form-error")).to_contain_text("Could not start the run")
    expect(page.locator("#run-form-error")).to_contain_text(deployment.id)
    expect(page.locator("#run-form-dialog")).to_be_visible()
    assert runs_of(deployment.id) == []


def test_run_form_shows_a_422_as_the_server_words_it(server, page, deployment):
    page.goto(f"{server.url}/#/deployments/{deployment.id}")
    page.locator("#deployment-run").click()
    expect(page.locator("#param-region")).to_have_value("eu")
    # The flow is redeployed without `region` while the form is open.
    schema = dict(deployment.parameter_schema)
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k != "region"}
    schema["required"] = []
    open_store().update_deployment(deployment.id, parameter_schema=schema, parameters={})
    page.locator("#run-form-submit").click()
    error = page.locator("#run-form-error")
    expect(error).to_contain_text("The server refused these parameters")
    expect(error).to_contain_text("'region'")
    assert runs_of(deployment.id) == []
