"""Work pools with their workers' heartbeats, and events with the runs they caused."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid

from playwright.sync_api import expect

from orkest.core.deployments import Event, Worker, WorkPool
from orkest.core.records import WriteBatch
from orkest.core.states import StateType
from orkest.store import open_store
from ui.seeding import flow_runs


def test_work_pools_list_workers_with_heartbeat(server, page, shot):
    store = open_store()
    pool = f"pool-{uuid.uuid4().hex[:6]}"
    now = time.time()
    store.save_work_pool(WorkPool(pool, created_ts=now, concurrency_limit=8,
                                  description="nightly batch jobs"))
    worker = Worker(id=str(uuid.uuid4()), name="worker-a", work_pool=pool, hostname="host-a",
                    pid=4242, started_ts=now - 120, heartbeat_ts=now - 3, concurrency=4,
                    running=1)
    store.worker_heartbeat(worker)
    stopped = Worker(id=str(uuid.uuid4()), name="worker-b", work_pool=pool, hostname="host-b",
                     pid=77, started_ts=now - 600, heartbeat_ts=now - 300, concurrency=2,
                     status="stopped")
    store.worker_heartbeat(stopped)

    page.goto(f"{server.url}/#/work-pools")
    section = page.locator(f'section.work-pool[data-pool="{pool}"]')
    expect(section).to_contain_text("nightly batch jobs")
    expect(section).to_contain_text("pool limit 8")
    row = section.locator(f'tr[data-worker-id="{worker.id}"]')
    expect(row).to_contain_text("worker-a")
    expect(row).to_contain_text("host-a · pid 4242")
    expect(row).to_have_attribute("data-status", "online")
    expect(row.locator('[data-col="heartbeat"]')).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(row.locator('[data-col="load"]')).to_have_text("1 / 4")
    expect(section.locator(f'tr[data-worker-id="{stopped.id}"]')).to_have_attribute(
        "data-status", "stopped")
    expect(section).to_contain_text("1 online worker · 1 / 4 running")
    expect(page.locator('nav [data-nav="work-pools"]')).to_have_attribute("aria-current", "page")
    shot(page, "work-pools")

    # A fresh heartbeat shows on the next poll, without reloading the page.
    store.worker_heartbeat(dataclasses.replace(worker, heartbeat_ts=time.time(), running=3))
    expect(row.locator('[data-col="load"]')).to_have_text("3 / 4")


def test_events_list_links_to_the_runs_they_caused(server, page, shot):
    store = open_store()
    [caused] = flow_runs(store, "ui-event-flow", [StateType.COMPLETED])
    now = time.time()
    older = Event(id=str(uuid.uuid4()), name="orders.exported", ts=now - 60, source="api",
                  payload={"rows": 12})
    newer = Event(id=str(uuid.uuid4()), name="file.arrived", ts=now - 5, source="file",
                  resource="/data/in/orders.csv", payload={"path": "/data/in/orders.csv"},
                  flow_run_ids=[caused])
    store.save_event(older)
    store.save_event(newer)
    run = dataclasses.replace(store.read_flow_run(caused), event_id=newer.id)
    store.write(WriteBatch(flow_runs={caused: run}))

    page.goto(f"{server.url}/#/events")
    rows = page.locator("#events-table tbody tr")
    expect(rows.first).to_have_attribute("data-event-id", newer.id)  # newest first
    row = page.locator(f'#events-table tr[data-event-id="{newer.id}"]')
    expect(row).to_contain_text("file.arrived")
    expect(row).to_contain_text("/data/in/orders.csv")
    expect(row).to_contain_text("file")
    link = row.locator(f'a.run-link[data-run-id="{caused}"]')
    expect(link).to_have_text("ui-event-flow-0")  # the run's name, fetched
    expect(page.locator(f'#events-table tr[data-event-id="{older.id}"]')).to_contain_text("none")
    shot(page, "events")

    # Filter by name, then follow the link to the run.
    page.locator("#events-name").fill("file.arrived")
    expect(page.locator("main")).to_have_attribute("data-loaded", "name=file.arrived")
    expect(page.locator(f'#events-table tr[data-event-id="{older.id}"]')).to_have_count(0)
    page.locator(f'#events-table a.run-link[data-run-id="{caused}"]').click()
    expect(page).to_have_url(f"{server.url}/#/runs/{caused}")
    expect(page.locator("#run-name")).to_have_text("ui-event-flow-0")
    # The run names the event that caused it, linking back to its kind of events.
    expect(page.locator("#run-event")).to_have_text("file.arrived")
    page.locator("#run-event").click()
    expect(page.locator("main")).to_have_attribute("data-loaded", "name=file.arrived")
