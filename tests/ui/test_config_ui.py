"""Variables, secrets and blocks in the browser, checked through the real store.

A secret typed into the UI must never come back: not in the page's text or HTML, not in
any API answer the page received, and the page never calls the /reveal route.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from orkest.errors import ObjectNotFound
from orkest.store import open_store

CANARY = "canary-UI-4f1b-never-shown"


def unique(prefix: str) -> str:
    return f"{prefix}_{time.monotonic_ns()}"


@pytest.fixture
def api_answers(page: Any) -> Iterator[list[Any]]:
    """Every /api response the page receives (read after the fact: bodies are kept)."""
    answers: list[Any] = []
    page.on("response", lambda r: answers.append(r) if "/api/" in r.url else None)
    yield answers


def wait_until(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true within {timeout} s")
        time.sleep(0.05)


def texts_of(answers: list[Any]) -> list[tuple[str, str]]:
    out = []
    for response in answers:
        try:
            out.append((response.request.method + " " + response.url, response.text()))
        except Exception:  # noqa: BLE001 - a body the browser did not keep (204)
            out.append((response.url, ""))
    return out


def assert_never_shown(page: Any, answers: list[Any]) -> None:
    assert CANARY not in page.content()
    assert CANARY not in page.locator("body").inner_text()
    for where, text in texts_of(answers):
        assert CANARY not in text, where
        assert "/reveal" not in where and "/load" not in where, where


def test_variable_add_edit_delete(server: Any, page: Any, shot: Any) -> None:
    name = unique("ui_batch")
    page.goto(f"{server.url}/#/variables")
    expect(page.locator('nav [data-nav="variables"]')).to_have_attribute("aria-current", "page")
    form = page.locator("#variable-form")

    # Refused in the browser: a bad name, then a value that is not JSON.
    form.locator("#variable-name").fill("1 bad name")
    form.locator("#variable-value").fill("500")
    form.locator("#variable-save").click()
    expect(page.locator("#variable-problem")).to_contain_text("not a valid name")
    form.locator("#variable-name").fill(name)
    form.locator("#variable-value").fill("{rows: 500}")
    form.locator("#variable-save").click()
    expect(page.locator("#variable-problem")).to_contain_text("Not valid JSON")
    with pytest.raises(ObjectNotFound):
        open_store().read_variable(name)

    form.locator("#variable-value").fill('{"rows": 500, "regions": ["eu", "us"], "on": true}')
    form.locator("#variable-save").click()
    row = page.locator(f'#variables-table tr[data-name="{name}"]')
    expect(row).to_contain_text('"regions"')
    expect(page.locator("#variable-problem")).to_be_hidden()
    assert open_store().read_variable(name).value == {"rows": 500, "regions": ["eu", "us"],
                                                      "on": True}
    shot(page, "variables")

    row.locator("button.edit").click()
    expect(form.locator("#variable-name")).to_have_value(name)
    form.locator("#variable-value").fill('"eu-west"')
    form.locator("#variable-save").click()
    expect(row.locator('[data-col="value"]')).to_have_text('"eu-west"')
    assert open_store().read_variable(name).value == "eu-west"

    row.locator("button.delete").click()
    page.locator("#dialog-confirm").click()
    expect(row).to_have_count(0)
    with pytest.raises(ObjectNotFound):
        open_store().read_variable(name)


def test_secret_set_in_the_ui_is_never_shown(server: Any, page: Any, shot: Any,
                                             api_answers: list[Any]) -> None:
    name = unique("ui_token")
    page.goto(f"{server.url}/#/secrets")
    expect(page.locator("#secrets-body")).not_to_contain_text("Loading")
    form = page.locator("#secret-form")
    value = form.locator("#secret-value")
    expect(value).to_have_attribute("type", "password")
    form.locator("#secret-name").fill(name)
    value.fill(CANARY)
    form.locator("#secret-save").click()

    row = page.locator(f'#secrets-table tr[data-name="{name}"]')
    expect(row.locator('[data-col="value"]')).to_have_text("***")
    expect(value).to_have_value("")
    assert open_store().read_secret_value(name) == CANARY
    first_change = row.locator('[data-col="updated"]').inner_text()
    assert first_change.strip()
    shot(page, "secrets")
    assert_never_shown(page, api_answers)

    # Replace: a new value, the same name; still nothing shown.
    row.locator("button.replace").click()
    expect(form.locator("#secret-name")).to_have_value(name)
    expect(value).to_be_focused()
    value.fill(CANARY + "-2")
    form.locator("#secret-save").click()
    expect(value).to_have_value("")
    wait_until(lambda: open_store().read_secret_value(name) == CANARY + "-2", "replaced")

    page.reload()
    expect(row.locator('[data-col="value"]')).to_have_text("***")
    assert_never_shown(page, api_answers)

    row.locator("button.delete").click()
    page.locator("#dialog-confirm").click()
    expect(row).to_have_count(0)
    assert name not in {s.name for s in open_store().list_secrets()}
    assert_never_shown(page, api_answers)
    assert any(r.request.method == "PUT" for r in api_answers)  # the page did set it


def test_blocks_page_masks_secret_fields(server: Any, page: Any, shot: Any,
                                         api_answers: list[Any]) -> None:
    from orkest.config import DatabaseConnection, WebhookNotification

    db_name, hook_name = unique("warehouse"), unique("ops")
    store = open_store()
    DatabaseConnection(url="postgresql://db.example/prod", username="loader",
                       password=CANARY).save(db_name, store=store)
    WebhookNotification(url="https://hooks.example/ops", token=CANARY).save(hook_name,
                                                                           store=store)
    db_type, hook_type = DatabaseConnection.block_type, WebhookNotification.block_type

    page.goto(f"{server.url}/#/blocks")
    db_row = page.locator(f'section[data-type="{db_type}"] tr[data-name="{db_name}"]')
    expect(db_row.locator('[data-col="data"]')).to_contain_text("postgresql://db.example/prod")
    expect(db_row.locator('[data-col="data"]')).to_contain_text('"password": "***"')
    expect(db_row.locator('[data-col="secrets"]')).to_have_text("password: ***")
    hook_row = page.locator(f'section[data-type="{hook_type}"] tr[data-name="{hook_name}"]')
    expect(hook_row.locator('[data-col="secrets"]')).to_contain_text("token: ***")
    shot(page, "blocks")
    assert_never_shown(page, api_answers)

    page.locator("#blocks-type").select_option(hook_type)
    expect(page.locator(f'section[data-type="{db_type}"]')).to_have_count(0)
    expect(hook_row).to_be_visible()
    assert page.url.endswith(f"#/blocks?type={hook_type}")

    hook_row.locator("button.delete").click()
    page.locator("#dialog-confirm").click()
    expect(hook_row).to_have_count(0)
    with pytest.raises(ObjectNotFound):
        store.read_block(hook_type, hook_name)
    assert_never_shown(page, api_answers)
