"""The dashboard and the flow runs list: filters by state, flow, tag; pages; one page fetched."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from orkest.core.states import StateType
from orkest.store import open_store
from ui.seeding import flow_runs

C, F, R = StateType.COMPLETED, StateType.FAILED, StateType.RUNNING


def list_requests(page) -> list[dict[str, list[str]]]:
    """Record the query of every GET /api/flow_runs (the list, not one run) from now on."""
    seen: list[dict[str, list[str]]] = []

    def on_request(request) -> None:
        url = urlparse(request.url)
        if url.path == "/api/flow_runs":
            seen.append(parse_qs(url.query))

    page.on("request", on_request)
    return seen


def rows(page):
    return page.locator("#runs-table tbody tr")


def test_filter_runs_by_state_flow_and_tag(server, page, shot):
    store = open_store()
    flow_runs(store, "ledger-sync", [C, F, C, F, C], tags=["finance"])
    flow_runs(store, "report-build", [F, C, R])

    page.goto(server.url + "/#/runs")
    requests = list_requests(page)
    expect(page.locator("#page-info")).not_to_be_empty()

    # By state: the chip goes into the hash and the table shows failures only.
    page.locator('label.chip:has(input[value="FAILED"])').click()
    expect(page.locator("main")).to_have_attribute("data-loaded", "state=FAILED")
    assert "state=FAILED" in page.url
    for state in rows(page).evaluate_all("rs => rs.map(r => r.dataset.state)"):
        assert state == "FAILED"

    # And by flow: two failed ledger-sync runs.
    page.locator("#filter-flow").select_option("ledger-sync")
    expect(page.locator("main")).to_have_attribute("data-loaded",
                                                   "state=FAILED&flow=ledger-sync")
    expect(rows(page)).to_have_count(2)
    expect(page.locator("#page-info")).to_have_text("1–2 of 2")
    for flow in rows(page).locator('[data-col="flow"]').all_inner_texts():
        assert flow == "ledger-sync"
    shot(page, "state-and-flow")

    # The filters live in the address: a reload (or a shared link) restores them.
    page.reload()
    expect(page.locator("main")).to_have_attribute("data-loaded",
                                                   "state=FAILED&flow=ledger-sync")
    expect(page.locator('input[value="FAILED"]')).to_be_checked()
    expect(page.locator("#filter-flow")).to_have_value("ledger-sync")
    expect(rows(page)).to_have_count(2)

    # Tag only: every finance run, whatever its state.
    page.locator("#filter-clear").click()
    page.locator("#filter-tag").fill("finance")
    expect(page.locator("main")).to_have_attribute("data-loaded", "tag=finance")
    expect(rows(page)).to_have_count(5)

    # A row opens its run inside the app.
    first = rows(page).first
    run_id = first.get_attribute("data-run-id")
    first.locator("a").first.click()
    expect(page.locator("#run-id")).to_have_text(run_id)
    assert f"#/runs/{run_id}" in page.url

    # The list never asked for more than one page of runs at a time.
    assert requests
    assert all(int(q["limit"][0]) <= 50 for q in requests)


def test_runs_list_pages(server, page, shot):
    flow_runs(open_store(), "paged-flow", [C] * 57 + [F] * 3)
    page.goto(server.url + "/#/runs?flow=paged-flow")
    expect(page.locator("#page-info")).to_have_text("1–50 of 60")
    expect(rows(page)).to_have_count(50)
    expect(page.locator("#page-prev")).to_be_disabled()
    # Newest first: the three failures (created last) open the first page.
    assert rows(page).nth(0).get_attribute("data-state") == "FAILED"
    shot(page, "first-page")
    page.locator("#page-next").click()
    expect(page.locator("#page-info")).to_have_text("51–60 of 60")
    expect(rows(page)).to_have_count(10)
    assert "offset=50" in page.url
    expect(page.locator("#page-next")).to_be_disabled()
    page.locator("#page-size").select_option("25")
    expect(page.locator("#page-info")).to_have_text("1–25 of 60")


def test_dashboard(server, page, shot):
    flow_runs(open_store(), "dashboard-flow", [C, C, C, F])
    page.goto(server.url + "/")
    dashboard = page.locator("main[data-ready]")
    expect(dashboard).to_have_count(1)
    assert int(page.locator("#dash-total").inner_text().replace(",", "")) >= 4
    expect(page.locator("#dash-failure-rate")).to_contain_text("%")
    bars = page.locator("#dash-chart rect.bar")
    assert bars.count() > 0
    assert set(bars.evaluate_all("bs => bs.map(b => b.dataset.state)")) >= {"COMPLETED", "FAILED"}
    expect(page.locator("#dash-recent tbody tr").first).to_be_visible()
    shot(page, "dashboard")
    page.locator("#dash-range").select_option("7d")
    assert "range=7d" in page.url
    page.locator("nav >> text=Flow runs").click()
    expect(page.locator("#runs-body")).to_be_visible()
