"""A server with ORKEST_API_KEY: the UI asks for the key once and keeps it for the tab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from ui.support import Server, start_server, stop_server

KEY = "ui-test-key-3f9a"


@pytest.fixture
def keyed_server(tmp_path, browser) -> Iterator[Server]:  # browser first: skips without it
    server = start_server(tmp_path / "keyed-home", api_key=KEY)
    yield server
    stop_server(server)


def test_api_key_prompt(keyed_server, page, shot):
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/api/" in r.url else None)
    page.goto(keyed_server.url + "/")
    dialog = page.locator("#api-key-dialog")
    expect(dialog).to_be_visible()
    assert 401 in statuses
    shot(page, "prompt")

    # A wrong key is refused, and the prompt says so.
    page.locator("#api-key-input").fill("not-the-key")
    page.locator("#api-key-dialog button[type=submit]").click()
    expect(page.locator("#api-key-dialog [role=alert]")).to_contain_text("not accepted")

    page.locator("#api-key-input").fill(KEY)
    page.locator("#api-key-dialog button[type=submit]").click()
    expect(page.locator("main[data-ready]")).to_have_count(1)
    expect(dialog).to_have_count(0)
    shot(page, "dashboard")

    # Kept for the session: other pages and a reload do not ask again.
    statuses.clear()
    page.reload()
    expect(page.locator("main[data-ready]")).to_have_count(1)
    page.locator("nav >> text=Flow runs").click()
    expect(page.locator("#page-info")).not_to_be_empty()
    expect(dialog).to_have_count(0)
    assert 401 not in statuses
    assert page.evaluate("sessionStorage.getItem('orkest.apiKey')") == KEY
